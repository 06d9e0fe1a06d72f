"""Call recordings on S3-compatible storage: with CARELOOP_S3_BUCKET set, a recording saved
with a follow-up lands in the bucket (over HTTP, against a local S3 server) and plays back
with range requests."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from moto.server import ThreadedMotoServer

from careloop import settings as careloop_settings
from careloop.followup.models import Task
from careloop.followup.outcomes import Attempt, do_record_attempt
from tests.test_followup_web import programme, wav_bytes  # noqa: F401 (fixture)
from tests.test_patients_web import logged_in

ENV = {
    "CARELOOP_S3_BUCKET": "careloop-media",
    "CARELOOP_S3_REGION": "cn-north-1",
    "CARELOOP_S3_ACCESS_KEY": "test-key",
    "CARELOOP_S3_SECRET_KEY": "test-secret",
    "CARELOOP_S3_PREFIX": "hospital-1",
}


@pytest.fixture
def s3_endpoint() -> Iterator[str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def test_no_bucket_keeps_recordings_on_disk(monkeypatch: Any) -> None:
    monkeypatch.delenv("CARELOOP_S3_BUCKET", raising=False)
    assert careloop_settings.s3_storage() is None


def test_recordings_go_to_the_bucket_and_play_back(
    s3_endpoint: str,
    monkeypatch: Any,
    settings: Any,
    programme: Task,  # noqa: F811
    carol: Any,
) -> None:
    for name, value in {**ENV, "CARELOOP_S3_ENDPOINT": s3_endpoint}.items():
        monkeypatch.setenv(name, value)
    storage = careloop_settings.s3_storage()
    assert storage is not None and storage["OPTIONS"]["endpoint_url"] == s3_endpoint
    client = boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        region_name="cn-north-1",
        aws_access_key_id="test-key",
        aws_secret_access_key="test-secret",
    )
    client.create_bucket(
        Bucket="careloop-media", CreateBucketConfiguration={"LocationConstraint": "cn-north-1"}
    )
    settings.STORAGES = {**settings.STORAGES, "default": storage}

    audio = wav_bytes(0.4)
    upload = SimpleUploadedFile("call.wav", audio)
    entry = do_record_attempt(
        programme, carol, Attempt(outcome="busy", recording=upload, recording_type="wav")
    )
    keys = [o["Key"] for o in client.list_objects_v2(Bucket="careloop-media")["Contents"]]
    assert keys == [f"hospital-1/{entry.recording.name}"]
    stored = client.get_object(Bucket="careloop-media", Key=keys[0])["Body"].read()
    assert stored == audio

    response = logged_in(carol).get(
        f"/worklist/records/{entry.pk}/recording/", HTTP_RANGE="bytes=100-199"
    )
    assert response.status_code == 206
    assert b"".join(response.streaming_content) == audio[100:200]
