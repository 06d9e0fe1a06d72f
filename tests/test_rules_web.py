"""The rules pages and the tags on a patient's page, through Django's test client."""

import json
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.core.exceptions import PermissionDenied
from django.utils import timezone
from django.utils.translation import gettext

from careloop.accounts.roles import Role
from careloop.patients.models import TagEvent
from careloop.rules.models import Rule
from careloop.rules.pack import load_pack
from careloop.rules.services import do_save_rule
from tests.factories import PatientFactory, UserFactory, two_factor_client
from tests.test_patients_web import logged_in
from tests.test_rules import SBP, store

pytestmark = pytest.mark.django_db


def rule_form(**overrides: Any) -> dict[str, Any]:
    return {
        "code": "sbp-165",
        "name": "收缩压 ≥ 165",
        "description": "",
        "trigger": "observation",
        "organisation": "",
        "condition": '{"kind": "latest", "code": "8480-6", "op": ">=", "value": 165}',
        "actions": '[{"type": "tag", "tag": "血压偏高"}]',
        "cooldown_hours": "24",
        "enabled": "on",
        "days": "30",
        "save": "",
    } | overrides


@pytest.fixture
def editor(hospital: Any) -> Any:
    user = UserFactory(organisation=hospital, role=Role.SUPERVISOR)
    user.user_permissions.add(Permission.objects.get(codename="change_rule"))
    return user


def test_only_staff_with_the_permission_see_or_change_rules(
    hospital: Any, alice: Any, bob: Any
) -> None:
    assert logged_in(alice).get("/rules/").status_code == 403  # a nurse
    assert logged_in(bob).get("/rules/").status_code == 200  # a supervisor looks
    response = logged_in(bob).post("/rules/new/", rule_form())
    assert response.status_code == 200 and not Rule.objects.exists()
    assert [str(m) for m in response.context["messages"]] == [
        gettext("You may look at rules but not change them.")
    ]


def test_create_a_rule_in_the_form_and_see_it_fire(editor: Any, hospital: Any) -> None:
    client = logged_in(editor)
    bad = client.post("/rules/new/", rule_form(condition='{"kind": "latest", "code": "8480-6"'))
    assert bad.status_code == 200
    assert bad.context["form"].errors["condition"] == ["JSON 无法读取：第 1 行第 36 列有误。"]
    bad = client.post("/rules/new/", rule_form(actions='[{"type": "enrol"}]'))
    assert "actions[0].pathway" in bad.context["form"].errors["actions"][0]
    reserved = client.post("/rules/new/", rule_form(code="new"))
    assert "code" in reserved.context["form"].errors
    response = client.post("/rules/new/", rule_form())
    assert response.status_code == 302 and response["Location"] == "/rules/sbp-165/"
    rule = Rule.objects.get()
    assert (rule.version, rule.enabled, rule.updated_by) == (1, True, editor)
    patient = PatientFactory(organisation=hospital)
    store(patient, SBP, 170, timezone.now())
    assert list(patient.tags.values_list("tag__name", flat=True)) == ["血压偏高"]
    page = client.get(f"/patients/{patient.pk}/").content.decode()
    assert "血压偏高" in page and "收缩压 ≥ 165" in page and "最近一次收缩压 170 mmHg" in page


def test_a_dry_run_from_the_form_lists_matches_without_saving(editor: Any, hospital: Any) -> None:
    patient = PatientFactory(organisation=hospital, name="钱秀兰")
    store(patient, SBP, 168, timezone.now() - timedelta(days=3))
    response = logged_in(editor).post(
        "/rules/new/", rule_form(dry_run="", save=None, days="7") | {"save": []}
    )
    assert [m["patient"] for m in response.context["matches"]] == [patient]
    assert "钱秀兰" in response.content.decode() and not Rule.objects.exists()


