"""Supervisor views: workload per person, handing over someone's open work, quality review
of completed follow-ups with a score."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape as html_unescape
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from careloop.accounts.roles import Role
from careloop.followup.models import Alert, AlertEvent, Pathway, QualityReview, Task
from careloop.followup.outcomes import Attempt, do_record_attempt
from careloop.followup.pathways import load_pack
from careloop.followup.planning import enrol
from careloop.followup.services import raise_alert
from careloop.followup.supervision import do_hand_over, do_review, review_queue, workload
from tests.factories import UserFactory
from tests.test_patients_web import logged_in


@pytest.fixture
def busy(hospital: Any, patient_factory: Any, alice: Any) -> list[Task]:
    """Two post-operative patients whose wound checks are Alice's; one alert for her."""
    load_pack()
    tasks = []
    for name in ("甲", "乙"):
        patient = patient_factory(name=f"患者{name}", organisation=hospital)
        plan = enrol(
            patient,
            Pathway.objects.get(code="post-op"),
            trigger="manual",
            anchor=timezone.now() - timedelta(days=5),
        )
        plan.tasks.update(assignee=alice)
        tasks.append(plan.tasks.order_by("due_at").first())
    raise_alert(
        tasks[0].patient, kind="rule", severity="low", title="t", reason="r", assignee_id=alice.pk
    )
    return tasks


def test_workload_counts_each_persons_open_and_done_work(
    busy: list[Task], alice: Any, bob: Any
) -> None:
    do_record_attempt(busy[0], alice, Attempt(outcome="no_answer"))
    do_record_attempt(
        busy[1], alice, Attempt(outcome="reached", answers={"wound": "愈合良好", "pain": 1})
    )
    late = Task.objects.filter(assignee=alice, status="open").exclude(pk=busy[0].pk).first()
    now = timezone.now()
    Task.objects.filter(pk=late.pk).update(
        due_at=now - timedelta(days=2), deadline=now - timedelta(hours=1)
    )
    loads = {load.user: load for load in workload(bob)}
    mine = loads[alice]
    open_now = Task.objects.filter(assignee=alice, status="open").count()
    assert mine.open_tasks == open_now > 0
    assert (mine.done, mine.attempts, mine.reached, mine.connect_rate) == (1, 2, 1, 50.0)
    assert mine.open_alerts == 1
    assert loads[bob].open_tasks == 0 and loads[bob].connect_rate is None
    # "Due today" and "overdue" as the nurse's own worklist counts them.
    from careloop.followup.worklist import counts

    own = counts(alice, "mine")
    assert (mine.due_today, mine.overdue) == (own["today"], own["overdue"])
    assert mine.overdue >= 1  # the one made late above is not also "due today"
    page = logged_in(bob).get("/worklist/team/")
    assert page.status_code == 200 and "50.0%" in page.content.decode()
    # The open-task figure links to a list of exactly those tasks (also those due later).
    link = re.search(
        rf'href="([^"]*assignee={alice.pk})" data-testid="open-tasks-of">{open_now}<',
        page.content.decode(),
    )
    assert link is not None
    listed = logged_in(bob).get(html_unescape(link[1]))
    assert listed.context["page"].paginator.count == open_now
    assert len(listed.context["page"].object_list) == min(open_now, 50)
    # The hand-over lists group people by organisation (work moves within one).
    html = page.content.decode()
    assert html.count(f'<optgroup label="{alice.organisation.name}">') == 2
    assert f'<option value="{alice.pk}">{alice}</option>' in html
    # A person's open-task count opens their tasks only.
    link = f"/worklist/?scope=organisation&amp;section=all&amp;assignee={alice.pk}"
    assert link in page.content.decode()
    theirs = logged_in(bob).get(link.replace("&amp;", "&")).context
    shown = {row.assignee_id for row in theirs["page"].object_list}
    assert shown == {alice.pk}
    assert {k: n for k, _l, n in theirs["sections"]}["all"] == theirs["page"].paginator.count
    assert logged_in(alice).get("/worklist/team/").status_code == 403


