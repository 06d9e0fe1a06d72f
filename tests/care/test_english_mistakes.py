"""The care pages name a mistake in the page's language: the health plan, a programme's
targets and a stage summary's period said it in Chinese to an English reader."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from careloop.care.models import Programme
from careloop.care.programmes import load_programmes

pytestmark = pytest.mark.django_db

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}
ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}


def _has_chinese(text: str) -> bool:
    return any("\u4e00" <= c <= "\u9fff" for c in text)


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
