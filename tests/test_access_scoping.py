"""Staff of one organisation neither read nor change what is another's: writes through a
read-only share, other organisations' pathways, records and counts (F16, F19)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from careloop.followup.models import FollowUpRecord, Task
from careloop.patients.models import PatientShare
from tests.factories import PatientFactory
from tests.test_followup_web import programme  # noqa: F401 (a fixture)
from tests.test_patients_web import logged_in


def _share(task: Task, organisation: Any, *, can_edit: bool = False) -> None:
    PatientShare.objects.create(patient=task.patient, organisation=organisation, can_edit=can_edit)


def test_given_a_read_only_share_when_recording_a_follow_up_then_refused(
    programme: Task,  # noqa: F811
    dave: Any,
    community: Any,
    api_as: Any,
) -> None:
    _share(programme, community)
    nurse = logged_in(dave)
    page = nurse.get(f"/worklist/tasks/{programme.pk}/")
    assert page.status_code == 200  # the share lets the community centre read the task
    assert page.context["can_record"] is False
    # Nor are the next steps offered, which would be refused (they change the record).
    steps = ("raise_form", "refer_form", "revisit_form", "note_form")
    assert [page.context[step] for step in steps] == [None] * 4
    assert 'data-testid="revisit-form"' not in page.content.decode()
    posted = nurse.post(f"/worklist/tasks/{programme.pk}/", {"outcome": "deceased"})
    assert posted.status_code == 403
    by_api = api_as(dave).post(f"/api/v1/tasks/{programme.pk}/outcome", {"outcome": "refused"})
    assert by_api.status_code == 403
    programme.refresh_from_db()
    assert (programme.status, programme.attempts) == (Task.Status.OPEN, 0)
    assert not FollowUpRecord.objects.filter(task=programme).exists()


def test_given_an_editable_share_when_recording_a_follow_up_then_recorded(
    programme: Task,  # noqa: F811
    dave: Any,
    community: Any,
    api_as: Any,
) -> None:
    _share(programme, community, can_edit=True)
    page = logged_in(dave).get(f"/worklist/tasks/{programme.pk}/")
    assert page.context["can_record"] is True and page.context["note_form"] is not None
    by_api = api_as(dave).post(f"/api/v1/tasks/{programme.pk}/outcome", {"outcome": "busy"})
    assert by_api.status_code == 201
    programme.refresh_from_db()
    assert programme.attempts == 1


def _fhir(user: Any, method: str, path: str, resource: dict[str, Any]) -> Any:
    """``method`` (put, post) of ``resource`` to /fhir/R4/``path`` with a token of ``user``'s."""
    from django.test import Client

    from careloop.accounts.tokens import do_create_token

    _, token = do_create_token(user)
    return getattr(Client(), method)(
        f"/fhir/R4/{path}",
        json.dumps(resource),
        content_type="application/fhir+json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
        HTTP_ACCEPT_LANGUAGE="en",
    )


@pytest.mark.django_db(transaction=True)
def test_given_a_read_only_share_when_a_fhir_update_names_another_patient_then_refused(
    hospital: Any, cardiology: Any, carol: Any
) -> None:
    """Carol (cardiology) may read the hospital's patient, not change them: an update of
    their visit or diagnosis naming one of her own patients as subject changed it."""
    from careloop.clinical.models import Condition, Encounter

    shared = PatientFactory(organisation=hospital)
    PatientShare.objects.create(patient=shared, organisation=cardiology, can_edit=False)
    own = PatientFactory(organisation=cardiology)
    visit = Encounter.objects.create(
        patient=shared,
        organisation=hospital,
        kind="inpatient",
        started_at=timezone.now() - timedelta(days=3),
        department="心内科",
    )
    diagnosis = Condition.objects.create(patient=shared, icd10_code="I10", name="原发性高血压")
    encounter = {
        "resourceType": "Encounter",
        "id": str(visit.pk),
        "status": "finished",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP"},
        "subject": {"reference": f"Patient/{own.pk}"},
        "period": {"start": "2026-11-01T09:00:00+08:00"},
        "serviceType": {"text": "骨科"},
    }
    answer = _fhir(carol, "put", f"Encounter/{visit.pk}", encounter)
    assert answer.status_code == 403, answer.content
    visit.refresh_from_db()
    assert (visit.patient_id, visit.department) == (shared.pk, "心内科")
    condition = {
        "resourceType": "Condition",
        "id": str(diagnosis.pk),
        "subject": {"reference": f"Patient/{own.pk}"},
        "clinicalStatus": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                    "code": "resolved",
                }
            ]
        },
        "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": "E11"}]},
    }
    answer = _fhir(carol, "put", f"Condition/{diagnosis.pk}", condition)
    assert answer.status_code == 403, answer.content
    diagnosis.refresh_from_db()
    assert (diagnosis.icd10_code, diagnosis.clinical_status) == ("I10", "active")


