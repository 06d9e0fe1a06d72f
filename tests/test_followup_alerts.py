"""The alert lifecycle (open → acknowledged → in progress → resolved → verified), escalation
at the deadline, and the alert sources of follow-up: the nurse's findings, overdue high-risk
follow-ups, missed revisits; over the service, the API and the staff pages."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from careloop.accounts.roles import Role
from careloop.clinical.models import Encounter
from careloop.followup.alert_flow import (
    AlertConflict,
    Step,
    allowed_actions,
    do_transition,
    escalate_overdue,
)
from careloop.followup.alert_sources import flag_missed_revisits, raise_overdue_alerts
from careloop.followup.handoffs import do_book_revisit, do_request_revisit
from careloop.followup.models import Alert, Pathway, RevisitRequest
from careloop.followup.outcomes import Attempt, do_record_attempt
from careloop.followup.pathways import load_pack
from careloop.followup.planning import enrol
from careloop.followup.services import raise_alert
from careloop.followup.tasks import sweep_alerts
from tests.factories import UserFactory
from tests.test_patients_web import logged_in

NOON = timezone.make_aware(datetime(2026, 12, 1, 12, 0))


class Clock:
    def __init__(self, monkeypatch: Any, start: datetime) -> None:
        self.now = start
        monkeypatch.setattr(timezone, "now", lambda: self.now)

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@pytest.fixture
def clock(monkeypatch: Any) -> Clock:
    return Clock(monkeypatch, NOON)


@pytest.fixture
def alert(hospital: Any, patient_factory: Any, alice: Any) -> Alert:
    patient = patient_factory(name="赵预警", organisation=hospital)
    return raise_alert(
        patient,
        kind=Alert.Kind.RULE,
        severity=Alert.Severity.HIGH,
        title="收缩压 182",
        reason="收缩压≥180 mmHg",
        assignee_id=alice.pk,
    )


def step(action: str, **fields: Any) -> Step:
    return Step(action=action, **fields)


def test_the_lifecycle_records_every_step_and_a_supervisor_verifies(
    alert: Alert, alice: Any, bob: Any
) -> None:
    do_transition(alert, alice, step("acknowledge"))
    with pytest.raises(AlertConflict):
        do_transition(alert, bob, step("verify"))  # not resolved yet
    do_transition(alert, alice, step("start"))
    with pytest.raises(ValidationError) as missing:
        do_transition(alert, alice, step("resolve", outcome="已电话联系"))
    assert list(missing.value.message_dict) == ["resolution"]
    with pytest.raises(ValidationError) as missing:
        do_transition(alert, alice, step("resolve", resolution="handled"))
    assert list(missing.value.message_dict) == ["outcome"]
    alert = do_transition(
        alert, alice, step("resolve", resolution="doctor_notified", outcome="已通知李医生调药")
    )
    assert (alert.status, alert.resolution) == ("resolved", "doctor_notified")
    assert alert.resolved_at is not None
    with pytest.raises(PermissionDenied):
        do_transition(alert, alice, step("verify"))
    with pytest.raises(ValidationError) as missing:
        do_transition(alert, bob, step("reopen"))
    assert list(missing.value.message_dict) == ["note"]
    alert = do_transition(alert, bob, step("verify", note="处理及时"))
    assert (alert.status, alert.verified_by) == ("verified", bob)
    events = list(alert.events.values_list("action", "from_status", "to_status", "actor"))
    assert events == [
        ("acknowledge", "open", "acknowledged", alice.pk),
        ("start", "acknowledged", "in_progress", alice.pk),
        ("resolve", "in_progress", "resolved", alice.pk),
        ("verify", "resolved", "verified", bob.pk),
    ]
    with pytest.raises(AlertConflict):
        do_transition(alert, alice, step("acknowledge"))


def test_a_supervisor_sends_a_resolution_back(alert: Alert, alice: Any, bob: Any) -> None:
    do_transition(alert, alice, step("acknowledge"))
    do_transition(alert, alice, step("resolve", resolution="no_action", outcome="误报"))
    alert = do_transition(alert, bob, step("reopen", note="血压仍高，需复测"))
    assert alert.status == "in_progress" and alert.resolved_at is None
    assert alert.events.last().note == "血压仍高，需复测"
    # Who resolved it does not verify it.
    do_transition(alert, bob, step("resolve", resolution="handled", outcome="已复测 132/84"))
    with pytest.raises(PermissionDenied):
        do_transition(alert, bob, step("verify"))
    assert "verify" not in allowed_actions(alert, bob)  # no button that only refuses
    page = logged_in(bob).post(f"/alerts/{alert.pk}/", {"action": "verify"}, follow=True)
    assert page.status_code == 200  # a stale page's button: said on the page, not a bare 403
    assert "核实" in page.content.decode() or "verif" in page.content.decode()


def test_escalation_at_the_deadline_goes_up_the_roles(
    clock: Clock, cardiology: Any, patient_factory: Any, alice: Any, bob: Any, carol: Any
) -> None:
    patient = patient_factory(name="钱升级", organisation=cardiology, responsible_doctor=carol)
    alert = raise_alert(
        patient,
        kind="rule",
        severity="critical",
        title="血钾 6.8",
        reason="危急",
        assignee_id=alice.pk,
    )
    assert alert.due_at == NOON + timedelta(minutes=30)
    clock.advance(timedelta(minutes=29))
    assert escalate_overdue() == 0
    clock.advance(timedelta(minutes=2))
    assert escalate_overdue() == 1
    alert.refresh_from_db()
    assert (alert.assignee, alert.escalation_level) == (carol, 1)  # the responsible doctor
    assert alert.due_at == clock.now + timedelta(minutes=30)
    assert escalate_overdue() == 0  # a second sweep right away changes nothing
    do_transition(alert, carol, step("acknowledge"))  # acknowledging does not stop the clock
    clock.advance(timedelta(minutes=31))
    assert sweep_alerts.call()["escalated"] == 1
    alert.refresh_from_db()
    assert (alert.assignee, alert.escalation_level) == (bob, 2)  # the supervisor above
    escalations = alert.events.filter(action="escalate")
    assert escalations.count() == 2 and "李可" in escalations.first().note
    # Once someone is handling it, the deadline is the handling time.
    do_transition(alert, bob, step("start"))
    alert.refresh_from_db()
    assert alert.due_at == clock.now + timedelta(hours=4)
    do_transition(alert, bob, step("resolve", resolution="handled", outcome="已急诊"))
    clock.advance(timedelta(days=1))
    assert escalate_overdue() == 0  # resolved alerts never escalate


def test_an_unowned_alert_goes_to_whoever_picks_it_up(
    hospital: Any, patient_factory: Any, alice: Any
) -> None:
    patient = patient_factory(organisation=hospital)
    alert = raise_alert(
        patient, kind="rule", severity="low", title="t", reason="r", unassigned=True
    )
    alert = do_transition(alert, alice, step("acknowledge"))
    assert alert.assignee == alice
    with pytest.raises(PermissionDenied):  # a nurse does not hand work to others
        do_transition(alert, alice, step("assign", assignee=UserFactory(organisation=hospital)))


# ---------------------------------------------------------------- the API


def test_the_api_moves_an_alert_and_refuses_what_does_not_apply(
    alert: Alert, alice: Any, bob: Any, api_as: Any
) -> None:
    nurse, supervisor = api_as(alice), api_as(bob)
    response = nurse.post(f"/api/v1/alerts/{alert.pk}/transition", {"action": "resolve"})
    assert response.status_code == 409
    assert nurse.post(f"/api/v1/alerts/{alert.pk}/transition", {"action": "fly"}).status_code == 422
    ok = nurse.post(f"/api/v1/alerts/{alert.pk}/transition", {"action": "acknowledge"})
    assert ok.status_code == 200 and ok.json()["status"] == "acknowledged"
    missing = nurse.post(
        f"/api/v1/alerts/{alert.pk}/transition", {"action": "resolve", "resolution": "handled"}
    )
    assert missing.status_code == 422 and missing.json()["detail"]
    done = nurse.post(
        f"/api/v1/alerts/{alert.pk}/transition",
        {"action": "resolve", "resolution": "handled", "outcome": "已电话随访，嘱复测"},
    )
    assert done.json()["status"] == "resolved" and done.json()["resolution"] == "handled"
    refused = nurse.post(f"/api/v1/alerts/{alert.pk}/transition", {"action": "verify"})
    assert refused.status_code == 403
    verified = supervisor.post(f"/api/v1/alerts/{alert.pk}/transition", {"action": "verify"})
    body = verified.json()
    assert body["status"] == "verified" and body["verified_by"] == "bob"
    assert [e["action"] for e in body["events"]] == ["acknowledge", "resolve", "verify"]
    assert [e["actor"] for e in body["events"]] == ["alice", "alice", "bob"]
    detail = nurse.get(f"/api/v1/alerts/{alert.pk}").json()
    assert detail["outcome"] == "已电话随访，嘱复测" and len(detail["events"]) == 3
    listed = nurse.get("/api/v1/alerts", {"status": "verified"}).json()
    assert [a["id"] for a in listed["results"]] == [alert.pk]


def test_an_alert_out_of_reach_is_not_found(
    alert: Alert, dave: Any, api_as: Any, alice: Any
) -> None:
    assert api_as(dave).get(f"/api/v1/alerts/{alert.pk}").status_code == 404
    response = api_as(dave).post(f"/api/v1/alerts/{alert.pk}/transition", {"action": "note"})
    assert response.status_code == 404
    handover = api_as(UserFactory(organisation=alice.organisation, role=Role.SUPERVISOR))
    moved = handover.post(
        f"/api/v1/alerts/{alert.pk}/transition", {"action": "assign", "assignee": "nobody"}
    )
    assert moved.status_code == 422


# ---------------------------------------------------------------- pages


def test_the_alert_pages_list_mine_and_a_supervisor_verifies(
    alert: Alert, alice: Any, bob: Any
) -> None:
    nurse = logged_in(alice)
    listing = nurse.get("/alerts/")
    assert listing.status_code == 200
    assert [a.pk for a in listing.context["page"].object_list] == [alert.pk]
    assert alert.reason and alert.reason[:60] in listing.content.decode()  # why, at a glance
    assert not logged_in(bob).get("/alerts/?scope=mine").context["page"].object_list
    assert nurse.get(f"/alerts/{alert.pk}/").context["actions"][:2] == ["acknowledge", "start"]
    nurse.post(f"/alerts/{alert.pk}/", {"action": "acknowledge"})
    page = nurse.post(f"/alerts/{alert.pk}/", {"action": "resolve", "resolution": "handled"})
    assert page.status_code == 200  # stays with the error
    assert [m.level_tag for m in page.context["messages"]][-1] == "error"
    assert page.context["alert"].status == "acknowledged"
    nurse.post(
        f"/alerts/{alert.pk}/",
        {"action": "resolve", "resolution": "handled", "outcome": "已联系"},
    )
    resolved = nurse.get(f"/alerts/{alert.pk}/")
    assert "verify" not in resolved.context["actions"]
    # Said on the page: a supervisor verifies next (not only "add a note").
    assert (
        '<p class="alert alert-info" role="status" data-testid="awaiting-verification">'
        "等待主管核实</p>" in resolved.content.decode()
    )
    english = nurse.get(f"/alerts/{alert.pk}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Waiting for a supervisor to verify" in english
    supervisor = logged_in(bob)
    assert "awaiting-verification" not in supervisor.get(f"/alerts/{alert.pk}/").content.decode()
    waiting = supervisor.get("/alerts/?scope=all&status=resolved").context["page"].object_list
    assert [a.pk for a in waiting] == [alert.pk]
    supervisor.post(f"/alerts/{alert.pk}/", {"action": "verify"})
    alert.refresh_from_db()
    assert alert.status == "verified"
    html = supervisor.get(f"/alerts/{alert.pk}/").content.decode()
    assert "已核实" in html or "verified" in html


# ---------------------------------------------------------------- sources


@pytest.fixture
def post_op(hospital: Any, patient_factory: Any, alice: Any) -> Any:
    load_pack()
    patient = patient_factory(name="孙术后", organisation=hospital)
    plan = enrol(
        patient,
        Pathway.objects.get(code="post-op"),
        trigger="manual",
        anchor=timezone.now() - timedelta(days=1),
    )
    return plan.tasks.order_by("due_at").first()


def test_severe_pain_or_a_bad_wound_on_the_phone_raises_an_alert(post_op: Any, alice: Any) -> None:
    assert post_op.form == "wound"
    do_record_attempt(
        post_op,
        alice,
        Attempt(outcome="reached", answers={"wound": "红肿", "pain": 8, "fever": True}),
    )
    alerts = Alert.objects.filter(patient=post_op.patient).order_by("title")
    assert [(a.kind, a.severity) for a in alerts] == [("followup", "high"), ("followup", "high")]
    assert {a.title for a in alerts} == {"术后疼痛评分 8 分", "伤口异常：红肿"}
    assert all(a.task_id == post_op.pk for a in alerts)


def test_a_calm_answer_raises_nothing(post_op: Any, alice: Any) -> None:
    do_record_attempt(
        post_op, alice, Attempt(outcome="reached", answers={"wound": "愈合良好", "pain": 6})
    )
    assert not Alert.objects.filter(patient=post_op.patient).exists()


def test_an_overdue_high_risk_follow_up_raises_one_alert(
    clock: Clock, hospital: Any, patient_factory: Any
) -> None:
    load_pack()
    high = patient_factory(name="周高危", organisation=hospital, risk_tier="high")
    low = patient_factory(name="吴低危", organisation=hospital, risk_tier="low")
    for patient in (high, low):
        enrol(patient, Pathway.objects.get(code="post-op"), trigger="manual")
    clock.advance(timedelta(days=3))
    assert raise_overdue_alerts() >= 1
    alerts = Alert.objects.filter(kind=Alert.Kind.OVERDUE_TASK)
    assert {a.patient_id for a in alerts} == {high.pk}
    assert alerts.first().task.status == "open" and "逾期" in alerts.first().title
    assert raise_overdue_alerts() == 0  # once per task


def test_a_missed_revisit_raises_an_alert_and_a_visit_closes_it(
    clock: Clock, hospital: Any, patient_factory: Any, alice: Any, bob: Any
) -> None:
    missed = patient_factory(name="郑失约", organisation=hospital)
    came = patient_factory(name="冯守约", organisation=hospital)
    revisits = {}
    for patient in (missed, came):
        revisit = do_request_revisit(
            alice, patient, wanted_on=date(2026, 12, 8), department="心内科门诊"
        )
        revisits[patient.pk] = do_book_revisit(
            bob, revisit, timezone.make_aware(datetime(2026, 12, 8, 9, 0))
        )
    # Requested on the test's clock, not the machine's (the field's default is the real one).
    RevisitRequest.objects.update(requested_at=clock.now)
    clock.advance(timedelta(days=7, hours=2))
    Encounter.objects.create(patient=came, kind="outpatient", started_at=timezone.now())
    clock.advance(timedelta(days=1))
    assert flag_missed_revisits() == 1
    statuses = dict(RevisitRequest.objects.values_list("patient_id", "status"))
    assert statuses == {missed.pk: "missed", came.pk: "attended"}
    [alert] = Alert.objects.filter(kind=Alert.Kind.MISSED_REVISIT)
    assert alert.patient == missed and "心内科门诊" in alert.reason
    assert flag_missed_revisits() == 0


def test_a_booked_consultation_is_not_a_missed_visit(
    clock: Clock, hospital: Any, patient_factory: Any, alice: Any, bob: Any
) -> None:
    """A consultation may be by telephone: no visit to miss."""
    patient = patient_factory(organisation=hospital)
    asked = do_request_revisit(alice, patient, wanted_on=date(2026, 12, 8))
    RevisitRequest.objects.filter(pk=asked.pk).update(kind="consultation")
    asked.refresh_from_db()
    do_book_revisit(bob, asked, timezone.make_aware(datetime(2026, 12, 8, 9, 0)))
    clock.advance(timedelta(days=9))
    assert flag_missed_revisits() == 0
    assert not Alert.objects.filter(kind=Alert.Kind.MISSED_REVISIT).exists()


def test_a_revisit_cannot_be_booked_in_the_past(
    clock: Clock, hospital: Any, patient_factory: Any, alice: Any, bob: Any
) -> None:
    """It would be "missed" at once and raise its alert."""
    patient = patient_factory(organisation=hospital)
    revisit = do_request_revisit(alice, patient, wanted_on=date(2026, 12, 8), department="心内科")
    with pytest.raises(ValidationError, match=r"预约时间须晚于当前时间|time still to come"):
        do_book_revisit(bob, revisit, clock.now - timedelta(days=35))
    revisit.refresh_from_db()
    assert revisit.status == "requested" and revisit.appointment_at is None


def test_leads_start_on_every_alert_they_can_see(alice: Any, bob: Any) -> None:
    assert logged_in(bob).get("/alerts/").context["scope"] == "all"  # a supervisor
    assert logged_in(alice).get("/alerts/").context["scope"] == "mine"  # a nurse


def test_the_alert_history_names_each_step_in_chinese_as_an_alert_step() -> None:
    """ "resolved" of an alert is 已处理 (the diagnosis status of the same word is 已治愈)."""
    from django.utils import translation

    from careloop.followup.models import AlertEvent

    with translation.override("zh-hans"):
        labels = {a: AlertEvent(action=a).action_label for a in ("resolve", "verify", "escalate")}
    assert labels["resolve"] == "已处理"
    assert all(label and not label.isascii() for label in labels.values())


def test_the_apis_refusals_name_the_choices_in_chinese(
    alert: Alert, alice: Any, api_as: Any
) -> None:
    nurse = api_as(alice)
    nurse.headers["HTTP_ACCEPT_LANGUAGE"] = "zh-hans"
    action = nurse.post(f"/api/v1/alerts/{alert.pk}/transition", {"action": "fly"})
    assert action.status_code == 422 and action.json()["detail"].startswith("action 须为以下之一")
    status = nurse.get("/api/v1/alerts", {"status": "bogus"})  # was an empty list, 200
    assert status.status_code == 422 and "in_progress" in status.json()["detail"]
    # A patient out of reach is not found, as on /api/v1/tasks (was an empty list, 200)
    assert nurse.get("/api/v1/alerts", {"patient": 999999}).status_code == 404
    assert nurse.get("/api/v1/tasks", {"patient": 999999}).status_code == 404
    assert nurse.get("/api/v1/alerts", {"patient": alert.patient_id}).json()["count"] == 1
    for page in (0, -1):  # was echoed back while page 1 was served
        assert nurse.get("/api/v1/alerts", {"page": page}).status_code == 422
        assert nurse.get("/api/v1/tasks", {"page": page}).status_code == 422
    # Said in the reader's language, as the other field errors (was pydantic's English).
    [zero] = nurse.get("/api/v1/alerts", {"page": 0}).json()["errors"]
    assert zero == {"field": "page", "message": "不能小于 1。"}
    nobody = nurse.post(
        f"/api/v1/alerts/{alert.pk}/transition", {"action": "assign", "assignee": "nobody"}
    )
    assert nobody.status_code == 422 and "不是本机构" in nobody.json()["detail"]


def test_an_alert_raised_by_hand_is_raised_once_in_its_history(
    hospital: Any, patient_factory: Any, alice: Any
) -> None:
    """The page's own "raised" line stood above the nurse's raising step (who, why): the
    history said 发起 twice for one alert."""
    from careloop.followup.alert_sources import raise_by_hand

    patient = patient_factory(name="钱手报", organisation=hospital)
    alert = raise_by_hand(
        patient, alice, severity="high", title="血压控制不佳", reason="150/95", task=None
    )
    page = logged_in(alice).get(f"/alerts/{alert.pk}/")
    history = page.content.decode().split('data-testid="alert-history"')[1].split("</ul>")[0]
    assert history.count("<strong>发起</strong>") == 1
    assert "王爱丽" in history and "150/95" in history  # the step kept: who raised it, why
    # An alert a rule or a result raised has no raising step: the page's line stays.
    automatic = raise_alert(patient, kind=Alert.Kind.RULE, severity="high", title="t", reason="r")
    other = logged_in(alice).get(f"/alerts/{automatic.pk}/").content.decode()
    assert other.split('data-testid="alert-history"')[1].count("<strong>发起</strong>") == 1


def test_an_urgent_referral_alert_reads_as_sentences() -> None:
    """The reason ran the classification's reason into its action: "…舒张压≥110 mmHg处理：
    处理后紧急转诊…"."""
    from careloop.followup.alert_sources import findings
    from careloop.followup.models import Task

    result = {
        "urgent_referral": True,
        "classification": "控制不满意",
        "reason": "收缩压≥180 mmHg；舒张压≥110 mmHg",
        "action": "处理后紧急转诊，2周内主动随访转诊情况",
    }
    [urgent] = findings(Task(), {"symptoms": ["无症状"]}, result)
    assert urgent["reason"] == (
        "随访表判定需紧急转诊：收缩压≥180 mmHg；舒张压≥110 mmHg。"
        "处理：处理后紧急转诊，2周内主动随访转诊情况。"
    )
    referral = {
        **result,
        "urgent_referral": False,
        "referral": True,
        "reason": "连续两次控制不满意",
    }
    [refer] = findings(Task(), {}, referral)
    assert refer["reason"] == "随访表判定需转诊：连续两次控制不满意。"


