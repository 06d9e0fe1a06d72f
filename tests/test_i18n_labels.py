"""Choices stored as Chinese words or as codes are shown in the page's language: the
follow-up forms' answers, the rule builder's tiers, severities and outcomes, the kinds of
condition on the rule page, a follow-up's classification and the audit log's summaries. The
Chinese page reads as before; what is stored does not change."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.utils import translation

from careloop.accounts.roles import Role
from careloop.audit.models import summary_label
from careloop.followup import forms
from careloop.followup.models import FollowUpRecord, Task
from careloop.rules.builder import builder_spec
from careloop.rules.conditions import KINDS
from tests.factories import UserFactory
from tests.test_patients_web import logged_in


def _has_chinese(text: str) -> bool:
    return any("\u4e00" <= c <= "\u9fff" for c in text)


def test_every_chinese_choice_of_the_follow_up_forms_has_an_english_label() -> None:
    for form_class in forms.ANSWER_FORMS.values():
        for name, field in form_class.base_fields.items():
            for value, label in getattr(field, "choices", ()):
                if not _has_chinese(str(value)):
                    continue
                with translation.override("en"):
                    assert not _has_chinese(str(label)), (form_class.__name__, name, value)
                with translation.override("zh-hans"):
                    assert str(label) == value, (form_class.__name__, name, value)


def test_the_chronic_form_in_english_and_in_chinese_stores_the_chinese_words() -> None:
    with translation.override("en"):
        page = forms.HtnForm(prefix="a").as_p()
        assert '<option value="良好">Good</option>' in page  # stored as the Chinese word
        assert '<option value="门诊">Clinic visit</option>' in page
        assert "Headache or dizziness" in page
    with translation.override("zh-hans"):
        page = forms.HtnForm(prefix="a").as_p()
        assert '<option value="良好">良好</option>' in page
        assert '<option value="门诊">门诊</option>' in page and "Clinic visit" not in page
    data = {"a-method": "门诊", "a-sbp": "130", "a-dbp": "80", "a-medication_adherence": "规律"}
    data |= {"a-psychology": "良好", "a-symptoms": ["头痛头晕"], "a-salt": "中"}
    with translation.override("en"):
        form = forms.HtnForm(data, prefix="a")
        assert form.is_valid(), form.errors
    assert form.cleaned_data["psychology"] == "良好" and form.cleaned_data["salt"] == "中"
    assert form.cleaned_data["symptoms"] == ["头痛头晕"]


@pytest.mark.django_db
def test_the_rule_builder_names_tiers_severities_and_outcomes_in_the_pages_language() -> None:
    def choices(spec: dict[str, Any]) -> dict[str, dict[str, str]]:
        fields = {f["key"]: f for f in spec["kinds"]["risk_tier"]["fields"]}
        alert = {f["key"]: f for f in spec["actions"]["alert"]["fields"]}
        outcome = {f["key"]: f for f in spec["kinds"]["outcome"]["fields"]}
        return {
            "tier": dict(fields["value"]["choices"]),
            "severity": dict(alert["severity"]["choices"]),
            "outcome": dict(outcome["outcomes"]["choices"]),
        }

    with translation.override("en"):
        english = choices(builder_spec())
    with translation.override("zh-hans"):
        chinese = choices(builder_spec())
    assert english["tier"] == {"high": "high", "medium": "medium", "low": "low"}
    assert chinese["tier"] == {"high": "高", "medium": "中", "low": "低"}
    assert (
        english["severity"]["critical"] == "critical" and chinese["severity"]["critical"] == "危急"
    )
    assert english["outcome"]["no_answer"] == "no answer"
    assert chinese["outcome"]["no_answer"] == "无人接听"
    assert not any(_has_chinese(v) for kind in english.values() for v in kind.values())


@pytest.mark.django_db
def test_the_rule_page_lists_the_condition_kinds_by_name(hospital: Any) -> None:
    user = UserFactory(organisation=hospital, role=Role.SUPERVISOR)
    user.user_permissions.add(Permission.objects.get(codename="change_rule"))
    client = logged_in(user)
    chinese = client.get("/rules/new/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    kinds = chinese.split('data-testid="condition-kinds"', 1)[1].split("</p>", 1)[0]
    assert "最近一次结果 <code>latest</code>" in kinds
    assert kinds.count("<code>") == len(KINDS)
    english = client.get("/rules/new/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    kinds = english.split('data-testid="condition-kinds"', 1)[1].split("</p>", 1)[0]
    assert "Latest value <code>latest</code>" in kinds and not _has_chinese(kinds)


def test_a_classification_is_stored_in_chinese_and_shown_in_the_pages_language() -> None:
    from careloop.followup.views import _outcome_message

    entry = FollowUpRecord(outcome="reached", classification="控制满意")
    task = Task(status=Task.Status.DONE)
    with translation.override("en"):
        assert entry.classification_label == "controlled"
        assert _outcome_message(task, entry) == "Recorded: reached. Classification: controlled."
    with translation.override("zh-hans"):
        assert entry.classification_label == "控制满意"
        assert "随访分类：控制满意。" in _outcome_message(task, entry)
    assert FollowUpRecord(classification="other").classification_label == "other"


def test_audit_summaries_with_figures_in_a_known_pattern_are_shown_translated() -> None:
    alerts, worklist = "alerts all/open (11 shown)", "worklist mine/overdue (3 shown)"
    trend = "trend chart of 8480-6"
    export = "list “patients under follow-up” exported, 2026-11-01 to 2026-11-30, org 1"
    with translation.override("en"):
        assert summary_label(alerts) == "alerts, all, open (11 shown)"
        assert summary_label(trend) == "trend chart of 8480-6"
        assert summary_label(export) == export.replace("org 1", "organisation 1")
    with translation.override("zh-hans"):
        assert summary_label(alerts) == "预警列表：全部，待处理（显示 11 条）"
        assert summary_label(worklist) == "工作列表：我的，已逾期（显示 3 条）"
        assert summary_label(trend) == "8480-6 的趋势图"
        assert summary_label(export) == ("导出名单“在管患者”，2026-11-01 至 2026-11-30，机构 1")
        assert summary_label("trend 14749-6") == "trend 14749-6"  # others as written


def test_more_audit_summaries_read_in_the_pages_language() -> None:
    cases = {
        "revealed record_numbers": ("revealed record numbers", "查看完整病历号"),
        "enrolled in discharge-general v1 (2 tasks)": (
            "enrolled in discharge-general v1 (2 tasks)",
            "入组随访路径 discharge-general v1（2 个任务）",
        ),
        "search by ID-like number (page 1)": (
            "search by an ID number (page 1)",
            "按身份证号检索（第 1 页）",
        ),
        "list (page 2)": ("list (page 2)", "患者列表（第 2 页）"),
        "added tag 血糖监测": ("added tag 血糖监测", "添加标签 血糖监测"),
        "reading uploaded by the patient (steps)": (
            "reading uploaded by the patient (steps)",
            "患者上传自测数据（步数）",
        ),
        "patient link made (readings)": (
            "patient link made (readings)",
            "生成患者链接（readings）",
        ),
    }
    for stored, (english, chinese) in cases.items():
        with translation.override("en"):
            assert summary_label(stored) == english, stored
        with translation.override("zh-hans"):
            assert summary_label(stored) == chinese, stored


def test_a_revisit_request_and_a_questionnaire_answered_read_in_the_pages_language() -> None:
    """The supervisor reading the audit log in Chinese met these two in English."""
    cases = {
        "revisit requested for 2026-12-10": (
            "revisit requested for 2026-12-10",
            "申请 2026-12-10 复诊",
        ),
        "phq9 v1 answered (patient)": (
            "questionnaire phq9 v1 answered (patient page)",
            "问卷 phq9 v1 已作答（患者页面）",
        ),
        "reading uploaded by the patient (glucose)": (
            "reading uploaded by the patient (blood glucose)",
            "患者上传自测数据（血糖）",
        ),
    }
    for stored, (english, chinese) in cases.items():
        with translation.override("en"):
            assert summary_label(stored) == english, stored
        with translation.override("zh-hans"):
            assert summary_label(stored) == chinese, stored


def test_alert_steps_printed_reports_and_patients_requests_read_in_the_pages_language() -> None:
    """The supervisor reading the audit log in Chinese after a walk met these in English:
    an alert acknowledged and started, a report printed, a revisit asked for on the
    patient's pages, and the patient page named as who did it."""
    from careloop.audit.models import AuditEvent

    cases = {
        "alert acknowledge: open→acknowledged": (
            "alert Acknowledge: open → acknowledged",
            "预警“确认”：待处理 → 已确认",
        ),
        "alert start: acknowledged→in_progress": (
            "alert Start handling: acknowledged → in progress",
            "预警“开始处理”：已确认 → 处理中",
        ),
        "health report printed (2 pages)": (
            "health report printed (2 pages)",
            "打印健康报告（2 页）",
        ),
        "revisit requested by the patient for 2026-12-20": (
            "revisit requested by the patient for 2026-12-20",
            "患者申请 2026-12-20 复诊",
        ),
        "consultation requested by the patient for 2026-12-21": (
            "consultation requested by the patient for 2026-12-21",
            "患者申请 2026-12-21 咨询",
        ),
    }
    for stored, (english, chinese) in cases.items():
        with translation.override("en"):
            assert summary_label(stored) == english, stored
        with translation.override("zh-hans"):
            assert summary_label(stored) == chinese, stored
    by_patient = AuditEvent(actor_label="patient page")
    with translation.override("zh-hans"):
        assert by_patient.actor_display == "患者页面"
        assert AuditEvent(actor_label="nurse").actor_display == "nurse"


