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


def test_the_access_log_has_no_query_string_whatever_its_format() -> None:
    """Given gunicorn run by hand with CareLoop's logger but gunicorn's default access-log
    format (the request line "%(r)s", the referrer), when a search by phone number from a
    page found by ID number is logged, then neither number is in the line; the path is."""
    from datetime import timedelta
    from types import SimpleNamespace

    from gunicorn.config import Config

    from careloop.log_privacy import AccessLogger

    config = Config()
    config.set("accesslog", "-")
    config.set("access_log_format", Config().access_log_format + " %(q)s %({raw_uri}e)s")
    server_log = AccessLogger(config)
    lines: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record.getMessage())

    server_log.access_log.addHandler(Keep())
    referrer = "https://followup.example/patients/?q=110101198503077311"
    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": "/api/v1/patients?search=13900001234",
        "PATH_INFO": "/api/v1/patients",
        "QUERY_STRING": "search=13900001234",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_REFERER": referrer,
    }
    response = SimpleNamespace(status="200 OK", sent=42, headers=[])
    request = SimpleNamespace(headers=[("REFERER", referrer)])
    server_log.access(response, request, environ, timedelta(milliseconds=3))

    assert len(lines) == 1
    assert "13900001234" not in lines[0] and "110101198503077311" not in lines[0]
    assert '"GET /api/v1/patients?… HTTP/1.1" 200' in lines[0]


def test_the_readmes_gunicorn_command_uses_careloops_logger() -> None:
    """gunicorn run apart from `careloop serve`, as the README says, logs through the same
    redacting logger."""
    from pathlib import Path

    from careloop.supervisor import web_argv

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    start = readme.index("gunicorn careloop.wsgi:application")
    command = readme[start : readme.index("\n#   careloop worker", start)]
    argv = web_argv("127.0.0.1", 8000, 2)
    assert f"--logger-class {argv[argv.index('--logger-class') + 1]}" in command


def test_a_server_message_whose_arguments_do_not_fit_is_still_logged_redacted() -> None:
    server_log, lines = _server_log()
    server_log.warning("Invalid request %s %s: /api/v1/patients?search=13900001234", "x")
    assert lines and "13900001234" not in lines[0] and "patients?…" in lines[0]
