"""Hand-offs between tiers (refer, accept, decline, withdraw) and the next steps of a
follow-up on the task page (raise an alert, refer, request a revisit, add a note)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from careloop.accounts.roles import Role
from careloop.followup.handoffs import do_decide, do_refer, do_withdraw
from careloop.followup.models import Alert, Pathway, Plan, Referral, RevisitRequest, TaskNote
from careloop.followup.pathways import load_pack
from careloop.followup.planning import enrol
from careloop.patients.access import patients_for
from careloop.patients.models import PatientShare
from tests.factories import OrganisationFactory, UserFactory
from tests.test_patients_web import logged_in


@pytest.fixture
def lead(community: Any) -> Any:
    """The community centre's coordinator, who answers referrals."""
    return UserFactory(username="erin", organisation=community, role=Role.COORDINATOR)


@pytest.fixture
def task(hospital: Any, patient_factory: Any) -> Any:
    load_pack()
    patient = patient_factory(name="陈转诊", organisation=hospital)
    plan = enrol(patient, Pathway.objects.get(code="post-op"), trigger="manual")
    return plan.tasks.order_by("due_at").first()


def test_a_hand_over_accepted_moves_the_patient_and_both_sides_keep_the_history(
    task: Any, alice: Any, dave: Any, lead: Any, community: Any, hospital: Any
) -> None:
    patient = task.patient
    assert not patients_for(dave).filter(pk=patient.pk).exists()
    referral = do_refer(
        alice, patient, community, reason="病情稳定，转社区随访", transfer=True, task=task
    )
    assert referral.status == "pending" and referral.from_organisation == hospital
    assert patients_for(lead).filter(pk=patient.pk).exists()  # they can look before deciding
    page = logged_in(lead).get("/worklist/referrals/", HTTP_ACCEPT_LANGUAGE="zh-hans")
    accept = re.search(r'<button[^>]*data-testid="referral-accept"[^>]*>', page.content.decode())
    assert accept is not None and 'data-confirm="确认接收转交？' in accept[0]  # asks first
    assert not patients_for(lead, write=True).filter(pk=patient.pk).exists()
    with pytest.raises(ValidationError):
        do_refer(alice, patient, community, reason="again")  # one waiting referral at a time
    with pytest.raises(PermissionDenied):
        do_decide(dave, referral, accept=True)  # a nurse does not answer for the centre
    with pytest.raises(PermissionDenied):
        do_decide(UserFactory(organisation=hospital, role=Role.SUPERVISOR), referral, accept=True)
    from careloop.followup.services import raise_alert

    alert = raise_alert(patient, kind="rule", severity="low", title="t", reason="r")
    do_decide(lead, referral, accept=True, note="已接收")
    patient.refresh_from_db()
    assert patient.organisation == community
    assert patient.care_team is None and patient.responsible_doctor is None
    alert.refresh_from_db()
    assert (alert.organisation, alert.assignee) == (community, None)
    assert patients_for(alice).filter(pk=patient.pk).exists()  # the hospital still reads it
    assert not patients_for(alice, write=True).filter(pk=patient.pk).exists()
    plan = Plan.objects.get(patient=patient)
    assert (plan.status, plan.stop_reason) == ("stopped", "transferred")
    with pytest.raises(ValidationError):
        do_decide(lead, referral, accept=False, note="late")  # already answered


def test_a_nurse_sees_who_answers_an_incoming_referral(
    task: Any, alice: Any, dave: Any, lead: Any, community: Any
) -> None:
    from careloop.accounts.roles import ROLE_PERMISSIONS

    # The hint names the roles that hold the permission to answer (roles.py decides).
    answering = {r for r, perms in ROLE_PERMISSIONS.items() if "followup.change_referral" in perms}
    assert answering == {Role.DOCTOR, Role.SUPERVISOR, Role.COORDINATOR}
    do_refer(alice, task.patient, community, reason="病情稳定，转社区随访", transfer=True)
    nurse = logged_in(dave).get("/worklist/referrals/").content.decode()
    assert 'data-testid="referral-status">待接收' in nurse
    assert "referral-accept" not in nurse
    hint = re.search(r'data-testid="referral-who-decides">([^<]+)<', nurse)
    assert hint is not None and hint[1] == "由医生、主管或协调岗接收或拒绝。"
    english = logged_in(dave).get("/worklist/referrals/", HTTP_ACCEPT_LANGUAGE="en")
    assert "A doctor, supervisor or coordinator accepts or declines it." in english.content.decode()
    # Who can answer sees the buttons, not the hint; the sender sees "withdraw".
    coordinator = logged_in(lead).get("/worklist/referrals/").content.decode()
    assert "referral-accept" in coordinator and "referral-who-decides" not in coordinator
    sender = logged_in(alice).get("/worklist/referrals/?box=out").content.decode()
    assert "referral-withdraw" in sender and "referral-who-decides" not in sender


