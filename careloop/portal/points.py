"""Points: earned on the patient pages, spent when staff approve a redemption. What a patient
can ask for is the organisation's list (``CARELOOP_POINTS_REWARDS``); points asked for and
not yet decided are held, so they cannot be asked for twice."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from careloop.audit.services import record
from careloop.ids import latest_id
from careloop.portal.models import PointsEntry, Redemption


def rewards(patient: Any = None) -> list[tuple[str, int]]:
    """(what, points) the patient may ask for: the organisation's list, and the exam
    packages offered to the patient that may be had for points (体检套餐：<name>)."""
    offered = [(name, int(points)) for name, points in settings.CARELOOP_POINTS_REWARDS]
    if patient is not None:
        from careloop.followup.exam_packages import offered_to

        packages = offered_to(patient).filter(points__isnull=False)
        offered += [(f"体检套餐：{p.name}", p.points) for p in packages if p.points]
    return offered


def balance(patient: Any) -> int:
    return PointsEntry.objects.filter(patient=patient).aggregate(n=Sum("points"))["n"] or 0


def held(patient: Any) -> int:
    pending = Redemption.objects.filter(patient=patient, status=Redemption.Status.REQUESTED)
    return pending.aggregate(n=Sum("points"))["n"] or 0


def latest(patient: Any) -> int:
    """The id of the patient's latest request (0 without one): what a page asking for more
    has seen."""
    return latest_id(Redemption.objects.filter(patient=patient))


def request(patient: Any, item: str, seen: int | None = None) -> Redemption:
    """Ask for ``item``. ``seen``: the latest request the page asking showed (``latest``); a
    request for the same item made since is this page's, sent again (a double tap, back and
    submit), and is what is returned: the points are held once."""
    price = dict(rewards(patient)).get(item)
    if price is None:
        raise ValidationError(_("There is no such reward."))
    with transaction.atomic():
        type(patient).objects.select_for_update().filter(pk=patient.pk).first()
        if seen is not None:
            again = Redemption.objects.filter(patient=patient, item=item, pk__gt=seen)
            sent = again.order_by("pk").first()
            if sent is not None:
                return sent
        if balance(patient) - held(patient) < price:
            raise ValidationError(_("Not enough points."))
        return Redemption.objects.create(patient=patient, points=price, item=item)


def decide(actor: Any, redemption: Redemption, approve: bool) -> Redemption:
    with transaction.atomic():
        redemption = (
            Redemption.objects.select_for_update(of=("self",))
            .select_related("decided_by")
            .get(pk=redemption.pk)
        )
        if redemption.status != Redemption.Status.REQUESTED:
            # Decided by a colleague at the same moment, or this decision sent twice.
            when = redemption.decided_at
            raise ValidationError(
                _("%(who)s already decided this request (%(status)s, %(when)s): not changed.")
                % {
                    "who": redemption.decided_by or "—",
                    "status": redemption.get_status_display(),
                    "when": f"{timezone.localtime(when):%m-%d %H:%M}" if when else "—",
                }
            )
        redemption.status = Redemption.Status.APPROVED if approve else Redemption.Status.DECLINED
        redemption.decided_at, redemption.decided_by = timezone.now(), actor
        redemption.save(update_fields=["status", "decided_at", "decided_by"])
        if approve:
            PointsEntry.objects.create(
                patient_id=redemption.patient_id,
                points=-redemption.points,
                reason=f"兑换：{redemption.item}",
            )
        record(
            actor,
            "update",
            "redemption",
            redemption.pk,
            patient_id=redemption.patient_id,
            summary=f"points redemption {redemption.status}",
        )
    return redemption
