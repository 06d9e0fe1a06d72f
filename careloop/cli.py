"""The ``careloop`` console script: every manage.py command, plus CareLoop's own."""

from __future__ import annotations

import os
import sys
from typing import Any

# Commands spelt with a hyphen on the command line (a Python module name cannot be).
ALIASES = {
    "reply-check": "reply_check",
    "value-tiers": "value_tiers",
    "faq-check": "faq_check",
    "lost-risk": "lost_risk",
    "exam-packages": "exam_packages",
}


def spelled(subcommand: str) -> str:
    """A command as the user types it (``reply-check``) for Django's name (``reply_check``):
    what its usage line says."""
    return {name: typed for typed, name in ALIASES.items()}.get(subcommand, subcommand)


def reply_text(options: dict[str, Any]) -> str:
    """A command's TEXT argument, read from stdin when it is "-"; refused when empty."""
    from django.core.management.base import CommandError

    text = str(options["text"])
    if text == "-":
        text = (options.get("stdin") or sys.stdin).read()
    if not text.strip():
        raise CommandError("the reply is empty: give the text to check", returncode=2)
    return text


def _database() -> str:
    """Where the default database is, for a message (never its password)."""
    from django.conf import settings

    db = settings.DATABASES["default"]
    if "sqlite" in db["ENGINE"]:
        return str(db["NAME"])
    return f"{db.get('HOST') or 'localhost'}:{db.get('PORT') or 5432}/{db['NAME']}"


def database_problem(error: Exception) -> str | None:
    """One sentence for a database error a command met, naming the database and, when its
    tables are not there yet, what to run; None for an error that is not about reaching the
    database (a defect of ours: its traceback is the report)."""
    from django.db import OperationalError

    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    if "no such table" in text or ("relation" in text and "does not exist" in text):
        return (
            f"the database {_database()} has not been migrated yet ({text}): "
            "run `careloop migrate` first"
        )
    if isinstance(error, OperationalError):
        return f"the database {_database()} cannot be used: {text} (see CARELOOP_DATABASE_URL)"
    return None


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "careloop.settings")
    args = list(sys.argv[1:] if argv is None else argv)
    if args:
        args[0] = ALIASES.get(args[0], args[0])
    from django.core.management import execute_from_command_line
    from django.db import OperationalError, ProgrammingError

    from careloop.crypto import DecryptionError
    from careloop.env import ConfigurationError

    try:
        execute_from_command_line(["careloop", *args])
    except ConfigurationError as exc:
        print(f"careloop: {exc}", file=sys.stderr)
        sys.exit(2)
    except (OperationalError, ProgrammingError) as exc:  # not migrated, not reachable
        problem = database_problem(exc)
        if problem is None or "--traceback" in args:
            raise
        print(f"careloop: {problem}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:  # Ctrl-C: what each command keeps is its own affair
        if "--traceback" in args:
            raise
        print("careloop: interrupted", file=sys.stderr)
        sys.exit(130)
    except DecryptionError:
        if "--traceback" in args:
            raise
        from careloop.keycheck import FIELD_KEY_MISMATCH

        print(f"careloop: {FIELD_KEY_MISMATCH}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
