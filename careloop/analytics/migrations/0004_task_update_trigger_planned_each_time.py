"""PostgreSQL: the task-update trigger's statement is planned at every run (``EXECUTE``).

PL/pgSQL keeps the plan of a statement without parameters from its first run in a session.
The update trigger joins the statement's old and new rows; planned when a statement first
changed one task, the join was a nested loop, kept for every later statement of that
connection, so closing a batch of 2,000 tasks compared every old row with every new one
(1.3 s a statement in `bench/dispatch.py`; 29 ms planned each time, as the join then
hashes). SQLite's row-level triggers have no such join and are left as they are."""

from importlib import import_module

from django.db import migrations

made = import_module("careloop.analytics.migrations.0003_task_change_triggers")

_JOINED = "FROM old_rows o JOIN new_rows n ON n.id = o.id"
STATEMENT = (
    f"{made._into} SELECT {made._image('o', '-1')} {_JOINED} "
    f"WHERE o.status <> 'cancelled' AND ({made._changed}) "
    f"UNION ALL SELECT {made._image('n', '1')} {_JOINED} "
    f"WHERE n.status <> 'cancelled' AND ({made._changed})"
)  # built from the constant column names of 0003
FUNCTION = """
CREATE OR REPLACE FUNCTION careloop_task_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  BODY_;
  RETURN NULL;
END $$;
"""
PLANNED_EACH_TIME = FUNCTION.replace("BODY_", f"EXECUTE $statement${STATEMENT}$statement$")
PLANNED_ONCE = FUNCTION.replace("BODY_", STATEMENT)  # as 0003 made it


def _replace(sql: str):  # type: ignore[no-untyped-def]
    def run(apps, schema_editor):  # type: ignore[no-untyped-def]
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [("analytics", "0003_task_change_triggers")]

    operations = [migrations.RunPython(_replace(PLANNED_EACH_TIME), _replace(PLANNED_ONCE))]
