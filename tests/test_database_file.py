"""The embedded SQLite database holds personal data (names, birth dates, notes, inbound
messages as received): its files are readable by CareLoop's own user alone."""

import os
import stat
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture
def unblocked(django_db_blocker: Any) -> Any:
    """Connections of the test's own to a file of its own (not the test database)."""
    with django_db_blocker.unblock():
        yield


def test_a_new_database_and_its_wal_are_readable_by_their_owner_alone(
    tmp_path: Path, unblocked: None
) -> None:
    """Given no database yet and a umask that lets everyone read, when CareLoop's backend
    opens it and writes (WAL mode, as every process opens it), then the database file and
    its WAL and shared-memory files are 0600."""
    from django.db import connection

    from careloop.db.sqlite3.base import DatabaseWrapper
    from careloop.env import database_from_url

    database = tmp_path / "careloop.db"
    previous = os.umask(0o022)
    try:
        # As CareLoop configures SQLite (WAL), whatever the suite runs on (PostgreSQL too).
        own = database_from_url(f"sqlite:///{database}", tmp_path)
        conn = DatabaseWrapper({**connection.settings_dict, **own}, alias="own")
        try:
            with conn.cursor() as cursor:
                cursor.execute("CREATE TABLE t (x TEXT)")
                cursor.execute("INSERT INTO t VALUES ('测试隐私甲')")
            files = [database, Path(f"{database}-wal"), Path(f"{database}-shm")]
            assert all(f.exists() for f in files)
            for f in files:
                assert stat.S_IMODE(f.stat().st_mode) == 0o600, f.name
        finally:
            conn.close()
    finally:
        os.umask(previous)
