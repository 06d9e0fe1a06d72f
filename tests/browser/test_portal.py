"""In Chromium on a phone-sized screen: the patient opens the link from the message, confirms
it is them, fills PHQ-9, records a night glucose of 3.5 mmol/L and is told what to do; the
nurse then sees the alert on her worklist. A tampered link opens nothing."""

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from careloop.portal.links import make_token
from careloop.questionnaires.models import QuestionnaireResponse
from careloop.questionnaires.services import load_pack
from careloop.rules.pack import load_pack as load_rules
from tests.browser.helpers import sign_in
from tests.factories import PatientFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def phone(browser: Any, live_server: Any) -> Iterator[Any]:
    context = browser.new_context(
        base_url=live_server.url,
        locale="zh-CN",
        viewport={"width": 375, "height": 740},
        is_mobile=True,
        has_touch=True,
        user_agent="Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) MicroMessenger/8.0",
    )
    context.set_default_timeout(10_000)
    yield context.new_page()
    context.close()


def test_the_patient_answers_phq9_and_a_low_night_glucose_reaches_the_nurse(
    phone: Any, page: Any, hospital: Any, alice: Any
) -> None:
    load_pack()
    load_rules()
    patient = PatientFactory(organisation=hospital, name="周美华", sex="female")
    token = make_token(patient.pk, "questionnaire", questionnaire="phq9")

    phone.goto(f"/p/{token}/")
    phone.get_by_label("出生日期或身份证后4位").fill("1960-05-01")
    phone.get_by_role("button", name="继续").click()
    expect(phone.get_by_text("做事时提不起劲或没有兴趣")).to_be_visible()
    assert phone.evaluate("document.documentElement.scrollWidth") <= 375  # no sideways scroll
    for n in range(1, 10):
        phone.get_by_test_id(f"item-q{n}").get_by_label("好几天" if n < 4 else "完全不会").check()
    phone.get_by_test_id("submit").click()
    expect(phone.get_by_test_id("thanks")).to_contain_text("PHQ-9")
    assert QuestionnaireResponse.objects.get(patient=patient).total == 3

    phone.get_by_role("link", name="记录自测数据").click()
    phone.get_by_label("血糖", exact=True).check()
    # Only the glucose fields now: blood pressure and weight are out of the way on a phone.
    expect(phone.get_by_label("血糖 mmol/L")).to_be_visible()
    expect(phone.locator("#id_sbp")).to_be_hidden()
    expect(phone.locator("#id_weight")).to_be_hidden()
    phone.get_by_label("血糖 mmol/L").fill("3.5")
    phone.get_by_label("测量时段").select_option("night")
    now = timezone.localtime()
    night = now.replace(hour=23, minute=40)
    if night > now:  # the last 23:40 that has passed
        night -= timedelta(days=1)
    phone.get_by_label("时间", exact=True).fill(night.strftime("%Y-%m-%dT%H:%M"))
    phone.get_by_test_id("save-reading").click()
    feedback = phone.get_by_test_id("feedback")
    expect(feedback).to_contain_text("3.5 mmol/L")
    expect(feedback).to_contain_text("低血糖")

    sign_in(page, "alice")
    page.goto("/worklist/?scope=team")
    expect(page.get_by_test_id("worklist-alerts")).to_contain_text("夜间低血糖")
    expect(page.get_by_test_id("worklist-alerts")).to_contain_text("周美华")

    phone.goto(f"/p/{token[:-3]}abc/")
    expect(phone.get_by_test_id("link-invalid")).to_be_visible()
    expect(phone.locator("body")).not_to_contain_text("周美华")


def test_the_patient_asks_for_a_consultation_and_the_coordinator_sees_it(
    phone: Any, page: Any, hospital: Any, bob: Any
) -> None:
    patient = PatientFactory(organisation=hospital, name="钱秀兰", sex="female")
    token = make_token(patient.pk)
    phone.goto(f"/p/{token}/")
    phone.get_by_label("出生日期或身份证后4位").fill("1960-05-01")
    phone.get_by_role("button", name="继续").click()
    phone.get_by_role("link", name="预约复诊或咨询").click()
    phone.get_by_label("咨询医生").check()
    day = timezone.localdate() + timedelta(days=2)
    phone.get_by_label("您希望哪一天？").fill(day.isoformat())
    phone.get_by_label("想请医生看什么问题？").fill("血压药早上吃还是晚上吃")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 375  # no sideways scroll
    phone.get_by_role("button", name="提交申请").click()
    expect(phone.get_by_test_id("revisit-done")).to_contain_text("咨询时间")

    sign_in(page, "bob")
    page.goto("/worklist/revisits/")
    row = page.get_by_test_id("revisit-list").get_by_role("row").filter(has_text="钱秀兰")
    expect(row.get_by_test_id("revisit-kind")).to_have_text("咨询")
    expect(row).to_contain_text("血压药早上吃还是晚上吃")


