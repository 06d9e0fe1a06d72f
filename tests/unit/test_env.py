"""Configuration from CARELOOP_* variables."""

from pathlib import Path

import pytest

from careloop import env


def test_sqlite_urls(tmp_path: Path) -> None:
    relative = env.database_from_url("sqlite:///var/x.db", tmp_path)
    assert relative["NAME"] == str(tmp_path / "var/x.db")
    absolute = env.database_from_url(f"sqlite:///{tmp_path}/y.db", Path("/elsewhere"))
    assert absolute["NAME"] == f"{tmp_path}/y.db"
    assert "journal_mode=WAL" in absolute["OPTIONS"]["init_command"]


def test_postgresql_url() -> None:
    config = env.database_from_url(
        "postgresql://care:p%40ss@db.example:6432/careloop?sslmode=require", Path("/")
    )
    assert config["ENGINE"] == "django.db.backends.postgresql"
    assert (config["USER"], config["PASSWORD"], config["HOST"], config["PORT"]) == (
        "care",
        "p@ss",
        "db.example",
        "6432",
    )
    assert config["OPTIONS"] == {"sslmode": "require"}


def test_unknown_scheme_is_refused() -> None:
    with pytest.raises(env.ConfigurationError, match="CARELOOP_DATABASE_URL"):
        env.database_from_url("mysql://x/y", Path("/"))


def test_addresses() -> None:
    assert env.parse_addr("0.0.0.0:8080", "X") == ("0.0.0.0", 8080)
    assert env.parse_addr("[::1]:2575", "X") == ("::1", 2575)
    with pytest.raises(env.ConfigurationError, match="CARELOOP_HTTP_ADDR"):
        env.parse_addr("localhost", "CARELOOP_HTTP_ADDR")


def test_embedded_mode_generates_and_keeps_keys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CARELOOP_SECRET_KEY", raising=False)
    monkeypatch.delenv("CARELOOP_FIELD_KEY", raising=False)
    first = env.secret_key(tmp_path, embedded=True)
    assert env.secret_key(tmp_path, embedded=True) == first
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600
    assert len(env.field_keys(tmp_path, embedded=True)) == 1


def test_production_mode_refuses_to_start_without_keys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CARELOOP_SECRET_KEY", raising=False)
    monkeypatch.delenv("CARELOOP_FIELD_KEY", raising=False)
    with pytest.raises(env.ConfigurationError, match="CARELOOP_SECRET_KEY"):
        env.secret_key(tmp_path, embedded=False)
    with pytest.raises(env.ConfigurationError, match="CARELOOP_FIELD_KEY"):
        env.field_keys(tmp_path, embedded=False)


def test_several_field_keys_newest_first(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    new, old = env.new_fernet_key(), env.new_fernet_key()
    monkeypatch.setenv("CARELOOP_FIELD_KEY", f"{new}, {old}")
    assert env.field_keys(tmp_path, embedded=False) == [new, old]


def test_a_field_key_that_is_not_one_is_named_at_start(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """It was taken, and the first identifier read or written failed with a traceback."""
    monkeypatch.setenv("CARELOOP_FIELD_KEY", f"{env.new_fernet_key()},notakey")
    with pytest.raises(env.ConfigurationError, match="CARELOOP_FIELD_KEY: key 2 of 2 is not"):
        env.field_keys(tmp_path, embedded=False)


def test_a_switch_set_to_a_word_it_does_not_know_is_named(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """CARELOOP_DEBUG=maybe (or a typo of "on") was taken for off in silence."""
    monkeypatch.setenv("CARELOOP_DEBUG", "maybe")
    with pytest.raises(env.ConfigurationError, match="CARELOOP_DEBUG must be 1 or 0"):
        env.env_bool("CARELOOP_DEBUG")
    for word, meant in (("On", True), ("yes", True), ("0", False), ("off", False)):
        monkeypatch.setenv("CARELOOP_DEBUG", word)
        assert env.env_bool("CARELOOP_DEBUG") is meant


def test_a_media_folder_that_cannot_be_made_is_named(tmp_path: Path) -> None:
    """It was taken, and the first upload or printed report failed with a traceback."""
    (tmp_path / "a-file").write_text("")
    with pytest.raises(env.ConfigurationError, match="CARELOOP_MEDIA_ROOT: cannot use"):
        env.media_root(str(tmp_path / "a-file" / "media"), tmp_path / "default")
    assert env.media_root("", tmp_path / "default") == str(tmp_path / "default")
    assert (tmp_path / "default").is_dir()
