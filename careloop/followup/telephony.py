"""The telephony webhook: a call centre (云呼叫中心) posts a follow-up call's recording when the
call ends, signed with a shared secret.

``POST /hooks/telephony/recording`` (multipart/form-data)
    headers  ``X-CareLoop-Timestamp``: Unix seconds; ``X-CareLoop-Signature``:
             ``sha256=`` + hex HMAC-SHA256(secret, timestamp + "." + raw body)
    fields   ``call_id`` (the call centre's id, makes a re-send harmless), ``task`` (the
             follow-up task id), ``recording`` (mp3/wav/m4a/amr), optionally ``agent``
             (username), ``outcome`` (reached, no_answer, busy, wrong_number, refused),
             ``duration_seconds``.

With an ``outcome`` and an open task the call is recorded as an attempt (the plan moves on as
if the nurse had saved it) — except "reached" on a task with a form, which the nurse saves
with the answers; otherwise the recording is attached to the task's latest attempt that has
none. The body is spooled to disk while its signature is checked, so recordings up
to ``CARELOOP_RECORDING_MAX_BYTES`` never sit in memory."""

from __future__ import annotations

import hashlib
import hmac
import json
import tempfile
import time
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.multipartparser import MultiPartParser, MultiPartParserError
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from careloop.accounts.models import User
from careloop.audit.services import record
from careloop.followup.models import FollowUpRecord, Outcome, Task
from careloop.followup.outcomes import Attempt, do_record_attempt
from careloop.followup.recordings import sniff, stored_name

MAX_SKEW = 300  # seconds either side of now a signed request is accepted
CHUNK = 64 * 1024
PHONE_OUTCOMES = {o for o in Outcome.values if o != Outcome.DECEASED}


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """What the call centre sends in ``X-CareLoop-Signature`` for ``body``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def _problem(status: int, detail: str, field: str = "") -> JsonResponse:
    return JsonResponse(
        {"detail": detail, "field": field}, status=status, json_dumps_params={"ensure_ascii": False}
    )


def _spool_and_check(request: HttpRequest, secret: str) -> Any:
    """The body spooled to a temporary file, or a JsonResponse saying what is wrong."""
    stamp = request.headers.get("X-CareLoop-Timestamp", "")
    sent = request.headers.get("X-CareLoop-Signature", "")
    if not (stamp.isascii() and stamp.isdecimal()) or abs(time.time() - int(stamp)) > MAX_SKEW:
        return _problem(401, "X-CareLoop-Timestamp is missing or more than 5 minutes off")
    limit = settings.CARELOOP_RECORDING_MAX_BYTES + CHUNK
    mac = hmac.new(secret.encode(), f"{stamp}.".encode(), hashlib.sha256)
    spool = tempfile.SpooledTemporaryFile(max_size=2**20)  # noqa: SIM115 (returned open)
    total = 0
    while chunk := request.read(CHUNK):
        total += len(chunk)
        if total > limit:
            spool.close()
            return _problem(413, "the request is larger than the recording size limit")
        mac.update(chunk)
        spool.write(chunk)
    if not hmac.compare_digest(("sha256=" + mac.hexdigest()).encode(), sent.encode()):
        spool.close()
        return _problem(401, "X-CareLoop-Signature does not match the body")
    spool.seek(0)
    return spool


@csrf_exempt
@require_POST
def recording_hook(request: HttpRequest) -> HttpResponse:
    secret = settings.CARELOOP_TELEPHONY_SECRET
    if not secret:
        return _problem(404, "the telephony webhook is not configured (CARELOOP_TELEPHONY_SECRET)")
    spooled = _spool_and_check(request, secret)
    if isinstance(spooled, JsonResponse):
        return spooled
    with spooled:
        try:
            fields, files = MultiPartParser(
                request.META, spooled, request.upload_handlers, request.encoding
            ).parse()
        except MultiPartParserError:
            return _problem(400, "the body is not multipart/form-data")
        return _receive(fields, files)


def _receive(fields: Any, files: Any) -> HttpResponse:
    call_id = fields.get("call_id", "").strip()
    if not call_id or len(call_id) > 64:
        return _problem(400, "call_id is required (at most 64 characters)", "call_id")
    existing = FollowUpRecord.objects.filter(call_id=call_id).first()
    if existing is not None:
        return JsonResponse({"record": existing.pk, "task": existing.task_id, "duplicate": True})
    task_id = fields.get("task", "")
    numeric = task_id.isascii() and task_id.isdecimal()
    task = Task.objects.filter(pk=int(task_id)).first() if numeric else None
    if task is None:
        return _problem(400, f"task {task_id!r} does not exist", "task")
    upload = files.get("recording")
    if upload is None:
        return _problem(400, "recording (the audio file) is required", "recording")
    kind = sniff(upload.read(64))
    upload.seek(0)
    if kind is None:
        return _problem(400, "recording is not mp3, wav, m4a or amr (by content)", "recording")
    outcome = fields.get("outcome", "")
    if outcome and outcome not in PHONE_OUTCOMES:
        return _problem(
            400, f"outcome must be one of {', '.join(sorted(PHONE_OUTCOMES))}", "outcome"
        )
    if outcome == Outcome.REACHED and task.form and task.is_open:
        return _problem(
            409,
            "a reached call with a form is saved by the nurse (with the form's answers); "
            "send the recording without outcome afterwards",
            "outcome",
        )
    agent = User.objects.filter(username=fields.get("agent", ""), is_active=True).first()
    try:
        entry, attached = _store(task, agent, outcome, upload, kind, call_id)
    except ValidationError as exc:
        return _problem(409, " ".join(exc.messages), "task")
    except IntegrityError:  # the same call_id raced in on another worker
        entry = FollowUpRecord.objects.get(call_id=call_id)
        return JsonResponse({"record": entry.pk, "task": entry.task_id, "duplicate": True})
    if entry is None:
        return _problem(409, "the task has no attempt to attach the recording to", "task")
    record(
        None,
        "create" if not attached else "update",
        "recording",
        entry.pk,
        patient_id=entry.patient_id,
        summary=f"telephony recording ({kind}) for task {task.pk}",
        changes={"duration_seconds": fields.get("duration_seconds", "")},
    )
    body = {"record": entry.pk, "task": task.pk, "attached": attached, "duplicate": False}
    return HttpResponse(json.dumps(body), status=201, content_type="application/json")


def _store(
    task: Task, agent: User | None, outcome: str, upload: Any, kind: str, call_id: str
) -> tuple[FollowUpRecord | None, bool]:
    """A new attempt (outcome given, task open) or the recording on the latest attempt."""
    with transaction.atomic():
        if outcome and task.is_open:
            entry = do_record_attempt(
                task,
                agent,
                Attempt(outcome=outcome, recording=upload, recording_type=kind, channel="phone"),
            )
            FollowUpRecord.objects.filter(pk=entry.pk).update(call_id=call_id)
            entry.call_id = call_id
            return entry, False
        latest = (
            FollowUpRecord.objects.select_for_update()
            .filter(task=task, recording="")
            .order_by("-at", "-pk")
            .first()
        )
        if latest is None:
            return None, False
        latest.recording.save(stored_name(kind), upload, save=False)
        latest.recording_type, latest.call_id = kind, call_id
        latest.save(update_fields=["recording", "recording_type", "call_id"])
        return latest, True