def test_hand_over_moves_open_tasks_and_alerts(
    busy: list[Task], alice: Any, bob: Any, hospital: Any, dave: Any
) -> None:
    colleague = UserFactory(organisation=hospital, role=Role.NURSE)
    with pytest.raises(PermissionDenied):
        do_hand_over(alice, alice, colleague)
    with pytest.raises(ValidationError):
        do_hand_over(bob, alice, dave)  # not in Bob's organisation
    tasks, alerts = do_hand_over(bob, alice, colleague)
    assert tasks > 0 and alerts == 1
    assert not Task.objects.filter(assignee=alice, status="open").exists()
    assert Alert.objects.get().assignee == colleague
    assert AlertEvent.objects.get().note.endswith("（工作移交）")
    response = logged_in(bob).post(
        "/worklist/team/hand-over/", {"source": colleague.pk, "target": alice.pk}, follow=True
    )
    assert Task.objects.filter(assignee=alice, status="open").count() == tasks
    assert response.status_code == 200
    said = [str(m) for m in response.context["messages"]]
    assert said == [f"已将 {tasks} 个任务和 1 条预警从{colleague}移交给{alice}。"]
    Task.objects.filter(assignee=alice).exclude(pk=busy[0].pk).update(assignee=colleague)
    english = logged_in(bob).post(
        "/worklist/team/hand-over/",
        {"source": alice.pk, "target": colleague.pk},
        follow=True,
        HTTP_ACCEPT_LANGUAGE="en",
    )
    said = [str(m) for m in english.context["messages"]]
    assert said == [f"1 task and 1 alert moved from {alice} to {colleague}."]  # not "1 tasks"


def test_quality_review_scores_a_completed_follow_up(
    busy: list[Task], alice: Any, bob: Any
) -> None:
    entry = do_record_attempt(
        busy[0], alice, Attempt(outcome="reached", answers={"wound": "愈合良好", "pain": 2})
    )
    do_record_attempt(busy[1], alice, Attempt(outcome="busy"))  # not reached: not reviewed
    assert list(review_queue(bob)) == [entry]
    listing = logged_in(bob).get("/worklist/quality/")
    assert [r.pk for r in listing.context["page"].object_list] == [entry.pk]
    with pytest.raises(PermissionDenied):
        do_review(alice, entry, {"script": 40, "content": 40, "feedback": 20})
    with pytest.raises(ValidationError) as error:
        do_review(bob, entry, {"script": 41, "content": 40, "feedback": 20})
    assert "script" in error.value.message_dict
    supervisor = logged_in(bob)
    page = supervisor.get(f"/worklist/quality/{entry.pk}/")
    assert page.status_code == 200 and "伤口" in page.content.decode()  # the script to follow
    # The script as Alice read it (her name), the answers by their labels.
    html = page.content.decode()
    assert "王爱丽" in "".join(text for _title, text in page.context["script"])
    assert "周博" not in "".join(text for _title, text in page.context["script"])
    rows = dict(page.context["answers"])
    assert rows["伤口"] == "愈合良好" and "wound" not in rows
    assert '<th scope="row" class="w-25">伤口</th>' in html
    supervisor.post(
        f"/worklist/quality/{entry.pk}/",
        {"script": 35, "content": 30, "feedback": 18, "comments": "未核对身份"},
    )
    review = QualityReview.objects.get(record=entry)
    assert (review.score, review.staff, review.reviewer) == (83, alice, bob)
    assert list(review_queue(bob)) == []
    assert {load.user: load.average_score for load in workload(bob)}[alice] == 83.0
    # Nobody reviews their own work.
    own = UserFactory(organisation=alice.organisation, role=Role.SUPERVISOR)
    task = Task.objects.filter(status="open", assignee=alice).first()
    mine = do_record_attempt(
        task, own, Attempt(outcome="reached", answers={"wound": "愈合良好", "pain": 0})
    )
    with pytest.raises(ValidationError):
        do_review(own, mine, {"script": 40, "content": 40, "feedback": 20})


