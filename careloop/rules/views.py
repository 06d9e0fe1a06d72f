"""Staff pages of the rules: list, edit with dry run, and tags on a patient's page."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from careloop.accounts.ownership import may_change_owned, owner_of_new, seen_by
from careloop.audit.services import record
from careloop.patients.access import get_patient_for, patients_for
from careloop.patients.models import PatientTag
from careloop.rules.builder import builder_spec
from careloop.rules.conditions import KINDS, RuleError
from careloop.rules.engine import Match, compile_rule, dry_run
from careloop.rules.forms import RuleForm
from careloop.rules.models import Rule
from careloop.rules.services import do_save_rule, do_tag_patient, draft_rule

DRY_RUN_DAYS = (7, 30, 90, 365)


@login_required
@permission_required("rules.view_rule", raise_exception=True)
def rule_list(request: HttpRequest) -> HttpResponse:
    since = timezone.now() - timedelta(days=30)
    # Firings on the patients the user can see: not how often it fired elsewhere.
    visible = patients_for(request.user).values("pk")
    rules = (
        Rule.objects.filter(seen_by(request.user))
        .select_related("organisation")
        .annotate(
            recent=Count(
                "firings", filter=Q(firings__fired_at__gte=since, firings__patient__in=visible)
            )
        )
    )
    return render(
        request,
        "rules/rule_list.html",
        {"rules": rules, "can_change": request.user.has_perm("rules.change_rule")},
    )


@login_required
@permission_required("rules.view_rule", raise_exception=True)
def rule_edit(request: HttpRequest, code: str | None = None) -> HttpResponse:
    rule = (
        get_object_or_404(
            Rule.objects.filter(seen_by(request.user)).select_related("organisation"), code=code
        )
        if code
        else None
    )
    can_change = request.user.has_perm("rules.change_rule") and (
        rule is None or may_change_owned(request.user, rule.organisation_id)
    )
    matches = None
    days = _days(request)
    if request.method == "POST":
        form = RuleForm(
            request.POST,
            initial={"code": rule.code} if rule else None,
            editing=rule is not None,
            user=request.user,
        )
        if form.is_valid():
            definition = form.definition()
            code = rule.code if rule else form.cleaned_data["code"]
            try:
                if "dry_run" in request.POST:
                    compiled = compile_rule(draft_rule(code, definition))
                    matches = _described(request.user, dry_run(compiled, days=days))
                    record(request.user, "view", "rule", code, summary=f"dry run, {days} days")
                elif not request.user.has_perm("rules.change_rule"):
                    messages.error(request, _("You may look at rules but not change them."))
                elif not can_change:
                    messages.error(
                        request,
                        _(
                            "You may look at this rule but not change it: it is for every "
                            "organisation, or for another one."
                        ),
                    )
                elif rule is None and Rule.objects.filter(code=code).exists():
                    form.add_error("code", _("A rule with this code exists."))
                elif not may_change_owned(request.user, _pk(definition["organisation"])):
                    form.add_error(
                        "organisation",
                        _(
                            "Choose an organisation: a rule for every organisation is set by "
                            "the staff over all of them."
                        ),
                    )
                else:
                    saved, changed = do_save_rule(request.user, code, definition)
                    if changed:
                        messages.success(
                            request,
                            _("Rule %(code)s saved as version %(version)d.")
                            % {"code": saved.code, "version": saved.version},
                        )
                    else:
                        messages.info(request, _("Nothing changed."))
                    return redirect("rules:edit", code=saved.code)
            except RuleError as error:
                form.add_rule_error(error)
    elif rule is not None:
        form = RuleForm(
            initial={
                "code": rule.code,
                "name": rule.name,
                "description": rule.description,
                "trigger": rule.trigger,
                "organisation": rule.organisation,
                "condition": json.dumps(rule.condition, ensure_ascii=False, indent=2),
                "actions": json.dumps(rule.actions, ensure_ascii=False, indent=2),
                "cooldown_hours": rule.cooldown_hours,
                "enabled": rule.enabled,
            },
            editing=True,
            user=request.user,
        )
    else:
        form = RuleForm(
            initial={
                "condition": '{"kind": "latest", "code": "8480-6", "op": ">=", "value": 160}',
                "actions": '[{"type": "tag", "tag": "血压偏高"}]',
                "organisation": owner_of_new(request.user),
            },
            user=request.user,
        )
    spec = builder_spec(request.user)
    return render(
        request,
        "rules/rule_edit.html",
        {
            "rule": rule,
            "form": form,
            "can_change": can_change,
            "matches": matches,
            "days": days,
            "day_choices": DRY_RUN_DAYS,
            "kinds": [(kind, spec["kinds"][kind]["label"]) for kind in KINDS],
            "builder_spec": spec,
            "versions": rule.versions.select_related("saved_by")[:20] if rule else [],
        },
    )


def _pk(row: Any) -> int | None:
    return row.pk if row is not None else None


def _days(request: HttpRequest) -> int:
    try:
        days = int(request.POST.get("days", 30))
    except ValueError:
        return 30
    return days if days in DRY_RUN_DAYS else 30


def _described(user: Any, found: list[Match]) -> list[dict[str, Any]]:
    """The matches among the patients ``user`` may see (a dry run covers every patient the
    rule applies to; names and reasons are shown only within the viewer's scope)."""
    patients = patients_for(user).in_bulk([m.patient_id for m in found])
    return [
        {"patient": patients[m.patient_id], "at": m.at, "reasons": m.reasons}
        for m in found
        if m.patient_id in patients
    ]


@login_required
@require_POST
def tag_add(request: HttpRequest, pk: int) -> HttpResponse:
    patient = get_patient_for(request.user, pk, write=True)
    name = request.POST.get("tag", "").strip()
    if not name or len(name) > 50:
        messages.error(request, _("A tag has 1 to 50 characters."))
    elif do_tag_patient(request.user, patient, name):
        messages.success(request, _("Tag “%(tag)s” added.") % {"tag": name})
    return redirect(reverse("patients:detail", args=[patient.pk]) + "#tags")


@login_required
@require_POST
def tag_remove(request: HttpRequest, pk: int, tag_id: int) -> HttpResponse:
    patient = get_patient_for(request.user, pk, write=True)
    item = get_object_or_404(PatientTag.objects.select_related("tag"), patient=patient, pk=tag_id)
    do_tag_patient(request.user, patient, item.tag.name, add=False)
    messages.success(request, _("Tag “%(tag)s” removed.") % {"tag": item.tag.name})
    return redirect(reverse("patients:detail", args=[patient.pk]) + "#tags")
