"""Staff pages of follow-up: the worklist, a task (script, form, outcome, recording), plans
on the patient page, the pathway list."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Q, QuerySet
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from careloop.accounts.models import Organisation, User
from careloop.audit.services import record
from careloop.followup.alert_views import SEVERITY_ORDER
from careloop.followup.forms import RED_FLAGS, OutcomeForm, answers_form
from careloop.followup.lost_risk import lost_scores
from careloop.followup.models import Alert, FollowUpRecord, Pathway, Plan, Task
from careloop.followup.outcomes import Attempt, do_record_attempt, latest_record
from careloop.followup.planning import enrol, stop_plan
from careloop.followup.recordings import ranged_response
from careloop.followup.script_draft import draft_script
from careloop.followup.scripts import render_script
from careloop.followup.staff import staff_who_can
from careloop.followup.worklist import SCOPES, SECTIONS, Filters, counts, worklist
from careloop.followup.worklist_rows import ROW_FIELDS, Labels, row_html
from careloop.ids import row_id
from careloop.patients.access import (
    can_change,
    get_patient_for,
    patients_for,
    scope_organisation_ids,
)
from careloop.patients.models import Channel, Tag
from careloop.typing import AuthedRequest

PAGE_SIZE = 50
# Stop reasons CareLoop sets itself, never offered to staff.
AUTOMATIC_STOPS = frozenset(
    {
        Plan.StopReason.SUPERSEDED,
        Plan.StopReason.DISCHARGE_UNDONE,
        Plan.StopReason.ADMISSION_CANCELLED,
        Plan.StopReason.MERGED,
    }
)
# The national forms' 随访方式 as the task's channel suggests it.
METHOD_OF_CHANNEL = {"phone": "电话", "voice": "电话", "home_visit": "家庭", "clinic": "门诊"}
ALERTS_SHOWN = 10
ALERT_FIELDS = ("severity", "title", "reason", "due_at", "patient__name")


def _filters(request: AuthedRequest) -> Filters:
    get = request.GET
    scope = get.get("scope") or (
        "mine" if Task.objects.filter(assignee=request.user, status="open").exists() else "team"
    )
    section = get.get("section", "due")
    organisation = get.get("organisation", "")
    return Filters(
        scope=scope if scope in SCOPES else "mine",
        section=section if section in SECTIONS else "due",
        tag=get.get("tag", "")[:50],
        channel=get.get("channel", "") if get.get("channel") in Channel.values else "",
        pathway=get.get("pathway", "")[:60],
        organisation=row_id(organisation),
        assignee=row_id(get.get("assignee", "")),
    )


def _organisations(user: Any) -> list[tuple[int, str]]:
    """The organisations the worklist can be narrowed to (when there is more than one)."""
    org_ids = scope_organisation_ids(user)
    if org_ids is not None and len(org_ids) < 2:
        return []
    organisations = Organisation.objects.filter(is_active=True).order_by("path")
    if org_ids is not None:
        organisations = organisations.filter(pk__in=org_ids)
    choices = list(organisations.values_list("pk", "name")[:200])
    return choices if len(choices) > 1 else []


def pathways_for(user: Any) -> QuerySet[Pathway]:
    """Pathways that apply to the user's organisations: every organisation's, those set for
    their organisation or one above it, and those set for one below it."""
    org_ids = scope_organisation_ids(user)
    if org_ids is None:
        return Pathway.objects.all()
    organisation = getattr(user, "organisation", None)
    lineage = organisation.lineage if organisation is not None else []
    return Pathway.objects.filter(
        Q(organisation__isnull=True) | Q(organisation_id__in=[*lineage, *org_ids])
    )


def pathways_of(patient: Any) -> QuerySet[Pathway]:
    """Pathways a patient may be put on: every organisation's, and those set for the
    patient's organisation or one above it (as the triggers apply them)."""
    return Pathway.objects.filter(
        Q(organisation__isnull=True) | Q(organisation_id__in=patient.organisation.lineage)
    )


def _visible_task(user: Any, pk: int) -> Task:
    task = get_object_or_404(
        Task.objects.select_related("patient__organisation", "plan__version", "plan__pathway"),
        pk=pk,
    )
    get_patient_for(user, task.patient_id)  # 404 when the patient is out of reach
    return task