def test_a_declined_referral_needs_a_reason_and_withdraws_the_share(
    task: Any, alice: Any, lead: Any, community: Any
) -> None:
    patient = task.patient
    referral = do_refer(alice, patient, community, reason="需社区协助监测血压")
    with pytest.raises(ValidationError):
        do_decide(lead, referral, accept=False)
    do_decide(lead, referral, accept=False, note="不在本中心服务范围")
    assert not PatientShare.objects.filter(patient=patient, organisation=community).exists()
    assert not patients_for(lead).filter(pk=patient.pk).exists()
    referral.refresh_from_db()
    assert (referral.status, referral.decided_by) == ("declined", lead)
    # Both sides read the answer, its colon in the page's language.
    chinese = logged_in(alice).get("/worklist/referrals/?box=out&status=all").content.decode()
    assert "意见：不在本中心服务范围" in chinese
    english = (
        logged_in(lead)
        .get("/worklist/referrals/?box=in&status=all", HTTP_ACCEPT_LANGUAGE="en")
        .content.decode()
    )
    assert "Answer: 不在本中心服务范围" in english


def test_shared_care_accepted_lets_the_receiver_edit_and_withdrawal_undoes_a_referral(
    task: Any, alice: Any, lead: Any, community: Any, hospital: Any
) -> None:
    patient = task.patient
    referral = do_refer(alice, patient, community, reason="共同管理")
    do_decide(lead, referral, accept=True)
    assert patients_for(lead, write=True).filter(pk=patient.pk).exists()
    with pytest.raises(PermissionDenied):  # sharing care does not let them hand it on
        do_refer(lead, patient, hospital, reason="转回", transfer=True)
    patient.refresh_from_db()
    assert patient.organisation == hospital
    with pytest.raises(ValidationError):
        do_refer(alice, patient, hospital, reason="自己")  # not to its own organisation
    second = do_refer(alice, patient, community, reason="再次")
    with pytest.raises(PermissionDenied):
        do_withdraw(lead, second)  # only the sender withdraws
    do_withdraw(alice, second)
    assert Referral.objects.get(pk=second.pk).status == "cancelled"
    assert not PatientShare.objects.filter(patient=patient, can_edit=False).exists()


def test_the_task_page_next_steps(task: Any, alice: Any, lead: Any, community: Any) -> None:
    nurse = logged_in(alice)
    page = nurse.get(f"/worklist/tasks/{task.pk}/")
    assert page.context["refer_form"] is not None and page.context["raise_form"] is not None
    nurse.post(
        f"/worklist/tasks/{task.pk}/alert/",
        {"alert-severity": "high", "alert-title": "家属反映情绪低落", "alert-reason": "需心理评估"},
    )
    [alert] = Alert.objects.filter(patient=task.patient)
    assert (alert.kind, alert.task_id, alert.severity) == ("manual", task.pk, "high")
    assert alert.events.get().actor == alice
    nurse.post(f"/worklist/tasks/{task.pk}/note/", {"note-text": "患者下午方便接电话"})
    assert TaskNote.objects.get(task=task).by == alice
    wanted = (timezone.localdate() + timedelta(days=5)).isoformat()
    nurse.post(
        f"/worklist/tasks/{task.pk}/revisit/",
        {"revisit-wanted_on": wanted, "revisit-department": "骨科门诊"},
    )
    revisit = RevisitRequest.objects.get(patient=task.patient)
    assert revisit.department == "骨科门诊"
    assert logged_in(alice).post(f"/worklist/revisits/{revisit.pk}/book/").status_code == 403
    lead_page = logged_in(
        UserFactory(organisation=task.patient.organisation, role=Role.COORDINATOR)
    )
    assert [v.pk for v in lead_page.get("/worklist/revisits/").context["page"].object_list] == [
        revisit.pk
    ]
    lead_page.post(f"/worklist/revisits/{revisit.pk}/book/", {"appointment_at": f"{wanted}T09:30"})
    revisit.refresh_from_db()
    assert revisit.status == "booked" and timezone.localtime(revisit.appointment_at).hour == 9
    past = nurse.post(
        f"/worklist/tasks/{task.pk}/revisit/", {"revisit-wanted_on": "2020-01-01"}, follow=True
    )
    assert [m.level_tag for m in past.context["messages"]][-1] == "error"
    assert RevisitRequest.objects.filter(patient=task.patient).count() == 1
    # What was typed comes back with its error, once; the other forms stay empty.
    shown = past.context["revisit_form"]
    assert shown.is_bound and shown["wanted_on"].value() == "2020-01-01" and shown.errors
    assert not past.context["raise_form"].is_bound
    assert not nurse.get(f"/worklist/tasks/{task.pk}/").context["revisit_form"].is_bound
    nurse.post(
        f"/worklist/tasks/{task.pk}/refer/",
        {
            "refer-to_organisation": community.pk,
            "refer-urgency": "routine",
            "refer-reason": "转社区",
        },
    )
    referral = Referral.objects.get(patient=task.patient)
    incoming = logged_in(lead).get("/worklist/referrals/?box=in")
    assert [r.pk for r, decide, _w in incoming.context["rows"] if decide] == [referral.pk]
    outgoing = nurse.get("/worklist/referrals/?box=out")
    assert [r.pk for r, _d, withdraw in outgoing.context["rows"] if withdraw] == [referral.pk]
    logged_in(lead).post(
        f"/worklist/referrals/{referral.pk}/decide/", {"decision": "accept", "decision_note": "好"}
    )
    referral.refresh_from_db()
    assert referral.status == "accepted"
    html = nurse.get(f"/worklist/tasks/{task.pk}/").content.decode()
    assert "患者下午方便接电话" in html and "骨科门诊" in html