def test_an_alert_sent_back_no_longer_shows_how_it_ended(
    alert: Alert, alice: Any, bob: Any
) -> None:
    """Sent back to 处理中, the page (and the API) still gave the refused resolution as the
    alert's 处理结果; it stays in the history, where the resolving step records it."""
    do_transition(alert, alice, step("acknowledge"))
    do_transition(alert, alice, step("resolve", resolution="no_action", outcome="误报"))
    alert = do_transition(alert, bob, step("reopen", note="血压仍高，需复测"))
    assert (alert.status, alert.resolution, alert.outcome) == ("in_progress", "", "")
    html = logged_in(alice).get(f"/alerts/{alert.pk}/").content.decode()
    assert 'data-testid="alert-outcome"' not in html
    assert "误报" in html.split('data-testid="alert-history"')[1]  # the earlier step kept
    detail = logged_in(alice).get(f"/alerts/{alert.pk}/").context["alert"]
    assert detail.resolution == "" and detail.outcome == ""


def test_an_alert_sent_back_before_the_fix_does_not_show_its_old_resolution(
    alert: Alert, alice: Any
) -> None:
    """Alerts sent back before the resolution was cleared on sending back still hold it:
    the page shows how an alert ended only once it is resolved or verified."""
    Alert.objects.filter(pk=alert.pk).update(
        status="in_progress", resolution="no_action", outcome="误报"
    )
    html = logged_in(alice).get(f"/alerts/{alert.pk}/").content.decode()
    assert 'data-testid="alert-outcome"' not in html
    Alert.objects.filter(pk=alert.pk).update(status="verified")
    html = logged_in(alice).get(f"/alerts/{alert.pk}/").content.decode()
    assert 'data-testid="alert-outcome">' in html and "：误报</dd>" in html
