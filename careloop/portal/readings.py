"""Readings a patient measures at home (BP, glucose with its context, weight, steps):
checked, stored as results (graded; critical values and rules act as on any result) and
explained back in plain words."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.functional import lazy
from django.utils.translation import gettext, pgettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from careloop.clinical.assessment import ResultInput
from careloop.clinical.models import Observation, Source
from careloop.clinical.services import do_record_results
from careloop.followup.models import Alert
from careloop.forms import StyledFormMixin
from careloop.rules.risk.glucose import HYPOGLYCAEMIA_FROM

GLUCOSE_CONTEXT = [
    ("fasting", _("fasting (before breakfast)")),
    ("after_meal", _("2 hours after a meal")),
    ("night", _("at night")),
    ("random", _("other time")),
]
CONTEXT_NOTE = {"fasting": "空腹", "after_meal": "餐后2小时", "night": "夜间", "random": "随机"}
AFTER_MEAL = "[3.9, 7.8)"
# Home blood pressure: raised from 135/85 (REFERENCE.md §4.1, out-of-office thresholds); the
# lower bounds are the catalogue's. (name, LOINC, form field, range)
HOME_BP = (
    ("收缩压", "8480-6", "sbp", "[90, 135)"),
    ("舒张压", "8462-4", "dbp", "[60, 85)"),
)
OLDEST = timedelta(days=366)  # a reading older than this is a typing slip (1990 for 2026)
# "At night", as the night-hypoglycaemia rule of the default pack reads the time measured.
NIGHT = (time(22), time(6))
# What the patient reads back, in the page's language (the results are stored in Chinese).
WORDS = {
    "L": pgettext_lazy("reading", "low"),
    "LL": pgettext_lazy("reading", "very low"),
    "H": pgettext_lazy("reading", "high"),
    "HH": pgettext_lazy("reading", "very high"),
}
NAMES = {
    "8480-6": pgettext_lazy("reading", "Systolic BP"),
    "8462-4": pgettext_lazy("reading", "Diastolic BP"),
    "8867-4": pgettext_lazy("reading", "Heart rate"),
    "41653-7": pgettext_lazy("reading", "Blood glucose"),
    "29463-7": pgettext_lazy("reading", "Weight"),
    "55423-8": pgettext_lazy("reading", "Steps"),
}
UNITS = {"steps": pgettext_lazy("reading", "steps"), "/min": pgettext_lazy("reading", "/min")}


def _reading(
    label: Any, low: float, high: float, unit: Any, *, decimal: bool = False
) -> forms.Field:
    """An optional number between ``low`` and ``high``, a value outside them answered with
    the range in plain words (in the request's language)."""

    def text() -> str:
        return gettext(
            "Please check the number: it should be between %(low)s and %(high)s %(unit)s."
        ) % {"low": f"{low:g}", "high": f"{high:g}", "unit": str(unit)}

    message = lazy(text, str)()
    limits: dict[str, Any] = {
        "label": label,
        "required": False,
        "min_value": low,
        "max_value": high,
        "error_messages": {"min_value": message, "max_value": message},
    }
    # Django's own words ("输入整数。", "确认小数不超过 1 位.") are terse for an older patient.
    if decimal:
        limits["error_messages"] |= {
            "invalid": _("Please enter a number, such as 6.5."),
            "max_decimal_places": _("Please give one digit after the point at most, such as 6.5."),
        }
        return forms.DecimalField(decimal_places=1, **limits)
    limits["error_messages"]["invalid"] = _("Please enter a whole number, without a point.")
    return forms.IntegerField(**limits)


class ReadingForm(StyledFormMixin, forms.Form):
    kind = forms.ChoiceField(
        label=_("What did you measure?"),
        choices=[
            ("bp", _("blood pressure")),
            ("glucose", _("blood glucose")),
            ("weight", _("weight")),
            ("steps", _("steps")),
        ],
        widget=forms.RadioSelect,
        error_messages={"required": _("Please choose what you measured.")},
    )
    measured_at = forms.DateTimeField(
        label=_("When"),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M"],
    )
    sbp = _reading(_("Systolic (high) mmHg"), 50, 300, "mmHg")
    dbp = _reading(_("Diastolic (low) mmHg"), 30, 200, "mmHg")
    pulse = _reading(_("Pulse /min"), 20, 250, pgettext_lazy("reading", "/min"))
    glucose = _reading(_("Glucose mmol/L"), 0.5, 40, "mmol/L", decimal=True)
    context = forms.ChoiceField(label=_("Measured"), required=False, choices=GLUCOSE_CONTEXT)
    weight = _reading(_("Weight kg"), 20, 300, "kg", decimal=True)
    steps = _reading(_("Steps today"), 0, 100_000, pgettext_lazy("unit", "steps"))

    FIELDS_OF = {
        "bp": ("sbp", "dbp", "pulse"),
        "glucose": ("glucose", "context"),
        "weight": ("weight",),
        "steps": ("steps",),
    }
    NEEDS = {
        "bp": ("sbp", "dbp"),
        "glucose": ("glucose", "context"),
        "weight": ("weight",),
        "steps": ("steps",),
    }

    # The numbers a patient types for each kind (the glucose context always has a value).
    VALUES_OF = {
        "bp": ("sbp", "dbp", "pulse"),
        "glucose": ("glucose",),
        "weight": ("weight",),
        "steps": ("steps",),
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.is_bound and not self.data.get("kind"):
            # Every field shows before a kind is chosen: numbers typed for one kind only
            # say which it is (an older patient types the pressures and taps 保存).
            typed = {
                kind
                for kind, names in self.VALUES_OF.items()
                if any(str(self.data.get(name) or "").strip() for name in names)
            }
            if len(typed) == 1:  # no field of this form takes several values
                self.data = {**dict(self.data.items()), "kind": typed.pop()}

    def with_kinds(self) -> list[tuple[Any, str]]:
        """Each field with the kind of reading it belongs to ("" for all): the page shows
        only the chosen kind's fields (all of them without JavaScript)."""
        kind_of = {name: kind for kind, names in self.FIELDS_OF.items() for name in names}
        return [(self[name], kind_of.get(name, "")) for name in self.fields]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        for name in self.NEEDS.get(data.get("kind", ""), ()):
            if data.get(name) in (None, "") and name not in self.errors:  # not already said
                self.add_error(name, _("Please fill this in."))
        sbp, dbp = data.get("sbp"), data.get("dbp")
        if data.get("kind") == "bp" and sbp and dbp and dbp >= sbp:
            self.add_error("dbp", _("The low number must be below the high number."))
        moment = data.get("measured_at")
        if moment is not None and moment > timezone.now() + timedelta(minutes=5):
            self.add_error("measured_at", _("This time is in the future."))
        elif moment is not None and moment < timezone.now() - OLDEST:
            self.add_error("measured_at", _("Please enter readings from the last year only."))
        elif (
            moment is not None and data.get("kind") == "glucose" and data.get("context") == "night"
        ):
            clock = timezone.localtime(moment).time()
            if NIGHT[1] <= clock < NIGHT[0]:
                self.add_error(
                    "measured_at",
                    _("You chose 'at night': please give the time you measured (22:00 to 06:00)."),
                )
        return data


@dataclass
class Feedback:
    name: str
    value: str
    words: str  # 正常 / 偏高 …
    advice: str


def results_of(data: dict[str, Any]) -> list[ResultInput]:
    at: datetime = data["measured_at"]
    kind = data["kind"]
    if kind == "bp":
        # Measured at home: high from 135/85, not the office 140/90 (REFERENCE.md §4.1).
        found = [
            ResultInput(
                name,
                at,
                loinc=code,
                value=float(data[key]),
                unit="mmHg",
                reference=bounds,
                notes=["患者家庭自测"],
            )
            for name, code, key, bounds in HOME_BP
        ]
        if data.get("pulse"):
            found.append(
                ResultInput("心率", at, loinc="8867-4", value=float(data["pulse"]), unit="/min")
            )
        return found
    if kind == "glucose":
        note = CONTEXT_NOTE[data["context"]]
        return [
            ResultInput(
                "末梢血糖",
                at,
                loinc="41653-7",
                value=float(data["glucose"]),
                unit="mmol/L",
                notes=[f"患者自测（{note}）"],
                # Two hours after a meal below 7.8 is normal (REFERENCE.md §4.2); otherwise
                # the catalogue's fasting range applies.
                reference=AFTER_MEAL if data["context"] == "after_meal" else "",
            )
        ]
    if kind == "weight":
        return [ResultInput("体重", at, loinc="29463-7", value=float(data["weight"]), unit="kg")]
    return [ResultInput("步数", at, loinc="55423-8", value=float(data["steps"]), unit="steps")]


def advice_for(code: str, interpretation: str, alerted: bool = False) -> str:
    """What to do, in plain words. "The doctor will contact you" only when this reading
    raised an alert (someone will): the patient must not wait for a call that is not coming."""
    if code == "41653-7" and interpretation in ("L", "LL"):
        if alerted:
            return gettext(
                "If you feel your heart racing, sweat, shake or feel dizzy, eat something "
                "sugary now (sweets, fruit juice) and measure again in 15 minutes. The doctor "
                "will contact you soon."
            )
        return gettext(
            "If you feel your heart racing, sweat, shake or feel dizzy, eat something sugary "
            "now (sweets, fruit juice) and measure again in 15 minutes. If it is low again and "
            "again, contact your doctor."
        )
    if code == "41653-7" and interpretation in ("H", "HH"):
        return gettext(
            "Watch what you eat and take your medicines on time; if it stays high, or you are "
            "very thirsty or pass water often, contact your doctor."
        )
    if code in ("8480-6", "8462-4") and interpretation in ("H", "HH"):
        if alerted:
            return gettext(
                "Your blood pressure is very high: see a doctor soon. With a headache, chest "
                "tightness or blurred vision, call 120 now. The doctor will contact you too."
            )
        return gettext(
            "Rest for 5 minutes and measure again. With a headache, chest tightness or blurred "
            "vision, see a doctor now."
        )
    if code in ("8480-6", "8462-4") and interpretation in ("L", "LL"):
        return gettext("Get up slowly; if you feel dizzy or weak, contact your doctor.")
    if code == "8867-4" and interpretation in ("L", "LL", "H", "HH"):
        return gettext(
            "Sit quietly for 5 minutes and measure again. If it stays like this, or your heart "
            "races or flutters, or you feel chest pain, dizziness or short of breath, see a "
            "doctor now."
        )
    if interpretation in ("L", "LL", "H", "HH"):  # never "keep it up" for an abnormal value
        return gettext("Measure again; if it stays like this, contact your doctor.")
    return gettext("Keep it up and keep recording.")


def words_for(observation: Any) -> str:
    """The reading in a word: 正常 / 偏低 / 偏高 …, and 低血糖 for a glucose below 3.9."""
    if (
        observation.code == "41653-7"
        and observation.value is not None
        and observation.value <= HYPOGLYCAEMIA_FROM  # said as such, not just "low"
    ):
        return gettext("hypoglycaemia")
    if not observation.interpretation:
        return pgettext("reading", "recorded")
    return str(WORDS.get(observation.interpretation, pgettext("reading", "normal")))


def _stored_already(patient: Any, results: list[ResultInput]) -> list[Any] | None:
    """The patient's own readings with these values at this time, in the order given, when
    every one is stored already (the same reading sent twice: a double tap, back and
    submit); else None."""
    found = {
        o.code: o
        for o in Observation.objects.filter(
            patient=patient,
            source=Source.PATIENT,
            effective_at=results[0].observed_at,
            code__in=[r.loinc for r in results],
        ).order_by("pk")
    }
    same = [found.get(r.loinc) for r in results]
    if all(o is not None and o.value == r.value for o, r in zip(same, results, strict=True)):
        return same
    return None


def store(patient: Any, data: dict[str, Any]) -> list[Feedback]:
    """Store the reading (call inside a transaction, the patient held); what to say back for
    each value. The same reading sent again is stored once and answered the same way."""
    started = timezone.now()
    results = results_of(data)
    created = _stored_already(patient, results)
    if created is not None:
        started = min(o.created_at for o in created)
        alerted = Alert.objects.filter(patient=patient, created_at__gte=started).exists()
    else:
        stored = do_record_results(
            patient,
            None,
            results,
            source=Source.PATIENT,
            source_label="患者自测",
            return_observations=True,
        )
        created = stored.created
        # Raised by this reading: a critical value, or a rule it set off (an open alert since).
        alerted = (
            bool(stored.alerts)
            or Alert.objects.filter(patient=patient, created_at__gte=started).exists()
        )
    feedback = [
        Feedback(
            name=str(NAMES.get(o.code, o.name)),
            value=f"{o.value:g} {UNITS.get(o.unit, o.unit)}"
            if o.value is not None
            else o.display_value,
            words=words_for(o),
            advice=advice_for(o.code, o.interpretation, alerted),
        )
        for o in created
    ]
    said: set[str] = set()
    for f in feedback:  # a blood pressure's two values, both high: its advice said once
        if f.advice in said:
            f.advice = ""
        said.add(f.advice)
    return feedback