def test_a_revisit_of_a_patient_handed_over_is_not_offered_for_booking(
    task: Any, alice: Any, lead: Any, community: Any, hospital: Any
) -> None:
    wanted = (timezone.localdate() + timedelta(days=5)).isoformat()
    logged_in(alice).post(
        f"/worklist/tasks/{task.pk}/revisit/",
        {"revisit-wanted_on": wanted, "revisit-department": "骨科门诊"},
    )
    revisit = RevisitRequest.objects.get(patient=task.patient)
    coordinator = logged_in(UserFactory(organisation=hospital, role=Role.COORDINATOR))
    before = coordinator.get("/worklist/revisits/").content.decode()
    assert 'data-testid="book-form"' in before and "revisit-handed-over" not in before
    referral = do_refer(alice, task.patient, community, reason="转社区", transfer=True)
    do_decide(lead, referral, accept=True)
    page = coordinator.get("/worklist/revisits/").content.decode()
    assert 'data-testid="book-form"' not in page  # no live 预约 button
    assert 'data-testid="revisit-handed-over">已移交<' in page
    assert f"由{community.name}预约" in page
    # A stale page's POST: said plainly, not a bare 403; nothing booked.
    answer = coordinator.post(
        f"/worklist/revisits/{revisit.pk}/book/", {"appointment_at": f"{wanted}T09:30"}, follow=True
    )
    assert answer.status_code == 200
    said = [(m.level_tag, str(m)) for m in answer.context["messages"]]
    assert said and said[-1][0] == "error" and "已移交" in said[-1][1], said
    revisit.refresh_from_db()
    assert revisit.status == "requested" and revisit.appointment_at is None
    # The receiving organisation books it.
    theirs = logged_in(lead)
    assert 'data-testid="book-form"' in theirs.get("/worklist/revisits/").content.decode()
    theirs.post(f"/worklist/revisits/{revisit.pk}/book/", {"appointment_at": f"{wanted}T09:30"})
    revisit.refresh_from_db()
    assert revisit.status == "booked"


def test_a_patient_is_not_referred_to_an_organisation_above_their_own(
    hospital: Any, cardiology: Any, community: Any, patient_factory: Any
) -> None:
    from careloop.followup.handoffs import referral_targets

    patient = patient_factory(organisation=cardiology)
    targets = set(referral_targets(patient))
    # The hospital's staff see cardiology's patients too: no one would answer for it alone.
    assert hospital not in targets and cardiology not in targets
    assert community in targets


def _referral_rows(html: str) -> list[str]:
    section = re.search(r'data-testid="patient-referrals".*?</section>', html, re.S)
    assert section is not None, "no referral history on the patient page"
    rows = re.findall(r'<tr data-testid="patient-referral">(.*?)</tr>', section[0], re.S)
    return [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row)).strip() for row in rows]