def _assignee_shown(user: Any, pk: int | None) -> str:
    """Whose tasks the list is narrowed to (the team page's drill-down), by name; someone
    outside the user's organisations is not named."""
    if not pk:
        return ""
    people = User.objects.filter(pk=pk)
    org_ids = scope_organisation_ids(user)
    if org_ids is not None:
        people = people.filter(organisation_id__in=org_ids)
    person = people.first()
    return str(person) if person is not None else _("someone outside your organisations")


@login_required
@permission_required("followup.view_task", raise_exception=True)
def worklist_page(request: AuthedRequest) -> HttpResponse:
    """随访工作台: mine or my team's, due / today / overdue / upcoming, by priority."""
    filters = _filters(request)
    now = timezone.now()
    numbers = counts(request.user, filters.scope, now=now, filters=filters)
    tasks = worklist(request.user, filters, now=now).values_list(*ROW_FIELDS, named=True)
    paginator = Paginator(tasks, PAGE_SIZE)
    paginator.count = numbers[filters.section]  # the section's count is the list's length
    page = paginator.get_page(request.GET.get("page"))
    query = {k: v for k, v in request.GET.items() if k != "page" and v}
    rows = list(page.object_list)
    page.object_list = rows
    task_url = reverse("followup:task", args=[0]).removesuffix("0/")
    labels = Labels.for_page(task_url, now)
    shown = [row.patient_id for row in rows]
    labels.lost = lost_scores(shown)
    if shown:
        record(
            request.user,
            "list",
            "task",
            summary=f"worklist {filters.scope}/{filters.section} ({len(shown)} shown)",
            changes={"patients": shown},
        )
    alerts = Alert.objects.filter(
        status__in=[Alert.Status.OPEN, Alert.Status.ACKNOWLEDGED, Alert.Status.IN_PROGRESS]
    )
    org_ids = scope_organisation_ids(request.user)
    if org_ids is not None:
        alerts = alerts.filter(organisation_id__in=org_ids)
    if filters.scope == "mine":
        alerts = alerts.filter(assignee=request.user)
    if filters.assignee:  # one person's list (the team page's drill-down): their alerts too
        alerts = alerts.filter(assignee_id=filters.assignee)
    # The first ten as the alerts page orders them, the most severe first, then by their
    # deadline (a new 危急值 above a day-old medium one); no patient loaded whole, so none of
    # their identifiers decrypted; counted apart only when there may be more.
    open_alerts = list(
        alerts.select_related("patient")
        .only(*ALERT_FIELDS)
        .order_by(SEVERITY_ORDER, "due_at", "-id")[:ALERTS_SHOWN]
    )
    alert_count = alerts.count() if len(open_alerts) == ALERTS_SHOWN else len(open_alerts)
    context = {
        "filters": filters,
        "assignee_shown": _assignee_shown(request.user, filters.assignee),
        # The list without the one person's narrowing (the badge's ×).
        "without_assignee": urlencode(
            {k: v for k, v in query.items() if k not in ("assignee", "section")}
            | {"section": filters.section}
        ),
        "page": page,
        "querystring": urlencode(query),
        "base_query": {k: v for k, v in query.items() if k != "section"},
        # What the scope buttons keep: the filters (tag, channel, pathway, organisation).
        "filter_query": urlencode(
            {k: v for k, v in query.items() if k not in ("scope", "section")}
        ),
        "open_alerts": open_alerts,
        "open_alert_count": alert_count,
        "sections": [
            (key, label, numbers[key])
            for key, label in (
                ("due", _("Due")),
                ("today", _("Due today")),
                ("overdue", _("Overdue")),
                ("upcoming", _("Next 7 days")),
                ("all", _("All open")),
            )
        ],
        "scopes": [("mine", _("Mine")), ("team", _("My team's")), ("organisation", _("All"))],
        "channels": Channel.choices,
        "pathways": pathways_for(request.user).order_by("name").values_list("code", "name"),
        "tags": Tag.objects.order_by("name").values_list("name", flat=True)[:200],
        "organisations": _organisations(request.user),
        "can_assign": request.user.has_perm("followup.assign_task"),
        "staff": list(staff_who_can(request.user, "change_task"))
        if request.user.has_perm("followup.assign_task")
        else [],
        "rows": [row_html(task, labels) for task in rows],
    }
    return render(request, "followup/worklist.html", context)


