"""Supervisor views (F16 主管): workload per person, moving someone's open work to a
colleague, and quality review of completed follow-ups with a score."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Avg, Count, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from careloop.accounts.models import User
from careloop.audit.services import record
from careloop.followup.models import (
    CRITERIA,
    OPEN_STATUSES,
    Alert,
    AlertEvent,
    FollowUpRecord,
    Outcome,
    QualityReview,
    Task,
)
from careloop.followup.staff import staff_who_can
from careloop.followup.worklist import end_of_today
from careloop.interop.webhook_events import alert_events
from careloop.patients.access import patients_for, scope_organisation_ids
from careloop.system_texts import HANDED_OVER, stored


@dataclass
class Load:
    """One person's work: what is open now and what they did in the period."""

    user: User
    open_tasks: int = 0
    due_today: int = 0
    overdue: int = 0
    done: int = 0
    attempts: int = 0
    reached: int = 0
    open_alerts: int = 0
    late_alerts: int = 0
    reviews: int = 0
    average_score: float | None = None

    @property
    def connect_rate(self) -> float | None:
        return round(100 * self.reached / self.attempts, 1) if self.attempts else None


def workload(user: Any, *, days: int = 7, now: datetime | None = None) -> list[Load]:
    """Per person in ``user``'s scope, busiest first: open, due today and overdue tasks,
    open and late alerts now; done tasks, attempts, connect rate and review score over the
    last ``days`` days."""
    now = now or timezone.now()
    since = now - timedelta(days=days)
    tonight = end_of_today(now)  # "due today" as the worklist counts it
    rows = {u.pk: Load(u) for u in staff_who_can(user, "change_task")}
    ids = list(rows)
    for r in (
        Task.objects.filter(assignee_id__in=ids, status=Task.Status.OPEN)
        .values("assignee_id")
        .annotate(
            n=Count("pk"),
            today=Count("pk", filter=Q(due_at__lt=tonight, deadline__gte=now)),
            late=Count("pk", filter=Q(deadline__lt=now)),
        )
    ):
        load = rows[r["assignee_id"]]
        load.open_tasks, load.due_today, load.overdue = r["n"], r["today"], r["late"]
    for r in (
        Task.objects.filter(closed_by_id__in=ids, status=Task.Status.DONE, closed_at__gte=since)
        .values("closed_by_id")
        .annotate(n=Count("pk"))
    ):
        rows[r["closed_by_id"]].done = r["n"]
    for r in (
        FollowUpRecord.objects.filter(by_id__in=ids, at__gte=since)
        .values("by_id")
        .annotate(n=Count("pk"), reached=Count("pk", filter=Q(outcome=Outcome.REACHED)))
    ):
        rows[r["by_id"]].attempts, rows[r["by_id"]].reached = r["n"], r["reached"]
    for r in (
        Alert.objects.filter(assignee_id__in=ids, status__in=OPEN_STATUSES)
        .values("assignee_id")
        .annotate(n=Count("pk"), late=Count("pk", filter=Q(due_at__lt=now)))
    ):
        rows[r["assignee_id"]].open_alerts = r["n"]
        rows[r["assignee_id"]].late_alerts = r["late"]
    for r in (
        QualityReview.objects.filter(staff_id__in=ids, reviewed_at__gte=now - timedelta(days=90))
        .values("staff_id")
        .annotate(n=Count("pk"), avg=Avg("score"))
    ):
        rows[r["staff_id"]].reviews = r["n"]
        rows[r["staff_id"]].average_score = round(float(r["avg"]), 1)
    return sorted(rows.values(), key=lambda load: (-load.open_tasks, -load.overdue, load.user.pk))


