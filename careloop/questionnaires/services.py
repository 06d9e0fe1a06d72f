"""Saving questionnaires (checked, versioned, audited), the shipped pack, and submitting
answers: checked and scored, stored, flags raised as one alert, the questionnaire rules run,
and the follow-up that asked for it completed."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from careloop.accounts.ownership import may_change_owned, owner_of_new
from careloop.audit.services import record
from careloop.followup.models import Alert, Task
from careloop.ids import latest_id
from careloop.questionnaires.access import may_change
from careloop.questionnaires.definition import (
    AnswerError,
    Definition,
    DefinitionError,
    Result,
    compile_definition,
    evaluate,
)
from careloop.questionnaires.fhir import CANONICAL, to_questionnaire
from careloop.questionnaires.models import (
    Questionnaire,
    QuestionnaireResponse,
    QuestionnaireVersion,
)
from careloop.said import gettext_noop

PACK = Path(__file__).resolve().parent / "data" / "pack.json"
SEVERITY_ORDER = ("low", "medium", "high", "critical")


@lru_cache(maxsize=256)
def _compiled(version_id: int, text: str) -> Definition:
    return compile_definition(json.loads(text))


def definition_of(version: QuestionnaireVersion) -> Definition:
    return _compiled(version.pk, json.dumps(version.definition, sort_keys=True))


def as_fhir(row: Questionnaire, version: QuestionnaireVersion | None = None) -> dict[str, Any]:
    """The questionnaire's ``version`` (its latest unless given) as a FHIR Questionnaire,
    under the canonical url and version its author gave it (an import) or ours."""
    version = version or row.latest()
    return to_questionnaire(
        definition_of(version),
        version.definition,
        version.version,
        row.status,
        url=row.url,
        label=version.label,
    )


def current(code: str) -> QuestionnaireVersion | None:
    return (
        QuestionnaireVersion.objects.filter(
            questionnaire__code=code, questionnaire__status=Questionnaire.Status.ACTIVE
        )
        .select_related("questionnaire")
        .order_by("-version")
        .first()
    )


class Conflict(DefinitionError):
    """Saving would give a canonical URL, or one of its versions, a second meaning (FHIR
    answers 409): another questionnaire has the code, or ``url|version`` is already saved
    with other questions."""


def do_save_questionnaire(
    actor: Any,
    data: dict[str, Any],
    *,
    status: str = Questionnaire.Status.ACTIVE,
    url: str = "",
    label: str = "",
) -> tuple[Questionnaire, bool]:
    """Create the questionnaire ``data["code"]`` or save a new version when the definition
    changed; ``DefinitionError`` when it is wrong. Returns (questionnaire, changed).

    ``url`` and ``label``: the canonical URL and version an imported FHIR Questionnaire
    names itself by. One URL is one questionnaire: saved again, it is a new version of the
    same one (whatever code its name gives) as our own are, and that version keeps the
    ``label`` (a new label is a new version even with the same questions; a label already
    saved must come with the same questions, else ``Conflict``). A questionnaire keeps its
    URL: a code already used by a questionnaire of another URL (or by one of ours) is a
    ``Conflict``. Without a URL (ours, our JSON, the browser) the questionnaire keeps the
    URL it has."""
    user = actor if getattr(actor, "is_authenticated", False) else None
    with transaction.atomic():
        row = None
        if url:
            row = Questionnaire.objects.select_for_update().filter(url=url).first()
            if row is not None:
                data = {**data, "code": row.code}  # the same questionnaire, whatever its name
        definition = compile_definition(data)
        if row is None:
            row = Questionnaire.objects.select_for_update().filter(code=definition.code).first()
            if row is not None and url and row.url != url:
                raise Conflict(
                    "name",
                    gettext_noop(
                        "%(code)s is already the code of another questionnaire (%(canonical)s); "
                        "give it another name to import %(url)s"
                    ),
                    code=definition.code,
                    canonical=row.canonical,
                    url=url,
                )
        creating = row is None
        if row is None:
            owner = owner_of_new(user)
            if not may_change_owned(user, owner.pk if owner is not None else None):
                raise PermissionDenied(  # a user of no organisation: not every one's either
                    "a questionnaire for every organisation is made by staff over all of them"
                )
            row = Questionnaire(
                code=definition.code, title=definition.title, url=url, organisation=owner
            )
        elif not may_change(user, row):
            raise PermissionDenied(
                f"questionnaire {row.code} belongs to another organisation (or to every "
                "one): only its own staff change it"
            )
        last = row.versions.order_by("-version").first() if not creating else None
        new_version = last is None or last.definition != data
        if label and not creating:
            same = row.versions.filter(label=label).first()
            if same is not None and same.definition != data:
                raise Conflict(
                    "version",
                    gettext_noop(
                        "%(canonical)s|%(label)s is saved with other questions; a changed "
                        "questionnaire needs a new version"
                    ),
                    canonical=row.canonical,
                    label=label,
                )
            new_version = same is None
        if not new_version and row.status == status:
            return row, False
        row.title, row.status = definition.title, status
        if new_version:
            row.version += 1
        row.updated_at = timezone.now()
        row.save()
        if new_version:
            QuestionnaireVersion.objects.create(
                questionnaire=row, version=row.version, label=label, definition=data, saved_by=user
            )
        record(
            user,
            "create" if creating else "update",
            "questionnaire",
            row.code,
            actor_label="" if user else "cli",
            summary=f"questionnaire {row.code} v{row.version} ({row.status})"
            + (f" {row.url}|{label}" if row.url and label else ""),
        )
    return row, True


def by_canonical(reference: str) -> tuple[Questionnaire | None, QuestionnaireVersion | None]:
    """The questionnaire a canonical reference (``url`` or ``url|version``) names and the
    version: ours by ``urn:careloop:questionnaire:<code>[|<number>]``, an imported one by
    the URL it came with and its author's version (or our number where it gave none).
    Without a version, the newest; (None, None) when there is none, (row, None) when the
    questionnaire is here but not that version."""
    url, _sep, wanted = reference.partition("|")
    if url.startswith(CANONICAL):
        row = Questionnaire.objects.filter(code=url.removeprefix(CANONICAL), url="").first()
    else:
        row = Questionnaire.objects.filter(url=url).first() if url else None
    if row is None:
        return None, None
    versions = row.versions.order_by("-version")
    if not wanted:
        return row, versions.first()
    # The author's version first; a number names one saved without (in the browser, say).
    found = versions.filter(label=wanted).first()
    if found is None and wanted.isdecimal():
        found = versions.filter(label="", version=int(wanted)).first()
    return row, found


def pack_questionnaires() -> list[dict[str, Any]]:
    from careloop.rules.risk.tcm import questionnaire as tcm_questionnaire

    shipped = list(json.loads(PACK.read_text(encoding="utf-8"))["questionnaires"])
    return [*shipped, tcm_questionnaire()]


def load_pack(actor: Any = None) -> list[dict[str, Any]]:
    """Save the shipped questionnaires (a new version only where one differs)."""
    done = []
    for data in pack_questionnaires():
        row, changed = do_save_questionnaire(actor, data)
        done.append({"code": row.code, "version": row.version, "changed": changed})
    return done


@dataclass
class Submitted:
    response: QuestionnaireResponse
    result: Result
    rules_fired: int
    # What the answers and the patient's own words show (the flags' symptoms, those read in
    # what they wrote): 自伤风险 among them, the patient is told where to turn at once.
    symptoms: frozenset[str] = frozenset()


def _alert(result: Result, patient: Any, definition: Definition, task: Task | None) -> Alert:
    from careloop.followup.services import raise_alert

    worst = max(result.flags, key=lambda f: SEVERITY_ORDER.index(f.severity))
    titles = "；".join(f.title for f in result.flags)
    score = f"，总分 {result.total:g}（{result.band}）" if result.total is not None else ""
    return raise_alert(
        patient,
        kind=Alert.Kind.QUESTIONNAIRE,
        severity=worst.severity,
        title=f"{definition.title}：{worst.title}",
        reason=f"{definition.title}作答提示：{titles}{score}。"
        + (
            "存在自伤风险，请立即电话联系患者并通知责任医生。"
            if any(f.symptom == "自伤风险" for f in result.flags)
            else "请尽快联系患者评估。"
        ),
        details={
            "questionnaire": definition.code,
            "flags": [f.title for f in result.flags],
            "total": result.total,
            "task": task.pk if task else None,
        },
        task_id=task.pk if task else None,
    )


def _written_symptoms(
    definition: Definition, result: Result, patient: Any, task: Task | None, flagged: Any
) -> tuple[Alert | None, list[str]]:
    """What the patient wrote in their own words (text items) read as a reply is: symptoms
    found raise an alert (自伤风险 critical), as an SMS reply saying the same would; when the
    answers already raised one (``flagged``), the words go on its history instead.
    (The new alert or None, the symptoms found.)"""
    from careloop.followup.alert_flow import note_on
    from careloop.followup.services import raise_alert
    from careloop.outreach.replies import severity_of
    from careloop.outreach.symptoms import detect

    written = [
        str(result.answers[item.key]).strip()
        for item in definition.items
        if item.type == "text" and str(result.answers.get(item.key) or "").strip()
    ]
    found = sorted({s for text in written for s in detect(text).symptoms})
    if not found:
        return None, []
    symptoms = "、".join(found)
    said = f"患者在“{definition.title}”中写道“{'；'.join(written)[:200]}”，识别到{symptoms}。"
    if flagged is not None:
        note_on(flagged, said)
        return None, found
    alert = raise_alert(
        patient,
        kind=Alert.Kind.QUESTIONNAIRE,
        severity=severity_of(found),
        title=f"{definition.title}：患者填写提示{symptoms}",
        reason=said
        + (
            "存在自伤风险，请立即电话联系患者并通知责任医生。"
            if "自伤风险" in found
            else "请尽快联系患者评估。"
        ),
        details={"questionnaire": definition.code, "symptoms": found},
        task_id=task.pk if task else None,
    )
    return alert, found


def _answered(patient: Any, code: str, source: str) -> Any:
    return QuestionnaireResponse.objects.filter(
        patient=patient, version__questionnaire__code=code, source=source
    )


def latest_answer(patient: Any, code: str, source: str) -> int:
    """The id of the patient's latest answers to ``code`` from ``source`` (0 without): what
    a page asking them again has seen."""
    return latest_id(_answered(patient, code, source))


def answered_since(patient: Any, code: str, source: str, seen: int | None) -> Any:
    """Answers to ``code`` from ``source`` stored after the page sending more was shown
    (``seen``, from ``latest_answer``): the same page sent twice (a double tap, back and
    submit). None when there are none, or the page did not say (one shown before this)."""
    if seen is None:
        return None
    answered = _answered(patient, code, source).filter(pk__gt=seen)
    return answered.select_related("alert", "submitted_by").first()


def submit(
    version: QuestionnaireVersion,
    patient: Any,
    raw: dict[str, Any],
    *,
    source: str,
    actor: Any = None,
    task: Task | None = None,
    channel: str = "",
    submitted_at: datetime | None = None,
) -> Submitted:
    """Check and score ``raw`` (``AnswerError`` names every wrong item, nothing is stored),
    then store the answers, raise the flags as one alert, run the questionnaire rules and,
    when ``task`` is open, record it as reached with the answers. One transaction.
    ``submitted_at``: when the patient answered, if not now (a FHIR ``authored``)."""
    from careloop.followup.outcomes import Attempt, do_record_attempt
    from careloop.rules.engine import run_for_answers
    from careloop.rules.models import Trigger

    definition = definition_of(version)
    result = evaluate(definition, raw)
    assessed = _assess(definition, patient, result)
    user = actor if getattr(actor, "is_authenticated", False) else None
    with transaction.atomic():
        response = QuestionnaireResponse.objects.create(
            version=version,
            patient=patient,
            task=task,
            answers=result.answers,
            total=result.total,
            band=result.band,
            nps=result.nps,
            flags=[f.title for f in result.flags],
            source=source,
            submitted_by=user,
            **({"submitted_at": submitted_at} if submitted_at else {}),
        )
        if assessed is not None:
            _keep_assessment(patient, assessed)
        if result.flags:
            response.alert = _alert(result, patient, definition, task)
            response.save(update_fields=["alert"])
        # The patient's own words (their page, or an app over FHIR); a nurse's notes are
        # hers to act on (and read like advice: "如有胸痛及时就医").
        symptoms = {f.symptom for f in result.flags if f.symptom}
        if source in (QuestionnaireResponse.Source.PATIENT, QuestionnaireResponse.Source.FHIR):
            written, found = _written_symptoms(definition, result, patient, task, response.alert)
            symptoms.update(found)
            if written is not None and response.alert is None:
                response.alert = written
                response.save(update_fields=["alert"])
        fired = run_for_answers(
            Trigger.QUESTIONNAIRE, patient.pk, answers={definition.code: result.answers}
        )
        if task is not None and task.is_open:
            summary = {
                "questionnaire": definition.code,
                "response": response.pk,
                "total": result.total,
                "band": result.band,
            }
            do_record_attempt(
                task,
                user,
                Attempt(
                    outcome="reached",
                    answers={**summary, **_for_form(task, result)},
                    channel=channel or task.channel,
                    notes=f"{definition.title}：{result.band or '已作答'}",
                ),
            )
        record(
            user,
            "create",
            "questionnaire_response",
            response.pk,
            patient_id=patient.pk,
            actor_label="" if user else source,
            summary=f"{definition.code} v{version.version} answered ({source})",
        )
    return Submitted(response, result, fired, frozenset(symptoms))


def _assess(definition: Definition, patient: Any, result: Result) -> dict[str, Any] | None:
    """The clinical model the questionnaire names, run on the answers; its category becomes
    the response's result."""
    from careloop.rules.risk.base import InputError
    from careloop.rules.risk.registry import assess

    if not definition.assessment:
        return None
    numbers = {k: float(v) for k, v in result.answers.items() if str(v).isdecimal()}
    try:
        assessed = assess(definition.assessment, {"sex": patient.sex, "answers": numbers})
    except InputError as exc:
        raise AnswerError({exc.field.removeprefix("answers."): exc.message}) from exc
    result.band = str(assessed["category"])[:40]
    return assessed


def _keep_assessment(patient: Any, assessed: dict[str, Any]) -> None:
    from careloop.rules.models import RiskAssessment

    RiskAssessment.objects.create(
        patient=patient,
        model=assessed["model"],
        version=assessed["version"],
        category=str(assessed["category"])[:50],
        inputs=assessed["inputs"],
        result={k: v for k, v in assessed.items() if k not in ("inputs", "explanation")},
        explanation=assessed["explanation"],
    )


def _for_form(task: Task, result: Result) -> dict[str, Any]:
    """What a task's own form reads from the answers (the satisfaction score)."""
    if task.form == "satisfaction" and "recommend" in result.answers:
        return {"score": result.answers["recommend"]}
    return {}