def test_given_a_read_only_share_then_another_organisations_supervisor_does_not_score_the_call(
    programme: Task,  # noqa: F811
    carol: Any,
    bob: Any,
    community: Any,
) -> None:
    """Quality review scores the reviewer's own staff: the community centre's supervisor,
    who can read the hospital's patient, neither sees the hospital doctor's call in the
    queue nor scores it (nor overwrites the hospital's review of it)."""
    from careloop.accounts.roles import Role
    from careloop.followup.models import QualityReview
    from tests.factories import UserFactory

    _share(programme, community)
    entry = FollowUpRecord.objects.create(
        task=programme, patient=programme.patient, channel="phone", outcome="reached", by=carol
    )
    outsider = logged_in(
        UserFactory(username="frank", organisation=community, role=Role.SUPERVISOR)
    )
    queue = outsider.get("/worklist/quality/")
    assert queue.status_code == 200
    assert entry.pk not in [r.pk for r in queue.context["page"].object_list]
    assert carol.display_name not in queue.content.decode()
    assert outsider.get(f"/worklist/quality/{entry.pk}/").status_code == 404
    scores = {"script": 0, "content": 0, "feedback": 0, "comments": "差"}
    assert outsider.post(f"/worklist/quality/{entry.pk}/", scores).status_code == 404
    assert not QualityReview.objects.exists()
    # The hospital's own supervisor still reviews it.
    assert entry.pk in [r.pk for r in logged_in(bob).get("/worklist/quality/").context["page"]]
    assert logged_in(bob).get(f"/worklist/quality/{entry.pk}/").status_code == 200


def test_another_organisations_pathway_is_neither_listed_nor_used_to_enrol(
    hospital: Any, alice: Any, dave: Any, community: Any
) -> None:
    """A pathway set for the hospital applies to it and those below it: the community
    centre's nurse neither sees it (nor how many of the hospital's patients are on it) nor
    puts a patient of the centre on it."""
    from careloop.followup.models import Pathway, Plan
    from careloop.followup.pathways import load_pack
    from careloop.followup.planning import enrol

    load_pack()
    Pathway.objects.filter(code="post-op").update(
        organisation=hospital, name="骨科术后随访（本院）"
    )
    private = Pathway.objects.get(code="post-op")
    for _ in range(3):
        enrol(PatientFactory(organisation=hospital), private, trigger="manual")
    resident = PatientFactory(organisation=community)
    nurse = logged_in(dave)
    listing = nurse.get("/worklist/pathways/")
    assert listing.status_code == 200
    assert "post-op" not in listing.content.decode()
    assert "骨科术后随访（本院）" not in listing.content.decode()
    assert "post-op" not in [
        code for code, _name in nurse.get(f"/patients/{resident.pk}/").context["pathways"]
    ]
    posted = nurse.post(f"/worklist/patients/{resident.pk}/enrol/", {"pathway": "post-op"})
    assert posted.status_code == 404
    assert not Plan.objects.filter(patient=resident).exists()
    # The hospital's own nurse sees it, with its three plans, and uses it.
    hospital_list = logged_in(alice).get("/worklist/pathways/")
    assert {p.code: p.active for p in hospital_list.context["pathways"]}["post-op"] == 3
    own = PatientFactory(organisation=hospital)
    logged_in(alice).post(f"/worklist/patients/{own.pk}/enrol/", {"pathway": "post-op"})
    assert Plan.objects.filter(patient=own, pathway=private).exists()


