"""The dashboard's permission, and the follow-up counts it keeps ready (pre-aggregated) so a
city's year of tasks is summed from a few hundred rows instead of millions."""

import uuid

from django.db import models
from django.utils.translation import gettext_lazy as _


class Dashboard(models.Model):
    """No table: it only carries the permission to see the dashboard (数据看板)."""

    class Meta:
        managed = False
        default_permissions = ()
        permissions = [("view_dashboard", _("Can see the dashboard and export its lists"))]

    def __str__(self) -> str:
        return str(_("Dashboard"))


class TaskDay(models.Model):
    """Follow-ups due on one local day (``span`` "d") or in one month ("m", ``day`` its first
    day) for one organisation, counted as the dashboard counts them (``sources.planned``):
    planned, done and on time, with the patients behind them (planned, followed up, reminded
    of a revisit) as serialised Roaring bitmaps so distinct patients add up over any period.
    Kept by ``rollup``."""

    span = models.CharField(max_length=1)
    day = models.DateField()
    organisation = models.ForeignKey(
        "accounts.Organisation", on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    planned = models.IntegerField(default=0)
    done = models.IntegerField(default=0)
    on_time = models.IntegerField(default=0)
    planned_patients = models.BinaryField()
    covered_patients = models.BinaryField()
    reminded_patients = models.BinaryField()

    class Meta:
        default_permissions = ()
        constraints = [
            models.UniqueConstraint(fields=["organisation", "span", "day"], name="taskday_unique")
        ]
        indexes = [models.Index(fields=["span", "day"], name="taskday_span_day")]

    def __str__(self) -> str:
        return f"{self.day} {self.span}: {self.done}/{self.planned}"


class TaskChange(models.Model):
    """A counted task as it was (``sign`` −1) or as it is now (+1), written by database
    triggers on the task table (so bulk writes are caught too) when a field the dashboard
    counts by changes; cancelled tasks are not counted and not written. ``rollup.refresh``
    adds these up into ``TaskDay`` and deletes them."""

    task_id = models.BigIntegerField()
    sign = models.SmallIntegerField()
    organisation_id = models.BigIntegerField()
    patient_id = models.BigIntegerField()
    due_at = models.DateTimeField()
    status = models.CharField(max_length=10)
    on_time = models.BooleanField(null=True)
    purpose = models.CharField(max_length=20)

    class Meta:
        default_permissions = ()

    def __str__(self) -> str:
        return f"{self.sign:+d} task {self.task_id}"


class RollupState(models.Model):
    """One row: when the counts were last built in full, and a stamp renewed by every
    refresh that changed them (the in-process cache of totals is keyed by it)."""

    built_at = models.DateTimeField(null=True)
    refreshed_at = models.DateTimeField(null=True)
    stamp = models.UUIDField(default=uuid.uuid4)

    class Meta:
        default_permissions = ()

    def __str__(self) -> str:
        return str(self.stamp)