def test_a_lecture_planned_by_staff_is_signed_up_for_on_the_phone_and_attending_earns_points(
    phone: Any, page: Any, hospital: Any, bob: Any
) -> None:
    patient = PatientFactory(organisation=hospital, name="吴淑珍", sex="female")
    sign_in(page, "bob")
    page.get_by_role("link", name="健康讲座").click()
    page.get_by_test_id("new-lecture").click()
    page.get_by_label("标题").fill("高血压患者的自我管理")
    starts = timezone.localtime() + timedelta(minutes=20)
    page.get_by_label("开始时间").fill(starts.strftime("%Y-%m-%dT%H:%M"))
    page.get_by_label("地点").fill("门诊楼三楼会议室")
    page.get_by_label("名额").fill("30")
    page.get_by_role("button", name="保存").click()
    expect(page.get_by_test_id("lecture-taken")).to_have_text("0 / 30")

    token = make_token(patient.pk)
    phone.goto(f"/p/{token}/")
    phone.get_by_label("出生日期或身份证后4位").fill("1960-05-01")
    phone.get_by_role("button", name="继续").click()
    phone.get_by_test_id("lectures-link").click()
    talk = phone.get_by_test_id("open-lectures").locator("form").filter(has_text="自我管理")
    expect(talk).to_contain_text("剩余 30 个名额")
    talk.get_by_role("button", name="报名").click()
    expect(phone.get_by_test_id("lecture-done")).to_contain_text("报名成功")
    expect(phone.get_by_test_id("my-lectures")).to_contain_text("已报名")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 375  # no sideways scroll

    page.reload()
    expect(page.get_by_test_id("lecture-taken")).to_have_text("1 / 30")
    page.get_by_label("吴淑珍 已签到").check()
    page.get_by_test_id("save-attendance").click()
    expect(page.locator(".alert-success")).to_contain_text("新签到 1 人")

    phone.reload()
    expect(phone.get_by_test_id("my-lecture-status")).to_contain_text("已参加 · 10 积分")
    phone.goto(f"/p/{token}/points/")
    expect(phone.get_by_test_id("balance")).to_have_text("10")


def test_the_patient_books_the_exam_package_recommended_by_a_high_ldl(
    phone: Any, page: Any, hospital: Any, bob: Any
) -> None:
    from careloop.clinical.models import Observation
    from careloop.followup.exam_packages import load_packages

    load_packages()
    patient = PatientFactory(organisation=hospital, name="郑建华")
    Observation.objects.create(
        patient=patient,
        code="2089-1",
        name="低密度脂蛋白胆固醇",
        value=4.5,
        unit="mmol/L",
        interpretation="H",
        effective_at=timezone.now() - timedelta(days=2),
    )
    token = make_token(patient.pk)
    phone.goto(f"/p/{token}/")
    phone.get_by_label("出生日期或身份证后4位").fill("1960-05-01")
    phone.get_by_role("button", name="继续").click()
    phone.get_by_test_id("exams-link").click()
    first = phone.get_by_test_id("exam-package").first
    expect(first).to_contain_text("心脑血管风险筛查套餐")
    expect(first.get_by_test_id("recommended")).to_have_text("为您推荐")
    expect(first).to_contain_text("低密度脂蛋白胆固醇结果异常")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 375  # no sideways scroll
    day = timezone.localdate() + timedelta(days=7)
    first.get_by_label("您希望哪一天？").fill(day.isoformat())
    first.get_by_role("button", name="预约这个套餐").click()
    expect(phone.get_by_test_id("exam-done")).to_contain_text("预约申请已提交")
    expect(phone.get_by_test_id("my-exams")).to_contain_text("心脑血管风险筛查套餐")

    sign_in(page, "bob")
    page.goto("/worklist/revisits/?kind=exam")
    row = page.get_by_test_id("revisit-list").get_by_role("row").filter(has_text="郑建华")
    expect(row.get_by_test_id("revisit-kind")).to_have_text("体检")
    row.get_by_label("预约时间").fill(f"{day.isoformat()}T08:00")
    row.get_by_role("button", name="预约").click()
    phone.reload()
    expect(phone.get_by_test_id("my-exam-status")).to_contain_text(f"已预约 {day:%Y-%m-%d} 08:00")
