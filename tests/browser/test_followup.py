"""In Chromium: a nurse opens her worklist, does a phone follow-up from its script, attaches
the call recording, and sees the plan's next follow-up appear."""

from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from careloop.accounts.roles import Role
from careloop.followup.models import FollowUpRecord, Pathway, Task
from careloop.followup.pathways import load_pack
from careloop.followup.planning import enrol
from tests.browser.helpers import sign_in
from tests.factories import PatientFactory, TeamFactory, UserFactory
from tests.test_followup_web import wav_bytes

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_nurse_completes_a_phone_follow_up_with_a_recording(
    page: Any, hospital: Any, tmp_path: Path, monkeypatch: Any
) -> None:
    # Mid-morning (in the evening the day-1 call would already be past its window).
    morning = timezone.make_aware(datetime.combine(timezone.localdate(), time(10, 30)))
    monkeypatch.setattr(timezone, "now", lambda: morning)
    load_pack()
    team = TeamFactory(organisation=hospital, name="心内科随访组")
    nurse = UserFactory(
        username="nina", display_name="王护士", organisation=hospital, role=Role.NURSE
    )
    nurse.teams.add(team)
    patient = PatientFactory(
        organisation=hospital,
        care_team=team,
        name="李国强",
        sex="male",
        birth_date=timezone.localdate().replace(year=timezone.localdate().year - 78),
    )
    plan = enrol(
        patient,
        Pathway.objects.get(code="discharge-heart"),
        trigger="discharge",
        anchor=timezone.now() - timedelta(days=1, hours=2),
    )
    assert plan is not None
    recording = tmp_path / "call.wav"
    recording.write_bytes(wav_bytes(1.0))

    sign_in(page, "nina")
    page.goto("/worklist/")
    worklist = page.get_by_test_id("worklist")
    expect(worklist).to_contain_text("李国强")
    expect(worklist).to_contain_text("出院护理指导")
    worklist.get_by_test_id("task-link").first.click()

    expect(page.get_by_test_id("script")).to_contain_text("李爷爷您好，我是第一人民医院")
    page.check("input[name=outcome][value=reached]")
    page.check("#id_a-understood")
    page.set_input_files("#id_recording", str(recording))
    page.fill("#id_notes", "已讲解每日称体重")
    page.get_by_test_id("save-attempt").click()

    expect(page.get_by_test_id("task-status")).to_contain_text("已完成")
    audio = page.get_by_test_id("recording")
    expect(audio).to_have_count(1)
    played = page.evaluate(
        "async (src) => { const r = await fetch(src, {headers: {Range: 'bytes=0-'}});"
        " return [r.status, (await r.arrayBuffer()).byteLength]; }",
        audio.get_attribute("src"),
    )
    assert played == [206, len(wav_bytes(1.0))]
    # The plan moves on: the day-3 symptom check is the next open follow-up.
    plan_tasks = page.get_by_test_id("plan-tasks")
    expect(plan_tasks.get_by_role("link", name="出院第3天症状问询")).to_be_visible()
    entry = FollowUpRecord.objects.get()
    assert entry.outcome == "reached" and entry.by == nurse and entry.recording_type == "wav"
    assert Task.objects.get(plan=plan, node="care-guide").status == Task.Status.DONE


def test_worklist_keys_move_select_and_open_but_leave_a_focused_button_alone(
    page: Any, hospital: Any
) -> None:
    team = TeamFactory(organisation=hospital, name="外科随访组")
    nurse = UserFactory(
        username="kiki", display_name="柯护士", organisation=hospital, role=Role.NURSE
    )
    nurse.teams.add(team)
    patient = PatientFactory(organisation=hospital, care_team=team, name="赵术后")
    now = timezone.now()
    Task.objects.bulk_create(
        Task(
            patient=patient,
            organisation=hospital,
            team=team,
            title=f"伤口检查 {n}",
            purpose="condition_tracking",
            channel="phone",
            channels=["phone"],
            due_at=now - timedelta(hours=2 + n),
            deadline=now + timedelta(hours=20),
        )
        for n in range(2)
    )

    sign_in(page, "kiki")
    page.goto("/worklist/?scope=team&section=due")
    rows = page.locator("[data-row]")
    expect(rows.first).to_be_visible()
    page.keyboard.press("j")
    page.keyboard.press("x")
    expect(rows.first.locator("input[name=task]")).to_be_checked()
    first_task = rows.first.locator("input[name=task]").get_attribute("value")
    # Enter on the focused "take" button presses it; it does not open the highlighted row.
    page.get_by_test_id("take").focus()
    page.keyboard.press("Enter")
    expect(page.locator(".messages")).to_contain_text("柯护士")
    assert "/worklist/tasks/" not in page.url
    assert Task.objects.get(pk=first_task).assignee_id == nurse.pk
    # Enter on a highlighted row opens it.
    page.goto("/worklist/?scope=mine&section=due")
    page.keyboard.press("j")
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{page.url.split('/worklist/')[0]}/worklist/tasks/{first_task}/")