def test_form_answers_are_shown_by_their_labels_and_in_words() -> None:
    from django.utils import translation

    from careloop.followup.forms import answer_rows

    answers = {"wound": "红肿", "pain": 3, "fever": True, "x": ["a", "b"]}
    with translation.override("en"):
        rows = answer_rows("wound", answers)
    assert rows == [
        ("Wound", "Red and swollen"),  # stored as the Chinese word, shown in the page's language
        ("Pain (0–10)", "3"),
        ("Fever", "yes"),
        ("x", "a, b"),
    ]
    with translation.override("zh-hans"):
        rows = answer_rows("wound", answers)
    assert rows[0] == ("伤口", "红肿") and rows[-1] == ("x", "a、b")


def test_odd_ids_in_the_address_are_ignored_not_a_server_error(bob: Any) -> None:
    client = logged_in(bob)
    assert client.get("/worklist/quality/?staff=99999999999999999999999").status_code == 200
    assert client.get("/worklist/?scope=organisation&organisation=²").status_code == 200


def test_the_review_form_speaks_the_request_language_and_is_styled(
    busy: list[Task], alice: Any, bob: Any
) -> None:
    entry = do_record_attempt(
        busy[0], alice, Attempt(outcome="reached", answers={"wound": "愈合良好", "pain": 2})
    )
    client = logged_in(bob)
    client.cookies["django_language"] = "en"
    form = client.get(f"/worklist/quality/{entry.pk}/").context["form"]
    assert str(form.fields["comments"].label) == "Comments"
    assert "form-control" in form.fields["script"].widget.attrs["class"]
    assert str(form.fields["script"].label).endswith(") (0–40)")  # not "…)（0–40）"
    client.cookies["django_language"] = "zh-hans"
    form = client.get(f"/worklist/quality/{entry.pk}/").context["form"]
    assert str(form.fields["comments"].label) != "Comments"
    assert str(form.fields["script"].label).endswith("（0–40）")


def test_the_latest_reviews_are_paged_apart_from_the_queue(
    busy: list[Task], alice: Any, bob: Any
) -> None:
    from careloop.followup.models import FollowUpRecord

    task = busy[0]
    now = timezone.now()
    records = FollowUpRecord.objects.bulk_create(
        FollowUpRecord(
            task=task,
            patient=task.patient,
            channel="phone",
            outcome="reached",
            by=alice,
            at=now - timedelta(hours=n + 1),
        )
        for n in range(80)
    )
    # 25 reviewed (two pages of reviews), 55 waiting (two pages of the queue).
    for n, entry in enumerate(records[:25]):
        QualityReview.objects.create(
            record=entry,
            staff=alice,
            script=40,
            content=40,
            feedback=n % 21,
            reviewer=bob,
            reviewed_at=now - timedelta(minutes=n),
        )
    client = logged_in(bob)
    first = client.get("/worklist/quality/")
    html = html_unescape(first.content.decode())
    assert 'href="?reviews=2"' in html and 'href="?page=2"' in html
    shown = [v.pk for v in first.context["reviews_page"].object_list]
    newest = list(QualityReview.objects.order_by("-reviewed_at").values_list("pk", flat=True))
    assert shown == newest[:20]
    assert 'aria-label="最近评审的分页"' in html
    # The second page of each, with a filter: each pager keeps the other list's page.
    second = client.get(f"/worklist/quality/?staff={alice.pk}&page=2&reviews=2")
    assert [v.pk for v in second.context["reviews_page"].object_list] == newest[20:]
    assert len(second.context["page"].object_list) == 5
    html = html_unescape(second.content.decode())
    assert f'href="?staff={alice.pk}&page=2&reviews=1"' in html
    assert f'href="?staff={alice.pk}&reviews=2&page=1"' in html
    assert 'href="?page=' not in html and 'href="?reviews=' not in html
    # Someone else's: neither their queue nor their reviews hold alice's follow-ups.
    other = client.get(f"/worklist/quality/?staff={bob.pk}")
    assert not other.context["reviews_page"].object_list and not other.context["page"].object_list


