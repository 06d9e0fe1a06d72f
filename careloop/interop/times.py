"""When a date sent in is not believable: later than now, a sender's clock a little ahead
aside (an hour: a laboratory's clock adrift must not cost a critical value). A result or an
answer dated in the future is a wrong date, refused naming the field, by every way in: HL7
(OBX-14, OBR-7), FHIR (Observation.effective, QuestionnaireResponse.authored), imports.
So is any date before 1900 (year 1 of a blank date field, say): nothing CareLoop keeps is
older, and a time that early could not even be stored (in UTC it fell before year 1)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, tzinfo

FUTURE_SKEW = timedelta(hours=1)
EARLIEST_YEAR = 1900


def in_the_future(moment: datetime) -> bool:
    return moment > datetime.now(UTC) + FUTURE_SKEW


def after_today(day: date, zone: tzinfo | None) -> bool:
    """A date that is a day, not a moment (a birth date): later than today where it was sent
    from. (As a moment, tomorrow's midnight fell within the clock's hour of grace in the last
    hour of today.)"""
    return day > datetime.now(zone or UTC).date()


def too_early(moment: datetime) -> bool:
    return moment.year < EARLIEST_YEAR
