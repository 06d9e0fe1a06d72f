"""Message indexes kept once (the model's comment says why), without rewriting the table.

Django's own operations would drop and re-add the two foreign keys (checking every row again)
and build the key's unique index anew, the table locked meanwhile. Instead, on PostgreSQL,
the key's unique constraint is renamed and the three redundant indexes (organisation, patient,
and the key's LIKE index) dropped concurrently; on SQLite the two foreign-key indexes are
dropped (its unique key index stays as it is: SQLite cannot drop a column's own UNIQUE without
rebuilding the table, and it serves the constraint the same way). Backwards, the same made
again."""

import django.db.models.deletion
from django.db import migrations, models

REDUNDANT = ("organisation_id", "patient_id")


def _names(schema_editor, model, column, **kinds):  # type: ignore[no-untyped-def]
    return schema_editor._constraint_names(model, [column], **kinds)


def forwards(apps, schema_editor):  # type: ignore[no-untyped-def]
    message = apps.get_model("outreach", "Message")
    table = schema_editor.quote_name(message._meta.db_table)
    quote = schema_editor.quote_name
    postgresql = schema_editor.connection.vendor == "postgresql"
    drop = "DROP INDEX CONCURRENTLY IF EXISTS" if postgresql else "DROP INDEX IF EXISTS"
    for column in REDUNDANT:
        for name in _names(schema_editor, message, column, index=True, unique=False):
            schema_editor.execute(f"{drop} {quote(name)}")
    if not postgresql:
        return
    for name in _names(schema_editor, message, "key", index=True, unique=False):
        schema_editor.execute(f"{drop} {quote(name)}")  # the LIKE index
    unique = _names(schema_editor, message, "key", unique=True, primary_key=False)
    if unique and "message_key_unique" not in unique:
        schema_editor.execute(
            f"ALTER TABLE {table} RENAME CONSTRAINT {quote(unique[0])} TO message_key_unique"
        )


def backwards(apps, schema_editor):  # type: ignore[no-untyped-def]
    message = apps.get_model("outreach", "Message")
    db_table = message._meta.db_table
    table, quote = schema_editor.quote_name(db_table), schema_editor.quote_name
    postgresql = schema_editor.connection.vendor == "postgresql"
    create = (
        "CREATE INDEX CONCURRENTLY IF NOT EXISTS" if postgresql else "CREATE INDEX IF NOT EXISTS"
    )
    for column in REDUNDANT:
        name = schema_editor._create_index_name(db_table, [column])
        schema_editor.execute(f"{create} {quote(name)} ON {table} ({quote(column)})")
    if not postgresql:
        return
    like = schema_editor._create_index_name(db_table, ["key"], suffix="_like")
    schema_editor.execute(f'{create} {quote(like)} ON {table} ("key" varchar_pattern_ops)')
    unique = schema_editor._create_index_name(db_table, ["key"], suffix="_uniq")
    schema_editor.execute(
        f"ALTER TABLE {table} RENAME CONSTRAINT message_key_unique TO {quote(unique)}"
    )


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_organisation_region"),
        ("followup", "0012_pathway_field_names"),
        ("outreach", "0003_staffnotification"),
        ("patients", "0006_risk_record_fields"),
    ]

    atomic = False  # CONCURRENTLY, on PostgreSQL

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="message",
                    name="key",
                    field=models.CharField(max_length=100, verbose_name="idempotency key"),
                ),
                migrations.AlterField(
                    model_name="message",
                    name="organisation",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="accounts.organisation",
                    ),
                ),
                migrations.AlterField(
                    model_name="message",
                    name="patient",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="messages",
                        to="patients.patient",
                    ),
                ),
                migrations.AddConstraint(
                    model_name="message",
                    constraint=models.UniqueConstraint(fields=("key",), name="message_key_unique"),
                ),
            ],
            database_operations=[migrations.RunPython(forwards, backwards)],
        )
    ]