@login_required
@require_POST
@permission_required("followup.change_task", raise_exception=True)
def assign(request: AuthedRequest) -> HttpResponse:
    """Bulk assign the ticked tasks (supervisors, coordinators), or take them myself."""
    ids = [pk for pk in map(row_id, request.POST.getlist("task")) if pk is not None]
    # "Take the selected" sends "me" beside whatever the assign list holds: taking wins.
    targets = request.POST.getlist("assignee")
    target = "me" if "me" in targets else (targets[-1] if targets else "")
    back = request.POST.get("next") or ""
    if not url_has_allowed_host_and_scheme(back, {request.get_host()}, request.is_secure()):
        back = reverse("followup:worklist")  # never elsewhere (an open redirect)
    if target != "me" and not request.user.has_perm("followup.assign_task"):
        raise PermissionDenied
    if not ids:
        messages.warning(request, _("Select at least one task first."))
        return redirect(back)
    assignee: User | None
    if target == "me":
        assignee = request.user
    else:
        assignee = next(
            (u for u in list(staff_who_can(request.user, "change_task")) if str(u.pk) == target),
            None,
        )
        if assignee is None:
            messages.error(request, _("Choose whom to assign the tasks to."))
            return redirect(back)
    org_ids = scope_organisation_ids(request.user)
    tasks = Task.objects.filter(pk__in=ids, status=Task.Status.OPEN)
    if org_ids is not None:
        tasks = tasks.filter(organisation_id__in=org_ids)
    # Not to someone who cannot open the patient (of a department below, say), nor to a
    # reader through a share: the task would wait on a worklist that never shows it, with
    # someone who may not record it.
    reachable = patients_for(assignee, write=True).values("pk")
    skipped = tasks.exclude(patient__in=reachable).count()
    changed = tasks.filter(patient__in=reachable).update(assignee=assignee)
    if skipped:
        messages.warning(
            request,
            ngettext(
                "%(n)d task was not assigned: %(who)s cannot open its patient.",
                "%(n)d tasks were not assigned: %(who)s cannot open their patients.",
                skipped,
            )
            % {"n": skipped, "who": assignee},
        )
    record(
        request.user,
        "update",
        "task",
        summary=f"assigned {changed} tasks to {assignee.pk}",
        changes={"tasks": ids[:500]},
    )
    messages.success(
        request,
        ngettext("%(n)d task assigned to %(who)s.", "%(n)d tasks assigned to %(who)s.", changed)
        % {"n": changed, "who": assignee},
    )
    return redirect(back)


def _typed_answers(answers: Any) -> bool:
    """Whether the nurse typed, ticked or chose anything in the task's form: answers that
    differ from the form's presets (a list's first option), 随访方式 aside (it tells how the
    call was made, preset from the channel, which a retry may change)."""
    return answers is not None and answers.typed(ignore=("method",))


def _next_task(user: Any, after: Task) -> Task | None:
    """The first task due on the worklist after ``after``: of mine, else of my team's (the
    list someone without tasks of their own works from)."""
    for scope in ("mine", "team"):
        found = worklist(user, Filters(scope=scope, section="due")).exclude(pk=after.pk).first()
        if found is not None:
            return found
    return None


def _questionnaires(user: Any, patient: Any) -> list[Any]:
    from careloop.questionnaires.access import usable_for
    from careloop.questionnaires.models import Questionnaire

    if not user.has_perm("questionnaires.add_questionnaireresponse"):
        return []
    usable = usable_for(patient.organisation)
    return list(Questionnaire.objects.filter(usable, status=Questionnaire.Status.ACTIVE))


