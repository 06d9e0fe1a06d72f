"""The health plan page: drafted from the record with why each piece of advice was chosen,
edited (one section emptied, one added) and saved as a version, finalised as another;
mistakes named; a nurse reads it but may not change it."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from django.test import Client
from django.utils import translation

from careloop.audit.models import AuditEvent
from careloop.care.models import HealthPlan
from careloop.care.plans import draft_sections
from careloop.portal.links import make_token

pytestmark = pytest.mark.django_db


def signed_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def patient_page(patient: Any) -> str:
    """The patient's own home page, after the identity check."""
    token = make_token(patient.pk, "home")
    session = Client()
    session.post(f"/p/{token}/check/", {"answer": patient.birth_date.isoformat()})
    return str(session.get(f"/p/{token}/").content.decode())


def test_drafting_editing_and_finalising_a_plan(examined: Any, bob: Any, alice: Any) -> None:
    drafted = draft_sections(examined)
    sources = [s["source"] for s in drafted]
    assert "htn-salt" in sources and "lipid-diet" in sources and "dm-diet" not in sources
    assert drafted[0]["category"] == "diet"  # diet first
    salt = next(s for s in drafted if s["source"] == "htn-salt")
    assert "诊断 I10" in salt["why"] and "1级高血压" in salt["why"]

    client = signed_in(bob)
    url = f"/care/patients/{examined.pk}/plan/"
    page = client.get(url).content.decode()
    assert "限盐饮食" in page and "诊断 I10" in page
    keep = drafted[:2]
    form = {
        "goals": "血压控制在 140/90 mmHg 以下",
        "category": [s["category"] for s in keep] + ["diet", "exercise"],
        "title": [s["title"] for s in keep] + ["", "每天散步"],
        "text": [s["text"] for s in keep] + ["", "晚饭后散步 30 分钟。"],
        "source": [s["source"] for s in keep] + ["", ""],
        "status": "draft",
    }
    assert client.post(url, form).status_code == 302
    assert "my-plan" not in patient_page(examined)  # a draft is not shown to the patient
    plan = HealthPlan.objects.get(patient=examined)
    assert plan.version == 1 and plan.status == "draft" and len(plan.sections) == 3
    assert plan.sections[-1] == {
        "category": "exercise",
        "title": "每天散步",
        "text": "晚饭后散步 30 分钟。",
        "source": "",
    }
    client.post(url, {**form, "status": "final"})
    shown = patient_page(examined)
    assert 'data-testid="my-plan"' in shown and "每天散步" in shown and "140/90" in shown
    assert HealthPlan.objects.filter(patient=examined).count() == 2
    assert HealthPlan.objects.filter(patient=examined).first().status == "final"
    assert AuditEvent.objects.filter(object_type="health_plan", patient_id=examined.pk).count() == 2

    half = client.post(url, {**form, "title": ["", "", "", "只有标题"], "text": ["", "", "", ""]})
    assert "第 4 条建议须有标题和内容" in half.content.decode()
    assert 'value="只有标题"' in half.content.decode()  # what was typed is kept

    nurse = signed_in(alice)
    assert "每天散步" in nurse.get(url).content.decode()
    assert nurse.post(url, form).status_code == 403


def posted(page: str, name: str) -> list[str]:
    """The values the page's hidden inputs called ``name`` post back, in order."""
    found = re.findall(rf'<input type="hidden" name="{name}" value="([^"]*)">', page)
    return [html.unescape(value) for value in found]


def test_reasons_are_named_and_kept_through_draft_and_final(examined: Any, bob: Any) -> None:
    drafted = draft_sections(examined)
    salt = next(s for s in drafted if s["source"] == "htn-salt")
    assert "收缩压偏高" in salt["why"] and "血压分级：1级高血压" in salt["why"]
    assert "8480-6" not in salt["why"] and "bp-grade" not in salt["why"]
    lipid = next(s for s in drafted if s["source"] == "lipid-diet")
    assert "低密度脂蛋白胆固醇偏高" in lipid["why"]

    client = signed_in(bob)
    url = f"/care/patients/{examined.pk}/plan/"
    page = client.get(url).content.decode()
    why = posted(page, "why")
    assert salt["why"] in why
    form = {
        "goals": "",
        "category": [s["category"] for s in drafted] + ["diet"],
        "title": [s["title"] for s in drafted] + [""],
        "text": [s["text"] for s in drafted] + [""],
        "source": posted(page, "source"),
        "why": why,
        "status": "draft",
    }
    assert client.post(url, form).status_code == 302
    saved = HealthPlan.objects.get(patient=examined)
    assert [s.get("why", "") for s in saved.sections] == [s["why"] for s in drafted]
    shown = client.get(url).content.decode()
    assert "收缩压偏高" in shown
    # Finalising the saved draft as the page shows it keeps them again.
    form.update(source=posted(shown, "source"), why=posted(shown, "why"), status="final")
    assert client.post(url, form).status_code == 302
    final = HealthPlan.objects.filter(patient=examined).first()
    assert final.status == "final"
    assert [s.get("why", "") for s in final.sections] == [s["why"] for s in drafted]


def test_why_advice_was_chosen_is_punctuated_in_the_pages_language(examined: Any, bob: Any) -> None:
    url = f"/care/patients/{examined.pk}/plan/"
    english = signed_in(bob).get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    chinese = signed_in(bob).get(url, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "Why: " in english and "Why：" not in english
    assert "原因：" in chinese and "Why" not in chinese


def test_a_plan_drafted_from_an_english_page_names_its_reasons_in_chinese(examined: Any) -> None:
    # The plan is a Chinese document; the risk models' names are English on an English page.
    with translation.override("en"):
        salt = next(s for s in draft_sections(examined) if s["source"] == "htn-salt")
    assert "血压分级：1级高血压" in salt["why"] and "Blood pressure grade" not in salt["why"]
