"""Drafts from the hospital's own language model (F18): a question the knowledge base does
not answer gets a draft for staff, asked of an OpenAI-compatible endpoint with the reply's
words and the closest entries only, never sent by itself."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from django.test import Client
from django_tasks_db.models import DBTaskResult

from careloop.outreach.faq_pack import load_faq_pack
from careloop.outreach.models import Message, Reply
from careloop.outreach.replies import receive
from careloop.outreach.tasks import draft_reply
from tests.outreach.conftest import ProviderServer

pytestmark = pytest.mark.django_db
QUESTION = "请问医院食堂几点开门？我复查那天想在医院吃早饭"
DRAFT = "您好，复查抽血需要空腹，请抽血后再用早餐。食堂开放时间请咨询服务台。"


@pytest.fixture
def model(settings: Any) -> Any:
    server = ProviderServer()
    server.answer = lambda _seen: (
        200,
        {"id": "c1", "choices": [{"index": 0, "message": {"role": "assistant", "content": DRAFT}}]},
    )
    settings.CARELOOP_LLM_URL = server.url + "/v1"
    settings.CARELOOP_LLM_MODEL = "qwen2.5-7b-instruct"
    settings.CARELOOP_LLM_API_KEY = "sk-local"
    yield server
    server.close()


def test_a_question_not_in_the_knowledge_base_gets_a_draft_for_staff(
    at_noon: datetime,
    model: ProviderServer,
    patient_factory: Any,
    hospital: Any,
    bob: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    load_faq_pack()
    patient_factory(organisation=hospital, name="赵秀英", phone="13600003331")
    with django_capture_on_commit_callbacks(execute=True):
        reply = receive("sms", QUESTION, provider="outbox", sender="13600003331")
    assert reply.kind == Reply.Kind.UNCLEAR
    assert DBTaskResult.objects.filter(task_path__endswith="draft_reply").count() == 1

    assert draft_reply.call(reply.pk) is True
    [seen] = model.seen
    assert (seen.method, seen.path) == ("POST", "/v1/chat/completions")
    assert seen.headers["authorization"] == "Bearer sk-local"
    body = seen.json()
    assert body["model"] == "qwen2.5-7b-instruct" and body["stream"] is False
    system, user = body["messages"]
    assert (system["role"], user["role"], user["content"]) == ("system", "user", QUESTION)
    assert "复查抽血前需要空腹吗？" in system["content"]  # the closest entries, as reference
    assert "赵秀英" not in seen.body.decode() and "13600003331" not in seen.body.decode()
    reply.refresh_from_db()
    assert reply.draft_answer == DRAFT and reply.needs_reading
    assert not Message.objects.exists()  # never sent by itself

    client = Client()
    client.force_login(bob)
    page = client.get("/outreach/inbox/").content.decode()
    assert "由语言模型起草，请核对后再发送" in page
    assert draft_reply.call(reply.pk) is False and len(model.seen) == 1  # asked once


def test_an_endpoint_that_fails_leaves_the_reply_to_read_and_the_log_clean(
    at_noon: datetime, model: ProviderServer, patient_factory: Any, hospital: Any, caplog: Any
) -> None:
    model.answer = lambda _seen: (500, {"error": "overloaded"})
    patient_factory(organisation=hospital, phone="13600003332")
    reply = receive("sms", QUESTION, provider="outbox", sender="13600003332")
    with caplog.at_level("WARNING", logger="careloop.outreach.assistant"):
        assert draft_reply.call(reply.pk) is False
    reply.refresh_from_db()
    assert reply.draft_answer == "" and reply.needs_reading
    assert "/v1/chat/completions" in caplog.text and "食堂" not in caplog.text


def test_without_an_endpoint_nothing_is_asked(
    at_noon: datetime, patient_factory: Any, hospital: Any, django_capture_on_commit_callbacks: Any
) -> None:
    patient_factory(organisation=hospital, phone="13600003333")
    with django_capture_on_commit_callbacks(execute=True):
        receive("sms", QUESTION, provider="outbox", sender="13600003333")
    assert not DBTaskResult.objects.filter(task_path__endswith="draft_reply").exists()
