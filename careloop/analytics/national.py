"""National work indicators of the basic public health service (REFERENCE.md §1):

- 规范管理率 = patients managed to spec ÷ patients managed; to spec = at least 4
  face-to-face follow-ups (门诊 or 家庭 on the national form) in the period;
- 血压控制率 = hypertension patients whose last follow-up BP in the period was at target
  (SBP < 140 and DBP < 90; from 65 years, < 150/90) ÷ patients managed;
- 血糖控制率 = diabetes patients whose last follow-up fasting glucose was < 7.0 mmol/L ÷
  patients managed.

Managed = a plan on the programme pathway (``htn-programme``, ``dm-programme``) that ran
during the period. The indicators are defined per year: choose a calendar year as the
period."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from careloop.analytics import sources
from careloop.analytics.figure import Figure, Part, ratio
from careloop.analytics.scope import Scope
from careloop.followup.models import FollowUpRecord, Outcome, Plan
from careloop.patients.identity import age_on
from careloop.patients.models import Patient
from careloop.rules.risk.followup import (
    DM_CONTROLLED_BELOW,
    ELDERLY_FROM_AGE,
    ELDERLY_TARGET,
    GENERAL_TARGET,
)

PROGRAMMES = {"htn": "htn-programme", "dm": "dm-programme"}
FACE_TO_FACE = ("门诊", "家庭")
VISITS_TO_SPEC = 4


def managed(scope: Scope, form: str) -> QuerySet[Patient]:
    running = Plan.objects.filter(pathway__code=PROGRAMMES[form], started_at__lt=scope.end).filter(
        Q(ended_at__isnull=True) | Q(ended_at__gte=scope.start)
    )
    return sources.patients(scope).filter(pk__in=running.values("patient_id"))


def _records(scope: Scope, form: str) -> QuerySet[FollowUpRecord]:
    """The programme's follow-up visits in the period: attempts that reached the patient
    (a call not answered is no visit, and measured nothing)."""
    return FollowUpRecord.objects.filter(
        scope.in_period("at"),
        form=form,
        outcome=Outcome.REACHED,
        patient_id__in=managed(scope, form).values("pk"),
    )


def _measured(form: str, answers: dict[str, Any]) -> bool:
    keys = ("fpg",) if form == "dm" else ("sbp", "dbp")
    return all(answers.get(key) not in (None, "") for key in keys)


def to_spec(scope: Scope, form: str) -> QuerySet[Patient]:
    visits = (
        _records(scope, form)
        .filter(answers__method__in=FACE_TO_FACE)
        .values("patient_id")
        .annotate(n=Count("pk"))
        .filter(n__gte=VISITS_TO_SPEC)
    )
    return Patient.objects.filter(pk__in=visits.values("patient_id"))


def _at_target(form: str, answers: dict[str, Any], age: int) -> bool:
    try:
        if form == "dm":
            return float(answers["fpg"]) < DM_CONTROLLED_BELOW
        target = ELDERLY_TARGET if age >= ELDERLY_FROM_AGE else GENERAL_TARGET
        return float(answers["sbp"]) < target.sbp and float(answers["dbp"]) < target.dbp
    except (KeyError, TypeError, ValueError):
        return False


def controlled(scope: Scope, form: str) -> QuerySet[Patient]:
    last: dict[int, tuple[dict[str, Any], int]] = {}
    rows = _records(scope, form).order_by("patient_id", "at", "pk")
    for patient_id, at, answers, birth in rows.values_list(
        "patient_id", "at", "answers", "patient__birth_date"
    ):
        if _measured(form, answers):  # the last follow-up BP (FPG) that was measured
            last[patient_id] = (answers, age_on(birth, timezone.localtime(at).date()))
    ids = [pk for pk, (answers, age) in last.items() if _at_target(form, answers, age)]
    return Patient.objects.filter(pk__in=ids)


def _lister(kind: Callable[[Scope, str], QuerySet[Patient]], form: str) -> Any:
    return lambda scope: kind(scope, form)


LISTS: dict[str, Callable[[Scope], QuerySet[Any]]] = {
    f"{form}_{name}": _lister(kind, form)
    for form in PROGRAMMES
    for name, kind in (("managed", managed), ("to_spec", to_spec), ("controlled", controlled))
}


LABELS = {
    "htn_managed": gettext_lazy("hypertension patients managed"),
    "htn_to_spec": gettext_lazy("managed to spec (≥4 face-to-face)"),
    "htn_controlled": gettext_lazy("blood pressure at target"),
    "dm_managed": gettext_lazy("diabetes patients managed"),
    "dm_to_spec": gettext_lazy("managed to spec (≥4 face-to-face)"),
    "dm_controlled": gettext_lazy("fasting glucose at target"),
}


def figures(scope: Scope) -> list[Figure]:
    out = []
    for form, disease in (("htn", _("hypertension")), ("dm", _("type 2 diabetes"))):
        managed_n = LISTS[f"{form}_managed"](scope).count()
        spec_n = LISTS[f"{form}_to_spec"](scope).count()
        controlled_n = LISTS[f"{form}_controlled"](scope).count()
        base = Part(f"{form}_managed", str(LABELS[f"{form}_managed"]), managed_n)
        out.append(
            Figure(
                f"{form}_managed_to_spec_rate",
                _("Managed to spec (%(disease)s)") % {"disease": disease},
                ratio(spec_n, managed_n),
                "%",
                [base, Part(f"{form}_to_spec", str(LABELS[f"{form}_to_spec"]), spec_n)],
            )
        )
        out.append(
            Figure(
                f"{form}_control_rate",
                _("Blood pressure control rate") if form == "htn" else _("Glucose control rate"),
                ratio(controlled_n, managed_n),
                "%",
                [base, Part(f"{form}_controlled", str(LABELS[f"{form}_controlled"]), controlled_n)],
            )
        )
    return out
