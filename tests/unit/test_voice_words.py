"""The built-in words of an automated call are meant to be heard: no link, no "reply in
writing", keys where a key press answers."""

from __future__ import annotations

import pytest

from careloop.outreach.compose import DEFAULT_TEXT, compose, default_text

CONTEXT = {
    "salutation": "王先生",
    "hospital": "示例医院",
    "title": "复查提醒",
    "due_date": "12月9日",
    "link": "https://care.example/p/abc",
    "answer": "请空腹抽血。",
    "lecture_time": "12月10日 09:00",
    "lecture_place": "门诊楼三楼",
    "lecture_title": "高血压饮食",
}


@pytest.mark.parametrize("purpose", sorted(DEFAULT_TEXT))
def test_no_link_or_written_reply_is_read_out_on_a_call(purpose: str) -> None:
    words = compose(None, purpose, "voice", CONTEXT)
    assert "http" not in words.text and "回复" not in words.text and "退订" not in words.text
    assert words.text.startswith("王先生您好")


def test_a_call_offers_keys_where_a_key_press_answers_and_sms_keeps_its_link() -> None:
    assert compose(None, "revisit_reminder", "voice", CONTEXT).keys == {
        "1": "会按时复诊",
        "2": "需要改约",
    }
    assert compose(None, "rehab_guidance", "voice", CONTEXT).keys == {}
    sms = compose(None, "condition_tracking", "sms", CONTEXT)
    assert sms.keys == {} and sms.text.endswith("请点击填写：https://care.example/p/abc回T退订")
    assert "{{ link }}" not in default_text("lecture_invite", "voice", link=True)
