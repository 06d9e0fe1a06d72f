"""When a date sent in is not believable: later than now, a sender's clock a little ahead
aside (an hour: a laboratory's clock adrift must not cost a critical value). A result or an
answer dated in the future is a wrong date, refused naming the field, by every way in: HL7
(OBX-14, OBR-7), FHIR (Observation.effective, QuestionnaireResponse.authored), imports."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

FUTURE_SKEW = timedelta(hours=1)


def in_the_future(moment: datetime) -> bool:
    return moment > datetime.now(UTC) + FUTURE_SKEW
