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


def test_the_development_servers_request_line_is_logged_without_its_query() -> None:
    """Given `careloop runserver`, when it logs a search (django.server, through the
    redacting handler), then the phone or ID number searched for is not in the line."""
    for line in (
        "GET /patients/?q=13900001234 HTTP/1.1",
        "GET /api/v1/patients?search=110101198503077311&page=2 HTTP/1.1",
    ):
        record = logging.LogRecord(
            "django.server", logging.INFO, __file__, 1, '"%s" %s %s', (line, "200", "1234"), None
        )
        assert RedactingFilter().filter(record)
        shown = record.getMessage()
        assert "13900001234" not in shown and "110101198503077311" not in shown
        assert shown.startswith('"GET /') and '?… HTTP/1.1" 200 1234' in shown


def _server_log() -> tuple[logging.Logger, list[str]]:
    """gunicorn's error log as ``careloop serve`` sets it up, and what reaches its output."""
    from gunicorn.config import Config

    from careloop.log_privacy import AccessLogger

    config = Config()
    config.set("logger_class", "careloop.log_privacy.AccessLogger")
    server_log = AccessLogger(config)
    lines: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(self.format(record))

    server_log.error_log.addHandler(Keep())
    return server_log, lines


def test_a_malformed_request_line_reaches_the_server_log_without_its_query() -> None:
    """Given a search whose request line gunicorn cannot parse (an unencoded space or
    character), when it warns about it, then neither the phone number searched for nor a
    patient link's token is in its log."""
    from gunicorn.http.errors import InvalidRequestLine

    server_log, lines = _server_log()
    for line in (
        "GET /api/v1/patients?search=13900001234 x HTTP/1.1",
        "GET /p/eyJwIjo3fQ:1vA:xyz/check/?answer=1985-03-07 HTTP/1.1",
    ):
        # as gunicorn's Worker.handle_error words it
        server_log.warning(f"Invalid request from ip=127.0.0.1: {InvalidRequestLine(line)}")

    assert len(lines) == 2
    assert "13900001234" not in lines[0]
    assert "/api/v1/patients?…" in lines[0]
    assert "eyJwIjo3fQ" not in lines[1] and "1985-03-07" not in lines[1]
    assert "/p/…/check/?…" in lines[1]


def test_a_request_that_failed_in_the_server_is_logged_without_its_query() -> None:
    """Given a request that failed outside Django's handling, when gunicorn logs it with its
    URI and the traceback, then the query string is in neither."""
    server_log, lines = _server_log()
    uri = "/api/v1/patients?search=110101198503077311"
    try:
        raise RuntimeError(f"cannot answer {uri}")
    except RuntimeError:
        server_log.exception("Error handling request %s %s", "GET", uri)

    assert lines and "110101198503077311" not in lines[0]
    assert "Error handling request GET /api/v1/patients?…" in lines[0]
    assert "RuntimeError: cannot answer /api/v1/patients?…" in lines[0]
