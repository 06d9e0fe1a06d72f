"""``create_instances``: new model instances inserted in one go, their ids set in order and
every value stored as Django would store it (JSON, aware times, foreign keys)."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from careloop.bulk import create_instances
from careloop.rules.models import Rule, RuleFiring
from careloop.rules.services import do_save_rule

pytestmark = pytest.mark.django_db


@pytest.fixture
def rule(db: None) -> Rule:
    definition = {
        "name": "收缩压过高",
        "trigger": "observation",
        "condition": {"kind": "latest", "code": "8480-6", "op": ">=", "value": 160},
        "actions": [{"type": "tag", "tag": "血压高"}],
    }
    return do_save_rule(None, "bulk-test", definition)[0]


def test_ids_come_back_ascending_in_row_order_and_values_round_trip(
    rule: Rule, patient_factory: Any
) -> None:
    people = patient_factory.create_batch(3)
    start = datetime(2026, 11, 23, 23, 40, 0, 123_456, tzinfo=UTC)
    firings = [
        RuleFiring(
            rule=rule,
            version=rule.version,
            patient=person,
            fired_at=start + timedelta(minutes=i),
            trigger="observation",
            reasons=[f"收缩压 {170 + i} ≥ 160"],
            seen={"readings": {"8480-6": [[start.isoformat(), 170 + i, "mmHg"]]}},
            actions=[{"type": "tag", "tag": "血压高"}],
        )
        for i, person in enumerate(people * 2)
    ]
    create_instances(firings)
    ids = [f.pk for f in firings]
    assert all(ids) and ids == sorted(ids) and len(set(ids)) == len(ids)
    assert not firings[0]._state.adding
    for made in firings:
        stored = RuleFiring.objects.get(pk=made.pk)
        assert (stored.patient_id, stored.fired_at, stored.reasons, stored.seen) == (
            made.patient_id,
            made.fired_at,
            made.reasons,
            made.seen,
        )
    # the table's own sequence goes on after the ids handed out
    later = RuleFiring.objects.create(
        rule=rule, version=rule.version, patient=people[0], trigger="observation"
    )
    assert later.pk > ids[-1]


def test_insert_rows_can_leave_out_rows_that_break_a_unique_constraint(
    patient_factory: Any,
) -> None:
    """``ignore_conflicts``: a row whose unique key is already there is left out, the others
    go in and are counted; values are converted as for any insert (the encrypted recipient,
    JSON)."""
    from careloop.bulk import insert_rows
    from careloop.outreach.models import Message
    from careloop.outreach.queueing import MESSAGE_DEFAULTS, MESSAGE_FIELDS

    person = patient_factory()
    now = datetime(2026, 12, 4, 8, tzinfo=UTC)

    def row(key: str, body: str) -> tuple:
        return (
            person.organisation_id, person.pk, None, key, "sms", "outbox", "revisit_reminder",
            "13800000000", "", body, "", {"name": "张阿姨"}, {}, "", now, now, *MESSAGE_DEFAULTS,
        )  # fmt: skip

    assert insert_rows(Message, MESSAGE_FIELDS, [row("k1", "first")], ignore_conflicts=True) == 1
    again = [row("k1", "again"), row("k2", "second")]
    assert insert_rows(Message, MESSAGE_FIELDS, again, ignore_conflicts=True) == 1  # k2 alone
    stored = {m.key: m for m in Message.objects.all()}
    assert {k: m.body for k, m in stored.items()} == {"k1": "first", "k2": "second"}
    assert stored["k2"].to == "13800000000" and stored["k2"].params == {"name": "张阿姨"}
    assert (stored["k2"].status, stored["k2"].tries, stored["k2"].sent_at) == ("queued", 0, None)


def test_json_values_equal_as_keys_but_not_as_json_stay_apart() -> None:
    """Repeated short lists are serialised once; 1, 1.0 and True are equal as dict keys but
    not as JSON, so each keeps its own text."""
    from django.db import models

    from careloop.bulk import _json_converter

    convert = _json_converter(models.JSONField())
    assert [convert(v) for v in ([1], [True], [1.0], ["sms"], ["sms"], None)] == [
        "[1]", "[true]", "[1.0]", '["sms"]', '["sms"]', None,
    ]  # fmt: skip
