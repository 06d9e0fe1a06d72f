"""Where follow-up alerts come from besides rules and critical values: what a nurse finds
on the phone (red-flag symptoms, urgent referral, severe pain, a wound gone bad, a low
satisfaction score), a nurse raising one by hand, a high-risk patient's follow-up left
overdue, and a booked revisit the patient missed."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from careloop.audit.services import record
from careloop.clinical.models import Encounter
from careloop.followup.forms import RED_FLAGS
from careloop.followup.models import (
    OPEN_STATUSES,
    Alert,
    AlertEvent,
    FollowUpRecord,
    RevisitRequest,
    Task,
)
from careloop.followup.services import new_alert, raise_alert
from careloop.interop.webhook_events import alert_events, alerts_created
from careloop.patients.models import Tier

SEV = Alert.Severity
PAIN_SEVERE = 7  # 0–10 numeric rating: 7 and above is severe pain
LOW_SATISFACTION = 6  # 0–10 likelihood to recommend: 0–6 are detractors (NPS)
REVISIT_GRACE = timedelta(days=1)  # a booked revisit counts as missed a day after


def _sentence(text: str) -> str:
    """``text`` ended with a full stop (the classification's reason and action have none)."""
    return text if not text or text.endswith(("。", "！", "？")) else text + "。"


def findings(task: Task, answers: dict[str, Any], result: dict[str, Any] | None) -> list[dict]:
    """What in a reached patient's answers needs a human, each as alert fields."""
    found: list[dict[str, Any]] = []
    if result and result.get("urgent_referral"):
        found.append(
            {
                "severity": SEV.CRITICAL,
                "title": f"需紧急转诊：{result.get('classification', '')}",
                "reason": f"随访表判定需紧急转诊：{_sentence(result.get('reason', ''))}"
                f"处理：{_sentence(result.get('action', ''))}",
            }
        )
    elif result and result.get("referral"):
        found.append(
            {
                "severity": SEV.HIGH,
                "title": f"需转诊：{result.get('classification', '')}",
                "reason": f"随访表判定需转诊：{_sentence(result.get('reason', ''))}",
            }
        )
    flags = sorted(RED_FLAGS.intersection(answers.get("symptoms") or []))
    if flags and not (result and result.get("urgent_referral")):
        found.append(
            {
                "severity": SEV.HIGH,
                "title": f"随访发现危险症状：{'、'.join(flags)}",
                "reason": f"患者在随访中报告{'、'.join(flags)}，需医生评估是否就诊。",
            }
        )
    pain = answers.get("pain")
    if isinstance(pain, int) and pain >= PAIN_SEVERE:
        found.append(
            {
                "severity": SEV.HIGH,
                "title": f"术后疼痛评分 {pain} 分",
                "reason": f"疼痛评分 {pain}/10，达到重度疼痛（≥{PAIN_SEVERE}），"
                "需评估镇痛和伤口情况。",
            }
        )
    wound = answers.get("wound")
    if wound in ("裂开", "感染") or (wound and wound != "愈合良好" and answers.get("fever")):
        extra = "，伴发热" if answers.get("fever") else ""
        found.append(
            {
                "severity": SEV.HIGH,
                "title": f"伤口异常：{wound}",
                "reason": f"随访发现伤口{wound}{extra}，需安排换药或复诊。",
            }
        )
    score = answers.get("score")
    if task.form == "satisfaction" and isinstance(score, int) and score <= LOW_SATISFACTION:
        found.append(
            {
                "kind": Alert.Kind.LOW_SATISFACTION,
                "severity": SEV.MEDIUM if score <= 4 else SEV.LOW,
                "title": f"满意度低：{score} 分",
                "reason": f"患者推荐意愿 {score}/10（≤{LOW_SATISFACTION} 为不满意），"
                f"请回访了解原因。{answers.get('comments', '')}",
            }
        )
    return found


def alerts_from_record(task: Task, entry: FollowUpRecord, result: dict[str, Any] | None) -> int:
    """Raise the alerts a reached follow-up's answers call for (inside its transaction)."""
    found = findings(task, entry.answers, result)
    for fields in found:
        raise_alert(
            task.patient,
            kind=fields.pop("kind", Alert.Kind.FOLLOWUP),
            details={"task": task.pk, "record": entry.pk, "form": task.form},
            task_id=task.pk,
            **fields,
        )
    return len(found)


def raise_by_hand(
    patient: Any, actor: Any, *, severity: str, title: str, reason: str, task: Task | None
) -> Alert:
    """A nurse raises an alert from a follow-up (next step "raise an alert"). The same alert
    still open (the form sent twice, or a colleague's with the same words) is returned
    instead of a second: it was raised before this call began."""
    with transaction.atomic():
        type(patient).objects.select_for_update().filter(pk=patient.pk).first()
        same = Alert.objects.filter(
            patient=patient,
            kind=Alert.Kind.MANUAL,
            task=task,
            title=title[:200],
            reason=reason,
            status__in=OPEN_STATUSES,
        ).first()
        if same is not None:
            return same
        alert = raise_alert(
            patient,
            kind=Alert.Kind.MANUAL,
            severity=severity,
            title=title,
            reason=reason,
            details={"task": task.pk} if task else {},
            task_id=task.pk if task else None,
        )
        alert_events(
            [
                AlertEvent.objects.create(
                    alert=alert, action="raise", to_status=alert.status, actor=actor, note=reason
                )
            ]
        )
        record(actor, "create", "alert", alert.pk, patient_id=patient.pk, summary="raised by hand")
    return alert


def raise_overdue_alerts(*, now: datetime | None = None) -> int:
    """A high-risk patient's follow-up past its latest time gets one alert (once per task)."""
    now = now or timezone.now()
    already = Alert.objects.filter(task=OuterRef("pk"), kind=Alert.Kind.OVERDUE_TASK)
    tasks = (
        Task.objects.filter(status=Task.Status.OPEN, deadline__lt=now, patient__risk_tier=Tier.HIGH)
        .filter(~Exists(already))
        .select_related("patient")
        .order_by("deadline")[:1000]
    )
    alerts = []
    seen: dict[Any, Any] = {}  # who may open whom, asked once per owner (staff_sees)
    for task in tasks:
        late = now - task.deadline
        days = max(1, late.days)
        alert = new_alert(
            task.patient,
            kind=Alert.Kind.OVERDUE_TASK,
            severity=SEV.HIGH,
            title=f"高风险患者随访逾期：{task.title}",
            reason=f"高风险患者的“{task.title}”已超过最晚完成时间 {days} 天仍未完成"
            f"（应于 {timezone.localtime(task.deadline):%Y-%m-%d %H:%M} 前），请尽快联系患者。",
            details={"task": task.pk, "deadline": task.deadline.isoformat()},
            assignee_id=task.assignee_id,
            task_id=task.pk,
            memo=seen,
        )
        alerts.append(alert)
    # A unique constraint (one overdue alert per task) makes a second sweep at the same time
    # harmless.
    Alert.objects.bulk_create(alerts, ignore_conflicts=True)
    if alerts:  # those this sweep inserted (read only when an endpoint listens): each
        # known by its task and the very moment it was made, not one a sweep running at
        # the same time inserted first (that one sends its own)
        made = {(a.task_id, a.created_at) for a in alerts}
        alerts_created(
            pk
            for pk, task_id, at in Alert.objects.filter(
                kind=Alert.Kind.OVERDUE_TASK, task_id__in=[a.task_id for a in alerts]
            ).values_list("pk", "task_id", "created_at")
            if (task_id, at) in made
        )
    return len(alerts)


def flag_missed_revisits(*, now: datetime | None = None) -> int:
    """A booked revisit a day past its appointment with no visit since it was booked: the
    request is marked missed and an alert raised."""
    now = now or timezone.now()
    visited = Encounter.objects.filter(
        patient_id=OuterRef("patient_id"),
        kind__in=[Encounter.Kind.OUTPATIENT, Encounter.Kind.INPATIENT, Encounter.Kind.EXAM],
        started_at__gte=OuterRef("requested_at"),
    ).exclude(status=Encounter.Status.CANCELLED)
    missed = 0
    due = RevisitRequest.objects.filter(
        kind=RevisitRequest.Kind.REVISIT,  # a consultation may be by telephone: no visit
        status=RevisitRequest.Status.BOOKED,
        appointment_at__lt=now - REVISIT_GRACE,
    ).annotate(came=Exists(visited))
    for revisit in due.select_related("patient")[:1000]:
        with transaction.atomic():
            # Claimed only if still booked at that time: a coordinator who just moved the
            # appointment, or a second sweep, wins.
            claimed = RevisitRequest.objects.filter(
                pk=revisit.pk,
                status=RevisitRequest.Status.BOOKED,
                appointment_at=revisit.appointment_at,
            ).update(
                status=RevisitRequest.Status.ATTENDED
                if revisit.came
                else RevisitRequest.Status.MISSED,
                closed_at=now,
            )
            if not claimed or revisit.came:
                continue
            when = timezone.localtime(revisit.appointment_at)
            high = revisit.patient.risk_tier == Tier.HIGH
            raise_alert(
                revisit.patient,
                kind=Alert.Kind.MISSED_REVISIT,
                severity=SEV.HIGH if high else SEV.MEDIUM,
                title=f"未按约复诊：{when:%m-%d} {revisit.department}".strip(),
                reason=f"患者预约于 {when:%Y-%m-%d %H:%M} 复诊"
                f"{('（' + revisit.department + '）') if revisit.department else ''}，"
                "至今没有就诊记录，请联系患者了解原因并重新预约。",
                details={"revisit": revisit.pk},
                task_id=revisit.task_id,
            )
            missed += 1
    return missed


def mark_attended(patient_id: int, visit_at: datetime) -> int:
    """A visit happened: the patient's booked or requested revisits are attended (not a
    consultation: a visit for something else does not answer it)."""
    return RevisitRequest.objects.filter(
        patient_id=patient_id,
        kind=RevisitRequest.Kind.REVISIT,
        status__in=[RevisitRequest.Status.REQUESTED, RevisitRequest.Status.BOOKED],
        requested_at__lte=visit_at,
    ).update(status=RevisitRequest.Status.ATTENDED, closed_at=timezone.now())
