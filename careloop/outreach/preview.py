"""Seeing a message before it goes out: a template (saved or being written) rendered for a
real patient the user may see, or for a sample patient, with its length and SMS parts."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta
from types import SimpleNamespace
from typing import Any

from django.utils import timezone

from careloop.outreach.compose import OPT_OUT_FOOTER, TEMPLATE_ERROR, TemplateError, render

SMS_SINGLE = 70  # characters of a one-part Chinese SMS (signature included)
SMS_PART = 67  # characters per part of a longer one


def sms_parts(length: int) -> int:
    return 1 if length <= SMS_SINGLE else math.ceil(length / SMS_PART)


def sample_patient() -> Any:
    born = date(timezone.localdate().year - 68, 1, 1)  # 68 years old
    return SimpleNamespace(name="张桂英", sex="female", birth_date=born, organisation_id=None)


def sample_task(title: str = "出院第7天症状问询") -> Any:
    return SimpleNamespace(title=title, deadline=timezone.now() + timedelta(days=2))


@dataclass
class Preview:
    text: str = ""
    subject: str = ""
    error: str = ""
    length: int = 0
    parts: int = 0
    footer_missing: bool = False


def preview(body: str, subject: str, channel: str, context: dict[str, Any], sign: str) -> Preview:
    try:
        text, title = render(body, context), render(subject, context)
    except TemplateError as error:
        return Preview(error=str(error))
    except Exception as error:  # a filter that fails while rendering
        return Preview(error=f"{TEMPLATE_ERROR}{error}")
    shown = Preview(text=text, subject=title, length=len(text))
    if channel == "sms":
        shown.length = len(f"【{sign}】{text}") if sign else len(text)
        shown.parts = sms_parts(shown.length)
        shown.footer_missing = OPT_OUT_FOOTER not in text and "退订" not in text
    return shown