def test_the_pathway_list_counts_only_the_plans_of_patients_in_reach(
    hospital: Any, dave: Any, community: Any
) -> None:
    from careloop.followup.models import Pathway
    from careloop.followup.pathways import load_pack
    from careloop.followup.planning import enrol

    load_pack()
    shared = Pathway.objects.get(code="post-op")  # every organisation's
    for _ in range(2):
        enrol(PatientFactory(organisation=hospital), shared, trigger="manual")
    enrol(PatientFactory(organisation=community), shared, trigger="manual")
    listing = logged_in(dave).get("/worklist/pathways/")
    assert {p.code: p.active for p in listing.context["pathways"]}["post-op"] == 1


def test_the_questionnaire_list_counts_only_answers_of_patients_in_reach(
    hospital: Any, alice: Any, dave: Any, community: Any
) -> None:
    from careloop.questionnaires.services import current, load_pack, submit

    load_pack()
    calm = {f"q{n}": "0" for n in range(1, 8)}
    for _ in range(3):
        submit(current("gad7"), PatientFactory(organisation=hospital), calm, source="patient")
    submit(current("gad7"), PatientFactory(organisation=community), calm, source="patient")

    def answered(user: Any) -> int:
        page = logged_in(user).get("/questionnaires/")
        assert page.status_code == 200
        return {q.code: q.answered for q in page.context["rows"]}["gad7"]

    assert answered(dave) == 1  # the hospital's three are not the centre's business
    assert answered(alice) == 3


def test_the_task_page_shows_a_shared_reader_no_referral_between_other_organisations(
    programme: Task,  # noqa: F811
    hospital: Any,
    cardiology: Any,
    dave: Any,
    community: Any,
) -> None:
    """As the patient page's referral history: the community centre, reading the patient
    through a share, does not learn where else the hospital referred them."""
    from careloop.followup.models import Referral
    from tests.factories import OrganisationFactory

    _share(programme, community)
    elsewhere = OrganisationFactory(code="P9", name="市精神卫生中心", kind="hospital")
    Referral.objects.create(
        patient=programme.patient,
        from_organisation=cardiology,
        to_organisation=elsewhere,
        reason="抑郁筛查阳性",
    )
    page = logged_in(dave).get(f"/worklist/tasks/{programme.pk}/")
    assert page.status_code == 200
    assert list(page.context["referrals"]) == []
    assert "→ 市精神卫生中心" not in page.content.decode()
    own = logged_in(programme.assignee or programme.patient.responsible_doctor)
    assert "→ 市精神卫生中心" in own.get(f"/worklist/tasks/{programme.pk}/").content.decode()


def test_the_rule_list_counts_only_firings_on_patients_in_reach(
    hospital: Any, bob: Any, community: Any
) -> None:
    from careloop.accounts.roles import Role
    from careloop.rules.models import Rule, RuleFiring
    from careloop.rules.pack import load_pack
    from tests.factories import UserFactory

    load_pack()
    rule = Rule.objects.order_by("code").first()
    assert rule is not None
    for _ in range(4):
        RuleFiring.objects.create(
            rule=rule,
            version=rule.version,
            patient=PatientFactory(organisation=hospital),
            trigger=rule.trigger,
        )
    RuleFiring.objects.create(
        rule=rule,
        version=rule.version,
        patient=PatientFactory(organisation=community),
        trigger=rule.trigger,
    )
    centre = UserFactory(username="frank", organisation=community, role=Role.SUPERVISOR)

    def fired(user: Any) -> int:
        page = logged_in(user).get("/rules/")
        assert page.status_code == 200
        return {r.code: r.recent for r in page.context["rules"]}[rule.code]

    assert fired(centre) == 1
    assert fired(bob) == 4


