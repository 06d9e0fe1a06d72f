"""Questionnaire pages for staff: list, preview, a new version from JSON (checked), filling
one in for a patient with errors named, the answer page, FHIR export, who may do what."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse

from careloop.audit.models import AuditEvent
from careloop.followup.models import Alert
from careloop.questionnaires.models import Questionnaire, QuestionnaireResponse
from careloop.questionnaires.services import load_pack
from tests.questionnaires.test_fhir_api import AUDIT, audit_questionnaire

pytestmark = pytest.mark.django_db


def signed_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def pack(db: None) -> None:
    load_pack()


def test_list_preview_and_fhir_export(pack: None, alice: Any) -> None:
    client = signed_in(alice)
    listing = client.get("/questionnaires/").content.decode()
    assert "PHQ-9 抑郁症筛查量表" in listing and "GAD-7 焦虑症筛查量表" in listing
    page = client.get("/questionnaires/discharge-symptoms/").content.decode()
    assert "最近有没有胸痛、胸闷？" in page
    assert (
        'data-when="{&quot;item&quot;: &quot;chest_pain&quot;' in page
    )  # skip logic for the script
    assert 'data-testid="edit"' not in page  # a nurse does not edit questionnaires
    exported = client.get("/questionnaires/phq9/fhir/")
    assert exported["Content-Disposition"] == 'attachment; filename="phq9-v1.json"'
    assert exported.json()["resourceType"] == "Questionnaire"
    assert client.post("/questionnaires/phq9/", {"definition": "{}"}).status_code == 403


def test_a_supervisor_saves_a_new_version_and_errors_are_named(pack: None, bob: Any) -> None:
    client = signed_in(bob)
    row = Questionnaire.objects.get(code="gad7")
    data = row.versions.get().definition
    broken = dict(data, items=[dict(data["items"][0], type="slider")])
    page = client.post(
        "/questionnaires/gad7/", {"definition": json.dumps(broken), "status": "active"}
    )
    assert "items[0].type" in page.content.decode()
    assert Questionnaire.objects.get(code="gad7").version == 1
    renamed = dict(data, code="other")
    assert (
        "须保持为 gad7"
        in client.post(
            "/questionnaires/gad7/", {"definition": json.dumps(renamed)}
        ).content.decode()
    )
    changed = dict(data, title="GAD-7 焦虑筛查")
    answer = client.post(
        "/questionnaires/gad7/", {"definition": json.dumps(changed), "status": "active"}
    )
    assert answer.status_code == 302
    assert Questionnaire.objects.get(code="gad7").version == 2


def test_a_nurse_fills_the_symptom_check_and_a_flag_raises_an_alert(
    pack: None, alice: Any, hospital: Any, patient_factory: Any
) -> None:
    patient = patient_factory(organisation=hospital)
    client = signed_in(alice)
    url = f"/questionnaires/discharge-symptoms/patients/{patient.pk}/"
    assert "出院后症状问询" in client.get(url).content.decode()
    missing = client.post(url, {"chest_pain": "yes", "dyspnoea": "no"})
    body = missing.content.decode()
    assert missing.status_code == 200 and "必答题" in body  # chest_pain_score, oedema, medication
    assert not QuestionnaireResponse.objects.exists()
    done = client.post(
        url,
        {
            "chest_pain": "yes",
            "chest_pain_score": "8",
            "dyspnoea": "no",
            "oedema": "no",
            "medication": "regular",
            "weight_kg": "",
            "other": "",
        },
    )
    assert done.status_code == 302 and done["Location"] == f"/patients/{patient.pk}/"
    response = QuestionnaireResponse.objects.get()
    assert response.answers["chest_pain_score"] == 8 and response.source == "staff"
    assert Alert.objects.get(patient=patient).severity == Alert.Severity.CRITICAL
    detail = client.get(f"/patients/{patient.pk}/").content.decode()
    assert f"/questionnaires/answers/{response.pk}/" in detail
    shown = client.get(f"/questionnaires/answers/{response.pk}/").content.decode()
    assert "出院后胸痛（评分≥7）" in shown


def test_another_organisations_patient_is_not_found(
    pack: None, alice: Any, community: Any, patient_factory: Any
) -> None:
    stranger = patient_factory(organisation=community)
    client = signed_in(alice)
    assert client.get(f"/questionnaires/phq9/patients/{stranger.pk}/").status_code == 404
    assert client.get(f"/questionnaires/unknown/patients/{stranger.pk}/").status_code == 404


def test_a_supervisor_creates_a_questionnaire_and_its_code_is_checked(bob: Any, alice: Any) -> None:
    client = signed_in(bob)
    page = client.get("/questionnaires/new/").content.decode()
    assert 'data-builder="q-definition"' in page and 'id="builder-labels"' in page
    data = {
        "code": "knee-rehab",
        "title": "膝关节术后康复",
        "items": [{"key": "pain", "type": "scale", "text": "今天的疼痛", "min": 0, "max": 10}],
    }
    for code, wrong in [("new", "已被使用"), ("Knee Rehab", "小写英文字母"), ("", "小写英文字母")]:
        answer = client.post(
            "/questionnaires/new/", {"definition": json.dumps(dict(data, code=code))}
        )
        assert wrong in answer.content.decode()
    assert not Questionnaire.objects.exists()
    made = client.post("/questionnaires/new/", {"definition": json.dumps(data), "status": "draft"})
    assert made.status_code == 302 and made["Location"] == "/questionnaires/knee-rehab/"
    row = Questionnaire.objects.get(code="knee-rehab")
    assert row.status == "draft" and row.versions.get().definition == data
    again = client.post("/questionnaires/new/", {"definition": json.dumps(data)})
    assert "knee-rehab 已被使用" in again.content.decode()
    assert signed_in(alice).get("/questionnaires/new/").status_code == 403


def test_questionnaires_are_their_organisations(
    pack: None, bob: Any, alice: Any, dave: Any, hospital: Any, community: Any, patient_factory: Any
) -> None:
    """The organisation of a questionnaire was never read: a supervisor of one hospital
    changed the PHQ-9 every organisation uses, and saw, filled and sent the questionnaires
    other organisations made."""
    client = signed_in(bob)  # a hospital supervisor; the community centre is another tree
    phq9 = Questionnaire.objects.get(code="phq9")
    page = client.get("/questionnaires/phq9/").content.decode()
    assert 'data-builder="q-definition"' not in page and "仅所属机构的人员可修改" in page
    changed = dict(phq9.versions.get().definition, title="改过的 PHQ-9")
    refused = client.post("/questionnaires/phq9/", {"definition": json.dumps(changed)})
    assert refused.status_code == 403 and Questionnaire.objects.get(code="phq9").version == 1
    data = {
        "code": "knee-rehab",
        "title": "膝关节术后康复",
        "items": [{"key": "pain", "type": "scale", "text": "今天的疼痛", "min": 0, "max": 10}],
    }
    made = client.post("/questionnaires/new/", {"definition": json.dumps(data), "status": "active"})
    assert made.status_code == 302
    assert Questionnaire.objects.get(code="knee-rehab").organisation == hospital
    page = client.get("/questionnaires/knee-rehab/").content.decode()
    assert 'data-builder="q-definition"' in page and "第一人民医院及其下属机构" in page
    retitled = dict(data, title="膝关节置换术后康复")
    assert (
        client.post(
            "/questionnaires/knee-rehab/", {"definition": json.dumps(retitled), "status": "active"}
        ).status_code
        == 302
    )
    # The hospital's staff offer it to their patients; the community centre's never see it.
    ours = patient_factory(organisation=hospital)
    assert "膝关节置换术后康复" in signed_in(alice).get(f"/patients/{ours.pk}/").content.decode()
    other = signed_in(dave)
    theirs = patient_factory(organisation=community)
    assert "膝关节" not in other.get("/questionnaires/").content.decode()
    assert other.get("/questionnaires/knee-rehab/").status_code == 404
    assert other.get("/questionnaires/knee-rehab/fhir/").status_code == 404
    assert other.get(f"/questionnaires/knee-rehab/patients/{theirs.pk}/").status_code == 404
    assert "膝关节" not in other.get(f"/patients/{theirs.pk}/").content.decode()
    link = reverse("portal:make-link", args=[theirs.pk])
    sent = other.post(link, {"what": "q:knee-rehab"}, follow=True).content.decode()
    assert "没有使用中的此问卷" in sent
    assert not AuditEvent.objects.filter(object_type="portal_link").exists()  # no link made
    assert "PHQ-9" in other.get("/questionnaires/").content.decode()  # everyone's stays


def test_a_refused_definition_keeps_the_status_chosen_with_it(pack: None, bob: Any) -> None:
    client = signed_in(bob)
    unreadable = client.post(
        "/questionnaires/new/", {"definition": '{"code": "x", ', "status": "draft"}
    ).content.decode()
    assert "JSON 无法读取：第 1 行第 15 列有误。" in unreadable
    assert "Expecting property name" not in unreadable  # not Python's words
    data = {"code": "phq9", "title": "重复", "items": [{"key": "q1", "type": "text"}]}
    refused = client.post(
        "/questionnaires/new/", {"definition": json.dumps(data), "status": "active"}
    ).content.decode()
    assert "已被使用" in refused
    assert '<option value="active" selected>' in refused  # not back to "draft"
    assert '<option value="draft" selected>' not in refused
    current = Questionnaire.objects.get(code="phq9").latest().definition
    wrong = dict(current, items=[{"key": "q1", "type": "choice", "text": "x", "options": []}])
    refused = client.post(
        "/questionnaires/phq9/", {"definition": json.dumps(wrong), "status": "retired"}
    ).content.decode()
    assert "items[0].options" in refused
    assert '<option value="retired" selected>' in refused  # not back to "in use"
    assert Questionnaire.objects.get(code="phq9").status == "active"


def test_an_imported_questionnaire_keeps_its_url_through_the_cli_and_the_pages(
    tmp_path: Any, bob: Any
) -> None:
    """Imported (CLI as FHIR), exported from its page, and edited in the browser as a new
    version: the URL its author gave it stays; a changed copy of the same version is refused."""
    path = tmp_path / "a1.json"
    path.write_text(json.dumps(audit_questionnaire("3"), ensure_ascii=False), encoding="utf-8")
    out = io.StringIO()
    call_command("questionnaires", "import", str(path), stdout=out)
    assert json.loads(out.getvalue())["url"] == AUDIT
    client = signed_in(bob)
    exported = client.get("/questionnaires/audit-a1/fhir/").json()
    assert (exported["url"], exported["version"]) == (AUDIT, "3")
    data = Questionnaire.objects.get(url=AUDIT).latest().definition
    changed = dict(data, title="头痛随访（修订）")
    client.post(
        "/questionnaires/audit-a1/", {"definition": json.dumps(changed), "status": "active"}
    )
    exported = client.get("/questionnaires/audit-a1/fhir/").json()
    assert (exported["url"], exported["version"], exported["title"]) == (
        AUDIT,
        "2",
        "头痛随访（修订）",
    )
    out = io.StringIO()
    call_command("questionnaires", "export", "audit-a1", stdout=out)
    assert json.loads(out.getvalue())["url"] == AUDIT
    path.write_text(json.dumps(audit_questionnaire("3", "改了"), ensure_ascii=False))
    with pytest.raises(CommandError, match="version"):
        call_command("questionnaires", "import", str(path), stdout=io.StringIO())


def test_a_questionnaire_saved_twice_by_staff_is_stored_once(
    pack: None, alice: Any, hospital: Any, patient_factory: Any
) -> None:
    """Given the symptom check open on a nurse's screen, when she double-clicks "save" with
    chest pain 8/10, then one answer and one alert are stored and the second click is told
    they were saved."""
    import re

    patient = patient_factory(organisation=hospital)
    client = signed_in(alice)
    url = f"/questionnaires/discharge-symptoms/patients/{patient.pk}/"
    seen = re.search(r'name="seen" value="(\d+)"', client.get(url).content.decode())
    assert seen is not None
    form = {
        "chest_pain": "yes",
        "chest_pain_score": "8",
        "dyspnoea": "no",
        "oedema": "no",
        "medication": "regular",
        "seen": seen.group(1),
    }
    client.post(url, form)
    again = client.post(url, form, follow=True)
    assert QuestionnaireResponse.objects.filter(patient=patient).count() == 1
    assert Alert.objects.filter(patient=patient).count() == 1
    assert "未重复保存" in [str(m) for m in again.context["messages"]][-1]


def test_a_supervisor_of_no_organisation_does_not_make_one_for_every_organisation(
    pack: None, hospital: Any
) -> None:
    """A staff account not given an organisation yet sees no organisation's patients; the
    questionnaire it made was for every organisation (none was taken for 'every one'),
    which only staff over all of them may make."""
    from careloop.accounts.roles import Role
    from tests.factories import UserFactory

    nobody = UserFactory(username="erin", organisation=None, role=Role.SUPERVISOR)
    data = {
        "code": "knee-rehab",
        "title": "膝关节术后康复",
        "items": [{"key": "pain", "type": "scale", "text": "今天的疼痛", "min": 0, "max": 10}],
    }
    made = signed_in(nobody).post(
        "/questionnaires/new/", {"definition": json.dumps(data), "status": "active"}
    )
    assert made.status_code == 403
    assert not Questionnaire.objects.filter(code="knee-rehab").exists()
