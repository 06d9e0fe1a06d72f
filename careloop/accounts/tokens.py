"""API tokens for integrators: ``cl_<prefix>_<secret>``; only a SHA-256 of it is stored.

An integrator sends many requests a second with one token, so each worker process keeps
what a token resolved to (its user and that user's permissions) for ``CACHE_SECONDS``. A
change to a token, a user or a role in this process forgets it at once; a change made by
another process (``careloop apitoken revoke``, another web worker) takes effect within
``CACHE_SECONDS``.
"""

from __future__ import annotations

import copy
import hmac
import secrets
import time
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from careloop.accounts.models import ApiToken, User
from careloop.audit.services import record

_LAST_USED_RESOLUTION = timedelta(minutes=1)
CACHE_SECONDS = 10.0
_CACHE_SIZE = 1_000
_resolved: dict[str, tuple[float, User]] = {}  # token hash → (valid until, monotonic; user)


def forget_tokens(**_kwargs: Any) -> None:
    """Drop every cached token resolution (a signal receiver, too)."""
    _resolved.clear()


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
    """``prefix`` as listed ("e697288f"), as the token begins ("cl_e697288f") or the whole
    token."""
    if prefix.startswith("cl_"):
        prefix = prefix[3:].split("_", 1)[0]
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
    """The active user a presented token acts as (their permissions loaded), or None."""
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != "cl":
        return None
    digest = ApiToken.hash(token)
    clock = time.monotonic()
    cached = _resolved.get(digest)
    if cached is not None and cached[0] > clock:
        return copy.copy(cached[1])  # per request: attributes set on it stay with it
    item = (
        ApiToken.objects.active()
        .select_related("user__organisation")
        .filter(prefix=parts[1])
        .first()
    )
    if item is None or not hmac.compare_digest(item.token_hash, digest):
        return None
    if not item.user.is_active:
        return None
    now = timezone.now()
    if item.last_used_at is None or now - item.last_used_at > _LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=item.pk).update(last_used_at=now)
    user = item.user
    # Loaded once and kept with the cached user: permissions and patient scope.
    from careloop.patients.access import scope_organisation_ids

    user.get_all_permissions()
    scope_organisation_ids(user)
    until = clock + CACHE_SECONDS
    if item.expires_at is not None:
        until = min(until, clock + (item.expires_at - now).total_seconds())
    if len(_resolved) >= _CACHE_SIZE:
        _resolved.clear()
    _resolved[digest] = (until, user)
    return copy.copy(user)
