"""The worklist's rows (built in Python, not by the template engine) and its page count
(taken from the section counts when no other filter narrows the list)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from careloop.followup.models import Task
from tests.test_patients_web import logged_in


def _tasks(patient: Any, n: int, *, late: timedelta, **fields: Any) -> list[Task]:
    now = timezone.now()
    return Task.objects.bulk_create(
        Task(
            patient=patient,
            organisation=patient.organisation,
            title=f"电话随访 {i}",
            purpose="condition_tracking",
            channel="phone",
            channels=["phone"],
            due_at=now - late - timedelta(hours=1),
            deadline=now - late,
            **fields,
        )
        for i in range(n)
    )


def test_a_row_escapes_what_it_shows_and_says_how_late_and_how_many_tries(
    hospital: Any, patient_factory: Any, alice: Any
) -> None:
    patient = patient_factory(name="<b>李</b>&", organisation=hospital, risk_tier="high")
    _tasks(patient, 1, late=timedelta(days=2, hours=3), assignee=alice, attempts=2)
    client = logged_in(alice)
    client.cookies["django_language"] = "en"
    html = client.get("/worklist/?scope=mine&section=due").content.decode()
    assert "&lt;b&gt;李&lt;/b&gt;&amp;" in html and "<b>李" not in html
    assert "risk high" in html
    assert "overdue 2\xa0days, 3\xa0hours" in html
    assert "2 tries" in html
    assert ">电话随访 0<" in html
    # The priority: a high-risk patient (30) over a day late (15), no alert.
    assert 'title="alert 0 + risk 30 + overdue 15">45</span>' in html
    assert ">王爱丽<" in html  # the assignee


def test_the_page_count_is_the_sections_and_follows_the_filters(
    hospital: Any, patient_factory: Any, alice: Any
) -> None:
    patient = patient_factory(organisation=hospital)
    _tasks(patient, 60, late=timedelta(hours=1), assignee=alice)
    _tasks(patient, 5, late=-timedelta(days=3), assignee=alice)  # not due yet
    client = logged_in(alice)
    first = client.get("/worklist/?scope=mine&section=due").context
    assert first["page"].paginator.count == 60
    assert len(first["rows"]) == 50
    assert len(client.get("/worklist/?scope=mine&section=due&page=2").context["rows"]) == 10
    narrowed = client.get("/worklist/?scope=mine&section=due&channel=sms").context
    assert narrowed["page"].paginator.count == 0 and narrowed["rows"] == []
    assert {key: n for key, _label, n in narrowed["sections"]}["due"] == 0  # badges too


def test_the_alert_list_shows_ten_and_counts_them_all(
    hospital: Any, patient_factory: Any, alice: Any
) -> None:
    from careloop.followup.services import raise_alert

    patient = patient_factory(name="周<i>", organisation=hospital)
    client = logged_in(alice)
    raise_alert(
        patient, kind="rule", severity="high", title="血压过高", reason="测试", assignee_id=alice.pk
    )
    one = client.get("/worklist/?scope=mine&section=due")
    assert one.context["open_alert_count"] == 1
    html = one.content.decode()
    assert "周&lt;i&gt;" in html and 'data-testid="worklist-alert-link">血压过高<' in html
    for n in range(11):
        raise_alert(
            patient,
            kind="rule",
            severity="low",
            title=f"提醒 {n}",
            reason="r",
            assignee_id=alice.pk,
        )
    many = client.get("/worklist/?scope=mine&section=due").context
    assert (len(many["open_alerts"]), many["open_alert_count"]) == (10, 12)


def test_the_section_counts_are_the_sections_lengths(
    hospital: Any, patient_factory: Any, alice: Any, team: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from careloop.followup.worklist import SECTIONS, Filters, counts, worklist

    # Mid-morning: "due in two hours" is still today (at 23:00 it is tomorrow's, upcoming).
    morning = datetime(2026, 11, 23, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    monkeypatch.setattr(timezone, "now", lambda: morning)
    alice.teams.add(team)
    patient = patient_factory(organisation=hospital, care_team=team)
    _tasks(patient, 3, late=timedelta(days=4), assignee=alice)  # overdue
    _tasks(patient, 2, late=-timedelta(hours=2), assignee=alice, team=team)  # due, in time
    _tasks(patient, 4, late=-timedelta(days=3), team=team)  # upcoming, the team's queue
    _tasks(patient, 1, late=-timedelta(days=30), assignee=alice)  # later than a week
    now = timezone.now()
    for scope in ("mine", "team"):
        numbers = counts(alice, scope, now=now)
        lengths = {s: worklist(alice, Filters(scope, s), now=now).count() for s in SECTIONS}
        assert numbers == lengths, scope
    assert counts(alice, "mine", now=now)["overdue"] == 3
    assert counts(alice, "team", now=now)["upcoming"] == 4
    # With a filter, the badges count what the list shows.
    Task.objects.filter(pk=Task.objects.filter(assignee=alice).first().pk).update(channel="sms")
    by_sms = Filters("mine", channel="sms")
    numbers = counts(alice, "mine", now=now, filters=by_sms)
    lengths = {
        s: worklist(alice, Filters("mine", s, channel="sms"), now=now).count() for s in SECTIONS
    }
    assert numbers == lengths and sum(numbers.values()) >= 1


def test_someone_who_sees_no_organisation_counts_nothing(
    patient_factory: Any, hospital: Any
) -> None:
    from careloop.followup.worklist import counts
    from tests.factories import UserFactory

    _tasks(patient_factory(organisation=hospital), 2, late=timedelta(days=1))
    nobody = UserFactory(username="nobody", organisation=None)
    assert counts(nobody, "organisation") == dict.fromkeys(
        ("due", "today", "overdue", "upcoming", "all"), 0
    )


def test_the_scope_buttons_keep_the_filters(alice: Any) -> None:
    html = logged_in(alice).get("/worklist/?scope=team&section=due&channel=sms").content.decode()
    assert 'href="?scope=mine&section=due&channel=sms"' in html


def test_a_babys_row_gives_months_or_days_not_zero_years(
    hospital: Any, patient_factory: Any, alice: Any
) -> None:
    today = timezone.localdate()
    baby = patient_factory(name="小宝", organisation=hospital, birth_date=today - timedelta(days=5))
    adult = patient_factory(
        name="老张", organisation=hospital, birth_date=today.replace(year=today.year - 70)
    )
    _tasks(baby, 1, late=timedelta(hours=1), assignee=alice)
    _tasks(adult, 1, late=timedelta(hours=1), assignee=alice)
    html = logged_in(alice).get("/worklist/?scope=mine&section=due").content.decode()
    assert "男 · 5天<" in html and "· 0岁" not in html
    assert "男 · 70岁<" in html


def test_one_persons_list_says_so_and_keeps_the_person_through_filters_tabs_and_pages(
    hospital: Any, patient_factory: Any, alice: Any, bob: Any
) -> None:
    import re
    from html import unescape

    patient = patient_factory(organisation=hospital)
    _tasks(patient, 55, late=timedelta(hours=1), assignee=alice)
    _tasks(patient, 3, late=timedelta(hours=1), assignee=bob)
    page = logged_in(bob).get(f"/worklist/?scope=organisation&section=all&assignee={alice.pk}")
    html = page.content.decode()
    badge = re.search(r'data-testid="assignee-filter">(.*?)</p>', html, re.S)
    assert badge is not None and "仅显示：王爱丽的任务" in badge[1]
    remove = re.search(r'href="\?([^"]*)" [^>]*data-testid="assignee-filter-remove"', html)
    assert remove is not None and "assignee" not in remove[1]
    assert "scope=organisation" in unescape(remove[1])
    # The filter form carries the person on; so do the tabs, the scope buttons and pages.
    form = re.search(r'<form method="get".*?</form>', html, re.S)
    assert form is not None
    assert f'<input type="hidden" name="assignee" value="{alice.pk}">' in form[0]
    tabs = re.findall(r'href="([^"]*)" data-testid="section-\w+"', html)
    assert tabs and all(f"assignee={alice.pk}" in unescape(t) for t in tabs)
    pages = re.findall(r'class="page-link" href="([^"]*page=\d+)"', html)
    assert pages and all(f"assignee={alice.pk}" in unescape(p) for p in pages)
    # Without the narrowing: no badge, no hidden field.
    everyone = logged_in(bob).get("/worklist/?scope=organisation&section=all").content.decode()
    assert "assignee-filter" not in everyone and 'type="hidden" name="assignee"' not in everyone


def test_the_keyboard_hint_says_enter_opens_the_task(
    hospital: Any, patient_factory: Any, alice: Any
) -> None:
    import re

    _tasks(patient_factory(organisation=hospital), 1, late=timedelta(hours=1), assignee=alice)
    html = logged_in(alice).get("/worklist/?scope=mine").content.decode()
    hint = re.search(r'class="[^"]*kbd-hint">(.*?)</span>', html, re.S)
    assert hint is not None and "<kbd>Enter</kbd> 打开" in hint[1], hint
    assert "待处理" not in hint[1]
    client = logged_in(alice)
    client.cookies["django_language"] = "en"
    english = client.get("/worklist/?scope=mine").content.decode()
    assert "<kbd>Enter</kbd> open" in english
