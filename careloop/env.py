"""Configuration from the environment (CARELOOP_*), read once by settings.

Embedded mode (the default, SQLite under ``var/``) generates the secret and field keys on first
start and keeps them under ``var/``. Any other database is production: there the keys must come
from the environment and the process refuses to start without them.
"""

from __future__ import annotations

import os
import secrets
import sys
from base64 import urlsafe_b64encode
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit


class ConfigurationError(RuntimeError):
    """A setting is missing or malformed; the message names the variable."""


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


TRUE = {"1", "true", "yes", "on"}
FALSE = {"0", "false", "no", "off"}


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    if value.strip().lower() not in TRUE | FALSE:
        raise ConfigurationError(f"{name} must be 1 or 0 (on or off), got {value.strip()!r}")
    return value.strip().lower() in TRUE


def env_int(name: str, default: int, low: int, high: int) -> int:
    value = env_str(name)
    if not value:
        return default
    if not value.isdecimal() or not low <= int(value) <= high:
        raise ConfigurationError(
            f"{name} must be a whole number from {low} to {high}, got {value!r}"
        )
    return int(value)


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in env_str(name, default).split(",") if item.strip()]


def parse_addr(value: str, name: str) -> tuple[str, int]:
    """'127.0.0.1:8000' → ('127.0.0.1', 8000); '[::1]:8000' works too."""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit():
        raise ConfigurationError(f"{name} must look like HOST:PORT, got {value!r}")
    if not 0 <= int(port) <= 65535:
        raise ConfigurationError(f"{name}: the port must be from 0 to 65535, got {port}")
    return host.strip("[]") or "127.0.0.1", int(port)


def media_root(value: str, default: Path) -> str:
    """CARELOOP_MEDIA_ROOT (or the default), made if missing: a folder that cannot be is named
    at start, not by a traceback on the first upload or printed report."""
    path = Path(value) if value else default
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as error:
        raise ConfigurationError(
            f"CARELOOP_MEDIA_ROOT: cannot use {str(path)!r} as the folder for uploaded files "
            f"({error.strerror or type(error).__name__})"
        ) from None
    return str(path)


def database_from_url(url: str, base_dir: Path) -> dict[str, Any]:
    """Translate CARELOOP_DATABASE_URL into a Django DATABASES entry.

    sqlite:///relative/path.db, sqlite:////absolute/path.db,
    postgresql://user:password@host:port/name?sslmode=require (host may be a socket directory).
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    options = dict(parse_qsl(parts.query))
    if scheme == "sqlite":
        raw_path = unquote(parts.path)
        # sqlite:////abs/path.db is absolute; sqlite:///rel/path.db is relative to the project.
        path = Path(raw_path[1:]) if raw_path.startswith("//") else base_dir / raw_path.lstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        return {
            "ENGINE": "careloop.db.sqlite3",  # Django's, through the write gate
            "NAME": str(path),
            # Kept open between requests: opening one (and running the PRAGMAs) costs more
            # than a small request's own work.
            "CONN_MAX_AGE": 600,
            "OPTIONS": {
                # IMMEDIATE: writers take the lock at BEGIN, so concurrent web and worker
                # processes wait on busy_timeout instead of failing with "database is locked".
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": (
                    "PRAGMA journal_mode=WAL;"
                    "PRAGMA synchronous=NORMAL;"
                    "PRAGMA foreign_keys=ON;"
                    "PRAGMA busy_timeout=20000;"
                    "PRAGMA mmap_size=1073741824;"
                ),
            },
        }
    if scheme in {"postgres", "postgresql", "pgsql"}:
        host = unquote(parts.hostname or options.pop("host", "") or "")
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": unquote(parts.path.lstrip("/")),
            "USER": unquote(parts.username or ""),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": host,
            "PORT": str(parts.port or ""),
            "CONN_MAX_AGE": int(options.pop("conn_max_age", "60")),
            "CONN_HEALTH_CHECKS": True,
            "OPTIONS": options,
        }
    raise ConfigurationError(
        f"CARELOOP_DATABASE_URL: unsupported scheme {scheme!r} (use sqlite:// or postgresql://)"
    )


def _generated_key(path: Path, make: Any, label: str) -> str:
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = make()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(value + "\n")
    print(  # noqa: T201 - said once, on stderr, before logging is configured
        f"careloop: {label} was not set; generated one and kept it in {path}",
        file=sys.stderr,
    )
    return value


def new_fernet_key() -> str:
    return urlsafe_b64encode(secrets.token_bytes(32)).decode()


def secret_key(var_dir: Path, embedded: bool) -> str:
    value = env_str("CARELOOP_SECRET_KEY")
    if value:
        return value
    if not embedded:
        raise ConfigurationError("CARELOOP_SECRET_KEY must be set outside the embedded mode")
    return _generated_key(
        var_dir / "secret_key", lambda: secrets.token_urlsafe(50), "CARELOOP_SECRET_KEY"
    )


def field_keys(var_dir: Path, embedded: bool) -> list[str]:
    """The field-encryption keys, newest first (comma-separated in CARELOOP_FIELD_KEY)."""
    value = env_str("CARELOOP_FIELD_KEY")
    if not value:
        if not embedded:
            raise ConfigurationError("CARELOOP_FIELD_KEY must be set outside the embedded mode")
        value = _generated_key(var_dir / "field_key", new_fernet_key, "CARELOOP_FIELD_KEY")
    keys = [key.strip() for key in value.split(",") if key.strip()]
    if not keys:
        raise ConfigurationError("CARELOOP_FIELD_KEY is empty")
    from cryptography.fernet import Fernet

    for number, key in enumerate(keys, start=1):
        try:
            Fernet(key.encode())
        except ValueError:
            raise ConfigurationError(
                f"CARELOOP_FIELD_KEY: key {number} of {len(keys)} is not a Fernet key "
                "(32 bytes in url-safe base64, 44 characters)"
            ) from None
    return keys
