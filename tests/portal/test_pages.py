"""The patient's pages over HTTP: identity check with a limit on tries, a tampered or
expired link shows nothing of the patient, a questionnaire answered earns points and
completes nothing it should not, readings stored with feedback (a night glucose of
3.5 mmol/L raises the night-hypoglycaemia alert), opens and views recorded."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.utils import timezone, translation

from careloop.clinical.models import Observation
from careloop.followup.models import Alert
from careloop.portal.links import make_token
from careloop.portal.models import PointsEntry, PortalEvent
from careloop.portal.readings import advice_for
from careloop.questionnaires.models import QuestionnaireResponse
from careloop.rules.pack import load_pack as load_rules

pytestmark = pytest.mark.django_db
BORN = date(1960, 5, 1)  # the factory's birth date


def opened(client: Client, token: str, answer: str = "1960-05-01") -> Any:
    client.get(f"/p/{token}/check/")
    return client.post(f"/p/{token}/check/", {"answer": answer})


def test_the_identity_check_by_birth_date_or_id_and_its_limit(patient: Any) -> None:
    token = make_token(patient.pk, "readings")
    client = Client()
    assert client.get(f"/p/{token}/")["Location"] == f"/p/{token}/check/"
    wrong = opened(client, token, "1960-05-02")
    assert "还可尝试 4 次" in wrong.content.decode() or "4 tries left" in wrong.content.decode()
    assert "孙桂兰" not in wrong.content.decode()
    right = client.post(f"/p/{token}/check/", {"answer": patient.id_number[-4:].lower()})
    assert right["Location"] == f"/p/{token}/"
    assert client.get(f"/p/{token}/")["Location"] == f"/p/{token}/readings/"
    kinds = list(PortalEvent.objects.order_by("id").values_list("kind", flat=True))
    assert kinds == ["open", "check_failed", "check_passed"]
    other = Client()  # a new browser: five wrong tries lock the link
    for _ in range(4):
        opened(other, token, "19990101")
    locked = other.post(f"/p/{token}/check/", {"answer": "1960-05-01"})
    assert locked.status_code == 429


def test_a_patient_locked_out_of_all_links_is_not_told_to_wait_15_minutes(
    patient: Any,
) -> None:
    """20 wrong tries on the patient's links lock them until staff look into it: waiting
    opens nothing, so the page says to ask for a new link."""
    hour_ago = timezone.now() - timedelta(hours=1)
    PortalEvent.objects.bulk_create(
        PortalEvent(patient=patient, kind="check_failed", link=f"old{n}", at=hour_ago)
        for n in range(19)
    )
    token = make_token(patient.pk, "readings")
    last = opened(Client(), token, "1999-01-01")  # the 20th
    assert last.status_code == 429
    for page in (last, Client().get(f"/p/{token}/check/")):
        html = page.content.decode()
        assert page.status_code == 429
        assert "15分钟后再试" not in html
        assert "此链接已无法打开，请联系随访人员获取新链接" in html
    other = make_token(patient.pk, "home")
    assert "此链接已无法打开" in Client().get(f"/p/{other}/check/").content.decode()


@pytest.mark.parametrize("answer", ["1960-5-1", "1960年5月1日", "1960/05/01", "19600501"])
def test_a_birth_date_is_read_as_people_write_it(patient: Any, answer: str) -> None:
    token = make_token(patient.pk, "readings")
    assert opened(Client(), token, answer)["Location"] == f"/p/{token}/"


@pytest.mark.parametrize("answer", ["1960年5月1号", "1960 5 1", "1960，5，1", "１９６０年５月１日"])
def test_a_birth_date_typed_on_a_chinese_keyboard_is_read(patient: Any, answer: str) -> None:
    token = make_token(patient.pk, "readings")
    assert opened(Client(), token, answer)["Location"] == f"/p/{token}/"
    assert not PortalEvent.objects.filter(kind="check_failed").exists()


def test_the_id_last_4_in_full_width_characters_is_not_a_wrong_try(patient: Any) -> None:
    """A Chinese keyboard in full-width mode types １２３Ｘ: the same characters, not a
    mismatch counted towards the lock."""
    token = make_token(patient.pk, "readings")
    wide = "".join(chr(ord(c) + 0xFEE0) for c in patient.id_number[-4:])
    assert opened(Client(), token, wide)["Location"] == f"/p/{token}/"
    assert not PortalEvent.objects.filter(kind="check_failed").exists()


def test_a_typing_slip_is_explained_and_not_counted_as_a_wrong_try(patient: Any) -> None:
    token = make_token(patient.pk, "readings")
    slip = opened(Client(), token, "abc")
    assert "1956年4月1日" in slip.content.decode()
    assert not PortalEvent.objects.filter(kind="check_failed").exists()


@pytest.mark.parametrize("bad", ["tampered", "expired"])
def test_a_bad_link_shows_a_friendly_page_and_nothing_else(patient: Any, bad: str) -> None:
    if bad == "expired":
        token = make_token(patient.pk, days=1, now=timezone.now().timestamp() - 2 * 86400)
    else:
        token = make_token(patient.pk)[:-2] + "xy"
    for path in ("", "check/", "readings/", "q/phq9/"):
        answer = Client().get(f"/p/{token}/{path}")
        assert answer.status_code == (410 if bad == "expired" else 404)
        assert "孙桂兰" not in answer.content.decode()
    assert not PortalEvent.objects.exists()


def test_a_questionnaire_by_link_earns_points(patient: Any) -> None:
    token = make_token(patient.pk, "questionnaire", questionnaire="phq9")
    client = Client()
    opened(client, token)
    assert client.get(f"/p/{token}/")["Location"] == f"/p/{token}/q/phq9/"
    page = client.get(f"/p/{token}/q/phq9/").content.decode()
    assert "做事时提不起劲或没有兴趣" in page
    missing = client.post(f"/p/{token}/q/phq9/", {"q1": "1"})
    assert "必答题" in missing.content.decode()
    done = client.post(f"/p/{token}/q/phq9/", {f"q{n}": "0" for n in range(1, 10)})
    assert 'data-testid="thanks"' in done.content.decode()
    assert 'data-testid="crisis"' not in done.content.decode()
    response = QuestionnaireResponse.objects.get()
    assert (response.source, response.total, response.patient) == ("patient", 0, patient)
    assert PointsEntry.objects.get().points == 5
    # Another questionnaire on this link: refused, nothing answered, no points.
    for other in ("gad7", "nonexistent"):
        refused = client.get(f"/p/{token}/q/{other}/")
        assert (
            refused.status_code == 404 and 'data-testid="link-invalid"' in refused.content.decode()
        )
    client.post(f"/p/{token}/q/gad7/", {f"q{n}": "0" for n in range(1, 8)})
    assert QuestionnaireResponse.objects.count() == 1 and PointsEntry.objects.count() == 1
    # Item 9 (thoughts of self-harm) answered yes: where to turn now, on the page itself.
    worried = client.post(f"/p/{token}/q/phq9/", {**{f"q{n}": "0" for n in range(1, 9)}, "q9": "1"})
    assert (
        'data-testid="crisis"' in worried.content.decode() and "12356" in worried.content.decode()
    )


def test_a_question_left_out_is_said_at_the_top_with_the_way_to_it(patient: Any) -> None:
    """The page comes back at its top: an older patient who missed question 7 of PHQ-9
    must be told there, not only beside the question far below."""
    token = make_token(patient.pk, "questionnaire", questionnaire="phq9")
    client = Client()
    opened(client, token)
    answers = {f"q{n}": "0" for n in range(1, 10) if n != 7}
    page = client.post(f"/p/{token}/q/phq9/", answers, HTTP_ACCEPT_LANGUAGE="zh-hans")
    html = page.content.decode()
    assert page.status_code == 200
    top = html.index('data-testid="answers-missing"')
    assert top < html.index('data-testid="item-q1"')
    assert "还有 1 道题没有回答" in html[top:]
    assert '<a href="#item-q7">去填写</a>' in html
    assert 'id="item-q7"' in html
    assert not QuestionnaireResponse.objects.exists()


def test_words_the_patient_writes_in_a_questionnaire_are_read_for_symptoms(
    patient: Any,
) -> None:
    token = make_token(patient.pk, "questionnaire", questionnaire="discharge-symptoms")
    client = Client()
    opened(client, token)
    answers = {"chest_pain": "no", "dyspnoea": "no", "oedema": "no", "medication": "regular"}
    quiet = client.post(f"/p/{token}/q/discharge-symptoms/", {**answers, "other": "没有胸痛"})
    assert 'data-testid="thanks"' in quiet.content.decode()
    assert not Alert.objects.exists()  # a symptom denied raises nothing
    client.post(
        f"/p/{token}/q/discharge-symptoms/", {**answers, "other": "最近胸口有点痛，不想活了"}
    )
    alert = Alert.objects.get(patient=patient)
    assert alert.severity == Alert.Severity.CRITICAL and "自伤风险" in alert.title
    assert "胸痛胸闷" in alert.title and "不想活了" in alert.reason


def test_a_night_glucose_of_3_5_raises_the_alert_with_feedback(
    patient: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    load_rules()
    night = timezone.make_aware(datetime(2026, 12, 3, 23, 40))
    monkeypatch.setattr(timezone, "now", lambda: night)
    token = make_token(patient.pk, "readings", now=night.timestamp())
    client = Client()
    opened(client, token)
    answer = client.post(
        f"/p/{token}/readings/",
        {
            "kind": "glucose",
            "glucose": "3.5",
            "context": "night",
            "measured_at": "2026-12-03T23:40",
        },
    )
    body = answer.content.decode()
    assert "末梢血糖 3.5 mmol/L</strong>：低血糖<" in body and "含糖食物" in body
    assert "医生会尽快联系您" in body  # the alert below: someone will call
    reading = Observation.objects.get(patient=patient)
    assert (reading.source, reading.code, reading.interpretation) == ("patient", "41653-7", "L")
    alert = Alert.objects.get(patient=patient)
    assert alert.title == "夜间低血糖" and alert.severity == Alert.Severity.CRITICAL
    client.post(
        f"/p/{token}/readings/",
        {"kind": "bp", "sbp": "150", "dbp": "160", "measured_at": "2026-12-03T23:45"},
    )
    assert Observation.objects.filter(patient=patient).count() == 1  # dbp ≥ sbp refused
    absurd = client.post(
        f"/p/{token}/readings/",
        {"kind": "bp", "sbp": "400", "dbp": "20", "measured_at": "2026-12-03T23:45"},
    ).content.decode()
    assert "请核对数字：应在 50 到 300 mmHg 之间" in absurd
    assert "请核对数字：应在 30 到 200 mmHg 之间" in absurd
    assert "请填写" not in absurd  # both were filled in: no "fill this in" beside them
    long_ago = client.post(
        f"/p/{token}/readings/",
        {"kind": "weight", "weight": "60", "measured_at": "1990-01-01T08:00"},
    ).content.decode()
    assert "最近一年" in long_ago and Observation.objects.filter(patient=patient).count() == 1
    assert PointsEntry.objects.get().points == 1  # one check-in a day


def test_reading_feedback_speaks_the_pages_language(patient: Any) -> None:
    token = make_token(patient.pk, "readings")
    steps = {
        "kind": "steps",
        "steps": "3000",
        "measured_at": timezone.localtime().strftime("%Y-%m-%dT%H:%M"),
    }
    chinese = Client()
    opened(chinese, token)
    said = chinese.post(f"/p/{token}/readings/", steps).content.decode()
    assert "步数 3000 步</strong>：已记录<" in said and "继续保持，按时记录。" in said
    english = Client(HTTP_ACCEPT_LANGUAGE="en")
    opened(english, token)
    said = english.post(f"/p/{token}/readings/", steps).content.decode()
    assert (
        "Steps 3000 steps</strong>: recorded<" in said and "Keep it up and keep recording." in said
    )
    assert "步" not in said.split('data-testid="feedback"')[1].split("</div>")[0]


def test_a_pulse_out_of_range_is_not_praised_and_reads_in_chinese_units(patient: Any) -> None:
    """A pulse of 130 was answered "心率 130 /min：偏高" and, beside a high blood pressure,
    "继续保持，按时记录。" (keep it up)."""
    token = make_token(patient.pk, "readings")
    client = Client()
    opened(client, token)
    now = timezone.localtime().strftime("%Y-%m-%dT%H:%M")
    reading = {"kind": "bp", "sbp": "150", "dbp": "95", "pulse": "130", "measured_at": now}
    html = client.post(f"/p/{token}/readings/", reading).content.decode()
    assert "心率 130 次/分</strong>：偏高" in html
    assert "/min" not in html
    assert "继续保持" not in html
    assert "请安静坐5分钟后再测一次" in html
    wrong = client.post(f"/p/{token}/readings/", {**reading, "pulse": "300"}).content.decode()
    assert "20 到 250 次/分" in wrong


def test_a_number_typed_with_too_many_decimals_is_explained_in_plain_words(
    patient: Any,
) -> None:
    token = make_token(patient.pk, "readings")
    client = Client()
    opened(client, token)
    now = timezone.localtime().strftime("%Y-%m-%dT%H:%M")
    weight = client.post(
        f"/p/{token}/readings/", {"kind": "weight", "weight": "65.55", "measured_at": now}
    ).content.decode()
    assert "小数点后最多填 1 位，例如 6.5。" in weight and "确认小数不超过" not in weight
    bp = {"kind": "bp", "sbp": "120.5", "dbp": "80", "measured_at": now}
    pressure = client.post(f"/p/{token}/readings/", bp).content.decode()
    assert "请填写整数，不带小数点。" in pressure and "输入整数。" not in pressure
    assert not Observation.objects.exists()


def test_a_low_reading_promises_a_call_only_when_an_alert_was_raised(
    patient: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    load_rules()
    evening = timezone.make_aware(datetime(2026, 12, 3, 19, 37))
    monkeypatch.setattr(timezone, "now", lambda: evening)
    token = make_token(patient.pk, "readings", now=evening.timestamp())
    client = Client()
    opened(client, token)
    glucose = {"kind": "glucose", "glucose": "3.6", "measured_at": "2026-12-03T19:30"}
    # "At night" at 19:30: the time is asked again (the night rule reads the time).
    night = client.post(f"/p/{token}/readings/", {**glucose, "context": "night"})
    assert "22:00" in night.content.decode() and not Observation.objects.exists()
    body = client.post(f"/p/{token}/readings/", {**glucose, "context": "fasting"}).content
    assert "：低血糖<" in body.decode() and not Alert.objects.filter(patient=patient).exists()
    assert "医生会尽快联系您" not in body.decode() and "如反复偏低，请联系医生" in body.decode()
    # Other low readings keep "偏低" (低血糖 is glucose's word alone).
    low_bp = {"kind": "bp", "sbp": "85", "dbp": "55", "measured_at": "2026-12-03T19:31"}
    low = client.post(f"/p/{token}/readings/", low_bp).content.decode()
    assert "：偏低<" in low and "低血糖" not in low
    after_meal = {"kind": "glucose", "context": "after_meal", "measured_at": "2026-12-03T19:30"}
    client.post(f"/p/{token}/readings/", {**after_meal, "glucose": "7.5"})
    client.post(f"/p/{token}/readings/", {**after_meal, "glucose": "8.2"})
    graded = dict(
        Observation.objects.filter(note__contains="餐后").values_list("value", "interpretation")
    )
    assert graded == {7.5: "N", 8.2: "H"}  # two hours after a meal: normal below 7.8
    assert set(
        Observation.objects.filter(note__contains="餐后").values_list("ref_text", flat=True)
    ) == {"≥3.9 且 <7.8"}  # as people read it
    steps = client.post(
        f"/p/{token}/readings/", {"kind": "steps", "steps": "-5", "measured_at": "2026-12-03T19:30"}
    ).content.decode()
    assert "应在 0 到 100000 步 之间" in steps


def test_staff_make_a_link_from_the_patient_page(patient: Any, alice: Any) -> None:
    client = Client()
    client.force_login(alice)
    answer = client.post(f"/p/staff/patients/{patient.pk}/link/", {"what": "q:gad7"}, follow=True)
    shown = [str(m) for m in answer.context["messages"]]
    assert any("/p/" in m for m in shown)
    url = next(m for m in shown if "/p/" in m).split("http://testserver")[1]
    token = url.split("/")[2]
    assert opened(Client(), token)["Location"] == f"/p/{token}/"


def test_points_and_revisits_are_reached_from_the_links_staff_make(
    patient: Any, alice: Any
) -> None:
    """Staff could make links for readings, reports or a questionnaire only, each opening
    its own page: the points (and their exchange) were reached from none of them."""
    client = Client()
    client.force_login(alice)
    assert '<option value="home">' in client.get(f"/patients/{patient.pk}/").content.decode()
    made = client.post(f"/p/staff/patients/{patient.pk}/link/", {"what": "home"}, follow=True)
    url = next(str(m) for m in made.context["messages"] if "/p/" in str(m))
    home = url.split("http://testserver")[1].split("/")[2]
    patient_browser = Client()
    opened(patient_browser, home)
    assert f'href="/p/{home}/points/"' in patient_browser.get(f"/p/{home}/").content.decode()
    token = make_token(patient.pk, "readings")
    opened(patient_browser, token)
    readings = patient_browser.get(f"/p/{token}/readings/").content.decode()
    assert f'href="/p/{token}/points/"' in readings
    assert f'href="/p/{token}/revisit/"' in readings


def test_the_exam_report_explains_each_abnormal_item(patient: Any) -> None:
    from django.db import transaction

    from careloop.clinical.assessment import ResultInput
    from careloop.clinical.services import ReportInput, do_record_results

    at = timezone.now() - timezone.timedelta(days=2)
    with transaction.atomic():
        do_record_results(
            patient,
            ReportInput("年度体检", at, conclusion="血脂偏高，建议复查"),
            [
                ResultInput("低密度脂蛋白胆固醇", at, loinc="2089-1", value=4.6, unit="mmol/L"),
                ResultInput("尿酸", at, loinc="3084-1", value=300, unit="umol/L"),
                ResultInput("高密度脂蛋白胆固醇", at, loinc="2085-9", value=0.8, unit="mmol/L"),
            ],
            source="manual",
            source_label="体检中心",
        )
    token = make_token(patient.pk, "report")
    client = Client()
    opened(client, token)
    page = client.get(f"/p/{token}/report/").content.decode()
    assert "年度体检" in page and "血脂偏高，建议复查" in page
    assert "胆固醇偏高会增加动脉粥样硬化" in page  # LDL-C 4.6 is high
    assert "高密度脂蛋白是“好胆固醇”，偏低时" in page  # HDL-C 0.8 is low
    assert "尿酸偏高" not in page  # a normal item gets no explanation
    assert PortalEvent.objects.filter(kind="view", page="report").count() == 1


def test_the_patient_asks_for_a_revisit(patient: Any) -> None:
    from careloop.followup.models import RevisitRequest

    token = make_token(patient.pk)
    client = Client()
    opened(client, token)
    too_late = (timezone.localdate() + timezone.timedelta(days=120)).isoformat()
    refused = client.post(f"/p/{token}/revisit/", {"wanted_on": too_late})
    assert "90" in refused.content.decode() and not RevisitRequest.objects.exists()
    day = (timezone.localdate() + timezone.timedelta(days=7)).isoformat()
    done = client.post(f"/p/{token}/revisit/", {"wanted_on": day, "reason": "复查血脂"})
    assert 'data-testid="revisit-done"' in done.content.decode()
    revisit = RevisitRequest.objects.get()
    assert (revisit.patient, revisit.status, revisit.reason) == (
        patient,
        "requested",
        "患者页面申请：复查血脂",
    )
    again = client.post(f"/p/{token}/revisit/", {"wanted_on": day, "reason": "复查血脂"})
    assert 'data-testid="revisit-done"' in again.content.decode()
    assert RevisitRequest.objects.count() == 1  # the same request, not a second one
    client.post(f"/p/{token}/revisit/", {"wanted_on": day, "reason": "顺便开药"})
    assert RevisitRequest.objects.get().reason == "患者页面申请：复查血脂；顺便开药"
    other_day = (timezone.localdate() + timezone.timedelta(days=9)).isoformat()
    client.post(f"/p/{token}/revisit/", {"wanted_on": other_day})
    assert RevisitRequest.objects.get(wanted_on=other_day).reason == "患者页面申请"


def test_the_patient_asks_for_a_consultation(patient: Any, bob: Any) -> None:
    """F11/F20: a consultation (咨询) asked for on the patient's pages reaches the
    coordinators' list beside the revisits, marked as one."""
    from careloop.followup.models import RevisitRequest

    token = make_token(patient.pk)
    client = Client()
    opened(client, token)
    form = client.get(f"/p/{token}/revisit/").content.decode()
    assert "咨询医生" in form and "复诊预约" in form
    day = (timezone.localdate() + timezone.timedelta(days=3)).isoformat()
    done = client.post(
        f"/p/{token}/revisit/", {"kind": "consultation", "wanted_on": day, "reason": "降压药怎么吃"}
    ).content.decode()
    assert 'data-testid="revisit-done"' in done and "咨询时间" in done
    client.post(f"/p/{token}/revisit/", {"kind": "revisit", "wanted_on": day})
    kinds = dict(RevisitRequest.objects.values_list("kind", "reason"))
    assert kinds == {"consultation": "患者页面申请：降压药怎么吃", "revisit": "患者页面申请"}
    refused = client.post(f"/p/{token}/revisit/", {"kind": "surgery", "wanted_on": day})
    assert "revisit-done" not in refused.content.decode()
    assert RevisitRequest.objects.count() == 2
    staff = Client()
    staff.force_login(bob)
    listed = staff.get("/worklist/revisits/").content.decode()
    assert listed.count('data-testid="revisit-kind"') == 1 and ">咨询<" in listed
    # A visit for something else does not answer it; the coordinator books it, then marks
    # it held (by telephone: no visit record would tell).
    from careloop.followup.alert_sources import mark_attended

    consultation = RevisitRequest.objects.get(kind="consultation")
    assert mark_attended(patient.pk, timezone.now()) == 1  # the revisit only
    consultation.refresh_from_db()
    assert consultation.status == "requested"
    assert staff.post(f"/worklist/revisits/{consultation.pk}/held/").status_code == 302
    consultation.refresh_from_db()
    assert consultation.status == "requested"  # not booked yet: refused
    when = (timezone.localtime() + timezone.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    staff.post(f"/worklist/revisits/{consultation.pk}/book/", {"appointment_at": when})
    assert (
        'data-testid="held-form"' in staff.get("/worklist/revisits/?status=booked").content.decode()
    )
    staff.post(f"/worklist/revisits/{consultation.pk}/held/")
    consultation.refresh_from_db()
    assert consultation.status == "attended" and consultation.closed_at is not None


def test_points_are_exchanged_when_staff_approve(patient: Any, bob: Any) -> None:
    from careloop.portal.models import Redemption

    PointsEntry.objects.create(patient=patient, points=40, reason="完成问卷")
    token = make_token(patient.pk)
    client = Client()
    opened(client, token)
    page = client.get(f"/p/{token}/points/").content.decode()
    assert 'data-testid="balance">40<' in page
    too_dear = client.post(f"/p/{token}/points/", {"item": "免费血糖试纸一盒"})  # 50
    assert "积分不足" in too_dear.content.decode()
    asked = client.post(f"/p/{token}/points/", {"item": "血压计袖带"})  # 30
    assert 'data-testid="redeem-asked"' in asked.content.decode()
    again = client.post(f"/p/{token}/points/", {"item": "专家健康讲座名额"})  # 20 > 40 - 30
    assert "积分不足" in again.content.decode()
    assert client.post(f"/p/{token}/points/", {"item": "金条"}).status_code == 200
    redemption = Redemption.objects.get()
    staff = Client()
    staff.force_login(bob)
    assert "血压计袖带" in staff.get("/p/staff/redemptions/").content.decode()
    staff.post("/p/staff/redemptions/", {"redemption": redemption.pk, "decision": "approve"})
    redemption.refresh_from_db()
    assert (redemption.status, redemption.decided_by) == ("approved", bob)
    assert sum(PointsEntry.objects.values_list("points", flat=True)) == 10
    staff.post("/p/staff/redemptions/", {"redemption": redemption.pk, "decision": "decline"})
    redemption.refresh_from_db()
    assert redemption.status == "approved"  # decided once


def test_a_nurse_cannot_decide_redemptions(alice: Any) -> None:
    client = Client()
    client.force_login(alice)
    assert client.get("/p/staff/redemptions/").status_code == 403


def test_points_for_a_questionnaire_once_a_day(patient: Any) -> None:
    token = make_token(patient.pk, "questionnaire", questionnaire="gad7")
    client = Client()
    opened(client, token)
    for _ in range(3):
        client.post(f"/p/{token}/q/gad7/", {f"q{n}": "0" for n in range(1, 8)})
    assert QuestionnaireResponse.objects.count() == 3
    assert sum(PointsEntry.objects.values_list("points", flat=True)) == 5


def test_a_home_blood_pressure_is_graded_by_the_home_thresholds(
    patient: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """136/86 at home is raised (home: from 135/85; it would be normal at the clinic)."""
    evening = timezone.make_aware(datetime(2026, 12, 3, 19, 37))
    monkeypatch.setattr(timezone, "now", lambda: evening)
    token = make_token(patient.pk, "readings", now=evening.timestamp())
    client = Client()
    opened(client, token)
    reading = {"kind": "bp", "measured_at": "2026-12-03T19:30"}
    raised = client.post(f"/p/{token}/readings/", {**reading, "sbp": "136", "dbp": "86"})
    with translation.override("zh-hans"):
        advice = advice_for("8480-6", "H")
    assert raised.content.decode().count(advice) == 1  # both values high: said once
    client.post(f"/p/{token}/readings/", {**reading, "sbp": "128", "dbp": "82"})
    graded = list(
        Observation.objects.filter(patient=patient)
        .order_by("pk")
        .values_list("code", "value", "interpretation")
    )
    assert graded == [
        ("8480-6", 136, "H"),
        ("8462-4", 86, "H"),
        ("8480-6", 128, "N"),
        ("8462-4", 82, "N"),
    ]


def test_the_reading_kinds_are_large_touch_targets_like_the_questionnaire_options(
    patient: Any,
) -> None:
    import re

    token = make_token(patient.pk, "readings")
    client = Client()
    opened(client, token)
    page = client.get(f"/p/{token}/readings/").content.decode()
    # As a questionnaire's options: a whole row (label.form-check) around a Tabler-sized box.
    options = re.findall(
        r'<label class="form-check"[^>]*>\s*<input class="form-check-input" type="radio" '
        r'name="kind" value="(\w+)"[^>]*>\s*<span class="form-check-label">([^<]+)</span>',
        page,
    )
    assert options == [("bp", "血压"), ("glucose", "血糖"), ("weight", "体重"), ("steps", "步数")]
    assert 'type="radio" name="kind" value="bp" required id="id_kind_0"' not in page  # bare
    # A refused reading keeps the kind chosen.
    again = client.post(
        f"/p/{token}/readings/", {"kind": "weight", "measured_at": "2026-12-03T19:30"}
    ).content.decode()
    assert re.search(r'name="kind" value="weight" id="id_kind_2" checked>', again)


def test_numbers_typed_without_choosing_what_was_measured_are_read_as_that_kind(
    patient: Any,
) -> None:
    """Every field shows until a kind is chosen: pressures typed and 保存 tapped store a
    blood pressure; nothing typed asks what was measured in words, not "此项为必填项"."""
    token = make_token(patient.pk, "readings")
    client = Client()
    opened(client, token)
    now = timezone.localtime().strftime("%Y-%m-%dT%H:%M")
    client.post(
        f"/p/{token}/readings/",
        {"sbp": "150", "dbp": "92", "context": "fasting", "measured_at": now},
    )
    stored = dict(Observation.objects.filter(patient=patient).values_list("code", "value"))
    assert stored == {"8480-6": 150, "8462-4": 92}
    nothing = client.post(
        f"/p/{token}/readings/", {"context": "fasting", "measured_at": now}
    ).content.decode()
    assert "请选择您测量的项目" in nothing
    both = client.post(
        f"/p/{token}/readings/", {"sbp": "150", "dbp": "92", "weight": "60", "measured_at": now}
    ).content.decode()
    assert "请选择您测量的项目" in both and Observation.objects.count() == 2


def test_an_exchange_refused_is_said_in_the_pages_language(patient: Any) -> None:
    PointsEntry.objects.create(patient=patient, points=10, reason="完成问卷")
    token = make_token(patient.pk)
    client = Client()
    opened(client, token)
    english = {"HTTP_ACCEPT_LANGUAGE": "en"}
    too_dear = client.post(f"/p/{token}/points/", {"item": "血压计袖带"}, **english)  # 30
    assert "Not enough points." in too_dear.content.decode()
    assert "积分不足" not in too_dear.content.decode()
    unknown = client.post(f"/p/{token}/points/", {"item": "金条"}, **english)
    assert "There is no such reward." in unknown.content.decode()


def test_a_decision_made_twice_is_refused_in_the_pages_language(patient: Any, bob: Any) -> None:
    from careloop.portal import points
    from careloop.portal.models import Redemption

    PointsEntry.objects.create(patient=patient, points=40, reason="完成问卷")
    asked = Redemption.objects.create(patient=patient, points=30, item="血压计袖带")
    points.decide(bob, asked, approve=True)
    with translation.override("en"), pytest.raises(ValidationError) as refused:
        points.decide(bob, asked, approve=False)
    said = " ".join(refused.value.messages)
    assert "already decided this request (approved" in said and "已由" not in said


def test_a_reference_range_of_two_bounds_reads_in_the_pages_language(patient: Any) -> None:
    from careloop.clinical.models import DiagnosticReport

    report = DiagnosticReport.objects.create(
        patient=patient, name="复查", effective_at=timezone.now() - timezone.timedelta(days=1)
    )
    for code, name, value, text in (
        ("14771-0", "空腹血糖", 7.5, "≥3.9 且 <6.1"),  # ours: two bounds joined by 且
        ("2823-3", "钾", 4.2, "3.5–5.3"),
    ):
        Observation.objects.create(
            patient=patient,
            report=report,
            code=code,
            name=name,
            value=value,
            unit="mmol/L",
            ref_text=text,
            effective_at=report.effective_at,
        )
    token = make_token(patient.pk, "report")
    client = Client()
    opened(client, token)
    english = client.get(f"/p/{token}/report/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "≥3.9 and &lt;6.1" in english and "且" not in english and "3.5–5.3" in english
    chinese = client.get(f"/p/{token}/report/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "≥3.9 且 &lt;6.1" in chinese