def test_the_patient_page_shows_the_referral_history_to_both_sides(
    task: Any, alice: Any, lead: Any, dave: Any, community: Any, hospital: Any
) -> None:
    from django.contrib.auth.models import Permission
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    patient = task.patient
    page = f"/patients/{patient.pk}/"
    declined = do_refer(alice, patient, community, reason="需社区协助监测血压")
    do_decide(lead, declined, accept=False, note="不在本中心服务范围")
    Referral.objects.filter(pk=declined.pk).update(
        requested_at=timezone.now() - timedelta(days=3),
        decided_at=timezone.now() - timedelta(days=2),
    )
    handed = do_refer(
        alice, patient, community, reason="病情稳定，转社区随访", urgency="urgent", transfer=True
    )
    # Waiting: the receiving side opens the patient to decide, and sees the history there.
    waiting = _referral_rows(logged_in(lead).get(page).content.decode())
    assert len(waiting) == 2 and "待接收" in waiting[0] and "紧急" in waiting[0]
    assert "不在本中心服务范围" in waiting[1] and "已拒绝" in waiting[1]
    do_decide(lead, handed, accept=True, note="同意，下周首访")
    # Both sides, newest first: from → to, urgency, reason, who asked, status, who answered.
    for user in (alice, lead):
        html = logged_in(user).get(page, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
        assert 'id="referrals-title" class="h2">转诊记录<' in html
        newest, oldest = _referral_rows(html)
        assert f"{hospital.name} → {community.name}" in newest
        assert "紧急" in newest and "病情稳定，转社区随访" in newest and "移交随访" in newest
        assert "王爱丽" in newest and f"已接收 {lead} · " in newest
        assert "同意，下周首访" in newest
        assert "常规" in oldest and "已拒绝" in oldest and "不在本中心服务范围" in oldest
    english = logged_in(lead).get(page, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Referral history" in english and "accepted" in _referral_rows(english)[0]
    # Staff who cannot open the patient get no page, so no history.
    assert logged_in(dave).get(page).status_code == 200  # the community centre's own now
    outsider = UserFactory(organisation=OrganisationFactory(code="X9"), role=Role.SUPERVISOR)
    assert logged_in(outsider).get(page).status_code == 404
    # Without the right to read referrals, the section is not there.
    reader = UserFactory(organisation=community)
    reader.user_permissions.add(
        Permission.objects.get(codename="view_patient", content_type__app_label="patients")
    )
    assert 'data-testid="patient-referrals"' not in logged_in(reader).get(page).content.decode()
    # The page's queries do not grow with the number of referrals.
    client = logged_in(lead)
    client.get(page)
    with CaptureQueriesContext(connection) as two:
        client.get(page)
    for n in range(5):
        Referral.objects.create(
            patient=patient,
            from_organisation=community,
            to_organisation=hospital,
            reason=f"复诊{n}",
            requested_by=UserFactory(organisation=community),
            decided_by=UserFactory(organisation=hospital),
            decided_at=timezone.now(),
            status="declined",
        )
    with CaptureQueriesContext(connection) as seven:
        html = client.get(page).content.decode()
    assert len(_referral_rows(html)) == 7
    assert len(seven) == len(two), [q["sql"] for q in seven.captured_queries]
    assert 'data-testid="more-referrals"' not in html
    # Past 50, the newest 50 and a word that there are more.
    asker = UserFactory(organisation=community)
    Referral.objects.bulk_create(
        Referral(
            patient=patient,
            from_organisation=community,
            to_organisation=hospital,
            reason=f"早年{n}",
            requested_by=asker,
            requested_at=timezone.now() - timedelta(days=30 + n),
            status="cancelled",
        )
        for n in range(44)
    )
    html = client.get(page).content.decode()
    assert len(_referral_rows(html)) == 50 and "早年43" not in html and "早年42" in html
    assert "仅显示最近 50 条转诊" in html


def test_the_referral_history_shows_an_organisation_only_its_own_referrals(
    task: Any, alice: Any, lead: Any, community: Any, hospital: Any
) -> None:
    """A third organisation asked to take the patient opens the page to decide: it sees the
    referral to itself, not the hospital's earlier referral to the community centre, with its
    reason and the centre's answer (only the two sides of a referral read it)."""
    patient = task.patient
    page = f"/patients/{patient.pk}/"
    earlier = do_refer(alice, patient, community, reason="需社区协助监测血压")
    do_decide(lead, earlier, accept=False, note="本中心床位已满")
    third = OrganisationFactory(code="T3", name="第三医院")
    do_refer(alice, patient, third, reason="请专科会诊")
    coordinator = UserFactory(organisation=third, role=Role.COORDINATOR)
    rows = _referral_rows(logged_in(coordinator).get(page).content.decode())
    assert len(rows) == 1 and "请专科会诊" in rows[0]
    assert len(_referral_rows(logged_in(alice).get(page).content.decode())) == 2


def test_a_hand_over_accepted_takes_the_patients_open_follow_ups_outside_plans_along(
    task: Any, alice: Any, dave: Any, lead: Any, community: Any
) -> None:
    """A follow-up a rule created (no plan to stop) goes to the receiving organisation,
    unassigned: left with the sender, who may now only read the record, nobody could
    record it and the receiving worklists would never show it."""
    from careloop.followup.models import Task

    patient = task.patient
    now = timezone.now()
    ruled = Task.objects.create(
        patient=patient,
        organisation=patient.organisation,
        node="rule:bp-high",
        title="血压复测",
        channel="phone",
        channels=["phone"],
        assignee=alice,
        due_at=now,
        deadline=now + timedelta(hours=8),
    )
    referral = do_refer(alice, patient, community, reason="病情稳定，转社区随访", transfer=True)
    do_decide(lead, referral, accept=True, note="已接收")
    ruled.refresh_from_db()
    assert (ruled.status, ruled.organisation, ruled.assignee) == ("open", community, None)
    page = logged_in(dave).get("/worklist/?scope=organisation&section=all")
    assert patient.name in page.content.decode()


def test_a_patient_without_a_follow_up_is_referred_from_their_page(
    hospital: Any, patient_factory: Any, alice: Any, dave: Any, lead: Any, community: Any
) -> None:
    """A patient just enrolled, in no pathway yet (a stable discharge the hospital hands to
    the community centre): referral was offered only on a follow-up task's page."""
    patient = patient_factory(name="林稳定", organisation=hospital)
    nurse = logged_in(alice)
    page = nurse.get(f"/patients/{patient.pk}/")
    assert 'data-testid="patient-refer-form"' in page.content.decode()
    refused = nurse.post(
        f"/worklist/patients/{patient.pk}/refer/",
        {"refer-to_organisation": community.pk, "refer-urgency": "routine", "refer-reason": ""},
        follow=True,
    )
    assert [m.level_tag for m in refused.context["messages"]] == ["error"]
    assert not Referral.objects.exists()
    nurse.post(
        f"/worklist/patients/{patient.pk}/refer/",
        {
            "refer-to_organisation": community.pk,
            "refer-urgency": "routine",
            "refer-transfer": "on",
            "refer-reason": "出院后病情稳定，转社区随访",
        },
    )
    referral = Referral.objects.get(patient=patient)
    assert (referral.requested_by, referral.to_organisation, referral.transfer) == (
        alice,
        community,
        True,
    )
    assert referral.task_id is None
    # The other side may read the record to decide, but does not refer it on.
    assert (
        "patient-refer-form" not in logged_in(lead).get(f"/patients/{patient.pk}/").content.decode()
    )
    assert logged_in(dave).post(
        f"/worklist/patients/{patient.pk}/refer/",
        {"refer-to_organisation": hospital.pk, "refer-urgency": "routine", "refer-reason": "x"},
    ).status_code in (403, 404)


def test_booking_and_marking_a_revisit_keep_the_lists_filter(
    task: Any, alice: Any, hospital: Any
) -> None:
    """A coordinator working through the exams (kind 体检) was sent back to every request."""
    wanted = (timezone.localdate() + timedelta(days=5)).isoformat()
    logged_in(alice).post(
        f"/worklist/tasks/{task.pk}/revisit/",
        {"revisit-wanted_on": wanted, "revisit-department": "骨科门诊"},
    )
    revisit = RevisitRequest.objects.get(patient=task.patient)
    coordinator = logged_in(UserFactory(organisation=hospital, role=Role.COORDINATOR))
    page = coordinator.get("/worklist/revisits/", {"kind": "revisit", "status": ""})
    form = page.content.decode().split('data-testid="book-form"')[1].split("</form>")[0]
    assert '<input type="hidden" name="status" value="">' in form
    assert '<input type="hidden" name="kind" value="revisit">' in form
    booked = coordinator.post(
        f"/worklist/revisits/{revisit.pk}/book/",
        {"appointment_at": f"{wanted}T09:30", "status": "", "kind": "revisit"},
    )
    assert booked["Location"] == "/worklist/revisits/?status=&kind=revisit"
    wrong = coordinator.post(
        f"/worklist/revisits/{revisit.pk}/book/",
        {"appointment_at": f"{wanted}T10:30", "status": "x", "kind": "<script>"},
    )
    assert wrong["Location"] == "/worklist/revisits/"
