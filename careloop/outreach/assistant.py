"""A draft answer from a language model the hospital runs itself (F18), for a patient's
question the knowledge base does not answer: an OpenAI-compatible chat-completions endpoint
(vLLM, Ollama, Xinference, a hospital's own gateway) at ``CARELOOP_LLM_URL``.

The draft is never sent by itself: it waits beside the reply in the inbox, marked as a draft,
for staff to check, change and send. The model is told to answer only from the knowledge
base's closest entries and to hand anything about symptoms, medicines or results to staff.
It is sent the reply's text and those entries only: no name, number or record of the patient.

    POST {CARELOOP_LLM_URL}/chat/completions
    Authorization: Bearer {CARELOOP_LLM_API_KEY}        (when set)
    {"model": …, "messages": [{"role": "system", …}, {"role": "user", "content": <reply>}],
     "temperature": 0.2, "max_tokens": 300, "stream": false}
    → {"choices": [{"message": {"role": "assistant", "content": "…"}}], …}
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings

from careloop.outreach.models.faq import ANSWER_LIMIT, FaqEntry

logger = logging.getLogger("careloop.outreach.assistant")
TIMEOUT = 30.0
HAND_OVER = "这个问题需要医生或护士为您解答，我们会尽快联系您。"
SYSTEM = (
    "你是{hospital}随访中心的助手，为工作人员起草给患者的回复，工作人员核对后才会发出。"
    "只根据下面的常见问题和答案回答，用通俗、礼貌的中文，不超过120字，不要称呼患者姓名。"
    "不要诊断，不要建议调整或停用药物，不要解读检查结果。"
    "如果问题涉及症状、身体不适、用药剂量、检查结果，或常见问题里没有答案，只回答：“{hand_over}”\n\n"
    "常见问题：\n{entries}"
)


def enabled() -> bool:
    return bool(settings.CARELOOP_LLM_URL)


def _prompt(hospital: str, entries: list[FaqEntry]) -> str:
    lines = "\n".join(f"问：{e.question}\n答：{e.answer}" for e in entries) or "（无）"
    return SYSTEM.format(hospital=hospital, hand_over=HAND_OVER, entries=lines)


def draft_answer(question: str, hospital: str, entries: list[FaqEntry]) -> str | None:
    """The model's draft for ``question`` given ``entries`` (the closest first); None when
    the endpoint is off, unreachable or answers something that is not a draft."""
    if not enabled():
        return None
    import httpx

    url = f"{settings.CARELOOP_LLM_URL}/chat/completions"
    headers = {"Content-Type": "application/json"}
    if settings.CARELOOP_LLM_API_KEY:
        headers["Authorization"] = f"Bearer {settings.CARELOOP_LLM_API_KEY}"
    body: dict[str, Any] = {
        "model": settings.CARELOOP_LLM_MODEL,
        "messages": [
            {"role": "system", "content": _prompt(hospital, entries)},
            {"role": "user", "content": question},
        ],
        "temperature": 0.2,
        "max_tokens": 300,
        "stream": False,
    }
    where = urlsplit(url)
    try:
        response = httpx.post(url, json=body, headers=headers, timeout=TIMEOUT, trust_env=False)
        response.raise_for_status()
        text = response.json()["choices"][0]["message"]["content"]
    except (httpx.HTTPError, ValueError, KeyError, IndexError, TypeError) as error:
        # Neither the question nor the answer: a patient's words stay out of the logs.
        logger.warning(
            "assistant at %s%s failed: %s", where.hostname, where.path, type(error).__name__
        )
        return None
    if not isinstance(text, str) or not text.strip():
        return None
    return text.strip()[:ANSWER_LIMIT]
