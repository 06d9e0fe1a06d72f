"""Two people (or two clicks) doing the same thing at the same moment, on PostgreSQL where
requests really run side by side: one effect, and the other told what happened."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from careloop.followup.handoffs import do_refer
from careloop.followup.models import Referral
from careloop.patients.models import PatientShare

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="needs two connections at once (PostgreSQL)"
    ),
]
MEET = 3.0  # seconds two requests wait for each other where a fix holds one back


def together(*calls: Callable[[], Any]) -> list[Any]:
    """Run each call on a connection of its own at once; what each returned or raised."""
    results: list[Any] = [None] * len(calls)

    def run(index: int, call: Callable[[], Any]) -> None:
        try:
            results[index] = call()
        except Exception as exc:  # the result to assert on
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def meeting(count: int) -> Callable[[], None]:
    """A point both requests reach before either goes on; one held back by a lock (the fix)
    does not arrive, and the other goes on after ``MEET`` seconds."""
    barrier = threading.Barrier(count)

    def meet() -> None:
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait(timeout=MEET)

    return meet


def test_a_referral_sent_twice_at_once_waits_once(
    hospital: Any, community: Any, alice: Any, bob: Any, patient_factory: Any, monkeypatch: Any
) -> None:
    """Given a patient, when two nurses refer them to the community centre at the same
    moment, then one referral waits (the share made once) and the other is told who sent
    it."""
    patient = patient_factory(organisation=hospital)
    meet = meeting(2)
    share = PatientShare.objects.get_or_create

    def shared_after_meeting(*args: Any, **kwargs: Any) -> Any:
        meet()  # both have looked for a waiting referral: neither has made one yet
        return share(*args, **kwargs)

    monkeypatch.setattr(PatientShare.objects, "get_or_create", shared_after_meeting)
    results = together(
        *(
            (lambda who=who: do_refer(who, patient, community, reason="转社区"))
            for who in (alice, bob)
        )
    )
    assert Referral.objects.filter(patient=patient, status="pending").count() == 1
    refused = [r for r in results if isinstance(r, ValidationError)]
    assert len(refused) == 1, results
    assert "already waiting" in str(refused[0]) or "已有" in str(refused[0])
