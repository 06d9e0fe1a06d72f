"""Provider access tokens kept in the database, shared by every worker process."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from careloop.outreach.models import AccessToken


class DatabaseTokens:
    def get(self, name: str) -> str | None:
        row = AccessToken.objects.filter(name=name, expires_at__gt=timezone.now()).first()
        return row.token if row else None

    def put(self, name: str, token: str, ttl: int) -> None:
        AccessToken.objects.update_or_create(
            name=name,
            defaults={"token": token, "expires_at": timezone.now() + timedelta(seconds=ttl)},
        )

    def drop(self, name: str) -> None:
        AccessToken.objects.filter(name=name).delete()
