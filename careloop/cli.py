"""The ``careloop`` console script: every manage.py command, plus CareLoop's own."""

from __future__ import annotations

import os
import sys

# Commands spelt with a hyphen on the command line (a Python module name cannot be).
ALIASES = {"reply-check": "reply_check", "value-tiers": "value_tiers"}


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "careloop.settings")
    args = list(sys.argv[1:] if argv is None else argv)
    if args:
        args[0] = ALIASES.get(args[0], args[0])
    from careloop.env import ConfigurationError

    try:
        from django.core.management import execute_from_command_line

        execute_from_command_line(["careloop", *args])
    except ConfigurationError as exc:
        print(f"careloop: {exc}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
