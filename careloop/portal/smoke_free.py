"""The smoking-cessation check-in on the patient's page (戒烟打卡): how many cigarettes the
patient smoked today (or yesterday, forgotten), and how strong the cravings were; stored as
a result (LOINC 64218-1, the cravings in its note) and answered with the smoke-free days in
a row, or, after smoking again, what to do next."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from careloop.care.models import ProgrammeEnrolment
from careloop.care.programmes import Progress
from careloop.clinical.assessment import ResultInput
from careloop.clinical.models import Observation, Source
from careloop.clinical.services import do_record_results
from careloop.forms import StyledFormMixin
from careloop.portal.readings import _reading

CODE = "64218-1"  # How many cigarettes do you smoke per day now [PhenX]
MOST = 100
CRAVINGS = [
    ("none", pgettext_lazy("craving", "none")),
    ("mild", pgettext_lazy("craving", "mild, easy to resist")),
    ("strong", pgettext_lazy("craving", "strong, hard to resist")),
]
CRAVING_NOTE = {"none": "烟瘾：无", "mild": "烟瘾：轻", "strong": "烟瘾：强烈"}
YESTERDAY_AT = time(21)  # the time a report for yesterday is stored at


DAYS = [
    ("today", pgettext_lazy("day", "today")),
    ("yesterday", pgettext_lazy("day", "yesterday")),
]


class SmokeFreeForm(StyledFormMixin, forms.Form):
    day = forms.ChoiceField(
        label=_("Which day?"),
        choices=DAYS,
        initial="today",
        widget=forms.RadioSelect,
        error_messages={
            "required": _("Please choose the day."),
            "invalid_choice": _("Please choose the day."),
        },
    )
    cigarettes = _reading(_("How many cigarettes did you smoke that day?"), 0, MOST, "支")
    cravings = forms.ChoiceField(
        label=_("How strong were the cravings?"),
        choices=CRAVINGS,
        required=False,
        widget=forms.RadioSelect,
    )

    def __init__(self, *args: Any, quit_on: date | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if quit_on is not None and quit_on >= timezone.localdate():
            # On the quit date yesterday is before the programme: it would be praised and
            # stored but never counted, so it is not offered.
            day = self.fields["day"]
            assert isinstance(day, forms.ChoiceField)
            day.choices = DAYS[:1]
        field = self.fields["cigarettes"]
        field.required = True
        field.error_messages["required"] = _("Please fill in how many: 0 if you smoked none.")
        out_of_range = _("Please check the number: 0 to %(most)s cigarettes.") % {"most": MOST}
        field.error_messages.update(min_value=out_of_range, max_value=out_of_range)
        field.widget.attrs.update({"inputmode": "numeric", "min": 0, "max": MOST})


def smoking_enrolment(patient: Any) -> ProgrammeEnrolment | None:
    """The patient's active programme with a goal on cigarettes a day, if any."""
    for row in ProgrammeEnrolment.objects.filter(
        patient=patient, status=ProgrammeEnrolment.Status.ACTIVE
    ).select_related("programme", "patient"):
        if any(g.get("indicator") == "cigarettes" for g in row.goals):
            return row
    return None


def moment_of(day: str) -> datetime:
    now = timezone.localtime()
    if day == "today":
        return now
    yesterday = now.date() - timedelta(days=1)
    return timezone.make_aware(datetime.combine(yesterday, YESTERDAY_AT))


def store(patient: Any, data: dict[str, Any]) -> None:
    """Store the report (call inside a transaction, the patient held). The same number
    sent again for the same day is stored once; another number corrects the day's report."""
    at = moment_of(data["day"])
    value = float(data["cigarettes"])
    said = (
        Observation.objects.filter(
            patient=patient,
            code=CODE,
            source=Source.PATIENT,
            effective_at__date=timezone.localtime(at).date(),
        )
        .order_by("-effective_at", "-id")
        .first()
    )
    if said is not None and said.value == value:
        return
    notes = ["患者自报"]
    if data.get("cravings"):
        notes.append(CRAVING_NOTE[data["cravings"]])
    do_record_results(
        patient,
        None,
        [ResultInput("每日吸烟量", at, loinc=CODE, value=value, unit="支/日", notes=notes)],
        source=Source.PATIENT,
        source_label="患者自测",
    )


def feedback(done: Progress, day: str, cigarettes: int, cravings: str) -> list[str]:
    """What to say back, in the page's language."""
    goal = done.smoking
    streak = goal.streak if goal is not None else None
    said: list[str] = []
    if cigarettes == 0 and streak is not None and streak.days:
        said.append(gettext("Well done! Smoke-free %(n)s days in a row.") % {"n": streak.days})
        if goal is not None and goal.for_days and goal.days_left:
            said.append(
                gettext("%(left)s more days to reach your goal of %(goal)s days.")
                % {"left": goal.days_left, "goal": goal.for_days}
            )
        elif goal is not None and goal.for_days:
            said.append(
                gettext("You have reached your goal of %(goal)s smoke-free days: keep it up!")
                % {"goal": goal.for_days}
            )
    elif cigarettes == 0:
        said.append(gettext("Well done: a day without a cigarette. Keep recording every day."))
    elif streak is not None and streak.last_relapse == timezone.localtime(moment_of(day)).date():
        said.append(
            gettext(
                "Smoking again happens to many people who quit; it is not failure. Think "
                "about what made you smoke and avoid it, and start again tomorrow. For help, "
                "call the quitline 400-888-5531 or 12320."
            )
        )
    else:
        said.append(
            gettext(
                "Recorded. Every cigarette fewer helps; aim for none at all. For help, call "
                "the quitline 400-888-5531 or 12320."
            )
        )
    if cravings == "strong":
        said.append(
            gettext(
                "A craving passes in a few minutes: wait 5 minutes, breathe deeply, drink a "
                "glass of water, get up and do something else."
            )
        )
    return said
