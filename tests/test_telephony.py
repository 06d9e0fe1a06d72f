# ruff: noqa: F811  (the programme fixture is imported from test_followup_web)
"""The telephony webhook: a signed multipart post from the call centre records a call with its
recording, or attaches the recording to the attempt the nurse already saved; anything unsigned,
stale, re-sent or malformed is answered with what is wrong and changes nothing."""

from __future__ import annotations

import time
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart

from careloop.followup.models import FollowUpRecord, Task
from careloop.followup.outcomes import Attempt, do_record_attempt
from careloop.followup.telephony import signature
from tests.test_followup_web import programme, wav_bytes  # noqa: F401 (fixture)

SECRET = "s3cret-of-the-call-centre"
URL = "/hooks/telephony/recording"


@pytest.fixture(autouse=True)
def _secret(settings: Any) -> None:
    settings.CARELOOP_TELEPHONY_SECRET = SECRET


def post(
    fields: dict[str, Any],
    *,
    secret: str = SECRET,
    skew: int = 0,
    tamper: bool = False,
    stamp_text: str = "",
) -> Any:
    data = dict(fields)
    if "recording" in data and isinstance(data["recording"], bytes):
        data["recording"] = SimpleUploadedFile("call.wav", data["recording"])
    body = encode_multipart(BOUNDARY, data)
    stamp = stamp_text or str(int(time.time()) + skew)
    signed = signature(secret, stamp, body)
    if tamper:
        body = body.replace(b"no_answer", b"reached__")
    return Client().generic(
        "POST",
        URL,
        body,
        content_type=MULTIPART_CONTENT,
        HTTP_X_CARELOOP_TIMESTAMP=stamp,
        HTTP_X_CARELOOP_SIGNATURE=signed,
    )


def test_a_signed_call_is_recorded_as_an_attempt_and_a_resend_changes_nothing(
    programme: Task,
    carol: Any,
) -> None:
    fields = {
        "call_id": "CC-20261203-0001",
        "task": programme.pk,
        "agent": "carol",
        "outcome": "no_answer",
        "duration_seconds": "31",
        "recording": wav_bytes(),
    }
    response = post(fields)
    assert response.status_code == 201, response.content
    body = response.json()
    entry = FollowUpRecord.objects.get(pk=body["record"])
    assert (entry.outcome, entry.by, entry.recording_type, entry.call_id) == (
        "no_answer",
        carol,
        "wav",
        "CC-20261203-0001",
    )
    assert entry.recording.read() == wav_bytes()
    programme.refresh_from_db()
    assert programme.attempts == 1 and programme.status == "open"  # retried later
    again = post(fields)
    assert again.status_code == 200 and again.json() == {
        "record": entry.pk,
        "task": programme.pk,
        "duplicate": True,
    }
    assert FollowUpRecord.objects.count() == 1


def test_a_recording_without_outcome_is_attached_to_the_saved_attempt(
    programme: Task,
    carol: Any,
) -> None:
    saved = do_record_attempt(programme, carol, Attempt(outcome="busy"))
    response = post({"call_id": "CC-2", "task": programme.pk, "recording": wav_bytes(0.2)})
    assert response.status_code == 201 and response.json()["attached"] is True
    saved.refresh_from_db()
    assert saved.recording_type == "wav" and saved.call_id == "CC-2"
    assert FollowUpRecord.objects.count() == 1
    # Nothing left without a recording: the next one has nowhere to go.
    refused = post({"call_id": "CC-3", "task": programme.pk, "recording": wav_bytes(0.2)})
    assert refused.status_code == 409


@pytest.mark.parametrize(
    ("change", "status", "field"),
    [
        ({"secret": "wrong"}, 401, ""),
        ({"skew": -3600}, 401, ""),
        ({"tamper": True}, 401, ""),
        ({"stamp_text": "²"}, 401, ""),
        ({"fields": {"recording": b"%PDF-1.4 not audio"}}, 400, "recording"),
        ({"fields": {"task": 999999}}, 400, "task"),
        ({"fields": {"call_id": ""}}, 400, "call_id"),
        ({"fields": {"outcome": "deceased"}}, 400, "outcome"),
        ({"fields": {"outcome": "reached"}}, 409, "outcome"),  # the htn form: the nurse saves
    ],
)
def test_bad_requests_say_what_is_wrong_and_store_nothing(
    programme: Task,
    change: dict[str, Any],
    status: int,
    field: str,
) -> None:
    fields = {
        "call_id": "CC-9",
        "task": programme.pk,
        "outcome": "no_answer",
        "recording": wav_bytes(0.1),
    }
    fields.update(change.pop("fields", {}))
    response = post(fields, **change)
    assert response.status_code == status
    assert response.json()["field"] == field and response.json()["detail"]
    assert not FollowUpRecord.objects.exists()


def test_the_webhook_is_off_without_a_secret(settings: Any, programme: Task) -> None:
    settings.CARELOOP_TELEPHONY_SECRET = ""
    response = post({"call_id": "x", "task": programme.pk, "recording": wav_bytes(0.1)})
    assert response.status_code == 404


def test_a_recording_is_not_kept_under_the_call_centres_file_name(
    programme: Task, carol: Any
) -> None:
    """Given a call centre that names its recordings by the number it called, when a call is
    posted with its outcome and another recording is attached to a saved attempt, then
    neither the stored file's name nor its column holds the phone number."""
    from django.db import connection

    named = {"recording": SimpleUploadedFile("13900001234_20261206093000.wav", wav_bytes())}
    first = post({"call_id": "CC-P1", "task": programme.pk, "outcome": "busy", **named})
    assert first.status_code == 201, first.content
    do_record_attempt(programme, carol, Attempt(outcome="busy"))
    named = {"recording": SimpleUploadedFile("13900001234-2.wav", wav_bytes(0.2))}
    attached = post({"call_id": "CC-P2", "task": programme.pk, **named})
    assert attached.status_code == 201 and attached.json()["attached"] is True

    entries = FollowUpRecord.objects.filter(call_id__in=["CC-P1", "CC-P2"])
    assert len(entries) == 2
    for entry in entries:
        assert entry.recording.name.endswith(".wav")
        assert "13900001234" not in entry.recording.name
        assert entry.recording.read()[:4] == b"RIFF"
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT recording FROM {FollowUpRecord._meta.db_table}")
        assert not [row for row in cursor.fetchall() if "13900001234" in row[0]]
