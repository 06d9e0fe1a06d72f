"""Next steps from a follow-up (raise an alert, refer, request a revisit, add a note) and the
pages that answer them: referrals in and out, revisit requests to book."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Q
from django.http import HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from careloop.audit.services import record
from careloop.followup.alert_sources import raise_by_hand
from careloop.followup.handoffs import (
    can_decide,
    can_withdraw,
    do_book_revisit,
    do_decide,
    do_hold_consultation,
    do_refer,
    do_request_revisit,
    do_withdraw,
    referral_targets,
    referrals_for,
)
from careloop.followup.models import Referral, RevisitRequest, Task, TaskNote
from careloop.followup.step_forms import (
    BookForm,
    DecideForm,
    NoteForm,
    RaiseAlertForm,
    ReferForm,
    RevisitForm,
)
from careloop.followup.views import _visible_task
from careloop.patients.access import (
    can_change,
    get_patient_for,
    is_owner,
    patients_for,
    scope_organisation_ids,
)
from careloop.typing import AuthedRequest

PAGE_SIZE = 50


def _errors(request: AuthedRequest, form: Any = None, exc: ValidationError | None = None) -> None:
    problems = exc.messages if exc is not None else []
    if form is not None:
        for field, errors in form.errors.items():
            label = form.fields[field].label if field in form.fields else ""
            problems += [f"{label}：{e}" if label else str(e) for e in errors]
    for problem in problems:
        messages.error(request, problem)


def _at(moment: Any) -> str:
    return timezone.localtime(moment).strftime("%m-%d %H:%M")


def _back(task: Task) -> HttpResponse:
    return redirect("followup:task", pk=task.pk)


def _keep(request: AuthedRequest, task: Task, prefix: str) -> None:
    """What was typed in a next-step form that was refused: the task page shows it again,
    with its errors, instead of an empty form."""
    typed = {k: request.POST.getlist(k) for k in request.POST if k.startswith(f"{prefix}-")}
    request.session[f"step:{task.pk}:{prefix}"] = typed


def _draft(request: Any, task: Task, prefix: str) -> QueryDict | None:
    typed = request.session.pop(f"step:{task.pk}:{prefix}", None)
    if not typed:
        return None
    data = QueryDict(mutable=True)
    for key, values in typed.items():
        data.setlist(key, values)
    return data


def _changeable_task(user: Any, pk: int) -> Task:
    """The task, when ``user`` may change its patient's record (not just read a share)."""
    task = _visible_task(user, pk)
    get_patient_for(user, task.patient_id, write=True)
    return task


def next_steps_context(request: Any, task: Task) -> dict[str, Any]:
    """The forms of the task page's "next steps" card (one refused a moment ago shows what
    was typed, with its errors)."""
    user = request.user
    # Each step changes the patient's record: none on a share that only lets them read.
    may = can_change(user, task.patient)
    return {
        "raise_form": RaiseAlertForm(_draft(request, task, "alert"), prefix="alert")
        if may and user.has_perm("followup.add_alert")
        else None,
        "refer_form": ReferForm(
            _draft(request, task, "refer"), prefix="refer", targets=referral_targets(task.patient)
        )
        if may and user.has_perm("followup.add_referral")
        else None,
        "revisit_form": RevisitForm(_draft(request, task, "revisit"), prefix="revisit")
        if may and user.has_perm("followup.add_revisitrequest")
        else None,
        "note_form": NoteForm(_draft(request, task, "note"), prefix="note")
        if may and user.has_perm("followup.add_tasknote")
        else None,
        "task_notes": task.notes.select_related("by"),
        # Those the user's organisations sent or received, as the patient page's history.
        "referrals": referrals_for(user).filter(patient=task.patient)[:5],
        "revisits": task.patient.revisit_requests.all()[:5],
    }


