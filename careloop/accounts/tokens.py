"""API tokens for integrators: ``cl_<prefix>_<secret>``; only a SHA-256 of it is stored."""

from __future__ import annotations

import hmac
import secrets
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from careloop.accounts.models import ApiToken, User
from careloop.audit.services import record

_LAST_USED_RESOLUTION = timedelta(minutes=1)


def do_create_token(
    user: User, *, name: str = "", expires_at: datetime | None = None, actor: Any = None
) -> tuple[ApiToken, str]:
    """Create a token for ``user``; the plain token is returned once and never stored."""
    prefix = secrets.token_hex(4)
    while ApiToken.objects.filter(prefix=prefix).exists():
        prefix = secrets.token_hex(4)
    token = f"cl_{prefix}_{secrets.token_urlsafe(32)}"
    item = ApiToken.objects.create(
        user=user,
        name=name[:100],
        prefix=prefix,
        token_hash=ApiToken.hash(token),
        expires_at=expires_at,
    )
    record(
        actor,
        "create",
        "api_token",
        item.prefix,
        summary=f"API token for {user.username}",
        actor_label="" if actor else "cli",
    )
    return item, token


def do_revoke_token(prefix: str, *, actor: Any = None) -> ApiToken:
    item = ApiToken.objects.get(prefix=prefix)
    if item.revoked_at is None:
        item.revoked_at = timezone.now()
        item.save(update_fields=["revoked_at"])
        record(
            actor,
            "delete",
            "api_token",
            item.prefix,
            summary=f"revoked API token of {item.user.username}",
            actor_label="" if actor else "cli",
        )
    return item


def user_for_token(token: str) -> User | None:
    """The active user a presented token acts as, or None."""
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != "cl":
        return None
    item = ApiToken.objects.active().select_related("user").filter(prefix=parts[1]).first()
    if item is None or not hmac.compare_digest(item.token_hash, ApiToken.hash(token)):
        return None
    if not item.user.is_active:
        return None
    now = timezone.now()
    if item.last_used_at is None or now - item.last_used_at > _LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=item.pk).update(last_used_at=now)
    return item.user
