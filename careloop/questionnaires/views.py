"""Staff pages of questionnaires: the list, one questionnaire (preview, versions, FHIR
export, a new version from JSON), filling one in for a patient (from a follow-up or the
patient page), and the answers."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Count, Q
from django.http import HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _

from careloop.followup.models import Task
from careloop.ids import row_id
from careloop.patients.access import get_patient_for, patients_for
from careloop.patients.models import Patient
from careloop.questionnaires.access import in_use_for, may_change, visible_to
from careloop.questionnaires.answers import from_post, shown_items
from careloop.questionnaires.builder import CODE, builder_labels
from careloop.questionnaires.definition import AnswerError, DefinitionError
from careloop.questionnaires.models import (
    Questionnaire,
    QuestionnaireResponse,
)
from careloop.questionnaires.services import (
    answered_since,
    as_fhir,
    definition_of,
    do_save_questionnaire,
    latest_answer,
    submit,
)
from careloop.said import gettext_noop
from careloop.typing import AuthedRequest


@login_required
@permission_required("questionnaires.view_questionnaire", raise_exception=True)
def questionnaire_list(request: AuthedRequest) -> HttpResponse:
    # Answers of the patients the user can see: not how many other organisations had.
    visible = patients_for(request.user).values("pk")
    rows = (
        visible_to(request.user)
        .select_related("organisation")
        .annotate(
            answered=Count(
                "versions__responses", filter=Q(versions__responses__patient__in=visible)
            )
        )
    )
    return render(request, "questionnaires/list.html", {"rows": rows})


NEW_DEFINITION: dict[str, Any] = {
    "code": "",
    "title": "",
    "items": [{"key": "q1", "type": "choice", "text": "", "options": []}],
}


def _save_posted(
    request: AuthedRequest, row: Questionnaire | None
) -> tuple[HttpResponse | None, str]:
    """Save the posted definition (a new questionnaire when ``row`` is None); returns
    (a redirect, "") or (None, what is wrong)."""
    text = request.POST.get("definition", "")
    status = request.POST.get("status", row.status if row else Questionnaire.Status.DRAFT)
    try:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:  # said in the page's language, not Python's
            return None, _("The JSON cannot be read at line %(line)d, column %(column)d.") % {
                "line": exc.lineno,
                "column": exc.colno,
            }
        if not isinstance(data, dict):
            raise DefinitionError("questionnaire", gettext_noop("must be a JSON object"))
        code = data.get("code")
        if row is not None and code != row.code:
            raise DefinitionError("code", gettext_noop("must stay %(code)s"), code=row.code)
        if row is None and (code == "new" or Questionnaire.objects.filter(code=code).exists()):
            raise DefinitionError(
                "code", gettext_noop("%(code)s is taken: choose another"), code=str(code)
            )
        if row is None and not (isinstance(code, str) and CODE.fullmatch(code)):
            raise DefinitionError(
                "code",
                gettext_noop(
                    "may contain only lower-case English letters, digits and -, as knee-rehab"
                ),
            )
        saved, changed = do_save_questionnaire(
            request.user,
            data,
            status=status if status in Questionnaire.Status.values else Questionnaire.Status.DRAFT,
        )
    except ValueError as exc:  # DefinitionError is a ValueError; so is bad JSON
        return None, str(exc)
    messages.success(
        request,
        _("Saved as version %(v)s.") % {"v": saved.version} if changed else _("Nothing changed."),
    )
    return redirect("questionnaires:detail", code=saved.code), ""


def _builder_context(
    row: Questionnaire | None, text: str, error: str, status: str = ""
) -> dict[str, Any]:
    """``status`` is the one posted with a definition that was refused: kept as chosen."""
    if status not in Questionnaire.Status.values:
        status = row.status if row else Questionnaire.Status.DRAFT
    return {
        "row": row,
        "text": text,
        "error": error,
        "status": status,
        "statuses": Questionnaire.Status.choices,
        "builder_labels": builder_labels(),
    }


@login_required
@permission_required("questionnaires.view_questionnaire", raise_exception=True)
def questionnaire_detail(request: AuthedRequest, code: str) -> HttpResponse:
    row = get_object_or_404(visible_to(request.user), code=code)
    version = row.latest()
    error = status = ""
    text = json.dumps(version.definition, ensure_ascii=False, indent=2)
    if request.method == "POST":
        if not may_change(request.user, row):
            raise PermissionDenied
        done, error = _save_posted(request, row)
        if done is not None:
            return done
        text, status = request.POST.get("definition", ""), request.POST.get("status", "")
    return render(
        request,
        "questionnaires/detail.html",
        {
            **_builder_context(row, text, error, status),
            "version": version,
            "definition": definition_of(version),
            "shown": shown_items(definition_of(version), {}),
            "versions": row.versions.select_related("saved_by"),
            "can_change": may_change(request.user, row),
            "owner": row.organisation,
        },
    )


@login_required
@permission_required("questionnaires.add_questionnaire", raise_exception=True)
def questionnaire_new(request: AuthedRequest) -> HttpResponse:
    """Build a new questionnaire in the browser (or paste its JSON)."""
    error = status = ""
    text = json.dumps(NEW_DEFINITION, ensure_ascii=False, indent=2)
    if request.method == "POST":
        done, error = _save_posted(request, None)
        if done is not None:
            return done
        text, status = request.POST.get("definition", ""), request.POST.get("status", "")
    return render(request, "questionnaires/new.html", _builder_context(None, text, error, status))


@login_required
@permission_required("questionnaires.view_questionnaire", raise_exception=True)
def questionnaire_fhir(request: AuthedRequest, code: str) -> HttpResponse:
    row = get_object_or_404(visible_to(request.user), code=code)
    version = row.latest()
    resource = as_fhir(row, version)
    response = JsonResponse(resource, json_dumps_params={"ensure_ascii": False, "indent": 2})
    response["Content-Disposition"] = f'attachment; filename="{row.code}-v{version.version}.json"'
    return response


@login_required
@permission_required("questionnaires.add_questionnaireresponse", raise_exception=True)
def fill(request: AuthedRequest, code: str, patient_id: int) -> HttpResponse:
    """Staff fill a questionnaire with the patient (a phone call, a visit)."""
    patient = get_patient_for(request.user, patient_id, write=True)
    version = in_use_for(code, patient.organisation)
    if version is None:
        return render(request, "questionnaires/missing.html", {"code": code}, status=404)
    task = None
    if request.GET.get("task", "").isdecimal():
        task = Task.objects.filter(pk=int(request.GET["task"]), patient=patient).first()
    definition = definition_of(version)
    errors: dict[str, str] = {}
    given: dict[str, Any] = {}
    if request.method == "POST":
        given = from_post(definition, request.POST)
        try:
            with transaction.atomic():
                # One at a time per patient: a second click waits for the first, then finds
                # it (and the follow-up it completed closed).
                Patient.objects.select_for_update().filter(pk=patient.pk).first()
                sent = answered_since(patient, code, "staff", row_id(request.POST.get("seen")))
                if sent is None:
                    if task is not None:
                        task.refresh_from_db()
                    done = submit(
                        version, patient, given, source="staff", actor=request.user, task=task
                    )
        except AnswerError as exc:
            errors = exc.errors
            messages.error(request, _("Some answers are missing or wrong: see the marked items."))
        else:
            if sent is not None:  # the form sent twice: stored once
                messages.info(
                    request,
                    _("These answers were already saved by %(who)s at %(when)s.")
                    % {
                        "who": sent.submitted_by or "—",
                        "when": timezone.localtime(sent.submitted_at).strftime("%H:%M:%S"),
                    },
                )
                return redirect("patients:detail", pk=patient.pk)
            text = _("Answers saved: %(result)s.") % {"result": done.result.band or _("no score")}
            if done.response.alert_id:
                messages.warning(request, text + " " + _("It raised an alert."))
            else:
                messages.success(request, text)
            return redirect("patients:detail", pk=patient.pk)
    return render(
        request,
        "questionnaires/fill.html",
        {
            "patient": patient,
            "version": version,
            "definition": definition,
            "shown": shown_items(definition, given, errors),
            "task": task,
            "seen": latest_answer(patient, code, "staff"),
        },
    )


@login_required
@permission_required("questionnaires.view_questionnaireresponse", raise_exception=True)
def response_detail(request: AuthedRequest, pk: int) -> HttpResponse:
    response = get_object_or_404(
        QuestionnaireResponse.objects.select_related("version__questionnaire", "submitted_by"),
        pk=pk,
    )
    get_patient_for(request.user, response.patient_id)  # 404 when not visible
    definition = definition_of(response.version)
    return render(
        request,
        "questionnaires/response.html",
        {
            "response": response,
            "definition": definition,
            "shown": shown_items(definition, response.answers),
        },
    )