@login_required
@require_POST
@permission_required("followup.add_alert", raise_exception=True)
def task_raise_alert(request: AuthedRequest, pk: int) -> HttpResponse:
    task = _changeable_task(request.user, pk)
    form = RaiseAlertForm(request.POST, prefix="alert")
    if not form.is_valid():
        _errors(request, form)
        _keep(request, task, "alert")
        return _back(task)
    asked_at = timezone.now()
    alert = raise_by_hand(task.patient, request.user, task=task, **form.cleaned_data)
    if alert.created_at < asked_at:  # sent twice, or a colleague was first
        raised = alert.events.filter(action="raise").select_related("actor").first()
        messages.info(
            request,
            _("This alert was already raised by %(who)s at %(when)s.")
            % {"who": (raised and raised.actor) or "—", "when": _at(alert.created_at)},
        )
        return _back(task)
    messages.success(request, _("Alert raised: %(title)s.") % {"title": alert.title})
    return _back(task)


@login_required
@require_POST
@permission_required("followup.add_referral", raise_exception=True)
def task_refer(request: AuthedRequest, pk: int) -> HttpResponse:
    task = _changeable_task(request.user, pk)
    form = ReferForm(request.POST, prefix="refer", targets=referral_targets(task.patient))
    if not form.is_valid():
        _errors(request, form)
        _keep(request, task, "refer")
        return _back(task)
    data = form.cleaned_data
    try:
        referral = do_refer(
            request.user,
            task.patient,
            data["to_organisation"],
            reason=data["reason"],
            urgency=data["urgency"],
            transfer=data["transfer"],
            task=task,
        )
    except ValidationError as exc:
        _errors(request, exc=exc)
        _keep(request, task, "refer")
    else:
        messages.success(
            request,
            _("Referred to %(org)s; waiting for them to accept.")
            % {"org": referral.to_organisation.name},
        )
    return _back(task)


@login_required
@require_POST
@permission_required("followup.add_revisitrequest", raise_exception=True)
def task_revisit(request: AuthedRequest, pk: int) -> HttpResponse:
    task = _changeable_task(request.user, pk)
    form = RevisitForm(request.POST, prefix="revisit")
    if not form.is_valid():
        _errors(request, form)
        _keep(request, task, "revisit")
        return _back(task)
    asked_at = timezone.now()
    revisit = do_request_revisit(request.user, task.patient, task=task, **form.cleaned_data)
    if revisit.requested_at < asked_at:  # sent twice, or a colleague was first
        messages.info(
            request,
            _("A revisit for %(day)s was already requested by %(who)s at %(when)s.")
            % {
                "day": revisit.wanted_on.isoformat(),
                "who": revisit.requested_by or _("the patient"),
                "when": _at(revisit.requested_at),
            },
        )
        return _back(task)
    messages.success(
        request, _("Revisit requested for %(day)s.") % {"day": revisit.wanted_on.isoformat()}
    )
    return _back(task)


@login_required
@require_POST
@permission_required("followup.add_tasknote", raise_exception=True)
def task_note(request: AuthedRequest, pk: int) -> HttpResponse:
    task = _changeable_task(request.user, pk)
    form = NoteForm(request.POST, prefix="note")
    if not form.is_valid():
        _errors(request, form)
        _keep(request, task, "note")
        return _back(task)
    with transaction.atomic():
        Task.objects.select_for_update().filter(pk=task.pk).first()
        text = form.cleaned_data["text"]
        same = TaskNote.objects.filter(task=task, text=text, by=request.user).first()
        if same is None:
            note = TaskNote.objects.create(task=task, text=text, by=request.user)
            record(request.user, "create", "task_note", note.pk, patient_id=task.patient_id)
    if same is not None:  # the form sent twice: the note is there once
        messages.info(
            request, _("This note was already added at %(when)s.") % {"when": _at(same.at)}
        )
        return _back(task)
    messages.success(request, _("Note added."))
    return _back(task)


# ---------------------------------------------------------------- referrals