@login_required
@permission_required("followup.view_task", raise_exception=True)
def task_page(request: AuthedRequest, pk: int) -> HttpResponse:
    task = _visible_task(request.user, pk)
    patient = task.patient
    outcome_form = OutcomeForm(request.POST or None, request.FILES or None)
    answers = answers_form(task.form, request.POST if request.method == "POST" else None)
    if answers is not None and "method" in answers.fields and task.channel in METHOD_OF_CHANNEL:
        answers.fields["method"].initial = METHOD_OF_CHANNEL[task.channel]  # 随访方式
    # Recording a try changes the patient's record: not on a share that only lets them read.
    may_record = request.user.has_perm("followup.change_task") and can_change(request.user, patient)
    if request.method == "POST":
        if not may_record:
            raise PermissionDenied
        reached = request.POST.get("outcome") == "reached"
        valid = outcome_form.is_valid()
        valid = (answers.is_valid() if (answers is not None and reached) else True) and valid
        if answers is not None and not reached:
            # Not reached: the answers are neither checked nor kept; shown again as typed,
            # they must not say "required" when the page comes back for another reason.
            answers.errors.clear()
        if valid:
            upload = outcome_form.cleaned_data.get("recording")
            attempt = Attempt(
                outcome=outcome_form.cleaned_data["outcome"],
                answers=answers.answers() if (answers is not None and reached) else {},
                notes=outcome_form.cleaned_data["notes"],
                recording=upload,
                recording_type=getattr(upload, "careloop_type", "") if upload else "",
                opt_out=outcome_form.cleaned_data["opt_out"],
                seen=row_id(request.POST.get("seen")),
            )
            try:
                entry = do_record_attempt(task, request.user, attempt)
            except ValidationError as exc:
                outcome_form.add_error(None, exc)
                task.refresh_from_db()  # as it is now: closed, or retried at another time
            else:
                task.refresh_from_db()
                messages.success(request, _outcome_message(task, entry))
                if not reached and _typed_answers(answers):
                    messages.warning(
                        request,
                        _(
                            "The form's answers were not kept: they are kept only when the "
                            "patient was reached."
                        ),
                    )
                if request.POST.get("then") != "next":
                    return redirect("followup:task", pk=task.pk)
                following = _next_task(request.user, task)
                if following is None:
                    messages.info(request, _("No other task is due: back to the worklist."))
                    return redirect("followup:worklist")
                return redirect("followup:task", pk=following.pk)
        if request.FILES.get("recording") and "recording" not in outcome_form.errors:
            # Nothing was saved and a browser never keeps a chosen file when the page comes
            # back: said, so that the next save does not go without the recording unnoticed.
            outcome_form.add_error(
                "recording",
                _("The recording was not kept as nothing was saved: choose it again."),
            )
    record(request.user, "view", "task", task.pk, patient_id=patient.pk)
    script = render_script(task, request.user)
    context = {
        "task": task,
        "patient": patient,
        "script": script or draft_script(task, request.user),
        "script_drafted": not script,
        "outcome_form": outcome_form,
        "answers_form": answers,
        "records": task.records.select_related("by"),
        "open_alerts": patient.alerts.filter(
            status__in=[Alert.Status.OPEN, Alert.Status.ACKNOWLEDGED, Alert.Status.IN_PROGRESS]
        )[:10],
        "results": patient.observations.order_by("-effective_at")[:12],
        "conditions": patient.conditions.filter(clinical_status="active")[:8],
        "plan_tasks": (task.plan.tasks.order_by("due_at")[:40] if task.plan is not None else []),
        "can_record": task.is_open and may_record,
        "seen": latest_record(task),
        "red_flags": sorted(RED_FLAGS),
        "questionnaires": _questionnaires(request.user, patient),
    }
    from careloop.followup.step_views import next_steps_context

    context.update(next_steps_context(request, task))
    return render(request, "followup/task.html", context)


def _outcome_message(task: Task, entry: FollowUpRecord) -> str:
    if task.status == Task.Status.DONE:
        text = _("Recorded: %(outcome)s.") % {"outcome": entry.get_outcome_display()}
        if entry.classification:
            text += " " + _("Classification: %(c)s.") % {"c": entry.classification_label}
        return text
    if task.status == Task.Status.FAILED:
        return _("Recorded. Every try and channel is used up: the task is closed as not reached.")
    when = timezone.localtime(task.due_at).strftime("%m-%d %H:%M")
    return _("Recorded. Try again at %(when)s by %(channel)s.") % {
        "when": when,
        "channel": task.channel_label,
    }


