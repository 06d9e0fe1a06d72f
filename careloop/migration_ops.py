"""Migration operations of our own."""

from __future__ import annotations

from typing import Any

from django.db import migrations


class AddIndexOnline(migrations.AddIndex):
    """``AddIndex`` that on PostgreSQL builds the index with ``CREATE INDEX CONCURRENTLY``: a
    large table (ten million tasks) goes on taking writes while it is built. The migration
    must set ``atomic = False``. A build that failed half-way leaves an invalid index of that
    name behind: it is dropped first, so running ``migrate`` again finishes the job.
    Elsewhere (SQLite) a plain ``CREATE INDEX``."""

    def database_forwards(
        self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any
    ) -> None:
        model = to_state.apps.get_model(app_label, self.model_name)
        if self.allow_migrate_model(schema_editor.connection.alias, model):
            online = _online(schema_editor)
            if online:
                _drop_if_invalid(schema_editor, self.index.name)
            schema_editor.add_index(model, self.index, **online)

    def database_backwards(
        self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any
    ) -> None:
        model = from_state.apps.get_model(app_label, self.model_name)
        if self.allow_migrate_model(schema_editor.connection.alias, model):
            schema_editor.remove_index(model, self.index, **_online(schema_editor))


def _online(schema_editor: Any) -> dict[str, bool]:
    if schema_editor.connection.vendor != "postgresql":
        return {}
    if schema_editor.connection.in_atomic_block:
        raise RuntimeError("AddIndexOnline needs a migration with atomic = False")
    return {"concurrently": True}


def _drop_if_invalid(schema_editor: Any, name: str) -> None:
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
            "WHERE c.relname = %s AND NOT i.indisvalid",
            [name],
        )
        invalid = cursor.fetchone() is not None
    if invalid:
        schema_editor.execute(f"DROP INDEX CONCURRENTLY {schema_editor.quote_name(name)}")


def schema_behind(using: str = "default", plan: Any = None) -> bool:
    """For a post_migrate handler that reads or writes tables through today's models: true when
    the migrate just run left the schema short of the latest migrations (rolled back, or
    migrated to a named earlier one), where today's columns may not exist. A test flush (no
    plan) and a full migrate are not behind."""
    if not plan:
        return False
    if any(backwards for _migration, backwards in plan):
        return True
    from django.db import connections
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connections[using])
    return bool(executor.migration_plan(executor.loader.graph.leaf_nodes()))