def test_the_follow_up_work_a_nurse_and_a_supervisor_did_reads_in_chinese_in_the_audit_log() -> (
    None
):
    """Walking a nurse's and a supervisor's day, the audit log (zh-hans) showed these in
    English: taking or assigning tasks, each try's outcome, a hand-over, a quality score,
    a referral and its answer, the plans a death stopped."""
    cases = {
        "assigned 3 tasks to 7": (
            "assigned 3 tasks to staff member #7",
            "将 3 个任务分派给员工 #7",
        ),
        "handed over 3 tasks and 0 alerts from 3 to 4": (
            "handed over 3 tasks and 0 alerts from staff member #3 to staff member #4",
            "将 3 个任务和 0 条预警从员工 #3 移交给员工 #4",
        ),
        "task 71: reached (控制不满意)": (
            "task 71: reached (not controlled)",
            "任务 71：已联系上（控制不满意）",
        ),
        "task 6: no_answer": ("task 6: no answer", "任务 6：无人接听"),
        "record 55 scored 83": (
            "follow-up record 55 scored 83",
            "随访记录 55 质控评分 83",
        ),
        "referred to C1 (hand over)": (
            "referred to C1, follow-up handed over",
            "转诊至 C1，移交随访",
        ),
        "referred to C1": ("referred to C1", "转诊至 C1"),
        "referral accepted": ("referral accepted", "转诊已接收"),
        "referral cancelled": ("referral withdrawn", "转诊已撤回"),
        "plan stopped: deceased": ("plan stopped: deceased", "随访计划停止：已故"),
        "plan stopped: by_staff (家属要求)": (
            "plan stopped: stopped by staff (家属要求)",
            "随访计划停止：工作人员停止（家属要求）",
        ),
    }
    for stored, (english, chinese) in cases.items():
        with translation.override("en"):
            assert summary_label(stored) == english, stored
        with translation.override("zh-hans"):
            assert summary_label(stored) == chinese, stored