def test_given_a_read_only_share_then_another_organisation_does_not_decide_a_redemption(
    hospital: Any, bob: Any, community: Any
) -> None:
    """Points are spent by the patient's own organisation (or one that may change the
    record): a read-only share does not let the community centre approve the exchange."""
    from careloop.accounts.roles import Role
    from careloop.portal.models import PointsEntry, Redemption
    from tests.factories import UserFactory

    patient = PatientFactory(organisation=hospital)
    PatientShare.objects.create(patient=patient, organisation=community, can_edit=False)
    PointsEntry.objects.create(patient=patient, points=500, reason="自测打卡")
    asked = Redemption.objects.create(patient=patient, points=300, item="免费血脂检查")
    centre = logged_in(UserFactory(username="erin", organisation=community, role=Role.COORDINATOR))
    listing = centre.get("/p/staff/redemptions/")
    assert listing.status_code == 200
    assert asked not in listing.context["page"].object_list
    assert patient.name not in listing.content.decode()
    posted = centre.post("/p/staff/redemptions/", {"redemption": asked.pk, "decision": "approve"})
    assert posted.status_code == 404
    asked.refresh_from_db()
    assert asked.status == Redemption.Status.REQUESTED
    assert not PointsEntry.objects.filter(points__lt=0).exists()
    # The hospital's supervisor decides it.
    logged_in(bob).post("/p/staff/redemptions/", {"redemption": asked.pk, "decision": "approve"})
    asked.refresh_from_db()
    assert asked.status == Redemption.Status.APPROVED


def test_given_a_read_only_share_then_staff_do_not_answer_as_the_patient(
    hospital: Any, dave: Any, community: Any, alice: Any
) -> None:
    """Typing the patient's reply from the outbox reads it as theirs (alerts, answers on
    the follow-up): not for a patient the user may only read."""
    from careloop.outreach.models import Message, Reply

    patient = PatientFactory(organisation=hospital)
    PatientShare.objects.create(patient=patient, organisation=community, can_edit=False)
    message = Message.objects.create(
        organisation=hospital,
        patient=patient,
        key="test-1",
        channel="sms",
        provider="outbox",
        body="您好，请问最近血压如何？",
        status=Message.Status.SENT,
    )
    centre = logged_in(dave)
    assert message.body in centre.get("/outreach/outbox/").content.decode()  # may read it
    posted = centre.post(f"/outreach/outbox/{message.pk}/answer/", {"text": "胸痛"})
    assert posted.status_code == 404
    assert not Reply.objects.exists()
    mine = logged_in(alice).post(f"/outreach/outbox/{message.pk}/answer/", {"text": "还好"})
    assert mine.status_code == 302 and Reply.objects.count() == 1


def test_a_reply_from_an_unknown_sender_waits_in_the_inbox_of_the_organisation_it_was_sent_to(
    hospital: Any, alice: Any, dave: Any, community: Any
) -> None:
    """An SMS to the hospital's number from a number no patient has is the hospital's to
    read, not every organisation's; one through a platform-wide setting stays for all."""
    from careloop.outreach.callbacks.base import Inbound
    from careloop.outreach.models import ChannelConfig, Reply
    from careloop.outreach.receiving import apply_inbound

    hospitals = ChannelConfig(channel="sms", provider="aliyun_sms", organisation=hospital)
    hospitals.set_secrets({"access_key_id": "k", "access_key_secret": "s"})
    hospitals.save()
    platform = ChannelConfig(channel="wechat", provider="wechat_mp")
    platform.save()
    text = "我是王建国的女儿，我爸昨晚胸口疼"
    unknown = apply_inbound(hospitals, "sms", Inbound(sender="13600002222", text=text), "")
    assert unknown is not None and unknown.kind == Reply.Kind.UNMATCHED
    anyone = apply_inbound(platform, "wechat", Inbound(sender="oX1", text="你好在吗"), "")
    assert anyone is not None and anyone.kind == Reply.Kind.UNMATCHED
    centre = logged_in(dave)
    page = centre.get("/outreach/inbox/")
    assert page.status_code == 200
    assert text not in page.content.decode() and "13600002222" not in page.content.decode()
    assert "你好在吗" in page.content.decode()
    assert centre.post(f"/outreach/inbox/{unknown.pk}/handled/").status_code == 404
    unknown.refresh_from_db()
    assert unknown.handled_at is None
    own = logged_in(alice)
    assert text in own.get("/outreach/inbox/").content.decode()
    own.post(f"/outreach/inbox/{unknown.pk}/handled/")
    unknown.refresh_from_db()
    assert unknown.handled_by == alice


