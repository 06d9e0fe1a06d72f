"""Value tier (价值分层, F5) of every patient: from what they spent and how often they came
in the last 12 months (their encounters, not cancelled or only planned; spend = the visits'
charges, HL7 PV1-47 or entered on the patient page).

Thresholds: ``CARELOOP_VALUE_TIERS`` "tier:yuan:visits,…", highest first (default
``high:10000:12,medium:2000:4``): a patient reaching either the spend or the visit count of a
tier is in it; below them all, low. ``off`` leaves value tiers to rules and staff. Run daily
by the scheduler and by ``careloop value-tiers``; a change re-plans the follow-ups planned by
the risk × value matrix."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Sum
from django.utils import timezone

from careloop.patients.models import Patient, Tier

WINDOW = timedelta(days=365)
PART = 500  # patients whose tier changes, per transaction
LOWEST = Tier.LOW


class TierSettingError(ValueError):
    """CARELOOP_VALUE_TIERS cannot be read; the message names the part."""


@dataclass(frozen=True)
class Threshold:
    tier: str
    spend: Decimal
    visits: int


def thresholds(text: str | None = None) -> list[Threshold] | None:
    """The thresholds, highest first; None when switched off."""
    text = (settings.CARELOOP_VALUE_TIERS if text is None else text).strip()
    if text.lower() == "off":
        return None
    out: list[Threshold] = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        parts = item.split(":")
        if len(parts) != 3 or parts[0] not in (Tier.HIGH, Tier.MEDIUM):
            raise TierSettingError(f"CARELOOP_VALUE_TIERS: {item!r} 应为 high|medium:金额:次数")
        try:
            spend, visits = Decimal(parts[1]), int(parts[2])
        except (InvalidOperation, ValueError):
            raise TierSettingError(f"CARELOOP_VALUE_TIERS: {item!r} 的金额或次数不是数字") from None
        if not spend.is_finite() or spend < 0 or visits < 0:
            raise TierSettingError(f"CARELOOP_VALUE_TIERS: {item!r} 的金额和次数不能为负数")
        if any(t.tier == parts[0] for t in out):
            raise TierSettingError(f"CARELOOP_VALUE_TIERS: {parts[0]} 出现了两次")
        out.append(Threshold(parts[0], spend, visits))
    return sorted(out, key=lambda t: t.tier != Tier.HIGH)  # high first, however written


def tier_for(spend: Decimal, visits: int, levels: list[Threshold]) -> str:
    for level in levels:
        if spend >= level.spend or visits >= level.visits:
            return level.tier
    return LOWEST


def update_value_tiers(*, now: datetime | None = None) -> dict[str, Any]:
    """Set the value tier of every patient with a visit in the last 12 months; returns the
    counts (``patients`` assessed, ``changed`` and how many are high, medium and low)."""
    from careloop.audit.services import record
    from careloop.clinical.models import Encounter
    from careloop.followup.planning import replan_tiers

    levels = thresholds()
    if levels is None:
        return {"off": True, "patients": 0, "changed": 0}
    now = now or timezone.now()
    visits = (
        Encounter.objects.filter(started_at__gt=now - WINDOW, started_at__lte=now)
        .exclude(status__in=[Encounter.Status.PLANNED, Encounter.Status.CANCELLED])
        .order_by()
        .values("patient_id")
        .annotate(n=Count("pk"), spent=Sum("charges"))
    )
    found = {
        row["patient_id"]: tier_for(row["spent"] or Decimal(0), row["n"], levels) for row in visits
    }
    moves: dict[str, list[int]] = {}
    counts: dict[str, int] = {Tier.HIGH: 0, Tier.MEDIUM: 0, Tier.LOW: 0}
    total = 0
    for pk, current in Patient.objects.values_list("pk", "value_tier").iterator(chunk_size=10_000):
        if pk not in found:
            continue  # no visit in a year: no data, the tier stays
        tier = found[pk]
        counts[tier] += 1
        total += 1
        if tier != current:
            moves.setdefault(tier, []).append(pk)
    changed = [pk for ids in moves.values() for pk in ids]
    for tier, ids in moves.items():
        for start in range(0, len(ids), PART):
            part = ids[start : start + PART]
            # A part at a time, its tiers and re-planned follow-ups together: on SQLite one
            # transaction for everyone (the first run, or new thresholds) would hold the
            # write lock for as long, and the MLLP listener's ACKs would wait behind it.
            with transaction.atomic():
                Patient.objects.filter(pk__in=part).update(value_tier=tier)
                replan_tiers(part, now=now)
    if changed:
        record(
            None,
            "update",
            "patient",
            "",
            actor_label="value-tiers",
            summary=f"价值分层按近 12 个月消费和就诊次数更新：{len(changed)} 人变化",
        )
    return {"patients": total, "changed": len(changed), **{str(k): v for k, v in counts.items()}}
