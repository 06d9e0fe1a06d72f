"""Pathway definitions and due-time arithmetic (pure functions, no database)."""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from careloop.followup.definition import DefinitionError, Node, compile_definition
from careloop.followup.schedule import (
    TIER_MATRIX,
    add_months,
    due_window,
    frequency_for,
    occurrence_days,
    retry_at,
)

SH = ZoneInfo("Asia/Shanghai")
DISCHARGE = date(2026, 11, 2)


def node(**fields: object) -> Node:
    data = {"key": "n", "title": "随访", "purpose": "condition_tracking", **fields}
    return compile_definition({"trigger": {"kind": "manual"}, "nodes": [data]}).nodes[0]


def days_after(dates: list[tuple[date, int]]) -> list[int]:
    return [(d - DISCHARGE).days for d, _ in dates]


def test_day_offsets_and_recurrences() -> None:
    assert days_after(occurrence_days(node(day=3), DISCHARGE)) == [3]
    assert days_after(occurrence_days(node(every="daily", count=14, day=1), DISCHARGE)) == list(
        range(1, 15)
    )
    weekly = node(every="weekly", count=4, day=7)
    assert days_after(occurrence_days(weekly, DISCHARGE)) == [7, 14, 21, 28]
    fortnightly = node(every="weekly", interval=2, for_days=60, day=0)
    assert days_after(occurrence_days(fortnightly, DISCHARGE)) == [0, 14, 28, 42, 56]
    quarterly = occurrence_days(node(every="quarterly", count=4, day=0), date(2026, 11, 30))
    assert [d for d, _ in quarterly] == [
        date(2026, 11, 30),
        date(2027, 2, 28),
        date(2027, 5, 30),
        date(2027, 8, 30),
    ]
    until = node(every="monthly", until="2027-01-15", day=0)
    assert [d for d, _ in occurrence_days(until, DISCHARGE)] == [
        date(2026, 11, 2),
        date(2026, 12, 2),
        date(2027, 1, 2),
    ]


def test_add_months_keeps_the_day_or_takes_the_last() -> None:
    assert add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
    assert add_months(date(2028, 1, 31), 1) == date(2028, 2, 29)
    assert add_months(date(2026, 11, 15), 3) == date(2027, 2, 15)


@pytest.mark.parametrize(
    ("risk", "value", "offsets"),
    [
        ("high", "high", [7, 14, 21, 28]),  # weekly for 1 month
        ("high", "medium", [7, 14]),  # weekly for 2 weeks
        ("medium", "high", [14, 28]),  # every 2 weeks for 1 month
        ("medium", "medium", [14]),  # every 2 weeks for 2 weeks
        ("low", "high", [30, 61, 92]),  # monthly for 3 months (calendar months)
        ("low", "medium", [30, 61]),  # monthly for 2 months
        ("low", "low", [7]),  # once within 1 month of discharge
    ],
)
def test_risk_value_matrix_is_the_domain_table(risk: str, value: str, offsets: list[int]) -> None:
    tiered = node(every="tier_matrix")
    assert days_after(occurrence_days(tiered, DISCHARGE, risk=risk, value=value)) == offsets


def test_once_within_a_month_may_be_done_until_day_30() -> None:
    [(day, grace)] = occurrence_days(node(every="tier_matrix"), DISCHARGE, risk="low", value="low")
    assert (day - DISCHARGE).days + grace == 30
    assert frequency_for("low", "low").text == "出院1个月内随访1次"


def test_cells_missing_from_the_table_follow_the_medium_value_row() -> None:
    assert TIER_MATRIX[("high", "low")] == TIER_MATRIX[("high", "medium")]
    assert TIER_MATRIX[("medium", "low")] == TIER_MATRIX[("medium", "medium")]
    assert frequency_for("", "") == TIER_MATRIX[("low", "medium")]


def test_due_window_skips_holidays_and_quiet_hours() -> None:
    plain = node(day=1)
    due, latest = due_window(date(2026, 10, 1), plain, SH, holidays={date(2026, 10, 1)})
    assert due == datetime(2026, 10, 2, 9, 0, tzinfo=SH)
    assert latest == datetime(2026, 10, 2, 17, 0, tzinfo=SH)
    kept = node(day=1, skip_holidays=False)
    assert due_window(date(2026, 10, 1), kept, SH, holidays={date(2026, 10, 1)})[0].day == 1
    early = node(day=1, window=["07:00", "10:00"])
    due, _ = due_window(date(2026, 11, 5), early, SH, quiet=(time(21), time(8, 30)))
    assert due == datetime(2026, 11, 5, 8, 30, tzinfo=SH)
    graced = node(day=1, grace_days=2)
    assert due_window(date(2026, 11, 5), graced, SH)[1] == datetime(2026, 11, 7, 17, tzinfo=SH)


def test_retry_is_at_another_time_and_never_in_quiet_hours() -> None:
    window = (time(9), time(17))
    morning = datetime(2026, 11, 5, 9, 30, tzinfo=SH)
    assert retry_at(morning, window, (time(21), time(8))) == datetime(2026, 11, 5, 13, tzinfo=SH)
    afternoon = datetime(2026, 11, 5, 14, 0, tzinfo=SH)
    assert retry_at(afternoon, window, (time(21), time(8))) == datetime(2026, 11, 6, 9, tzinfo=SH)


@pytest.mark.parametrize(
    ("definition", "path"),
    [
        ({"nodes": []}, "trigger"),
        ({"trigger": {"kind": "discharge"}, "nodes": []}, "nodes"),
        ({"trigger": {"kind": "diagnosis"}, "nodes": [{}]}, "trigger.icd10"),
        (
            {"trigger": {"kind": "manual"}, "nodes": [{"key": "a", "title": "x"}]},
            "nodes[0].purpose",
        ),
        (
            {
                "trigger": {"kind": "manual"},
                "nodes": [{"key": "a", "title": "x", "purpose": "satisfaction", "every": "weekly"}],
            },
            "nodes[0].count",
        ),
        (
            {
                "trigger": {"kind": "manual"},
                "nodes": [
                    {"key": "a", "title": "x", "purpose": "satisfaction", "channels": ["pigeon"]}
                ],
            },
            "nodes[0].channels[0]",
        ),
        (
            {
                "trigger": {"kind": "manual"},
                "nodes": [
                    {
                        "key": "a",
                        "title": "x",
                        "purpose": "satisfaction",
                        "window": ["17:00", "09:00"],
                    }
                ],
            },
            "nodes[0].window",
        ),
        (
            {
                "trigger": {"kind": "manual"},
                "nodes": [
                    {"key": "a", "title": "x", "purpose": "satisfaction"},
                    {"key": "a", "title": "y", "purpose": "satisfaction"},
                ],
            },
            "nodes[1].key",
        ),
        (
            {
                "trigger": {"kind": "manual"},
                "nodes": [
                    {"key": "a", "title": "x", "purpose": "satisfaction", "every": "programme"}
                ],
            },
            "nodes[0].programme",
        ),
    ],
)
def test_a_wrong_definition_names_the_part(definition: dict[str, object], path: str) -> None:
    with pytest.raises(DefinitionError) as caught:
        compile_definition(definition)
    assert caught.value.path == path