@pytest.mark.django_db(transaction=True)
def test_a_fhir_duplicate_of_another_organisations_patient_does_not_name_its_id(
    hospital: Any, alice: Any, dave: Any
) -> None:
    """As the JSON API and the enrolment page: that the person is enrolled is said, but
    the record of an organisation the token cannot see is not pointed at."""
    from datetime import date

    from tests.factories import valid_id

    number = valid_id(date(1956, 4, 1), male=True)
    theirs = PatientFactory(organisation=hospital, id_number=number)
    resource = {
        "resourceType": "Patient",
        "identifier": [{"system": "urn:careloop:sid:resident-id", "value": number}],
        "name": [{"text": "周建华"}],
        "gender": "male",
        "birthDate": "1956-04-01",
    }
    answer = _fhir(dave, "post", "Patient", resource)
    assert answer.status_code == 409
    said = answer.json()["issue"][0]["diagnostics"]
    assert f"Patient/{theirs.pk}" not in said
    assert "another organisation" in said
    own = _fhir(alice, "post", "Patient", resource)
    assert own.status_code == 409
    assert f"Patient/{theirs.pk}" in own.json()["issue"][0]["diagnostics"]


def test_an_alert_is_not_assigned_to_someone_who_cannot_open_its_patient(
    hospital: Any, bob: Any, carol: Any, alice: Any, api_as: Any
) -> None:
    """Bob (hospital supervisor) oversees cardiology too, but Carol (cardiology) cannot
    open a patient of the hospital itself: the alert would wait with someone who cannot
    act on it, as the rules already avoid."""
    from careloop.followup.models import Alert
    from careloop.followup.services import raise_alert

    alert = raise_alert(
        PatientFactory(organisation=hospital),
        kind=Alert.Kind.MANUAL,
        severity=Alert.Severity.HIGH,
        title="血压 186/104",
        reason="复测仍高",
        unassigned=True,
    )
    answer = api_as(bob).post(
        f"/api/v1/alerts/{alert.pk}/transition", {"action": "assign", "assignee": "carol"}
    )
    assert answer.status_code == 422
    alert.refresh_from_db()
    assert alert.assignee is None
    page = logged_in(bob).post(
        f"/alerts/{alert.pk}/", {"action": "assign", "assignee": carol.pk}, follow=True
    )
    assert page.status_code == 200
    alert.refresh_from_db()
    assert alert.assignee is None
    done = api_as(bob).post(
        f"/api/v1/alerts/{alert.pk}/transition", {"action": "assign", "assignee": "alice"}
    )
    assert done.status_code == 200
    alert.refresh_from_db()
    assert alert.assignee == alice


def test_tasks_are_not_assigned_to_someone_who_cannot_open_their_patient(
    hospital: Any, bob: Any, carol: Any, alice: Any
) -> None:
    from careloop.followup.models import Pathway
    from careloop.followup.pathways import load_pack
    from careloop.followup.planning import enrol

    load_pack()
    plan = enrol(
        PatientFactory(organisation=hospital),
        Pathway.objects.get(code="post-op"),
        trigger="manual",
    )
    assert plan is not None
    task = plan.tasks.order_by("due_at").first()
    assert task is not None
    supervisor = logged_in(bob)
    page = supervisor.post(
        "/worklist/assign/", {"task": [task.pk], "assignee": carol.pk}, follow=True
    )
    assert page.status_code == 200
    task.refresh_from_db()
    assert task.assignee is None  # Carol (cardiology) cannot open the hospital's patient
    assert any(m.level_tag == "warning" for m in page.context["messages"])
    supervisor.post("/worklist/assign/", {"task": [task.pk], "assignee": alice.pk})
    task.refresh_from_db()
    assert task.assignee == alice


