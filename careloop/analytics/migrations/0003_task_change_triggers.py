"""Triggers on the task table that write each counted task as it was (−1) and as it is (+1)
to ``analytics_taskchange`` when a field the dashboard counts by changes; cancelled tasks
are not counted. PostgreSQL: statement-level triggers over the transition tables, one
INSERT … SELECT per statement however many rows it wrote; SQLite: row-level triggers."""

from django.db import migrations

# The fields the counts depend on, and team and assignee: a task handed to someone else
# writes a −1/+1 pair that changes no count but moves the stamp of the cached team and
# person figures.
COUNTED = ("status", "due_at", "deadline", "closed_at", "organisation_id", "patient_id")
COUNTED += ("purpose", "team_id", "assignee_id")
COLUMNS = "task_id, sign, organisation_id, patient_id, due_at, status, on_time, purpose"


def _image(row: str, sign: str) -> str:
    return (
        f"{row}.id, {sign}, {row}.organisation_id, {row}.patient_id, {row}.due_at, "
        f"{row}.status, {row}.closed_at <= {row}.deadline, {row}.purpose"
    )


_changed = " OR ".join(f"o.{c} IS DISTINCT FROM n.{c}" for c in COUNTED)
_into = "INSERT INTO analytics_taskchange (" + COLUMNS + ")"
POSTGRESQL = (
    """
CREATE FUNCTION careloop_task_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INTO_ SELECT NEW_ FROM new_rows n WHERE n.status <> 'cancelled';
  RETURN NULL;
END $$;
CREATE FUNCTION careloop_task_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INTO_
  SELECT OLD_ FROM old_rows o JOIN new_rows n ON n.id = o.id
  WHERE o.status <> 'cancelled' AND (CHANGED_)
  UNION ALL
  SELECT NEW_ FROM old_rows o JOIN new_rows n ON n.id = o.id
  WHERE n.status <> 'cancelled' AND (CHANGED_);
  RETURN NULL;
END $$;
CREATE FUNCTION careloop_task_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INTO_ SELECT OLD_ FROM old_rows o WHERE o.status <> 'cancelled';
  RETURN NULL;
END $$;
CREATE TRIGGER careloop_task_inserted AFTER INSERT ON followup_task
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION careloop_task_inserted();
CREATE TRIGGER careloop_task_updated AFTER UPDATE ON followup_task
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION careloop_task_updated();
CREATE TRIGGER careloop_task_deleted AFTER DELETE ON followup_task
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION careloop_task_deleted();
""".replace("INTO_", _into)
    .replace("CHANGED_", _changed)
    .replace("OLD_", _image("o", "-1"))
    .replace("NEW_", _image("n", "1"))
)  # built from the constant column names above
POSTGRESQL_DROP = """
DROP TRIGGER careloop_task_inserted ON followup_task;
DROP TRIGGER careloop_task_updated ON followup_task;
DROP TRIGGER careloop_task_deleted ON followup_task;
DROP FUNCTION careloop_task_inserted();
DROP FUNCTION careloop_task_updated();
DROP FUNCTION careloop_task_deleted();
"""


def _note(row: str, sign: str) -> str:
    return f"{_into} SELECT {_image(row, sign)} WHERE {row}.status <> 'cancelled';"


SQLITE = [
    "CREATE TRIGGER IF NOT EXISTS careloop_task_inserted AFTER INSERT ON followup_task BEGIN "
    + _note("NEW", "1")
    + " END",
    f"CREATE TRIGGER IF NOT EXISTS careloop_task_updated AFTER UPDATE OF {', '.join(COUNTED)} ON followup_task "
    f"WHEN {' OR '.join(f'OLD.{c} IS NOT NEW.{c}' for c in COUNTED)} BEGIN "
    + _note("OLD", "-1")
    + " "
    + _note("NEW", "1")
    + " END",
    "CREATE TRIGGER IF NOT EXISTS careloop_task_deleted AFTER DELETE ON followup_task BEGIN "
    + _note("OLD", "-1")
    + " END",
]
SQLITE_DROP = [
    f"DROP TRIGGER careloop_task_{event}" for event in ("inserted", "updated", "deleted")
]


def create(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(POSTGRESQL)
    elif vendor == "sqlite":
        for statement in SQLITE:
            schema_editor.execute(statement)


def drop(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(POSTGRESQL_DROP)
    elif vendor == "sqlite":
        for statement in SQLITE_DROP:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [
        ("analytics", "0002_task_rollup"),
        ("followup", "0010_alert_notified_assignee_id"),
    ]

    operations = [migrations.RunPython(create, drop)]
