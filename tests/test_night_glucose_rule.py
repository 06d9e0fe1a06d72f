"""The shipped night-glucose rule (time_window) over stored results: a night low fires once,
also when it is entered after a later daytime reading, and not again with later readings."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from careloop.clinical.assessment import ResultInput
from careloop.clinical.services import do_record_results
from careloop.rules.models import RuleFiring
from tests.test_rules import GLU, pack, patient, rule_alerts, store  # noqa: F401
from tests.unit.test_rule_conditions import NIGHT

TZ = ZoneInfo("Asia/Shanghai")
DAY = datetime(2026, 12, 3, tzinfo=TZ)


class Clock:
    def __init__(self, monkeypatch: Any) -> None:
        self.now = DAY
        monkeypatch.setattr(timezone, "now", lambda: self.now)

    def at(self, hours: float) -> datetime:
        """The moment ``hours`` after midnight of DAY, and the clock set to it."""
        self.now = DAY + timedelta(hours=hours)
        return self.now


@pytest.fixture
def clock(monkeypatch: Any) -> Clock:
    return Clock(monkeypatch)


def night_alerts(patient: Any) -> list[str]:  # noqa: F811
    return [a.reason for a in rule_alerts(patient) if a.title == "夜间低血糖"]


def test_a_night_low_entered_after_the_mornings_reading_alerts(
    pack: None,  # noqa: F811
    patient: Any,  # noqa: F811
    clock: Clock,
) -> None:
    """The patient enters the morning's fasting glucose, then last night's low: the low is
    not the newest reading, and still raises the alert, about it."""
    store(patient, GLU, 6.1, clock.at(7))
    assert not night_alerts(patient)
    clock.at(9)
    store(patient, GLU, 3.5, DAY + timedelta(hours=3))  # taken at 03:00, entered at 09:00
    [reason] = night_alerts(patient)
    assert "22:00–06:00 内葡萄糖 3.5 mmol/L（2026-12-03 03:00）< 4" in reason
    firing = RuleFiring.objects.get(rule__code="night-glucose-low")
    assert datetime.fromisoformat(firing.seen["about"]) == DAY + timedelta(hours=3)
    at, value, unit = firing.seen["about_reading"]  # kept with the firing: not the newest
    assert (datetime.fromisoformat(at), value, unit) == (DAY + timedelta(hours=3), 3.5, "mmol/L")


def test_a_night_low_fires_once_not_again_with_each_later_reading(
    pack: None,  # noqa: F811
    patient: Any,  # noqa: F811
    clock: Clock,
) -> None:
    store(patient, GLU, 3.5, clock.at(3))
    assert len(night_alerts(patient)) == 1
    for hours, value in ((8, 6.0), (12, 7.9), (18.5, 8.4)):  # the day's later readings
        store(patient, GLU, value, clock.at(hours))
    assert len(night_alerts(patient)) == 1
    store(patient, GLU, 3.8, clock.at(23))  # the next night's low: a new alert
    reasons = night_alerts(patient)
    assert len(reasons) == 2 and "3.8 mmol/L（2026-12-03 23:00）" in reasons[1]


def test_a_low_taken_in_the_quiet_hour_after_an_alert_is_not_raised_later(
    pack: None,  # noqa: F811
    patient: Any,  # noqa: F811
    clock: Clock,
) -> None:
    """02:00 low → alert; 02:30 low within the rule's hour of quiet → none; 03:40, after the
    quiet hour, is a new one; the morning's reading brings neither low back."""
    store(patient, GLU, 3.2, clock.at(2))
    store(patient, GLU, 3.6, clock.at(2.5))
    assert len(night_alerts(patient)) == 1
    store(patient, GLU, 3.4, clock.at(3 + 40 / 60))
    assert len(night_alerts(patient)) == 2
    store(patient, GLU, 6.3, clock.at(7))
    store(patient, GLU, 6.8, clock.at(9))
    assert len(night_alerts(patient)) == 2


def test_a_night_low_of_two_days_ago_entered_today_raises_nothing(
    pack: None,  # noqa: F811
    patient: Any,  # noqa: F811
    clock: Clock,
) -> None:
    """The shipped rule looks at the last day's night readings (within_days 1)."""
    clock.at(10)
    store(patient, GLU, 3.1, DAY - timedelta(hours=21))  # 2026-12-02 03:00, 31 hours before
    assert not night_alerts(patient)


def test_a_low_each_night_entered_each_morning_alerts_each_night(
    patient: Any,  # noqa: F811
    clock: Clock,
) -> None:
    """A rule quiet for a day after it fires: lows taken at 02:00 on three nights, each
    entered at 08:00, are three alerts (the quiet day runs from one reading to the next,
    not from the hour a reading was entered)."""
    from careloop.rules.services import do_save_rule

    do_save_rule(
        None,
        "night-low-daily",
        {
            "name": "夜间低血糖（每日一次）",
            "enabled": True,
            "trigger": "observation",
            "condition": NIGHT,  # glucose below 4.0 between 22:00 and 06:00
            "actions": [{"type": "alert", "severity": "high", "title": "夜间低血糖"}],
            "cooldown_hours": 24,
        },
    )
    for night in range(3):
        clock.at(24 * night + 8)
        store(patient, GLU, 3.4, DAY + timedelta(hours=24 * night + 2))
    assert len(night_alerts(patient)) == 3


@pytest.mark.parametrize(
    ("code", "value", "unit"), [("14771-0", 3.2, "mmol/L"), ("1558-6", 58, "mg/dL")]
)
def test_a_fasting_glucose_low_at_night_alerts_the_family_doctor(
    pack: None,  # noqa: F811
    patient: Any,  # noqa: F811
    clock: Clock,
    code: str,
    value: float,
    unit: str,
) -> None:
    """A laboratory reports its glucose under the fasting code (空腹血糖), drawn at 23:40: a
    night low is a night low whatever the code says about the meal."""
    clock.at(23.75)
    do_record_results(
        patient,
        None,
        [
            ResultInput(
                "空腹血糖",
                DAY + timedelta(hours=23, minutes=40),
                loinc=code,
                value=value,
                unit=unit,
            )
        ],
        source="hl7",
        source_label="LIS",
    )
    [reason] = night_alerts(patient)
    assert "2026-12-03 23:40" in reason