def test_tags_by_hand_on_the_patient_page_keep_history(alice: Any, hospital: Any) -> None:
    patient = PatientFactory(organisation=hospital)
    client = logged_in(alice)
    assert client.post(f"/rules/patients/{patient.pk}/tags/", {"tag": "独居"}).status_code == 302
    item = patient.tags.get()
    assert item.tag.name == "独居" and item.added_by == alice
    client.post(f"/rules/patients/{patient.pk}/tags/{item.pk}/delete/")
    assert not patient.tags.exists()
    assert [e.action for e in TagEvent.objects.filter(patient=patient)] == ["removed", "added"]
    assert client.post(f"/rules/patients/{patient.pk}/tags/", {"tag": ""}).status_code == 302
    assert not patient.tags.exists()


def test_the_pack_rules_are_listed(bob: Any) -> None:
    load_pack()
    page = logged_in(bob).get("/rules/").content.decode()
    assert page.count("/rules/") >= 5 and "夜间血糖 &lt; 4.0 mmol/L" in page


def test_a_dry_run_shows_only_patients_the_viewer_may_see(
    editor: Any, hospital: Any, community: Any
) -> None:
    store(PatientFactory(organisation=hospital), SBP, 170, timezone.now())
    outsider = UserFactory(organisation=community, role=Role.SUPERVISOR)
    data = rule_form(dry_run="")
    del data["save"]
    inside = logged_in(editor).post("/rules/new/", data).context["matches"]
    outside = logged_in(outsider).post("/rules/new/", data).context["matches"]
    assert len(inside) == 1 and outside == []


def test_without_the_permission_the_builder_says_why_there_is_no_save(
    bob: Any, editor: Any
) -> None:
    page = logged_in(bob).get("/rules/new/").content.decode()
    assert 'data-testid="dry-run"' in page and 'data-testid="save-rule"' not in page
    assert "你可以试运行，保存规则需要管理员权限" in page
    page = logged_in(editor).get("/rules/new/").content.decode()
    assert 'data-testid="save-rule"' in page and "保存规则需要管理员权限" not in page


def test_a_rule_is_changed_only_by_staff_of_the_organisations_it_is_for(
    hospital: Any, cardiology: Any, community: Any
) -> None:
    """Anyone with the permission changed any rule: an administrator of one hospital among
    several changed the default rules every organisation runs, or gave a rule to another."""
    load_pack()
    shared = Rule.objects.filter(organisation__isnull=True).first()
    assert shared is not None
    admin = UserFactory(organisation=hospital, role=Role.ADMIN)
    client = two_factor_client(admin)  # administrators log in with a second factor
    page = client.get(f"/rules/{shared.code}/")
    assert page.context["can_change"] is False
    form = rule_form(code=shared.code, name="改过的规则", condition=json.dumps(shared.condition))
    refused = client.post(f"/rules/{shared.code}/", form)
    assert [str(m) for m in refused.context["messages"]] == [
        gettext(
            "You may look at this rule but not change it: it is for every organisation, "
            "or for another one."
        )
    ]
    assert Rule.objects.get(pk=shared.pk).version == shared.version
    # A new one is the hospital's (not every organisation's, never the community centre's).
    choices = client.get("/rules/new/").context["form"].fields["organisation"].queryset
    assert set(choices) == {hospital, cardiology}
    assert client.post("/rules/new/", rule_form(organisation="")).status_code == 200
    assert client.post("/rules/new/", rule_form(organisation=community.pk)).status_code == 200
    assert not Rule.objects.filter(code="sbp-165").exists()
    made = client.post("/rules/new/", rule_form(organisation=cardiology.pk))
    assert made.status_code == 302
    assert Rule.objects.get(code="sbp-165").organisation == cardiology
    # The community centre's administrator neither sees nor changes it (the pack's, yes).
    theirs = two_factor_client(UserFactory(organisation=community, role=Role.ADMIN))
    listing = theirs.get("/rules/").content.decode()
    assert "sbp-165" not in listing and shared.code in listing
    assert theirs.get("/rules/sbp-165/").status_code == 404
    theirs.post("/rules/sbp-165/", rule_form(name="别人的", organisation=community.pk))
    assert Rule.objects.get(code="sbp-165").name == "收缩压 ≥ 165"
    assert "sbp-165" in client.get("/rules/").content.decode()  # the hospital's own, listed
    with pytest.raises(PermissionDenied):
        do_save_rule(admin, shared.code, {"name": "改过的规则"})