def do_hand_over(actor: Any, source: User, target: User) -> tuple[int, int]:
    """Move every open task and open alert of ``source`` to ``target`` (someone on leave);
    returns (tasks, alerts) moved."""
    if not actor.has_perm("followup.assign_task"):
        raise PermissionDenied("only a supervisor moves someone's work")
    staff = staff_who_can(actor, "change_task")
    if not staff.filter(pk=source.pk).exists() or not staff.filter(pk=target.pk).exists():
        raise ValidationError(_("Choose two people in your organisation."))
    if source.pk == target.pk:
        raise ValidationError(_("Choose someone else to take the work."))
    if source.organisation_id != target.organisation_id:  # their worklists are scoped by it
        raise ValidationError(_("Choose someone in the same organisation to take the work."))
    with transaction.atomic():
        tasks = Task.objects.filter(assignee=source, status=Task.Status.OPEN).update(
            assignee=target
        )
        alerts = Alert.objects.filter(assignee=source, status__in=OPEN_STATUSES)
        moved = list(alerts.values_list("pk", flat=True))
        alerts.update(assignee=target)
        note = stored(HANDED_OVER, source=source, target=target)
        alert_events(
            AlertEvent.objects.bulk_create(
                AlertEvent(alert_id=pk, action="assign", actor=actor, note=note) for pk in moved
            )
        )
        record(
            actor,
            "update",
            "task",
            summary=f"handed over {tasks} tasks and {len(moved)} alerts "
            f"from {source.pk} to {target.pk}",
        )
    return tasks, len(moved)


# ---------------------------------------------------------------- quality review


def reviewable(user: Any) -> QuerySet[FollowUpRecord]:
    """Follow-up records ``user`` may review: on patients they can open, made by staff of
    their organisations (or, recorded from a patient's reply, on one of their organisations'
    tasks). A share of the patient lets another organisation read the record, not score
    the work of staff who are not theirs."""
    records = FollowUpRecord.objects.filter(patient__in=patients_for(user).values("pk"))
    org_ids = scope_organisation_ids(user)
    if org_ids is None:
        return records
    return records.filter(
        Q(by__organisation_id__in=org_ids) | Q(by__isnull=True, task__organisation_id__in=org_ids)
    )


def review_queue(user: Any, *, days: int = 30, staff_id: int | None = None) -> QuerySet:
    """Completed follow-ups (patient reached) of the last ``days`` days in ``user``'s
    scope that nobody has reviewed yet, newest first."""
    records = reviewable(user).filter(
        outcome=Outcome.REACHED,
        at__gte=timezone.now() - timedelta(days=days),
        review__isnull=True,
    )
    if staff_id:
        records = records.filter(by_id=staff_id)
    return records.select_related("task", "patient", "by").order_by("-at", "-pk")


def do_review(
    actor: Any, entry: FollowUpRecord, scores: dict[str, int], comments: str = ""
) -> QualityReview:
    """Score one completed follow-up. ``ValidationError`` names a score out of range."""
    if not actor.has_perm("followup.add_qualityreview"):
        raise PermissionDenied("only a supervisor reviews follow-ups")
    if entry.by_id == actor.pk:
        raise ValidationError(_("You cannot review your own follow-up."))
    if entry.outcome != Outcome.REACHED:  # no call to score: it would weigh on their average
        raise ValidationError(_("Only a follow-up that reached the patient is reviewed."))
    errors = {
        key: [_("Give a score from 0 to %(max)d.") % {"max": top}]
        for key, (_label, top) in CRITERIA.items()
        if not isinstance(scores.get(key), int) or not 0 <= scores[key] <= top
    }
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        review, _created = QualityReview.objects.update_or_create(
            record=entry,
            defaults={
                **{key: scores[key] for key in CRITERIA},
                "staff_id": entry.by_id,
                "comments": comments.strip(),
                "reviewer": actor,
                "reviewed_at": timezone.now(),
            },
        )
        record(
            actor,
            "create",
            "quality_review",
            review.pk,
            patient_id=entry.patient_id,
            summary=f"record {entry.pk} scored {review.score}",
        )
    return review
