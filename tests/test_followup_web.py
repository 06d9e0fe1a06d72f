"""The worklist, a follow-up task (script, national form, outcome, call recording) and the
tasks API, through Django's test client."""

from __future__ import annotations

import re
import struct
from datetime import date, datetime, time, timedelta
from html.parser import HTMLParser
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from careloop.accounts.roles import Role
from careloop.audit.models import AuditEvent
from careloop.clinical.models import Condition
from careloop.followup.models import FollowUpRecord, Pathway, Task
from careloop.followup.pathways import load_pack
from careloop.followup.planning import enrol
from careloop.followup.services import raise_alert
from careloop.followup.triggers import on_diagnosis
from tests.factories import UserFactory
from tests.test_patients_web import logged_in


def wav_bytes(seconds: float = 0.5) -> bytes:
    """A real (silent) 8 kHz mono 16-bit WAV file."""
    frames = int(8000 * seconds)
    data = b"\x00\x00" * frames
    header = b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVE"
    fmt = b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, 8000, 16000, 2, 16)
    return header + fmt + b"data" + struct.pack("<I", len(data)) + data


@pytest.fixture
def programme(cardiology: Any, patient_factory: Any, carol: Any) -> Task:
    """张… aged 66, with hypertension: the programme's first visit, due now, for Carol."""
    load_pack()
    patient = patient_factory(
        name="张秀英",
        sex="female",
        birth_date=date(1960, 5, 1),
        organisation=cardiology,
        responsible_doctor=carol,
    )
    Condition.objects.create(patient=patient, icd10_code="I10", name="原发性高血压")
    [plan] = on_diagnosis([patient.pk], now=timezone.now() - timedelta(days=7))
    return plan.tasks.get()


def test_the_worklist_orders_by_priority_and_shows_the_score(
    hospital: Any, patient_factory: Any, alice: Any, team: Any, monkeypatch: Any
) -> None:
    # Mid-morning: today's wound check is due (in the evening it would be tomorrow's).
    morning = timezone.make_aware(datetime.combine(timezone.localdate(), time(10, 30)))
    monkeypatch.setattr(timezone, "now", lambda: morning)
    load_pack()
    alice.teams.add(team)
    quiet = patient_factory(name="钱平安", organisation=hospital, care_team=team)
    urgent = patient_factory(name="孙急", organisation=hospital, care_team=team, risk_tier="high")
    post_op = Pathway.objects.get(code="post-op")
    for patient in (quiet, urgent):
        enrol(patient, post_op, trigger="manual", anchor=timezone.now() - timedelta(days=2))
    raise_alert(urgent, kind="rule", severity="high", title="血压过高", reason="测试")
    page = logged_in(alice).get("/worklist/?scope=team&section=due")
    assert page.status_code == 200
    rows = page.context["page"].object_list
    assert [t.patient__name for t in rows][:1] == ["孙急"]
    first = rows[0]
    assert (first.alert_points, first.risk_points) == (60, 30)
    assert first.priority == first.alert_points + first.risk_points + first.overdue_points
    html = page.content.decode()
    assert "孙急" in html and f">{first.priority}<" in html
    assert page.context["open_alert_count"] == 1
    # Filters and sections.
    assert (
        not logged_in(alice).get("/worklist/?scope=team&channel=video").context["page"].object_list
    )
    assert AuditEvent.objects.filter(actor=alice, object_type="task", action="list").exists()