def test_bulk_assign_with_nobody_chosen_is_stopped_and_taking_still_works(
    page: Any, hospital: Any
) -> None:
    lead = UserFactory(
        username="lena", display_name="林主管", organisation=hospital, role=Role.SUPERVISOR
    )
    nurse = UserFactory(
        username="abby", display_name="艾护士", organisation=hospital, role=Role.NURSE
    )
    patient = PatientFactory(organisation=hospital, name="周术后")
    now = timezone.now()
    Task.objects.bulk_create(
        Task(
            patient=patient,
            organisation=hospital,
            title=f"伤口检查 {n}",
            purpose="condition_tracking",
            channel="phone",
            channels=["phone"],
            due_at=now - timedelta(hours=2 + n),
            deadline=now + timedelta(hours=20),
        )
        for n in range(2)
    )
    sign_in(page, "lena")
    page.goto("/worklist/?scope=organisation&section=due")
    rows = page.locator("[data-row]")
    choice = page.get_by_test_id("assign-to")
    expect(choice).to_be_disabled()
    page.keyboard.press("j")
    page.keyboard.press("x")  # ticking a row enables the list, with nobody chosen
    expect(choice).to_be_enabled()
    expect(choice.locator("option:checked")).to_have_text("—— 请选择 ——")
    page.get_by_test_id("assign").click()
    # The browser keeps the form and says why; nothing is assigned.
    assert choice.evaluate("(s) => [s.form.checkValidity(), s.validationMessage]") == [
        False,
        "请选择分派给谁。",
    ]
    assert "/worklist/" in page.url and page.locator(".messages").count() == 0
    assert not Task.objects.filter(assignee__isnull=False).exists()
    first_task = rows.first.locator("input[name=task]").get_attribute("value")
    choice.select_option(label="艾护士")
    page.get_by_test_id("assign").click()
    expect(page.locator(".messages")).to_contain_text("艾护士")
    assert Task.objects.get(pk=first_task).assignee_id == nurse.pk
    # "Take the selected" needs no one chosen in the list.
    page.keyboard.press("j")
    page.keyboard.press("x")
    expect(choice.locator("option:checked")).to_have_text("—— 请选择 ——")
    page.get_by_test_id("take").focus()
    page.keyboard.press("Enter")
    expect(page.locator(".messages")).to_contain_text("林主管")
    assert Task.objects.get(pk=first_task).assignee_id == lead.pk


def test_an_outcome_that_stops_every_plan_is_confirmed_first(page: Any, hospital: Any) -> None:
    nurse = UserFactory(
        username="dora", display_name="杜护士", organisation=hospital, role=Role.NURSE
    )
    patient = PatientFactory(organisation=hospital, name="钱老伯")
    now = timezone.now()
    task = Task.objects.create(
        patient=patient,
        organisation=hospital,
        assignee=nurse,
        title="电话随访",
        purpose="condition_tracking",
        channel="phone",
        channels=["phone"],
        due_at=now - timedelta(hours=1),
        deadline=now + timedelta(hours=20),
    )
    sign_in(page, "dora")
    page.goto(f"/worklist/tasks/{task.pk}/")
    asked: list[str] = []

    def answer(dialog: Any) -> None:
        asked.append(dialog.message)
        dialog.dismiss() if len(asked) == 1 else dialog.accept()

    page.on("dialog", answer)
    page.check("input[name=outcome][value=deceased]")
    page.get_by_test_id("save-attempt").click()
    page.wait_for_timeout(300)
    assert asked == ["这将停止该患者的所有随访计划。确定继续吗？"]
    assert FollowUpRecord.objects.count() == 0  # cancelled: nothing saved
    page.get_by_test_id("save-attempt").click()
    expect(page.get_by_test_id("task-status")).to_contain_text("已故")
    assert len(asked) == 2 and FollowUpRecord.objects.get().outcome == "deceased"


def test_accepting_a_hand_over_is_confirmed_first(
    page: Any, hospital: Any, community: Any, alice: Any
) -> None:
    """Accepting moves the patient and stops the sender's plans: the button asks first (the
    decline beside it, in the same form, does not)."""
    from careloop.followup.handoffs import do_refer
    from careloop.followup.models import Referral

    UserFactory(username="erin", organisation=community, role=Role.COORDINATOR)
    patient = PatientFactory(organisation=hospital, name="陈转诊")
    referral = do_refer(alice, patient, community, reason="病情稳定，转社区随访", transfer=True)
    sign_in(page, "erin")
    page.goto("/worklist/referrals/")
    asked: list[str] = []

    def answer(dialog: Any) -> None:
        asked.append(dialog.message)
        dialog.dismiss() if len(asked) == 1 else dialog.accept()

    page.on("dialog", answer)
    page.get_by_test_id("referral-accept").click()
    page.wait_for_timeout(300)
    assert len(asked) == 1 and asked[0].startswith("确认接收转交")
    referral.refresh_from_db()
    assert referral.status == Referral.Status.PENDING  # dismissed: nothing decided
    page.get_by_test_id("referral-accept").click()
    expect(page.get_by_test_id("referral-accept")).to_have_count(0)  # answered: off the list
    assert len(asked) == 2
    referral.refresh_from_db()
    assert referral.status == Referral.Status.ACCEPTED
