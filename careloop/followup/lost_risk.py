"""The lost-to-follow-up model (失访风险, DOMAIN.md F6 "later"): each patient's chance that
their follow-up ends not reached, learned from the system's own closed follow-ups.

Label: a follow-up task closed in the last 12 months as not reached (``Task.Status.FAILED``:
every try on every channel of its policy used up — what the rule condition ``not_reached``
and the 失访史 tag count) is 1; one closed reached (or refused: the patient was reached) is 0.
Cancelled tasks and deaths are left out.

Features, as known when the follow-up began (its first try, or its creation if earlier): age
band, sex, lives alone, digital literacy, the channel of its first try, the purpose, the
follow-ups not reached and reached in the year before, the time since the patient was last
reached (a reached call or a reply), the risk tier, whether a mobile number is on record and
a WeChat account bound. The patient's living situation, literacy, tier and contacts are read
as they are now (the record keeps no history of them).

Training: the tasks in time order, the older 80% fit and the latest 20% held out to measure
the AUC and the calibration by decile; then the same recipe on every task gives the stored
model. It is refused (kept, with why, but not used) with fewer than ``MIN_TASKS`` labelled
tasks, without tasks of both kinds, or with a held-out AUC below ``MIN_AUC``.

Scoring: each patient with an open follow-up gets the chance for their next one (its channel
and purpose, now), with the factors that raise it most."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Min
from django.utils import timezone
from django.utils.translation import gettext as _

from careloop.followup.logistic import Fitted, auc, calibration, fit
from careloop.followup.models import (
    FollowUpRecord,
    LostRiskModel,
    LostRiskScore,
    Outcome,
    Task,
)
from careloop.patients.identity import age_on
from careloop.patients.models import Patient

VERSION = "lost-risk-1"
MIN_TASKS = 200
MIN_AUC = 0.6
HELD_OUT = 0.2
L2 = 1.0
YEAR = timedelta(days=365)
RETRAIN_AFTER = timedelta(days=7)
TOP_FACTORS = 3
MESSAGE_CHANNELS = frozenset({"sms", "wechat", "wecom", "voice", "email", "app"})
VISIT_CHANNELS = frozenset({"home_visit", "clinic"})

FEATURES = [
    "age_65_79",
    "age_80_plus",
    "female",
    "lives_alone",
    "literacy_low",
    "literacy_high",
    "message_channel",
    "visit_channel",
    "purpose_satisfaction",
    "purpose_reminder",
    "purpose_care",
    "not_reached_year",
    "reached_year",
    "months_since_contact",
    "never_reached",
    "risk_high",
    "risk_low",
    "no_phone",
    "wechat_bound",
]


def factor_text(code: str, value: float) -> str:
    """A factor as the nurse reads it (Chinese, or English when that is the language)."""
    n = round(value)
    texts: dict[str, Callable[[], str]] = {
        "age_65_79": lambda: _("aged 65–79"),
        "age_80_plus": lambda: _("aged 80 or over"),
        "female": lambda: _("female"),
        "lives_alone": lambda: _("lives alone"),
        "literacy_low": lambda: _("low digital literacy"),
        "literacy_high": lambda: _("high digital literacy"),
        "message_channel": lambda: _("followed up by message"),
        "visit_channel": lambda: _("followed up by a visit"),
        "purpose_satisfaction": lambda: _("satisfaction survey"),
        "purpose_reminder": lambda: _("revisit reminder"),
        "purpose_care": lambda: _("care or rehabilitation guidance"),
        "not_reached_year": lambda: _("not reached %(n)s times in the last year") % {"n": n},
        "reached_year": lambda: _("reached %(n)s times in the last year") % {"n": n},
        "months_since_contact": lambda: (
            _("last reached %(days)s days ago") % {"days": round(value * 30)}
            if value < 12
            else _("not reached for a year or more")
        ),
        "never_reached": lambda: _("never reached before"),
        "risk_high": lambda: _("high risk tier"),
        "risk_low": lambda: _("low risk tier"),
        "no_phone": lambda: _("no mobile number on record"),
        "wechat_bound": lambda: _("WeChat bound"),
    }
    found = texts.get(code)
    return found() if found else code


@dataclass
class PatientFacts:
    sex: str
    born: date
    lives_alone: bool
    literacy: str
    tier: str
    has_phone: bool
    wechat: bool
    closed: list[tuple[datetime, bool]]  # (closed at, not reached), oldest first
    contacts: list[datetime]  # reached calls and replies, oldest first


def _row(facts: PatientFacts, at: datetime, channel: str, purpose: str) -> list[float]:
    age = age_on(facts.born, timezone.localdate(at))
    since = at - YEAR
    missed = sum(1 for t, lost in facts.closed if lost and since <= t < at)
    reached = sum(1 for t, lost in facts.closed if not lost and since <= t < at)
    before = [t for t in facts.contacts if t < at]
    months = min(12.0, (at - before[-1]).total_seconds() / 86400 / 30) if before else 12.0
    flags = {
        "age_65_79": 65 <= age < 80,
        "age_80_plus": age >= 80,
        "female": facts.sex == "female",
        "lives_alone": facts.lives_alone,
        "literacy_low": facts.literacy == "low",
        "literacy_high": facts.literacy == "high",
        "message_channel": channel in MESSAGE_CHANNELS,
        "visit_channel": channel in VISIT_CHANNELS,
        "purpose_satisfaction": purpose == "satisfaction",
        "purpose_reminder": purpose == "revisit_reminder",
        "purpose_care": purpose in ("emotional_care", "rehab_guidance"),
        "never_reached": not before,
        "risk_high": facts.tier == "high",
        "risk_low": facts.tier == "low",
        "no_phone": not facts.has_phone,
        "wechat_bound": facts.wechat,
    }
    numbers = {
        "not_reached_year": float(min(missed, 10)),
        "reached_year": float(min(reached, 20)),
        "months_since_contact": round(months, 3),
    }
    return [numbers[name] if name in numbers else float(flags[name]) for name in FEATURES]


def _facts(patient_ids: list[int], now: datetime) -> dict[int, PatientFacts]:
    from careloop.outreach.models import ChannelAddress, Reply

    found: dict[int, PatientFacts] = {}
    for pk, sex, born, alone, literacy, tier, phone_kind in Patient.objects.filter(
        pk__any_of=patient_ids
    ).values_list(
        "pk", "sex", "birth_date", "lives_alone", "digital_literacy", "risk_tier", "phone_kind"
    ):
        # A mobile: a landline takes no SMS (Patient.phone_kind), so it is not one.
        mobile = phone_kind == "mobile"
        found[pk] = PatientFacts(sex, born, alone, literacy, tier, mobile, False, [], [])
    for pk in ChannelAddress.objects.filter(
        patient_id__any_of=patient_ids, channel="wechat"
    ).values_list("patient_id", flat=True):
        found[pk].wechat = True
    since = now - 2 * YEAR
    for pk, closed, status in (
        Task.objects.filter(
            patient_id__any_of=patient_ids,
            closed_at__gte=since,
            status__in=[Task.Status.DONE, Task.Status.FAILED],
        )
        .exclude(outcome=Outcome.DECEASED)
        .order_by("closed_at")
        .values_list("patient_id", "closed_at", "status")
    ):
        if closed is not None:  # filtered on it: never None here
            found[pk].closed.append((closed, status == Task.Status.FAILED))
    contacts: dict[int, list[datetime]] = {}
    for pk, at in FollowUpRecord.objects.filter(
        patient_id__any_of=patient_ids, outcome=Outcome.REACHED, at__gte=since
    ).values_list("patient_id", "at"):
        contacts.setdefault(pk, []).append(at)
    for pk, at in Reply.objects.filter(
        patient_id__any_of=patient_ids, received_at__gte=since
    ).values_list("patient_id", "received_at"):
        if pk is not None:
            contacts.setdefault(pk, []).append(at)
    for pk, moments in contacts.items():
        found[pk].contacts = sorted(moments)
    return found


@dataclass
class Example:
    closed_at: datetime
    row: list[float]
    label: int


def examples(now: datetime | None = None) -> list[Example]:
    """The closed follow-ups of the last 12 months, labelled, with their features, in the
    order they closed."""
    now = now or timezone.now()
    tasks = list(
        Task.objects.filter(
            closed_at__gte=now - YEAR,
            closed_at__lte=now,
            status__in=[Task.Status.DONE, Task.Status.FAILED],
        )
        .exclude(outcome=Outcome.DECEASED)
        .order_by("closed_at", "id")
        .values_list("pk", "patient_id", "status", "created_at", "closed_at", "channel", "purpose")
    )
    ids = [t[0] for t in tasks]
    first: dict[int, tuple[datetime, str]] = {}
    for task_id, at, channel in (
        FollowUpRecord.objects.filter(task_id__any_of=ids)
        .order_by("at", "id")
        .values_list("task_id", "at", "channel")
    ):
        first.setdefault(task_id, (at, channel))
    from careloop.outreach.models import Message

    sent = dict(
        Message.objects.filter(task_id__any_of=ids)
        .values("task_id")
        .annotate(at=Min("created_at"))
        .values_list("task_id", "at")
    )
    facts = _facts(sorted({t[1] for t in tasks}), now)
    found = []
    for pk, patient_id, status, created, closed, channel, purpose in tasks:
        began, first_channel = first.get(pk, (created, channel))
        if pk in sent:
            began = min(began, sent[pk])
        began = min(began, created)
        if closed is None:  # filtered on it: never None here
            continue
        found.append(
            Example(
                closed,
                _row(facts[patient_id], began, first_channel, purpose),
                int(status == Task.Status.FAILED),
            )
        )
    return found


def _refusal(n: int, train: list[Example], test: list[Example], score: float | None) -> str:
    if n < MIN_TASKS:
        return _("only %(n)s follow-ups closed in the last 12 months (at least %(min)s needed)") % {
            "n": n,
            "min": MIN_TASKS,
        }
    if len({e.label for e in train}) < 2 or len({e.label for e in test}) < 2:
        return _("the follow-ups are all reached or all not reached: nothing to learn from")
    if score is None or score < MIN_AUC:
        return _("held-out AUC %(auc)s is below %(min)s: no better than guessing") % {
            "auc": "–" if score is None else f"{score:.3f}",
            "min": MIN_AUC,
        }
    return ""


@transaction.atomic
def train(now: datetime | None = None) -> LostRiskModel:
    """Train on the last 12 months, evaluate on the latest 20%, and store the model (used or
    refused, with why)."""
    now = now or timezone.now()
    data = examples(now)
    n = len(data)
    cut = n - max(1, round(n * HELD_OUT)) if n else 0
    train_set, test_set = data[:cut], data[cut:]
    score = None
    groups: list[dict[str, float]] = []
    if n >= MIN_TASKS and len({e.label for e in train_set}) == 2:
        held = fit([e.row for e in train_set], [e.label for e in train_set], FEATURES, l2=L2)
        predicted = [held.probability(e.row) for e in test_set]
        score = auc(predicted, [e.label for e in test_set])
        groups = calibration(predicted, [e.label for e in test_set])
    why = _refusal(n, train_set, test_set, score)
    model = LostRiskModel(
        version=VERSION,
        trained_at=now,
        n_train=len(train_set),
        n_test=len(test_set),
        base_rate=round(sum(e.label for e in data) / n, 4) if n else None,
        auc=None if score is None else round(score, 4),
        features=FEATURES,
        calibration=groups,
        used=not why,
        why=why,
    )
    if not why:
        final = fit([e.row for e in data], [e.label for e in data], FEATURES, l2=L2)
        model.intercept = final.intercept
        model.coefficients = final.coefficients
        model.means, model.scales = final.means, final.scales
    model.save()
    return model


def fitted(model: LostRiskModel) -> Fitted:
    return Fitted(
        list(model.features),
        model.intercept,
        list(model.coefficients),
        list(model.means),
        list(model.scales),
    )


def top_factors(model: Fitted, row: list[float]) -> list[list[Any]]:
    """The features that raise this patient's chance most, as [code, value]: only those the
    patient has (a flag set, a count above 0), the largest first."""
    parts = model.contributions(row)
    ranked = sorted(
        (
            (part, name, value)
            for part, name, value in zip(parts, model.names, row, strict=True)
            if part > 0 and value > 0
        ),
        reverse=True,
    )
    return [[name, value] for _part, name, value in ranked[:TOP_FACTORS]]


def current_model() -> LostRiskModel | None:
    return LostRiskModel.objects.order_by("-trained_at", "-id").first()


@transaction.atomic
def score(now: datetime | None = None) -> dict[str, Any]:
    """Score every patient with an open follow-up with the latest model, if it may be used;
    otherwise clear the scores and say why."""
    now = now or timezone.now()
    model = current_model()
    if model is None or not model.used:
        LostRiskScore.objects.all().delete()
        why = model.why if model else _("no model trained yet: run `careloop lost-risk train`")
        return {"scored": 0, "used": False, "why": why}
    next_task: dict[int, tuple[str, str]] = {}
    for patient_id, channel, purpose in (
        Task.objects.filter(status=Task.Status.OPEN, patient__deceased_on__isnull=True)
        .order_by("due_at", "id")
        .values_list("patient_id", "channel", "purpose")
    ):
        next_task.setdefault(patient_id, (channel, purpose))
    facts = _facts(sorted(next_task), now)
    weights = fitted(model)
    rows = []
    for patient_id, (channel, purpose) in next_task.items():
        row = _row(facts[patient_id], now, channel, purpose)
        rows.append(
            LostRiskScore(
                patient_id=patient_id,
                model=model,
                probability=round(weights.probability(row), 4),
                factors=top_factors(weights, row),
                scored_at=now,
            )
        )
    LostRiskScore.objects.all().delete()
    LostRiskScore.objects.bulk_create(rows, batch_size=1000)
    return {"scored": len(rows), "used": True, "model": model.version, "auc": model.auc}


def daily(now: datetime | None = None) -> dict[str, Any]:
    """The daily job: train again when the latest model is a week old (or none), then
    score."""
    now = now or timezone.now()
    model = current_model()
    trained = None
    if model is None or model.trained_at <= now - RETRAIN_AFTER:
        trained = train(now)
    result = score(now)
    result["trained"] = trained is not None
    return result


def factors_shown(factors: list[list[Any]]) -> str:
    """The stored factors as one line in the reader's language."""
    return _("; ").join(factor_text(str(code), float(value)) for code, value in factors)


def lost_scores(patient_ids: list[int]) -> dict[int, tuple[float, str]]:
    """The current scores of these patients: (chance, main factors as words)."""
    if not patient_ids:
        return {}
    return {
        pk: (chance, factors_shown(factors))
        for pk, chance, factors in LostRiskScore.objects.filter(
            patient_id__in=set(patient_ids)
        ).values_list("patient_id", "probability", "factors")
    }


def train_report(model: LostRiskModel) -> dict[str, Any]:
    """What ``careloop lost-risk train`` prints."""
    return {
        "version": model.version,
        "trained_on": model.n_train + model.n_test,
        "n_train": model.n_train,
        "n_test": model.n_test,
        "auc": model.auc,
        "base_rate": model.base_rate,
        "calibration": model.calibration,
        "used": model.used,
        "why": model.why
        or _("held-out AUC %(auc)s ≥ %(min)s on the latest %(n)s follow-ups")
        % {"auc": f"{model.auc:.3f}", "min": MIN_AUC, "n": model.n_test},
    }
