"""Patient-link tokens are redacted from whatever is logged."""

import logging

from careloop.log_privacy import RedactingFilter, redact


def test_a_patient_link_token_is_redacted_and_staff_paths_kept() -> None:
    assert redact("/p/eyJw.abc:1vA:xyz/q/phq9/") == "/p/…/q/phq9/"
    assert redact("GET /p/tok/?x=1 HTTP/1.1") == "GET /p/…/?x=1 HTTP/1.1"
    assert redact("/p/staff/patients/3/link/") == "/p/staff/patients/3/link/"
    assert redact("/patients/12/") == "/patients/12/"


def test_a_request_warning_is_redacted() -> None:
    record = logging.LogRecord(
        "django.request", logging.WARNING, __file__, 1, "Not Found: %s", ("/p/tok/",), None
    )
    assert RedactingFilter().filter(record)
    assert record.getMessage() == "Not Found: /p/…/"