@login_required
@permission_required("followup.view_referral", raise_exception=True)
def referral_list(request: AuthedRequest) -> HttpResponse:
    box = request.GET.get("box") if request.GET.get("box") in ("in", "out") else "in"
    org_ids = scope_organisation_ids(request.user)
    referrals = referrals_for(request.user)
    if org_ids is not None:
        field = "to_organisation_id__in" if box == "in" else "from_organisation_id__in"
        referrals = referrals.filter(**{field: org_ids})
    status = request.GET.get("status", "pending")
    if status in Referral.Status.values:
        referrals = referrals.filter(status=status)
    page = Paginator(referrals, PAGE_SIZE).get_page(request.GET.get("page"))
    rows = [(r, can_decide(request.user, r), can_withdraw(request.user, r)) for r in page]
    return render(
        request,
        "followup/referral_list.html",
        {
            "page": page,
            "rows": rows,
            "box": box,
            "status": status,
            "statuses": Referral.Status.choices,
            # Without it (a nurse, a health manager): the list says who answers instead.
            "can_answer": request.user.has_perm("followup.change_referral"),
            "querystring": f"box={box}&status={status}",
        },
    )


SHOWN_REFERRALS = 50  # on the patient page, newest first


def patient_referrals_context(user: Any, patient: Any) -> dict[str, Any]:
    """The referral history section of the patient page: the patient's referrals the user's
    organisations sent or received (``referrals_for``: a share of the patient with a third
    organisation does not show it the others' reasons and answers), newest first, for whoever
    may open the patient (the caller reached it through ``get_patient_for``) and read
    referrals. One query, however many referrals there are."""
    if not user.has_perm("followup.view_referral"):
        return {}
    referrals = list(
        referrals_for(user)
        .filter(patient=patient)
        .order_by("-requested_at", "-id")[: SHOWN_REFERRALS + 1]
    )
    # The patient's own organisation refers them, also when no follow-up of theirs is open.
    may_refer = user.has_perm("followup.add_referral") and is_owner(user, patient)
    return {
        "show_referrals": True,
        "patient_referrals": referrals[:SHOWN_REFERRALS],
        "more_referrals": len(referrals) > SHOWN_REFERRALS,
        "patient_refer_form": ReferForm(prefix="refer", targets=referral_targets(patient))
        if may_refer
        else None,
    }


@login_required
@require_POST
@permission_required("followup.add_referral", raise_exception=True)
def patient_refer(request: AuthedRequest, pk: int) -> HttpResponse:
    """Refer a patient from their page (``do_refer`` checks it is their own organisation)."""
    patient = get_patient_for(request.user, pk, write=True)
    back = redirect(reverse("patients:detail", args=[patient.pk]) + "#referrals")
    form = ReferForm(request.POST, prefix="refer", targets=referral_targets(patient))
    if not form.is_valid():
        _errors(request, form)
        return back
    data = form.cleaned_data
    try:
        referral = do_refer(
            request.user,
            patient,
            data["to_organisation"],
            reason=data["reason"],
            urgency=data["urgency"],
            transfer=data["transfer"],
        )
    except ValidationError as exc:
        _errors(request, exc=exc)
    else:
        messages.success(
            request,
            _("Referred to %(org)s; waiting for them to accept.")
            % {"org": referral.to_organisation.name},
        )
    return back


def _referral(request: AuthedRequest, pk: int) -> Referral:
    return get_object_or_404(referrals_for(request.user), pk=pk)


@login_required
@require_POST
@permission_required("followup.change_referral", raise_exception=True)
def referral_decide(request: AuthedRequest, pk: int) -> HttpResponse:
    referral = _referral(request, pk)
    form = DecideForm(request.POST)
    if not form.is_valid():
        _errors(request, form)
        return redirect("followup:referrals")
    accept = form.cleaned_data["decision"] == "accept"
    try:
        do_decide(request.user, referral, accept=accept, note=form.cleaned_data["decision_note"])
    except ValidationError as exc:
        _errors(request, exc=exc)
    else:
        messages.success(request, _("Referral accepted.") if accept else _("Referral declined."))
    return redirect("followup:referrals")


@login_required
@require_POST
@permission_required("followup.add_referral", raise_exception=True)
def referral_withdraw(request: AuthedRequest, pk: int) -> HttpResponse:
    referral = _referral(request, pk)
    try:
        do_withdraw(request.user, referral)
    except ValidationError as exc:
        _errors(request, exc=exc)
    else:
        messages.success(request, _("Referral withdrawn."))
    return redirect(reverse("followup:referrals") + "?box=out")


# ---------------------------------------------------------------- revisits