def test_given_a_read_only_share_then_another_organisation_does_not_mark_a_reply_handled(
    hospital: Any, dave: Any, community: Any, alice: Any
) -> None:
    """A reply that needs reading waits in the hospital's inbox until the hospital handles
    it: the community centre, which may read the patient, does not take it off the list."""
    from careloop.outreach.models import Reply

    patient = PatientFactory(organisation=hospital)
    PatientShare.objects.create(patient=patient, organisation=community, can_edit=False)
    reply = Reply.objects.create(
        organisation=hospital,
        patient=patient,
        channel="sms",
        sender="13600002222",
        text="下周三能改期吗",
        kind=Reply.Kind.UNCLEAR,
    )
    centre = logged_in(dave)
    inbox = centre.get("/outreach/inbox/").content.decode()
    assert reply.text in inbox  # may read it
    assert f"/outreach/inbox/{reply.pk}/handled/" not in inbox
    assert centre.post(f"/outreach/inbox/{reply.pk}/handled/").status_code == 404
    reply.refresh_from_db()
    assert reply.handled_at is None
    logged_in(alice).post(f"/outreach/inbox/{reply.pk}/handled/")
    reply.refresh_from_db()
    assert reply.handled_by == alice


def test_the_alerts_api_lists_alerts_only_for_those_allowed_to_view_alerts(
    hospital: Any, alice: Any, api_as: Any
) -> None:
    """Reading a patient's record is not reading their alerts: one alert by id already
    asked for the alert permission, the list did not."""
    from django.contrib.auth.models import Permission

    from careloop.followup.models import Alert
    from careloop.followup.services import raise_alert
    from tests.factories import UserFactory

    raise_alert(
        PatientFactory(organisation=hospital),
        kind=Alert.Kind.MANUAL,
        severity=Alert.Severity.HIGH,
        title="自伤风险",
        reason="PHQ-9 第 9 题阳性",
        unassigned=True,
    )
    registrar = UserFactory(organisation=hospital)
    registrar.user_permissions.add(
        Permission.objects.get(codename="view_patient", content_type__app_label="patients")
    )
    refused = api_as(registrar).get("/api/v1/alerts")
    assert refused.status_code == 403
    assert "自伤风险" not in refused.content.decode()
    assert api_as(alice).get("/api/v1/alerts").json()["count"] == 1


def test_the_import_page_suggests_only_the_sending_systems_of_the_users_organisations(
    hospital: Any, community: Any
) -> None:
    from careloop.accounts.roles import Role
    from careloop.interop.models import SourceSystem
    from tests.factories import UserFactory

    SourceSystem.objects.create(facility="HIS-第一人民医院", name="HIS", organisation=hospital)
    SourceSystem.objects.create(facility="和平社区体检", name="体检", organisation=community)
    manager = UserFactory(organisation=community, role=Role.HEALTH_MANAGER)
    page = logged_in(manager).get("/interop/imports/")
    assert page.status_code == 200
    assert [s.facility for s in page.context["sources"]] == ["和平社区体检"]
    assert "HIS-第一人民医院" not in page.content.decode()


def test_a_patient_moved_to_another_department_takes_their_open_work_along(
    programme: Task,  # noqa: F811
    hospital: Any,
    carol: Any,
    bob: Any,
    api_as: Any,
) -> None:
    """Moved from cardiology to endocrinology, the patient's open follow-up and alert
    leave cardiology's worklist (which showed the name of a patient it can no longer
    open) and reach endocrinology's."""
    from careloop.accounts.roles import Role
    from careloop.followup.models import Alert
    from careloop.followup.services import raise_alert
    from tests.factories import OrganisationFactory, UserFactory

    endocrinology = OrganisationFactory(
        code="H1-ENDO", name="内分泌科", kind="department", parent=hospital
    )
    alert = raise_alert(
        programme.patient,
        kind=Alert.Kind.MANUAL,
        severity=Alert.Severity.HIGH,
        title="空腹血糖 13.2",
        reason="复测仍高",
    )
    name = programme.patient.name
    assert (
        name in logged_in(carol).get("/worklist/?scope=organisation&section=all").content.decode()
    )
    moved = api_as(bob).patch(
        f"/api/v1/patients/{programme.patient_id}",
        {"organisation": endocrinology.pk, "responsible_doctor": None},
    )
    assert moved.status_code == 200, moved.content
    worklist = logged_in(carol).get("/worklist/?scope=organisation&section=all")
    assert worklist.status_code == 200
    assert name not in worklist.content.decode()
    assert worklist.context["open_alert_count"] == 0
    theirs = UserFactory(username="gina", organisation=endocrinology, role=Role.NURSE)
    page = logged_in(theirs).get("/worklist/?scope=organisation&section=all")
    assert name in page.content.decode()
    assert [a.pk for a in page.context["open_alerts"]] == [alert.pk]
    # Its history says so, and who moved the patient.
    event = alert.events.order_by("pk").last()
    assert event is not None and event.note == "已转至内分泌科" and event.actor == bob