@login_required
@permission_required("followup.play_recording", raise_exception=True)
def recording(request: AuthedRequest, pk: int) -> HttpResponse | StreamingHttpResponse:
    """Play a call recording (range requests for seeking); every play is audited."""
    entry = get_object_or_404(FollowUpRecord, pk=pk)
    get_patient_for(request.user, entry.patient_id)
    if not entry.recording:
        raise Http404("no recording")
    asked = request.headers.get("Range", "")
    if not asked or asked.startswith("bytes=0-"):  # a play starts here; seeking does not count
        record(
            request.user,
            "view",
            "recording",
            entry.pk,
            patient_id=entry.patient_id,
            summary="call recording played",
        )
    handle = entry.recording.open("rb")
    return ranged_response(request, handle, entry.recording.size, entry.recording_type)


@login_required
@require_POST
@permission_required("followup.add_plan", raise_exception=True)
def plan_enrol(request: AuthedRequest, pk: int) -> HttpResponse:
    patient = get_patient_for(request.user, pk, write=True)
    pathway = get_object_or_404(
        pathways_of(patient), code=request.POST.get("pathway", ""), enabled=True
    )
    plan = enrol(
        patient,
        pathway,
        trigger="manual",
        reason=_("enrolled by %(who)s") % {"who": request.user},
        actor=request.user,
    )
    if plan is None:
        messages.warning(request, _("Not enrolled: the patient is already on this pathway."))
    else:
        messages.success(
            request,
            _("Enrolled in %(pathway)s: %(n)d follow-ups planned.")
            % {"pathway": pathway.name, "n": plan.tasks.count()},
        )
    return redirect(reverse("patients:detail", args=[patient.pk]) + "#plans")


@login_required
@require_POST
@permission_required("followup.change_plan", raise_exception=True)
def plan_stop(request: AuthedRequest, pk: int) -> HttpResponse:
    plan = get_object_or_404(Plan, pk=pk)
    get_patient_for(request.user, plan.patient_id, write=True)
    reason = request.POST.get("reason", "")
    if reason not in Plan.StopReason.values or reason in AUTOMATIC_STOPS:
        messages.error(request, _("Choose why the plan stops."))
    else:
        cancelled = stop_plan(plan, reason, request.user, note=request.POST.get("note", ""))
        if reason == Plan.StopReason.DECEASED:
            # A death ends every plan, and goes on the record (as a "deceased" outcome or an
            # interface's report does): the patient's other plans would call them still.
            from careloop.followup.planning import stop_patient_plans
            from careloop.interop.deaths import record_death

            patient = plan.patient
            cancelled += stop_patient_plans(patient, Plan.StopReason.DECEASED, request.user)
            record_death(
                patient,
                timezone.localdate(),
                summary=f"died (plan {plan.pk} stopped as deceased)",
                actor=request.user,
            )
        messages.success(
            request, _("Plan stopped; %(n)d open follow-ups cancelled.") % {"n": cancelled}
        )
    return redirect(reverse("patients:detail", args=[plan.patient_id]) + "#plans")


@login_required
@permission_required("followup.view_pathway", raise_exception=True)
def pathway_list(request: AuthedRequest) -> HttpResponse:
    from django.db.models import Count

    # Counted over the plans of the user's organisations only (not everyone's).
    active = Q(plans__status=Plan.Status.ACTIVE)
    org_ids = scope_organisation_ids(request.user)
    if org_ids is not None:
        active &= Q(plans__organisation_id__in=org_ids)
    pathways = (
        pathways_for(request.user)
        .select_related("organisation")
        .annotate(active=Count("plans", filter=active))
    )
    return render(request, "followup/pathway_list.html", {"pathways": pathways})


def patient_plans_context(user: Any, patient: Any) -> dict[str, Any]:
    """The follow-up plans section of the patient page."""
    from django.db.models import Prefetch

    if not user.has_perm("followup.view_plan"):
        return {}
    plans = list(
        Plan.objects.filter(patient=patient)
        .select_related("pathway", "version")
        .prefetch_related(
            Prefetch(
                "tasks",
                queryset=Task.objects.filter(status=Task.Status.OPEN).order_by("due_at"),
                to_attr="open_tasks",
            )
        )[:20]
    )
    return {
        "plans": plans,
        "show_plans": True,
        "can_enrol": user.has_perm("followup.add_plan"),
        "can_stop_plan": user.has_perm("followup.change_plan"),
        "stop_reasons": [c for c in Plan.StopReason.choices if c[0] not in AUTOMATIC_STOPS],
        "pathways": pathways_of(patient).filter(enabled=True).values_list("code", "name"),
    }
