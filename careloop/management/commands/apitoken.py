import argparse
import json
from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from careloop.accounts.models import ApiToken, User
from careloop.accounts.tokens import do_create_token, do_revoke_token


def _positive(text: str) -> int:
    """An argparse type: 0 or more days (a token made already expired is no use)."""
    try:
        days = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if days < 0:
        raise argparse.ArgumentTypeError(f"{days}: the number of days cannot be negative")
    return days


class Command(BaseCommand):
    help = "API tokens for /api/v1 and /fhir/R4: create USERNAME | list [USERNAME] | revoke PREFIX"

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="print a new bearer token for USERNAME")
        create.add_argument("username")
        create.add_argument("--name", default="", help="what the token is for")
        create.add_argument(
            "--days", type=_positive, default=0, help="expire after N days (0: never)"
        )
        listing = sub.add_parser("list", help="list tokens (never their secrets)")
        listing.add_argument("username", nargs="?")
        revoke = sub.add_parser("revoke", help="revoke the token with this prefix")
        revoke.add_argument("prefix")

    def handle(self, *args, **options):
        action = options["action"]
        if action == "create":
            user = User.objects.filter(username=options["username"], is_active=True).first()
            if user is None:
                raise CommandError(f"no active user named {options['username']!r}")
            expires = timezone.now() + timedelta(days=options["days"]) if options["days"] else None
            item, token = do_create_token(user, name=options["name"], expires_at=expires)
            self.stdout.write(token)
        elif action == "list":
            tokens = ApiToken.objects.select_related("user").order_by("-created_at")
            if options.get("username"):
                if not User.objects.filter(username=options["username"]).exists():
                    raise CommandError(f"no user named {options['username']!r}")
                tokens = tokens.filter(user__username=options["username"])
            for item in tokens:
                self.stdout.write(
                    json.dumps(
                        {
                            "prefix": item.prefix,
                            "user": item.user.username,
                            "name": item.name,
                            "active": item.is_active,
                            "created_at": item.created_at.isoformat(),
                            "last_used_at": item.last_used_at.isoformat()
                            if item.last_used_at
                            else None,
                        },
                        ensure_ascii=False,
                    )
                )
        elif action == "revoke":
            try:
                item = do_revoke_token(options["prefix"])
            except ApiToken.DoesNotExist as exc:
                raise CommandError(f"no token with prefix {options['prefix']!r}") from exc
            self.stdout.write(f"revoked {item.prefix}")
