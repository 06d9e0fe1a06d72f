"""When a result's date is not believable: later than now, a sender's clock a little ahead
aside. HL7 and imported sheets carry a laboratory's or a person's dates; a result dated in
the future is a wrong date, refused naming the field (FHIR refuses such an Observation too)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

FUTURE_SKEW = timedelta(hours=1)


def in_the_future(moment: datetime) -> bool:
    return moment > datetime.now(UTC) + FUTURE_SKEW
