"""In Chromium: a patient's question by SMS is answered from the knowledge base at once; one
it does not answer waits in the inbox, where the nurse answers it starting from the closest
common question."""

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from careloop.accounts.roles import Role
from careloop.outreach.faq_pack import load_faq_pack
from careloop.outreach.models import Message, Reply
from careloop.outreach.replies import receive
from careloop.patients.models import ConsentRecord
from tests.browser.helpers import sign_in
from tests.factories import PatientFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_nurse_answers_a_question_from_the_inbox(page: Any, hospital: Any) -> None:
    load_faq_pack()
    UserFactory(username="nina", display_name="王护士", organisation=hospital, role=Role.NURSE)
    patient = PatientFactory(organisation=hospital, name="钱淑芬", phone="13600004441")
    ConsentRecord.objects.create(
        patient=patient,
        purpose="followup",
        channel="sms",
        granted=True,
        recorded_at=timezone.now() - timedelta(days=1),
    )
    answered = receive("sms", "明天复查要不要空腹？", provider="outbox", sender="13600004441")
    asked = receive("sms", "吃了早饭还能抽血吗？", provider="outbox", sender="13600004441")
    assert (answered.kind, asked.kind) == (Reply.Kind.FAQ, Reply.Kind.UNCLEAR)

    sign_in(page, "nina")
    page.goto("/outreach/inbox/")
    rows = page.get_by_test_id("inbox-row")
    expect(rows).to_have_count(1)  # the one answered automatically is not left to read
    expect(rows.first).to_contain_text("吃了早饭还能抽血吗")
    expect(rows.first.get_by_test_id("reply-faq")).to_contain_text("最接近的常见问题")
    rows.first.get_by_text("回复患者").click()
    box = rows.first.locator("textarea[name=text]")
    expect(box).to_have_value(answered.faq.answer if answered.faq else "")
    box.fill("吃过早饭再抽血，血糖和血脂会不准，请改天空腹来复查。")
    rows.first.get_by_role("button", name="发送给患者").click()
    expect(page.get_by_text("回复已排队发送给患者")).to_be_visible()
    expect(page.get_by_test_id("inbox-row")).to_have_count(0)
    sent = Message.objects.filter(purpose="faq_answer").order_by("pk")
    assert [m.key for m in sent] == [f"faq:{answered.pk}", f"answer:{asked.pk}"]
    assert "请改天空腹来复查" in sent[1].body