def test_given_a_patient_moved_with_a_new_care_team_then_their_open_follow_up_is_that_teams(
    programme: Task,  # noqa: F811
    hospital: Any,
    bob: Any,
    api_as: Any,
) -> None:
    """The moved follow-up is on the new care team's worklist ("My team's"), not left with
    a team of the organisation the patient left (seen by no one's team scope)."""
    from careloop.accounts.roles import Role
    from tests.factories import OrganisationFactory, TeamFactory, UserFactory

    endocrinology = OrganisationFactory(
        code="H1-ENDO", name="内分泌科", kind="department", parent=hospital
    )
    old_team = TeamFactory(organisation=programme.organisation, name="心内科随访组")
    Task.objects.filter(pk=programme.pk).update(team=old_team)
    new_team = TeamFactory(organisation=endocrinology, name="内分泌随访组")
    moved = api_as(bob).patch(
        f"/api/v1/patients/{programme.patient_id}",
        {"organisation": endocrinology.pk, "care_team": new_team.pk, "responsible_doctor": None},
    )
    assert moved.status_code == 200, moved.content
    programme.refresh_from_db()
    assert programme.team_id == new_team.pk
    theirs = UserFactory(username="gina", organisation=endocrinology, role=Role.NURSE)
    theirs.teams.add(new_team)
    page = logged_in(theirs).get("/worklist/?scope=team&section=all")
    assert programme.patient.name in page.content.decode()


def test_given_a_read_only_share_then_its_readers_are_not_given_the_patients_work(
    hospital: Any, cardiology: Any, bob: Any, carol: Any, api_as: Any
) -> None:
    """Carol (cardiology) may read the hospital's patient through a share, not change the
    record: a follow-up or an alert assigned to her would wait with someone who can neither
    record it nor act on it (nor see the follow-up on her worklist)."""
    from careloop.followup.models import Alert, Pathway
    from careloop.followup.pathways import load_pack
    from careloop.followup.planning import enrol
    from careloop.followup.services import raise_alert

    load_pack()
    patient = PatientFactory(organisation=hospital)
    PatientShare.objects.create(patient=patient, organisation=cardiology, can_edit=False)
    plan = enrol(patient, Pathway.objects.get(code="post-op"), trigger="manual")
    assert plan is not None
    task = plan.tasks.order_by("due_at").first()
    assert task is not None
    logged_in(bob).post("/worklist/assign/", {"task": [task.pk], "assignee": carol.pk})
    task.refresh_from_db()
    assert task.assignee is None
    alert = raise_alert(
        patient,
        kind=Alert.Kind.MANUAL,
        severity=Alert.Severity.HIGH,
        title="血压 186/104",
        reason="复测仍高",
        unassigned=True,
    )
    answer = api_as(bob).post(
        f"/api/v1/alerts/{alert.pk}/transition", {"action": "assign", "assignee": "carol"}
    )
    assert answer.status_code == 422
    assert "能修改该患者档案" in json.dumps(answer.json(), ensure_ascii=False)  # not "open"
    alert.refresh_from_db()
    assert alert.assignee is None


def test_given_a_read_only_share_when_the_patient_moves_then_its_readers_keep_none_of_the_work(
    programme: Task,  # noqa: F811
    hospital: Any,
    community: Any,
    dave: Any,
    bob: Any,
    api_as: Any,
) -> None:
    """Work left with someone of an organisation the record is only shared with (assigned
    before that was refused) waits unassigned for the new organisation: they could not
    record it."""
    _share(programme, community)
    Task.objects.filter(pk=programme.pk).update(assignee=dave)
    moved = api_as(bob).patch(
        f"/api/v1/patients/{programme.patient_id}",
        {"organisation": hospital.pk, "responsible_doctor": None},
    )
    assert moved.status_code == 200, moved.content
    programme.refresh_from_db()
    assert (programme.organisation_id, programme.assignee_id) == (hospital.pk, None)