def _back_to_revisits(request: AuthedRequest) -> HttpResponse:
    """The revisit list as the coordinator had filtered it (status, kind), not reset."""
    kept = {
        key: request.POST[key]
        for key, allowed in (
            ("status", ["", *RevisitRequest.Status.values]),  # "" for every status
            ("kind", RevisitRequest.Kind.values),
        )
        if key in request.POST and request.POST[key] in allowed
    }
    url = reverse("followup:revisits")
    return redirect(f"{url}?{urlencode(kept)}" if kept else url)


@login_required
@require_POST
@permission_required("followup.change_revisitrequest", raise_exception=True)
def consultation_held(request: AuthedRequest, pk: int) -> HttpResponse:
    consultation = get_object_or_404(_revisits_in_scope(request.user), pk=pk)
    get_patient_for(request.user, consultation.patient_id, write=True)
    try:
        do_hold_consultation(request.user, consultation)
    except ValidationError as exc:
        _errors(request, exc=exc)
    else:
        messages.success(
            request,
            _("Consultation marked held.")
            if consultation.kind == RevisitRequest.Kind.CONSULTATION
            else _("Marked as come for the exam."),
        )
    return _back_to_revisits(request)


def _revisits_in_scope(user: Any) -> Any:
    revisits = RevisitRequest.objects.all()
    org_ids = scope_organisation_ids(user)
    if org_ids is not None:
        revisits = revisits.filter(
            Q(organisation_id__in=org_ids) | Q(patient__organisation_id__in=org_ids)
        )
    return revisits


@login_required
@permission_required("followup.view_revisitrequest", raise_exception=True)
def revisit_list(request: AuthedRequest) -> HttpResponse:
    status = request.GET.get("status", "requested")
    kind = request.GET.get("kind", "")
    revisits = _revisits_in_scope(request.user).select_related(
        "patient__organisation", "requested_by", "package"
    )
    if status in RevisitRequest.Status.values:
        revisits = revisits.filter(status=status)
    if kind in RevisitRequest.Kind.values:
        revisits = revisits.filter(kind=kind)
    page = Paginator(revisits.order_by("wanted_on", "pk"), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    # Booked only for patients still in the user's care: one handed over to another
    # organisation (a referral accepted with hand-over) is theirs to book now.
    writable = set(
        patients_for(request.user, write=True)
        .filter(pk__in=[v.patient_id for v in page])
        .values_list("pk", flat=True)
    )
    org_ids = scope_organisation_ids(request.user)
    rows = [
        (
            v,
            v.patient_id in writable,
            v.patient.organisation
            if org_ids is not None and v.patient.organisation_id not in org_ids
            else None,
        )
        for v in page
    ]
    return render(
        request,
        "followup/revisit_list.html",
        {
            "page": page,
            "rows": rows,
            "status": status,
            "statuses": RevisitRequest.Status.choices,
            "kind": kind,
            "kinds": RevisitRequest.Kind.choices,
            "can_book": request.user.has_perm("followup.change_revisitrequest"),
            "querystring": urlencode({"status": status, "kind": kind}),
        },
    )


@login_required
@require_POST
@permission_required("followup.change_revisitrequest", raise_exception=True)
def revisit_book(request: AuthedRequest, pk: int) -> HttpResponse:
    revisit = get_object_or_404(_revisits_in_scope(request.user), pk=pk)
    try:
        get_patient_for(request.user, revisit.patient_id, write=True)
    except PermissionDenied:
        messages.error(
            request,
            _(
                "This revisit cannot be booked here: the patient is no longer in your "
                "organisation's care (handed over), so their organisation books it."
            ),
        )
        return _back_to_revisits(request)
    form = BookForm(request.POST)
    if not form.is_valid():
        _errors(request, form)
        return _back_to_revisits(request)
    try:
        do_book_revisit(
            request.user,
            revisit,
            form.cleaned_data["appointment_at"],
            shown=request.POST.get("shown"),
        )
    except ValidationError as exc:
        _errors(request, exc=exc)
    else:
        messages.success(
            request,
            _("Exam booked.") if revisit.kind == RevisitRequest.Kind.EXAM else _("Revisit booked."),
        )
    return _back_to_revisits(request)
