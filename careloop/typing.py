"""Types shared across apps."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.http import HttpRequest

if TYPE_CHECKING:
    from careloop.accounts.models import User


class AuthedRequest(HttpRequest):
    """A request behind login_required (or an API token): ``user`` is a staff User."""

    user: User
