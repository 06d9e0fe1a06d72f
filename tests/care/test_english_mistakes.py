"""The care pages name a mistake in the page's language: the health plan, a programme's
targets and a stage summary's period said it in Chinese to an English reader."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from careloop.care.models import Programme, StageSummary
from careloop.care.programmes import load_programmes

pytestmark = pytest.mark.django_db

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}
ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}


def _has_chinese(text: str) -> bool:
    return any("\u4e00" <= c <= "\u9fff" for c in text)


def _with(indicator: str) -> Programme:
    """The shipped programme with a goal on ``indicator``."""
    return next(
        p for p in Programme.objects.all() if any(g["indicator"] == indicator for g in p.goals)
    )


def signed_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_a_plan_section_without_its_text_is_named_in_the_pages_language(
    examined: Any, bob: Any
) -> None:
    client, url = signed_in(bob), f"/care/patients/{examined.pk}/plan/"
    form = {"goals": "", "category": ["diet"], "title": ["Walk"], "text": [""], "source": [""]}
    english = client.post(url, {**form, "status": "draft"}, **EN).content.decode()
    assert "Advice 1 needs a title and a text." in english and "条建议" not in english
    chinese = client.post(url, {**form, "status": "draft"}, **ZH).content.decode()
    assert "第 1 条建议须有标题和内容" in chinese
    empty = {"goals": "", "status": "draft"}
    assert "A health plan needs at least one piece of advice." in (
        client.post(url, empty, **EN).content.decode()
    )


def test_a_programme_target_and_a_second_enrolment_are_refused_in_the_pages_language(
    examined: Any, bob: Any
) -> None:
    load_programmes()
    programme = Programme.objects.order_by("pk").first()
    assert programme is not None
    indicator = programme.goals[0]["indicator"]
    client, url = signed_in(bob), f"/care/patients/{examined.pk}/programmes/"
    today = timezone.localdate().isoformat()
    form = {"programme": programme.pk, "starts_on": today}
    zero = client.post(url, {**form, f"target_{indicator}": "0"}, **EN).content.decode()
    assert "Goal 1: the target must be a positive number" in zero and "目标值" not in zero
    zero = client.post(url, {**form, f"target_{indicator}": "0"}, **ZH).content.decode()
    assert "第 1 个目标：目标值须为正数" in zero
    assert client.post(url, form, **EN).status_code == 302
    again = client.post(url, form, **EN).content.decode()
    assert f"The patient is already in “{programme.name}”." in again and "项目中" not in again


def test_a_summary_period_backwards_is_refused_in_the_pages_language(
    examined: Any, bob: Any
) -> None:
    client, url = signed_in(bob), f"/care/patients/{examined.pk}/summaries/"
    backwards = {"from": "2026-06-30", "to": "2026-01-01"}
    english = client.post(url, backwards, **EN).content.decode()
    assert "the start cannot be after the end" in english
    assert "开始日期不能晚于结束日期" not in english
    assert "开始日期不能晚于结束日期" in client.post(url, backwards, **ZH).content.decode()
    assert "Dates must be YYYY-MM-DD." in client.post(url, {"from": "x"}, **EN).content.decode()


def test_a_programmes_goals_read_in_the_pages_language(examined: Any, bob: Any) -> None:
    load_programmes()
    weight = _with("steps")
    client, url = signed_in(bob), f"/care/patients/{examined.pk}/programmes/"
    client.post(url, {"programme": weight.pk, "target_steps": "9000"})
    english = client.get(url, **EN).content.decode()
    assert "Daily steps ≥ 9000 steps" in english and "每日步数" not in english
    assert "每日步数 ≥ 9000 步" in client.get(url, **ZH).content.decode()


def test_a_refused_enrolment_keeps_what_was_typed(examined: Any, bob: Any) -> None:
    load_programmes()
    programme = _with("weight")
    client, url = signed_in(bob), f"/care/patients/{examined.pk}/programmes/"
    form = {"programme": programme.pk, "starts_on": "2026-12-01"}
    form |= {"target_weight": "-5", "target_steps": "9000"}
    page = client.post(url, form, **EN).content.decode()
    assert 'data-testid="programme-error"' in page
    assert 'name="target_weight" value="-5"' in page and 'name="target_steps" value="9000"' in page
    assert 'name="starts_on" value="2026-12-01"' in page
    assert f'<option value="{programme.pk}" selected>' in page


def test_a_stage_summary_asked_for_from_an_english_page_is_written_in_chinese(
    examined: Any, bob: Any
) -> None:
    load_programmes()
    steps = _with("steps")
    client = signed_in(bob)
    today = timezone.localdate()
    client.post(f"/care/patients/{examined.pk}/programmes/", {"programme": steps.pk})
    first = (today - timezone.timedelta(days=1)).isoformat()
    client.post(
        f"/care/patients/{examined.pk}/summaries/", {"from": first, "to": today.isoformat()}, **EN
    )
    summary = StageSummary.objects.get(patient=examined)
    goals = [g["goal"] for g in summary.content["goals"]]
    assert any(g.startswith("每日步数 ≥") for g in goals), goals