def test_the_review_shows_the_script_as_the_nurse_read_it_during_the_call(
    hospital: Any, patient_factory: Any, alice: Any, bob: Any
) -> None:
    """The review rendered the script with today's data: the next visit the call itself
    planned (下次随访在…之前 where the nurse had read 我们会提前通知您), the blood pressure it
    stored among the abnormal items, a medicine added afterwards."""
    from careloop.followup.scripts import render_script
    from careloop.patients.models import Medication

    load_pack()
    patient = patient_factory(name="孙审阅", organisation=hospital)
    Medication.objects.create(patient=patient, name="氨氯地平片", frequency="每日1次")
    plan = enrol(patient, Pathway.objects.get(code="htn-programme"), trigger="manual")
    [task] = plan.tasks.all()
    read = render_script(task, alice)  # what the task page showed during the call
    assert "下次随访我们会提前通知您" in "".join(text for _title, text in read)
    form = {"sbp": 152, "dbp": 92, "symptoms": ["无症状"], "heart_rate": 76, "weight_kg": 70}
    entry = do_record_attempt(task, alice, Attempt(outcome="reached", answers=form))
    assert plan.tasks.filter(status="open").exists()  # the next visit, planned by the call
    Medication.objects.create(patient=patient, name="缬沙坦胶囊", frequency="每日1次")
    page = logged_in(bob).get(f"/worklist/quality/{entry.pk}/")
    assert page.context["script"] == read


def test_one_persons_worklist_shows_their_open_alerts_not_everyones(
    busy: list[Task], alice: Any, bob: Any, hospital: Any, patient_factory: Any
) -> None:
    """From the team page a supervisor opens one person's tasks: the list's open alerts
    (badge and panel) were every alert of the organisation, not that person's, as the team
    page counts them."""
    colleague = UserFactory(organisation=hospital, role=Role.DOCTOR)
    raise_alert(
        patient_factory(name="丙某", organisation=hospital),
        kind="rule",
        severity="high",
        title="其他人的预警",
        reason="r",
        assignee_id=colleague.pk,
    )
    page = logged_in(bob).get(f"/worklist/?scope=organisation&section=all&assignee={alice.pk}")
    assert page.context["open_alert_count"] == 1  # Alice's one (busy), as on the team page
    assert [a.title for a in page.context["open_alerts"]] == ["t"]
    assert {load.user: load for load in workload(bob)}[alice].open_alerts == 1
    everyone = logged_in(bob).get("/worklist/?scope=organisation&section=all")
    assert everyone.context["open_alert_count"] == 2


def test_a_try_that_did_not_reach_the_patient_is_not_scored(
    busy: list[Task], alice: Any, bob: Any
) -> None:
    """The queue lists reached follow-ups only, but a no-answer try opened by its address
    could be scored, and the score counted in the nurse's average."""
    missed = do_record_attempt(busy[0], alice, Attempt(outcome="no_answer"))
    supervisor = logged_in(bob)
    assert supervisor.get(f"/worklist/quality/{missed.pk}/").status_code == 404
    scores = {"script": 10, "content": 10, "feedback": 5}
    assert supervisor.post(f"/worklist/quality/{missed.pk}/", scores).status_code == 404
    with pytest.raises(ValidationError):
        do_review(bob, missed, scores)
    assert not QualityReview.objects.exists()
    assert {load.user: load.average_score for load in workload(bob)}[alice] is None
