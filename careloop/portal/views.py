"""The patient's pages at ``/p/<token>/``, opened from an SMS or WeChat message on a phone:
a light identity check first (birth date or the last 4 characters of the ID number, at most
5 wrong tries per link in 15 minutes), then the questionnaire the link is for, readings
with immediate feedback, and the points earned. An expired or changed link shows a friendly
page and nothing of the patient. Opens and page views are recorded."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any, TypeVar

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from careloop.audit.services import record
from careloop.care.plans import current_plan
from careloop.care.programmes import active_progress, progress
from careloop.clinical.trends import latest_reports
from careloop.followup.models import RevisitRequest, Task
from careloop.forms import StyledFormMixin
from careloop.ids import row_id
from careloop.patients.models import Patient
from careloop.portal import points
from careloop.portal import smoke_free as smoking
from careloop.portal.explanations import explain
from careloop.portal.links import MAX_DAYS, Link, LinkError, read
from careloop.portal.models import PointsEntry, PortalEvent, Redemption
from careloop.portal.readings import ReadingForm, store
from careloop.questionnaires.answers import from_post, shown_items
from careloop.questionnaires.definition import AnswerError
from careloop.questionnaires.services import (
    answered_since,
    current,
    definition_of,
    latest_answer,
    submit,
)

MAX_FAILURES = 5  # wrong tries per link in LOCK_WINDOW
LOCK_WINDOW = timedelta(minutes=15)
MAX_FAILURES_EVER = 20  # on all the patient's links over MAX_DAYS; then staff send a new one
E = PortalEvent.Kind


def _session_key(link: Link) -> str:
    return f"portal:{link.fingerprint}"


def _opened(request: HttpRequest, token: str) -> tuple[Link, Patient] | HttpResponse:
    """The link and its patient, or the friendly page saying why not."""
    try:
        link = read(token)
    except LinkError as error:
        status = 404 if error.tampered else 410
        return render(request, "portal/invalid.html", {"tampered": error.tampered}, status=status)
    patient = Patient.objects.filter(pk=link.patient_id, deceased_on__isnull=True).first()
    if patient is None:
        return render(request, "portal/invalid.html", {"tampered": False}, status=410)
    return link, patient


def _event(link: Link, patient: Patient, kind: str, page: str = "") -> None:
    PortalEvent.objects.create(patient=patient, kind=kind, page=page, link=link.fingerprint)


def _verified(request: HttpRequest, link: Link) -> bool:
    return request.session.get(_session_key(link)) is True


def _award(patient: Patient, points: int, reason: str) -> None:
    if points:
        PointsEntry.objects.create(patient=patient, points=points, reason=reason)


def _failures(link: Link, patient: Patient) -> tuple[int, int]:
    """(wrong tries on this link in the window, on all the patient's links lately)."""
    now = timezone.now()
    wrong = PortalEvent.objects.filter(kind=E.CHECK_FAILED)
    recent = wrong.filter(link=link.fingerprint, at__gte=now - LOCK_WINDOW).count()
    ever = wrong.filter(patient=patient, at__gte=now - timedelta(days=MAX_DAYS)).count()
    return recent, ever


def _locked(recent: int, ever: int) -> bool:
    return recent >= MAX_FAILURES or ever >= MAX_FAILURES_EVER


def _locked_page(request: HttpRequest, ever: int) -> HttpResponse:
    """Too many wrong tries: wait 15 minutes, or, past the limit on all the patient's links
    (no wait opens them again), ask the care team for a new link."""
    return render(
        request, "portal/locked.html", {"for_good": ever >= MAX_FAILURES_EVER}, status=429
    )


def check(request: HttpRequest, token: str) -> HttpResponse:
    opened = _opened(request, token)
    if isinstance(opened, HttpResponse):
        return opened
    link, patient = opened
    if request.method != "POST":
        recent, ever = _failures(link, patient)
        if _locked(recent, ever):
            return _locked_page(request, ever)
        _event(link, patient, E.OPEN)
        return render(request, "portal/check.html", {"error": "", "token": token})
    with transaction.atomic():
        # One check at a time per patient: the try is counted before it is judged, so
        # guesses sent together cannot all slip under the limit.
        Patient.objects.select_for_update().filter(pk=patient.pk).first()
        recent, ever = _failures(link, patient)
        if _locked(recent, ever):
            return _locked_page(request, ever)
        answer = read_answer(request.POST.get("answer", ""))
        if answer is None:  # not a date or 4 characters: said how, no try counted
            error = _(
                "Please give your birth date (such as 1956-04-01 or 1956年4月1日) "
                "or the last 4 characters of your ID number."
            )
            return render(request, "portal/check.html", {"error": error, "token": token})
        matched = _identity_matches(patient, answer)
        _event(link, patient, E.CHECK_PASSED if matched else E.CHECK_FAILED)
    if matched:
        request.session[_session_key(link)] = True
        request.session.set_expiry(min(link.expires - int(timezone.now().timestamp()), 86400))
        return redirect("portal:home", token=token)
    left = min(MAX_FAILURES - recent, MAX_FAILURES_EVER - ever) - 1
    if left <= 0:
        return _locked_page(request, ever + 1)
    error = _("This does not match our records. %(n)s tries left.") % {"n": left}
    return render(request, "portal/check.html", {"error": error, "token": token})


# Separators as people type them on a phone: - / . and the Chinese 年 月, a comma or 、, a
# space, a dash of the Chinese keyboard (—); the day ends in 日 or 号 (1956年4月1号).
_BIRTH_DATE = re.compile(
    r"(\d{4})\s*(?:[-/.,、—–~年]|\s)\s*(\d{1,2})\s*(?:[-/.,、—–~月]|\s)\s*(\d{1,2})\s*[日号]?"
)


def read_answer(text: str) -> date | str | None:
    """The identity answer as a birth date (1956-04-01, 1956-4-1, 1956/4/1, 1956.4.1,
    1956年4月1日, 1956年4月1号, 19560401) or the last 4 characters of the ID number; None
    when it is neither (a typing slip: not counted as a wrong try). Full-width characters
    of a Chinese keyboard (１２３Ｘ, 。) are read as their plain forms."""
    given = unicodedata.normalize("NFKC", text).strip().upper().replace("。", ".")
    if len(given) == 4 and given.isalnum():
        return given
    parts: tuple[str, ...]
    if len(given) == 8 and given.isdecimal():
        parts = (given[:4], given[4:6], given[6:])
    elif match := _BIRTH_DATE.fullmatch(given):
        parts = match.groups()
    else:
        return None
    try:
        return date(int(parts[0]), int(parts[1]), int(parts[2]))
    except ValueError:
        return None


def _identity_matches(patient: Patient, answer: date | str) -> bool:
    if isinstance(answer, date):
        return answer == patient.birth_date
    return bool(patient.id_number) and patient.id_number.upper().endswith(answer)


def _guarded(request: HttpRequest, token: str) -> tuple[Link, Patient] | HttpResponse:
    opened = _opened(request, token)
    if isinstance(opened, HttpResponse):
        return opened
    if not _verified(request, opened[0]):
        return redirect("portal:check", token=token)
    return opened


def home(request: HttpRequest, token: str) -> HttpResponse:
    opened = _guarded(request, token)
    if isinstance(opened, HttpResponse):
        return opened
    link, patient = opened
    if link.purpose == "questionnaire" and link.questionnaire:
        return redirect("portal:questionnaire", token=token, code=link.questionnaire)
    if link.purpose in ("readings", "report"):
        return redirect(f"portal:{link.purpose}", token=token)
    _event(link, patient, E.VIEW, "home")
    return render(
        request,
        "portal/home.html",
        {
            "token": token,
            "patient": patient,
            "points": points.balance(patient),
            "link": link,
            "programmes": active_progress(patient),
            "plan": current_plan(patient, final=True),
        },
    )


def questionnaire(request: HttpRequest, token: str, code: str) -> HttpResponse:
    opened = _guarded(request, token)
    if isinstance(opened, HttpResponse):
        return opened
    link, patient = opened
    # Only the questionnaire the link was made for: another one would be answered (and
    # rewarded with points) on a link never sent for it.
    version = current(code) if code == link.questionnaire else None
    if version is None:
        return render(request, "portal/invalid.html", {"tampered": True}, status=404)
    definition = definition_of(version)
    given: dict[str, Any] = {}
    errors: dict[str, str] = {}
    if request.method == "POST":
        given = from_post(definition, request.POST)
        try:
            with transaction.atomic():
                # One answer at a time per patient: a second tap waits for the first, then
                # finds it (and the task it completed closed).
                Patient.objects.select_for_update().filter(pk=patient.pk).first()
                sent = answered_since(patient, code, "patient", row_id(request.POST.get("seen")))
                if sent is not None:  # this page's answers, sent again: stored once
                    crisis = sent.alert is not None and "自伤风险" in sent.alert.reason
                else:
                    task = None
                    if link.task_id and link.questionnaire == code:
                        task = Task.objects.filter(pk=link.task_id, patient=patient).first()
                    done = submit(
                        version, patient, given, source="patient", task=task, channel="app"
                    )
                    crisis = "自伤风险" in done.symptoms
                    _event(link, patient, E.QUESTIONNAIRE, code)
                    reason = f"完成问卷：{definition.title}"[:100]
                    if not PointsEntry.objects.filter(
                        patient=patient, reason=reason, at__date=timezone.localdate()
                    ).exists():  # once a day per questionnaire
                        _award(patient, settings.CARELOOP_POINTS_QUESTIONNAIRE, reason)
        except AnswerError as error:
            errors = error.errors
        else:
            return render(
                request,
                "portal/thanks.html",
                {
                    "token": token,
                    "title": definition.title,
                    "points": points.balance(patient),
                    # Thoughts of self-harm in the answers: where to turn now, not only later.
                    "crisis": crisis,
                },
            )
    else:
        _event(link, patient, E.VIEW, f"questionnaire:{code}")
    shown = shown_items(definition, given, errors)
    return render(
        request,
        "portal/questionnaire.html",
        {
            "token": token,
            "definition": definition,
            "shown": shown,
            "seen": latest_answer(patient, code, "patient"),
            # Said at the top of the page the patient comes back to, with the way to the
            # first one: a missed item far down a long form is otherwise not seen at all.
            "missing": sum(1 for s in shown if s["error"]) or len(errors),
            "first_missing": next((s["item"].key for s in shown if s["error"]), ""),
        },
    )


def readings(request: HttpRequest, token: str) -> HttpResponse:
    opened = _guarded(request, token)
    if isinstance(opened, HttpResponse):
        return opened
    link, patient = opened
    now = timezone.localtime()
    form = ReadingForm(
        request.POST or None, initial={"measured_at": now.strftime("%Y-%m-%dT%H:%M")}
    )
    feedback = None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        feedback = _check_in(
            link,
            patient,
            data["kind"],
            f"reading uploaded by the patient ({data['kind']})",
            lambda: store(patient, data),
        )
        form = ReadingForm(initial={"measured_at": now.strftime("%Y-%m-%dT%H:%M")})
    elif request.method != "POST":
        _event(link, patient, E.VIEW, "readings")
    return render(
        request,
        "portal/readings.html",
        {
            "token": token,
            "form": form,
            "feedback": feedback,
            "points": points.balance(patient),
            "smoking": smoking.smoking_enrolment(patient) is not None,
        },
    )


_T = TypeVar("_T")


def _check_in(link: Link, patient: Patient, what: str, summary: str, save: Callable[[], _T]) -> _T:
    """A reading (or a smoking report) from the patient's page: stored with the patient held
    (the same one sent twice is stored once), its view event, the day's check-in points once,
    and the audit record; returns what ``save`` returned."""
    with transaction.atomic():
        Patient.objects.select_for_update().filter(pk=patient.pk).first()
        saved = save()
        _event(link, patient, E.READING, what)
        if not PointsEntry.objects.filter(
            patient=patient, reason="自测打卡", at__date=timezone.localdate()
        ).exists():
            _award(patient, settings.CARELOOP_POINTS_CHECKIN, "自测打卡")
    record(
        None,
        "create",
        "observation",
        patient.pk,
        patient_id=patient.pk,
        actor_label="patient page",
        summary=summary,
    )
    return saved


def smoke_free(request: HttpRequest, token: str) -> HttpResponse:
    """The smoking-cessation check-in (戒烟打卡), for a patient on such a programme."""
    opened = _guarded(request, token)
    if isinstance(opened, HttpResponse):
        return opened
    link, patient = opened
    enrolment = smoking.smoking_enrolment(patient)
    if enrolment is None:  # not (or no longer) on the programme
        return redirect("portal:home", token=token)
    # After the programme's last day its days are counted no more: no check-in is taken.
    ended = enrolment.ends_on < timezone.localdate()
    form = smoking.SmokeFreeForm(
        None if ended else request.POST or None, quit_on=enrolment.starts_on
    )
    said: list[str] = []
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        _check_in(
            link,
            patient,
            "cigarettes",
            "cigarettes a day reported by the patient",
            lambda: smoking.store(patient, data),
        )
    elif request.method != "POST":
        _event(link, patient, E.VIEW, "smoke-free")
    done = progress(enrolment)
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        said = smoking.feedback(done, data["day"], data["cigarettes"], data.get("cravings", ""))
        form = smoking.SmokeFreeForm(quit_on=enrolment.starts_on)
    return render(
        request,
        "portal/smoke_free.html",
        {"token": token, "form": form, "said": said, "done": done, "ended": ended},
    )


def report(request: HttpRequest, token: str) -> HttpResponse:
    """The patient's latest exam reports, each abnormal item explained in plain words."""
    opened = _guarded(request, token)
    if isinstance(opened, HttpResponse):
        return opened
    link, patient = opened
    _event(link, patient, E.VIEW, "report")
    return render(request, "portal/report.html", {"token": token, "reports": reports_for(patient)})


def shown_range(text: str) -> str:
    """A reference range in the page's language: ours are stored as people read them in
    Chinese, two bounds joined by 且 ("≥3.9 且 <6.1"); a sender's is shown as sent."""
    low, joined, high = text.partition(" 且 ")
    if not joined:
        return text
    return _("%(low)s and %(high)s") % {"low": low, "high": high}


def reports_for(patient: Patient) -> list[dict[str, Any]]:
    shown = []
    for found in latest_reports(patient):
        items = []
        for o in found.observations.all():
            flag = {"H": "↑", "HH": "↑↑", "L": "↓", "LL": "↓↓"}.get(o.interpretation, "")
            items.append(
                {
                    "name": o.name,
                    "value": o.display_value,
                    "flag": flag,
                    "range": shown_range(o.ref_text),
                    "explanation": explain(o.code, o.interpretation),
                }
            )
        shown.append(
            {
                "title": found.name or found.code,
                "date": timezone.localtime(found.effective_at),
                "items": items,
                "conclusion": found.conclusion,
            }
        )
    return shown


class RevisitForm(StyledFormMixin, forms.Form):
    kind = forms.ChoiceField(
        label=gettext_lazy("What would you like?"),
        choices=[
            (RevisitRequest.Kind.REVISIT, gettext_lazy("A revisit appointment")),
            (RevisitRequest.Kind.CONSULTATION, gettext_lazy("A consultation with a doctor")),
        ],
        initial=RevisitRequest.Kind.REVISIT,
        required=False,  # a page opened before the choice was offered asks for a revisit
        widget=forms.RadioSelect,
    )
    wanted_on = forms.DateField(
        label=gettext_lazy("Which day suits you?"), widget=forms.DateInput(attrs={"type": "date"})
    )
    reason = forms.CharField(
        label=gettext_lazy("What would you like to see the doctor about?"),
        required=False,
        max_length=300,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def clean_kind(self) -> str:
        return self.cleaned_data["kind"] or RevisitRequest.Kind.REVISIT

    def clean_wanted_on(self) -> date:
        wanted: date = self.cleaned_data["wanted_on"]
        today = timezone.localdate()
        if wanted < today or wanted > today + timedelta(days=90):
            raise forms.ValidationError(
                gettext_lazy("Please choose a day within the next 90 days.")
            )
        return wanted


def revisit(request: HttpRequest, token: str) -> HttpResponse:
    """The patient asks for a revisit booking; a coordinator books it (Revisits page)."""
    opened = _guarded(request, token)
    if isinstance(opened, HttpResponse):
        return opened
    link, patient = opened
    form = RevisitForm(request.POST or None)
    done = None
    if request.method == "POST" and form.is_valid():
        wanted_on, why = form.cleaned_data["wanted_on"], form.cleaned_data["reason"].strip()
        kind = form.cleaned_data["kind"]
        with transaction.atomic():
            # One request at a time per patient: two taps sent together make one request.
            Patient.objects.select_for_update().filter(pk=patient.pk).first()
            waiting = RevisitRequest.objects.filter(
                patient=patient,
                kind=kind,
                wanted_on=wanted_on,
                status=RevisitRequest.Status.REQUESTED,
            ).first()
            if waiting is not None:  # asked again (a second tap, a reload): the same request
                if why and why not in waiting.reason:  # with what was added this time
                    waiting.reason = "；".join(r for r in (waiting.reason, why) if r)[:300]
                    waiting.save(update_fields=["reason"])
                return render(
                    request, "portal/revisit.html", {"token": token, "form": form, "done": waiting}
                )
            done = RevisitRequest.objects.create(
                patient=patient,
                organisation_id=patient.organisation_id,
                kind=kind,
                wanted_on=wanted_on,
                reason=(f"患者页面申请：{why}" if why else "患者页面申请")[:300],
            )
            _event(link, patient, E.REVISIT, "revisit")
        record(
            None,
            "create",
            "revisit",
            done.pk,
            patient_id=patient.pk,
            actor_label="patient page",
            summary=f"{done.kind} requested by the patient for {done.wanted_on}",
        )
    elif request.method != "POST":
        _event(link, patient, E.VIEW, "revisit")
    return render(request, "portal/revisit.html", {"token": token, "form": form, "done": done})


def points_page(request: HttpRequest, token: str) -> HttpResponse:
    """The patient's points, what they can be exchanged for, and their requests."""
    opened = _guarded(request, token)
    if isinstance(opened, HttpResponse):
        return opened
    link, patient = opened
    error, asked = "", None
    if request.method == "POST":
        try:
            asked = points.request(
                patient, request.POST.get("item", ""), seen=row_id(request.POST.get("seen"))
            )
        except ValidationError as exc:
            error = " ".join(exc.messages)
    else:
        _event(link, patient, E.VIEW, "points")
    available = points.balance(patient) - points.held(patient)
    return render(
        request,
        "portal/points.html",
        {
            "token": token,
            "balance": points.balance(patient),
            "available": available,
            "rewards": [(name, cost, cost <= available) for name, cost in points.rewards(patient)],
            "requests": Redemption.objects.filter(patient=patient)[:20],
            "error": error,
            "asked": asked,
            "seen": points.latest(patient),
        },
    )
