"""/healthz, the committed OpenAPI schema, migrations and translations that must not drift."""

import json
import os
import re
import subprocess
import sys
from io import StringIO
from pathlib import Path
from typing import Any

import polib
import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client

ROOT = Path(__file__).resolve().parent.parent


def test_healthz_reports_the_database(db: None) -> None:
    response = Client().get("/healthz")
    assert response.status_code == 200
    assert response.json()["database"] == "ok"


def test_healthz_answers_a_load_balancer_probing_a_machine_by_its_address(
    db: None, settings: Any
) -> None:
    """Given the README's production settings (CARELOOP_ALLOWED_HOSTS=followup.hospital.cn,
    and perhaps CARELOOP_SSL_REDIRECT=1), when the balancer probes each machine by its own
    address over plain HTTP, then /healthz answers 200: it was 400 (a host not allowed) or
    301 (to HTTPS), and the balancer took every machine out of service."""
    settings.ALLOWED_HOSTS = ["followup.hospital.cn"]
    settings.SECURE_SSL_REDIRECT = True
    response = Client().get("/healthz", HTTP_HOST="10.0.0.5:8000")
    assert response.status_code == 200, response.status_code
    assert response.json()["database"] == "ok"
    assert "no-cache" in response["Cache-Control"]
    # Every other page still checks the host and redirects to HTTPS.
    assert Client().get("/api/v1/", HTTP_HOST="10.0.0.5:8000").status_code == 400
    assert Client().get("/api/v1/", HTTP_HOST="followup.hospital.cn").status_code == 301


def test_healthz_reports_a_broken_database(db: None, monkeypatch: pytest.MonkeyPatch) -> None:
    from django.db import connection

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("down")

    with monkeypatch.context() as patch:
        patch.setattr(connection, "cursor", broken)
        response = Client().get("/healthz")
    assert response.status_code == 503
    assert response.json()["status"] == "unavailable"


def test_the_committed_openapi_schema_matches_the_code(db: None) -> None:
    committed = json.loads((ROOT / "docs/api/openapi.json").read_text())
    out = StringIO()
    call_command("export_openapi", stdout=out)
    assert json.loads(out.getvalue()) == committed, "run `make openapi` and commit the result"


def test_the_schema_is_served(db: None) -> None:
    response = Client().get("/api/v1/openapi.json")
    assert response.status_code == 200
    assert "/api/v1/patients" in response.json()["paths"]


def test_the_api_base_address_points_to_its_schema_and_docs(db: None) -> None:
    root = Client().get("/api/v1/")
    assert root.status_code == 200
    body = root.json()
    assert body["openapi"] == "http://testserver/api/v1/openapi.json"
    assert body["docs"] == "http://testserver/api/v1/docs"
    assert body["fhir"] == "http://testserver/fhir/R4"
    assert Client().get(body["openapi"]).status_code == 200


def test_the_api_docs_page_is_served_with_its_own_assets(db: None) -> None:
    """Swagger from django-ninja's files, never a CDN (CareLoop runs offline, behind a CSP),
    though django-ninja is not an installed app (see the next test)."""
    page = Client().get("/api/v1/docs")
    assert page.status_code == 200
    html = page.content.decode()
    assets = re.findall(r'(?:href|src)="(/static/ninja/[^"]+)"', html)
    assert {"/static/ninja/swagger-ui-bundle.js", "/static/ninja/swagger-ui.css"} <= set(assets)
    assert "//cdn" not in html and '"url": "/api/v1/openapi.json"' in html
    for asset in assets:
        assert Client().get(asset).status_code == 200, asset


def test_a_command_line_process_does_not_load_the_api_at_start_up() -> None:
    """django-ninja and pydantic (~0.7 s of CPU on this machine) are loaded by the web
    process's URLs only, not by every CLI command, worker and scheduler at start-up."""
    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django, sys; django.setup(); print(sorted(m for m in "
            "('ninja', 'pydantic') if m in sys.modules))",
        ],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "careloop.settings"},
    )
    assert loaded.stdout.strip() == "[]"


def test_no_model_change_is_missing_a_migration(db: None) -> None:
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)


def test_compiled_translations_match_their_sources() -> None:
    locale = ROOT / "careloop/locale/zh_Hans/LC_MESSAGES"
    source = polib.pofile(str(locale / "django.po"))
    compiled = polib.mofile(str(locale / "django.mo"))
    expected = {
        (e.msgctxt, e.msgid): e.msgstr for e in source.translated_entries() if not e.msgid_plural
    }
    actual = {(e.msgctxt, e.msgid): e.msgstr for e in compiled if e.msgid and not e.msgid_plural}
    assert actual == expected, "run `make messages` and commit the result"
    assert not source.untranslated_entries(), [e.msgid for e in source.untranslated_entries()]
    assert not [e for e in source if "fuzzy" in e.flags]


def test_the_open_task_index_is_built_without_blocking_writes_on_postgresql(
    transactional_db: None,
) -> None:
    out = StringIO()
    call_command("sqlmigrate", "followup", "0011", stdout=out)
    sql = out.getvalue()
    assert '"task_open_due"' in sql
    online = connection.vendor == "postgresql"
    assert ("CREATE INDEX CONCURRENTLY" in sql) is online
    assert "BEGIN" not in sql  # not in a transaction (CONCURRENTLY refuses one)


def test_the_clinical_schema_goes_back_a_migration_and_forward_again(
    transactional_db: None,
) -> None:
    """A migrate back to before the critical values' patient groups: the groups' rows are
    dropped before the one-per-item constraint returns, and nothing reads today's columns on
    the way (the reference data is loaded again only when the schema is current)."""
    from careloop.clinical.models import CriticalValueRule

    assert CriticalValueRule.objects.filter(patient_group="neonate").exists()
    call_command("migrate", "clinical", "0006", verbosity=0)
    with connection.cursor() as cursor:
        columns = {
            c.name
            for c in connection.introspection.get_table_description(
                cursor, "clinical_criticalvaluerule"
            )
        }
    assert "patient_group" not in columns
    call_command("migrate", verbosity=0)
    assert CriticalValueRule.objects.filter(patient_group="neonate", code="14631-6").exists()


def test_a_failed_build_of_the_panel_index_is_finished_by_migrating_again(
    transactional_db: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The index on a component's panel is built online (not in a transaction): a build that
    fails half-way (cancelled, a lock timeout) is finished by running migrate again; the
    panel column, added before it, must not be added a second time."""
    from careloop import migration_ops

    call_command("migrate", "clinical", "0010", verbosity=0)

    def cancelled(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError("canceling statement due to user request")

    with monkeypatch.context() as patched:
        patched.setattr(migration_ops.AddIndexOnline, "database_forwards", cancelled)
        with pytest.raises(RuntimeError):
            call_command("migrate", "clinical", verbosity=0)
    call_command("migrate", verbosity=0)
    with connection.cursor() as cursor:
        table = "clinical_observation"
        columns = {c.name for c in connection.introspection.get_table_description(cursor, table)}
        indexes = connection.introspection.get_constraints(cursor, table)
    assert "panel_id" in columns and "obs_panel" in indexes