def test_bulk_assign_needs_the_permission(
    hospital: Any, patient_factory: Any, alice: Any, bob: Any, team: Any
) -> None:
    load_pack()
    patient = patient_factory(organisation=hospital, care_team=team)
    plan = enrol(patient, Pathway.objects.get(code="post-op"), trigger="manual")
    assert plan is not None
    ids = [str(pk) for pk in plan.tasks.values_list("pk", flat=True)[:3]]
    refused = logged_in(alice).post("/worklist/assign/", {"task": ids, "assignee": str(bob.pk)})
    assert refused.status_code == 403
    logged_in(bob).post("/worklist/assign/", {"task": ids, "assignee": str(alice.pk)})
    assert Task.objects.filter(assignee=alice).count() == 3
    logged_in(alice).post("/worklist/assign/", {"task": ids[:1], "assignee": "me"})
    assert Task.objects.filter(assignee=alice).count() == 3
    english = logged_in(bob).post(
        "/worklist/assign/",
        {"task": ids[:1], "assignee": str(alice.pk)},
        follow=True,
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert [str(m) for m in english.context["messages"]] == [f"1 task assigned to {alice}."]
    two = logged_in(bob).post(
        "/worklist/assign/", {"task": ids[:2], "assignee": str(alice.pk)}, follow=True
    )
    assert [str(m) for m in two.context["messages"]] == [f"已将 2 个任务分派给 {alice}。"]
    # "Take the selected" with someone chosen in the assign list: Bob takes them himself.
    logged_in(bob).post("/worklist/assign/", {"task": ids[:2], "assignee": ["me", str(alice.pk)]})
    assert set(Task.objects.filter(pk__in=ids[:2]).values_list("assignee", flat=True)) == {bob.pk}


def test_bulk_actions_with_no_task_ticked_ask_for_one_and_do_nothing(
    hospital: Any, patient_factory: Any, alice: Any, bob: Any, team: Any
) -> None:
    load_pack()
    patient = patient_factory(organisation=hospital, care_team=team)
    enrol(patient, Pathway.objects.get(code="post-op"), trigger="manual")
    client = logged_in(bob)
    back = "/worklist/?scope=organisation"
    for posted in (
        {"assignee": "me", "next": back},  # 领取所选
        {"next": back},  # 分派所选: the list stays disabled until a row is ticked
        {"assignee": str(alice.pk), "next": back},
    ):
        page = client.post("/worklist/assign/", posted, follow=True)
        said = [(m.level_tag, str(m)) for m in page.context["messages"]]
        assert said == [("warning", "请先勾选任务。")], said
    assert not Task.objects.filter(assignee__isnull=False).exists()
    english = client.post(
        "/worklist/assign/", {"assignee": "me"}, follow=True, HTTP_ACCEPT_LANGUAGE="en"
    )
    assert [str(m) for m in english.context["messages"]] == ["Select at least one task first."]
    # Back to the worklist only: never to another site named in "next".
    for elsewhere in ("https://evil.example/", "//evil.example/worklist/"):
        away = client.post("/worklist/assign/", {"assignee": "me", "next": elsewhere})
        assert away["Location"] == "/worklist/", elsewhere


def test_bulk_assign_asks_whom_instead_of_taking_the_first_name(
    hospital: Any, patient_factory: Any, alice: Any, bob: Any, team: Any
) -> None:
    load_pack()
    patient = patient_factory(organisation=hospital, care_team=team)
    enrol(patient, Pathway.objects.get(code="post-op"), trigger="manual")
    client = logged_in(bob)
    back = "/worklist/?scope=organisation&section=all"
    html = client.get(back).content.decode()
    select = re.search(r'<select id="assign-to"[^>]*>(.*?)</select>', html, re.S)
    assert select is not None
    assert " required" in select[0].split(">", 1)[0]
    # Nobody is chosen until the supervisor chooses.
    options = re.findall(r'<option value="([^"]*)"( selected)?>([^<]*)</option>', select[1])
    assert options[0] == ("", " selected", "—— 请选择 ——")
    assert not any(chosen for _value, chosen, _name in options[1:])
    assert {value for value, _c, _n in options[1:]} >= {str(alice.pk), str(bob.pk)}
    assert 'data-required-message="请选择分派给谁。"' in select[0]
    # Taking the selected does not need anyone chosen in the list.
    take = re.search(r'<button[^>]*data-testid="take"[^>]*>', html)
    assert take is not None and "formnovalidate" in take[0]
    english = client.get(back, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert '<option value="" selected>— choose —</option>' in english
    # Sent without a choice anyway (no script, an old page): said, and nothing assigned.
    ids = [str(pk) for pk in Task.objects.values_list("pk", flat=True)[:2]]
    page = client.post(
        "/worklist/assign/", {"task": ids, "assignee": "", "next": back}, follow=True
    )
    said = [(m.level_tag, str(m)) for m in page.context["messages"]]
    assert said == [("error", "请选择分派给谁。")], said
    assert not Task.objects.filter(assignee__isnull=False).exists()


def test_results_on_the_task_and_alert_pages_show_their_unit_once(
    programme: Task, carol: Any
) -> None:
    from django.db import transaction

    from careloop.clinical.assessment import ResultInput
    from careloop.clinical.services import do_record_results
    from careloop.followup.models import Alert

    with transaction.atomic():
        do_record_results(
            programme.patient,
            None,
            [ResultInput("葡萄糖", timezone.now(), loinc="14749-6", value=2.1, unit="mmol/L")],
            source="manual",
            source_label="测试",
        )
    client = logged_in(carol)
    task_page = client.get(f"/worklist/tasks/{programme.pk}/").content.decode()
    alert = Alert.objects.get(kind="critical_value")
    alert_page = client.get(f"/alerts/{alert.pk}/").content.decode()
    for html in (task_page, alert_page):
        assert "2.1 mmol/L" in html and "mmol/L mmol/L" not in html
        assert "危急低值" in html


def test_a_task_shows_a_personalised_script(programme: Task, carol: Any) -> None:
    page = logged_in(carol).get(f"/worklist/tasks/{programme.pk}/")
    assert page.status_code == 200
    assert not page.context["script_drafted"]  # the pathway's own words, not a draft
    script = dict(page.context["script"])
    assert script["开场白"].startswith("张阿姨您好，我是第一人民医院")
    assert "李可" in script["开场白"]
    assert "苯磺酸" not in script["康复指导"] and "请按医嘱按时服药" in script["康复指导"]
    assert list(script)[:3] == ["开场白", "问题询问", "康复指导"]
    english = logged_in(carol).get(f"/worklist/tasks/{programme.pk}/", HTTP_ACCEPT_LANGUAGE="en")
    titles = [title for title, _text in english.context["script"]]
    assert titles[:3] == ["Opening", "Questions", "Advice"], titles
    assert set(titles) <= {"Opening", "Questions", "Advice", "Revisit reminder", "Closing"}
    assert page.context["answers_form"] is not None  # the national hypertension form
    from careloop.followup.views import METHOD_OF_CHANNEL

    assert programme.channel in METHOD_OF_CHANNEL, programme.channel
    # 随访方式 as the task's channel suggests it.
    assert page.context["answers_form"].fields["method"].initial == METHOD_OF_CHANNEL.get(
        programme.channel
    )


def test_the_script_names_the_programmes_own_next_visit(programme: Task, carol: Any) -> None:
    """A hypertension visit's script gives the plan's next visit when it comes before the
    next revisit reminder (of another plan), not the reminder's day."""
    now = timezone.now()

    def coming(days: int, **fields: Any) -> None:
        Task.objects.create(
            patient=programme.patient,
            organisation=programme.organisation,
            channel="phone",
            channels=["phone"],
            due_at=now + timedelta(days=days),
            deadline=now + timedelta(days=days + 2),
            **fields,
        )

    coming(20, title="复查提醒", purpose="revisit_reminder")
    page = logged_in(carol).get(f"/worklist/tasks/{programme.pk}/")
    reminder = timezone.localtime(now + timedelta(days=20))
    assert f"下次随访在{reminder:%-m月%-d日}之前" in dict(page.context["script"])["复诊提醒"]
    coming(10, title="高血压随访", purpose=programme.purpose, plan=programme.plan, node="next")
    page = logged_in(carol).get(f"/worklist/tasks/{programme.pk}/")
    visit = timezone.localtime(now + timedelta(days=10))
    assert f"下次随访在{visit:%-m月%-d日}之前" in dict(page.context["script"])["复诊提醒"]


def test_answers_typed_before_a_missed_call_are_said_not_kept(programme: Task, carol: Any) -> None:
    client = logged_in(carol)
    missed = {"outcome": "no_answer", "a-method": "电话", "a-sbp": "150"}
    page = client.post(f"/worklist/tasks/{programme.pk}/", missed, follow=True)
    said = [str(m) for m in page.context["messages"]]
    assert any("未保存" in m for m in said), said
    quiet = client.post(
        f"/worklist/tasks/{programme.pk}/", {"outcome": "busy", "a-method": "电话"}, follow=True
    )
    assert not any("未保存" in str(m) for m in quiet.context["messages"])  # nothing typed


class _UntouchedForm(HTMLParser):
    """What a browser posts for the answers fieldset when nobody touches it: each list's
    selected option (else its first), ticked boxes, filled inputs."""

    def __init__(self) -> None:
        super().__init__()
        self.posted: dict[str, list[str]] = {}
        self.select: str | None = None
        self.options: list[tuple[str, bool]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        name = a.get("name") or ""
        if tag == "select" and name.startswith("a-"):
            self.select, self.options = name, []
        elif tag == "option" and self.select:
            self.options.append((a.get("value") or "", "selected" in a))
        elif tag == "input" and name.startswith("a-"):
            if a.get("type") in ("checkbox", "radio") and "checked" not in a:
                return
            if a.get("value"):
                self.posted.setdefault(name, []).append(a["value"] or "on")

    def handle_endtag(self, tag: str) -> None:
        if tag == "select" and self.select:
            chosen = [v for v, on in self.options if on] or [v for v, _ in self.options[:1]]
            if chosen and chosen[0]:
                self.posted[self.select] = chosen[:1]
            self.select = None


def test_a_missed_call_with_the_form_untouched_warns_of_nothing(
    programme: Task, carol: Any
) -> None:
    client = logged_in(carol)
    parser = _UntouchedForm()
    parser.feed(client.get(f"/worklist/tasks/{programme.pk}/").content.decode())
    untouched = parser.posted
    assert untouched.get("a-medication_adherence") == ["规律"]  # the list's preset
    page = client.post(
        f"/worklist/tasks/{programme.pk}/", {"outcome": "no_answer", **untouched}, follow=True
    )
    said = [str(m) for m in page.context["messages"]]
    assert said and not any("未保存" in m for m in said), said
    # Choosing another adherence is an answer typed: the warning stays.
    changed = {**untouched, "outcome": "busy", "a-medication_adherence": "间断"}
    page = client.post(f"/worklist/tasks/{programme.pk}/", changed, follow=True)
    assert any("未保存" in str(m) for m in page.context["messages"])


def test_reached_with_the_national_form_classifies_and_plans_the_next_visit(
    programme: Task, carol: Any
) -> None:
    form = {
        "outcome": "reached",
        "a-method": "电话",
        "a-sbp": "150",
        "a-dbp": "95",
        "a-symptoms": ["无症状"],
        "a-medication_adherence": "规律",
        "recording": SimpleUploadedFile("call.wav", wav_bytes(), content_type="audio/wav"),
    }
    response = logged_in(carol).post(f"/worklist/tasks/{programme.pk}/", form)
    assert response.status_code == 302
    programme.refresh_from_db()
    assert programme.status == Task.Status.DONE
    entry = FollowUpRecord.objects.get(task=programme)
    assert entry.classification == "控制不满意" and entry.answers["sbp"] == 150
    assert entry.recording_type == "wav"
    following = Task.objects.get(plan=programme.plan, status=Task.Status.OPEN)
    assert (timezone.localtime(following.due_at).date() - timezone.localdate()).days == 14
    # The recording plays with range requests, and every play is audited.
    client = logged_in(carol)
    whole = client.get(f"/worklist/records/{entry.pk}/recording/")
    assert whole.status_code == 200 and whole["Content-Type"] == "audio/wav"
    assert b"".join(whole.streaming_content) == wav_bytes()
    part = client.get(f"/worklist/records/{entry.pk}/recording/", HTTP_RANGE="bytes=4-11")
    assert part.status_code == 206 and part["Content-Range"] == f"bytes 4-11/{len(wav_bytes())}"
    assert b"".join(part.streaming_content) == wav_bytes()[4:12]
    outside = client.get(f"/worklist/records/{entry.pk}/recording/", HTTP_RANGE="bytes=99999-")
    assert outside.status_code == 416
    plays = AuditEvent.objects.filter(object_type="recording", object_id=str(entry.pk))
    assert plays.count() == 1  # the seek (bytes=4-) is not a new play


def test_a_wrong_form_or_a_fake_recording_is_refused_with_reasons(
    programme: Task, carol: Any
) -> None:
    fake = SimpleUploadedFile("call.mp3", b"<html>not audio</html>" * 10)
    response = logged_in(carol).post(
        f"/worklist/tasks/{programme.pk}/",
        {"outcome": "reached", "a-method": "电话", "a-sbp": "80", "a-dbp": "95", "recording": fake},
    )
    assert response.status_code == 200
    assert response.context["outcome_form"].errors["recording"]
    assert response.context["answers_form"].errors["dbp"]
    assert response.context["answers_form"].errors["medication_adherence"]
    assert not FollowUpRecord.objects.exists()


def test_a_good_recording_sent_with_a_missing_answer_asks_to_be_chosen_again(
    programme: Task, carol: Any
) -> None:
    """The nurse attached the call's recording but left the blood pressure empty: the page
    comes back with the file input empty (a browser never keeps a chosen file), so it says
    the recording was not kept rather than letting a later save drop it silently."""
    good = SimpleUploadedFile("call.wav", wav_bytes(), content_type="audio/wav")
    response = logged_in(carol).post(
        f"/worklist/tasks/{programme.pk}/",
        {
            "outcome": "reached",
            "a-method": "电话",
            "a-medication_adherence": "规律",
            "recording": good,
        },
    )
    assert response.status_code == 200
    assert response.context["answers_form"].errors["sbp"]
    [said] = response.context["outcome_form"].errors["recording"]
    assert "请重新选择录音文件" in said
    assert not FollowUpRecord.objects.exists()


def test_a_fake_recording_on_a_missed_call_names_only_the_recording(
    programme: Task, carol: Any
) -> None:
    fake = SimpleUploadedFile("call.wav", b"<html>not audio</html>" * 10)
    response = logged_in(carol).post(
        f"/worklist/tasks/{programme.pk}/",
        {"outcome": "no_answer", "a-method": "电话", "a-sbp": "150", "recording": fake},
    )
    assert response.status_code == 200
    assert response.context["outcome_form"].errors["recording"]
    page = response.content.decode()
    assert not response.context["answers_form"].errors  # the form is for a reached call
    assert 'value="150"' in page  # what was typed is shown again
    assert not FollowUpRecord.objects.exists()


def test_no_answer_needs_no_form(programme: Task, carol: Any) -> None:
    response = logged_in(carol).post(f"/worklist/tasks/{programme.pk}/", {"outcome": "no_answer"})
    assert response.status_code == 302
    programme.refresh_from_db()
    assert (programme.status, programme.attempts) == (Task.Status.OPEN, 1)
    logged_in(carol).post(f"/worklist/tasks/{programme.pk}/", {"outcome": "refused"})
    programme.refresh_from_db()  # the closing try counts too (the API showed 0 after one call)
    assert (programme.status, programme.attempts) == (Task.Status.DONE, 2)


def test_staff_outside_the_patients_organisation_get_404(programme: Task, dave: Any) -> None:
    assert logged_in(dave).get(f"/worklist/tasks/{programme.pk}/").status_code == 404


def test_tasks_api_lists_and_records_outcomes(programme: Task, carol: Any, api_as: Any) -> None:
    api = api_as(carol)
    listed = api.get("/api/v1/tasks", {"patient": programme.patient_id, "status": "open"})
    assert listed.status_code == 200
    [item] = listed.json()["results"]
    assert item["pathway"] == "htn-programme" and item["channel"] == "clinic"
    assert item["due_at"].endswith("+08:00") or item["due_at"].endswith("Z")
    long = api.post(
        f"/api/v1/tasks/{programme.pk}/outcome", {"outcome": "busy", "notes": "忙" * 2001}
    )
    assert long.status_code == 422 and long.json()["errors"][0]["field"] == "notes"
    bad = api.post(f"/api/v1/tasks/{programme.pk}/outcome", {"outcome": "reached", "answers": {}})
    assert bad.status_code == 422
    assert "answers.sbp" in {e["field"] for e in bad.json()["errors"]}
    wrong = api.post(
        f"/api/v1/tasks/{programme.pk}/outcome",
        {
            "outcome": "reached",
            "answers": {"method": "门诊", "sbp": 128, "dbp": 78, "medication_adherence": "按时"},
        },
    )
    [problem] = [e for e in wrong.json()["errors"] if e["field"] == "answers.medication_adherence"]
    assert "规律, 间断, 不服药" in problem["message"]
    done = api.post(
        f"/api/v1/tasks/{programme.pk}/outcome",
        {
            "outcome": "reached",
            "answers": {"method": "门诊", "sbp": 128, "dbp": 78, "medication_adherence": "规律"},
        },
    )
    assert done.status_code == 201
    assert done.json()["classification"] == "控制满意"
    assert done.json()["task"]["status"] == "done"
    again = api.post(f"/api/v1/tasks/{programme.pk}/outcome", {"outcome": "busy"})
    assert again.status_code == 409
    mine = api.get("/api/v1/tasks", {"assignee": "me", "status": "open"}).json()
    assert mine["count"] == 1  # the next visit, in 90 days, for the responsible doctor


def test_a_nurse_without_follow_up_permission_is_refused(hospital: Any, api_as: Any) -> None:
    outsider = UserFactory(organisation=hospital, role=Role.ADMIN)
    outsider.groups.clear()
    assert api_as(outsider).get("/api/v1/tasks").status_code == 403


def test_the_worklist_narrows_to_an_organisation_and_those_below_it(
    hospital: Any, cardiology: Any, community: Any, patient_factory: Any, bob: Any
) -> None:
    load_pack()
    post_op = Pathway.objects.get(code="post-op")
    for name, org in (("王院本部", hospital), ("李心内", cardiology)):
        patient = patient_factory(name=name, organisation=org)
        enrol(patient, post_op, trigger="manual", anchor=timezone.now() - timedelta(days=1))
    supervisor = logged_in(bob)
    page = supervisor.get("/worklist/?scope=organisation&section=upcoming")
    assert [pk for pk, _name in page.context["organisations"]] == [hospital.pk, cardiology.pk]
    both = {t.patient__name for t in page.context["page"].object_list}
    assert both == {"王院本部", "李心内"}
    only = supervisor.get(
        f"/worklist/?scope=organisation&section=upcoming&organisation={cardiology.pk}"
    )
    assert {t.patient__name for t in only.context["page"].object_list} == {"李心内"}
    above = supervisor.get(
        f"/worklist/?scope=organisation&section=upcoming&organisation={hospital.pk}"
    )
    assert {t.patient__name for t in above.context["page"].object_list} == both
    elsewhere = supervisor.get(
        f"/worklist/?scope=organisation&section=upcoming&organisation={community.pk}"
    )
    assert not elsewhere.context["page"].object_list  # outside Bob's scope: nothing


def test_save_and_open_next_goes_to_the_teams_next_task_or_back_to_the_worklist(
    hospital: Any, patient_factory: Any, alice: Any, team: Any, monkeypatch: Any
) -> None:
    """Alice has no task of her own: the next one comes from her team's list (as her
    worklist does); with none left she is taken back to the worklist, and told so."""
    morning = timezone.make_aware(datetime.combine(timezone.localdate(), time(10, 30)))
    monkeypatch.setattr(timezone, "now", lambda: morning)
    load_pack()
    alice.teams.add(team)
    for name in ("钱平安", "孙顺"):
        patient = patient_factory(name=name, organisation=hospital, care_team=team)
        start = morning - timedelta(days=2)
        enrol(patient, Pathway.objects.get(code="post-op"), trigger="manual", anchor=start)
    first, *others = Task.objects.filter(due_at__lt=morning + timedelta(hours=12))
    assert others and first.assignee_id is None
    client = logged_in(alice)
    moved = client.post(f"/worklist/tasks/{first.pk}/", {"outcome": "no_answer", "then": "next"})
    assert moved.status_code == 302
    assert moved.url in {f"/worklist/tasks/{task.pk}/" for task in others}
    Task.objects.exclude(pk=first.pk).update(status=Task.Status.CANCELLED)
    back = client.post(
        f"/worklist/tasks/{first.pk}/", {"outcome": "no_answer", "then": "next"}, follow=True
    )
    assert back.redirect_chain[-1][0] == "/worklist/"
    assert "没有其他到期的任务" in back.content.decode()


def test_two_uncontrolled_visits_refer_also_after_one_classified_adverse_reaction(
    programme: Task, carol: Any
) -> None:
    """The first visit was classified 不良反应 (the form's single choice), its BP uncontrolled;
    a second uncontrolled visit is the second in a row: referral (REFERENCE §1.1)."""
    from careloop.followup.outcomes import classify

    earlier = FollowUpRecord.objects.create(
        task=programme,
        patient=programme.patient,
        channel="phone",
        outcome="reached",
        form="htn",
        classification="不良反应",
        assessment={"classification": "不良反应", "controlled": False},
        at=timezone.now() - timedelta(days=14),
    )
    answers = {"sbp": 152, "dbp": 96, "symptoms": ["无症状"]}
    fields = {f.attname: getattr(programme, f.attname) for f in Task._meta.concrete_fields[1:]}
    earlier.task = Task.objects.create(**{**fields, "occurrence": programme.occurrence + 100})
    earlier.save()  # the visit before, of another task
    result = classify(programme, answers)
    assert result is not None and result["classification"] == "控制不满意"
    assert result["referral"] is True
    earlier.assessment = {"classification": "不良反应", "controlled": True}
    earlier.save()
    assert classify(programme, answers)["referral"] is False  # type: ignore[index]


def test_the_diabetes_forms_urgent_referral_items_can_be_recorded(
    programme: Task, carol: Any
) -> None:
    """A persistent heart rate over 100, a temperature over 39 °C, or another condition the
    clinic cannot manage is an urgent referral (REFERENCE §1.2): the form has them."""
    from careloop.followup.forms import DmForm
    from careloop.followup.outcomes import classify

    programme.form = "dm"
    base = {"method": "门诊", "sbp": 128, "dbp": 78, "fpg": 6.2, "sample": "venous"}
    base |= {"medication_adherence": "规律"}
    fast = DmForm({**base, "heart_rate_persistent": "on"})
    assert not fast.is_valid() and "heart_rate" in fast.errors  # which rate, then
    cases = [
        ({"heart_rate": 120}, False),
        ({"heart_rate": 120, "heart_rate_persistent": "on"}, True),
        ({"temperature_c": 39.0}, False),
        ({"temperature_c": 39.5}, True),
        ({"other_emergency": "on"}, True),
    ]
    for extra, urgent in cases:
        form = DmForm({**base, **extra})
        assert form.is_valid(), form.errors
        result = classify(programme, form.answers())
        assert result is not None and result["urgent_referral"] is urgent, extra


def test_the_care_guide_topics_are_shown_in_the_users_language(
    cardiology: Any, patient_factory: Any, carol: Any, monkeypatch: Any
) -> None:
    from careloop.followup.pathways import do_save_pathway

    # Mid-morning: the guide is due today (enrolled after its window it was not planned today).
    morning = timezone.make_aware(datetime.combine(timezone.localdate(), time(10, 30)))
    monkeypatch.setattr(timezone, "now", lambda: morning)

    pathway, _ = do_save_pathway(
        None,
        "guide-only",
        {
            "name": "出院指导",
            "definition": {
                "trigger": {"kind": "manual"},
                "nodes": [
                    {
                        "key": "guide",
                        "title": "出院护理指导",
                        "purpose": "rehab_guidance",
                        "role": "doctor",
                        "form": "care_guide",
                    }
                ],
            },
        },
    )
    patient = patient_factory(organisation=cardiology, responsible_doctor=carol)
    plan = enrol(patient, pathway, trigger="manual")
    assert plan is not None
    task = plan.tasks.get()
    url = f"/worklist/tasks/{task.pk}/"
    chinese = logged_in(carol).get(url).content.decode()
    assert "体重监测" in chinese and "紧急情况处理" in chinese
    english = logged_in(carol).get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    for label in (
        "Medication",
        "Diet",
        "Activity",
        "Weight monitoring",
        "Wound care",
        "Revisit date",
        "What to do in an emergency",
    ):
        assert label in english
    for stored in ("用药", "饮食", "体重监测", "紧急情况处理"):  # still the values posted back
        assert f'value="{stored}"' in english
        assert stored not in english.replace(f'value="{stored}"', "")


def test_the_task_page_speaks_chinese_in_its_history_and_requested_revisits(
    programme: Task, carol: Any
) -> None:
    """The tries were headed 尝试次数 (a count, as in the team table) over a list of them, and
    a requested revisit read "心内科: 已申请" with an English colon."""
    client = logged_in(carol)
    wanted = (timezone.localdate() + timedelta(days=5)).isoformat()
    client.post(
        f"/worklist/tasks/{programme.pk}/revisit/",
        {"revisit-wanted_on": wanted, "revisit-department": "心内科", "revisit-reason": "复查"},
    )
    html = client.get(f"/worklist/tasks/{programme.pk}/").content.decode()
    assert f"{wanted} 心内科：已申请" in html and "心内科:" not in html
    tries = html.split('data-testid="attempts"')[1]
    assert '<h2 class="card-title">随访记录</h2>' in tries and "尝试次数" not in tries
    english = client.get(f"/worklist/tasks/{programme.pk}/", HTTP_ACCEPT_LANGUAGE="en")
    assert '<h2 class="card-title">Attempts</h2>' in english.content.decode()


def test_a_plan_stopped_as_the_patient_died_stops_the_others_and_records_the_death(
    programme: Task, carol: Any
) -> None:
    """Stopping one plan with 已故 left the patient's other plans calling them, and the
    record saying they were alive."""
    patient = programme.patient
    other = enrol(patient, Pathway.objects.get(code="post-op"), trigger="manual")
    assert other is not None and other.tasks.filter(status=Task.Status.OPEN).exists()
    response = logged_in(carol).post(
        f"/worklist/plans/{programme.plan_id}/stop/", {"reason": "deceased", "note": ""}
    )
    assert response.status_code == 302
    patient.refresh_from_db()
    assert patient.deceased_on == timezone.localdate()
    assert not patient.plans.filter(status="active").exists()
    assert not Task.objects.filter(patient=patient, status=Task.Status.OPEN).exists()
    other.refresh_from_db()
    assert other.stop_reason == "deceased"


def test_the_worklists_alerts_show_the_most_severe_first(
    hospital: Any, patient_factory: Any, alice: Any
) -> None:
    """The worklist's card of open alerts went by deadline alone: a fresh 危急值 came below
    day-old medium alerts, and off the card when ten were waiting."""
    late = timezone.now() - timedelta(days=1)
    for n in range(10):
        raise_alert(
            patient_factory(organisation=hospital),
            kind="manual",
            severity="medium",
            title=f"血压偏高{n}",
            reason="收缩压 150 mmHg",
            assignee_id=alice.pk,
            due_in=late - timezone.now(),
        )
    raise_alert(
        patient_factory(organisation=hospital),
        kind="critical_value",
        severity="critical",
        title="危急值：血钾 6.8",
        reason="血钾 6.8 mmol/L",
        assignee_id=alice.pk,
    )
    page = logged_in(alice).get("/worklist/?scope=mine")
    shown = [a.title for a in page.context["open_alerts"]]
    assert shown[0] == "危急值：血钾 6.8" and len(shown) == 10
    assert page.context["open_alert_count"] == 11
