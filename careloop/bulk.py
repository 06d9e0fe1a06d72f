"""Fast bulk INSERT for loads of many rows (demo data, imports, benchmarks).

Django's bulk_create builds a model instance and compiles every value; for millions of rows
that costs more than the database. ``insert_rows`` takes plain tuples and converts only the
values that need it (encryption, aware datetimes, JSON), then runs one executemany.
Blind indexes are not computed here: pass them in the row.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from django.db import connection, models

from careloop import crypto
from careloop.fields import EncryptedTextField


def _memo(convert: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """Rows of one load share many values (the same times): convert each one once."""
    seen: dict[Any, Any] = {}

    def cached(value: Any) -> Any:
        try:
            return seen[value]
        except KeyError:
            seen[value] = result = convert(value)
            return result

    return cached


def _converter(field: models.Field) -> Callable[[Any], Any] | None:
    if isinstance(field, EncryptedTextField):
        return lambda value: crypto.encrypt(value) if value else value
    if isinstance(field, models.DateTimeField):
        return _memo(connection.ops.adapt_datetimefield_value)
    if isinstance(field, models.TimeField):
        return _memo(connection.ops.adapt_timefield_value)
    if isinstance(field, models.JSONField | models.DecimalField | models.UUIDField):
        return lambda value: field.get_db_prep_save(value, connection)
    return None


def concrete_field(model: type[models.Model], name: str) -> models.Field:
    field = model._meta.get_field(name)
    if not isinstance(field, models.Field) or not field.column:
        raise ValueError(f"{model._meta.label}.{name} is not a column")
    return field


def insert_rows(
    model: type[models.Model],
    fields: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    chunk: int = 5000,
) -> int:
    """INSERT ``rows`` (tuples in the order of ``fields``) into ``model``'s table."""
    meta = model._meta
    field_objects = [concrete_field(model, name) for name in fields]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(f.column) for f in field_objects)
    placeholders = ", ".join(["%s"] * len(field_objects))
    sql = f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES ({placeholders})"  # noqa: S608
    converters = [
        (i, conv) for i, f in enumerate(field_objects) if (conv := _converter(f)) is not None
    ]
    total = 0
    batch: list[Sequence[Any]] = []
    with connection.cursor() as cursor:
        for row in rows:
            if converters:
                values = list(row)
                for index, convert in converters:
                    values[index] = convert(values[index])
                row = values
            batch.append(row)
            if len(batch) >= chunk:
                cursor.executemany(sql, batch)
                total += len(batch)
                batch = []
        if batch:
            cursor.executemany(sql, batch)
            total += len(batch)
    return total


def insert_returning_ids(
    model: type[models.Model],
    fields: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    chunk: int = 500,
) -> list[int]:
    """INSERT ``rows`` and return their new primary keys, in order (multi-row INSERT …
    RETURNING, which SQLite ≥ 3.35 and PostgreSQL both answer in insertion order)."""
    meta = model._meta
    field_objects = [concrete_field(model, name) for name in fields]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(f.column) for f in field_objects)
    one = "(" + ", ".join(["%s"] * len(field_objects)) + ")"
    converters = [
        (i, conv) for i, f in enumerate(field_objects) if (conv := _converter(f)) is not None
    ]
    ids: list[int] = []
    with connection.cursor() as cursor:
        for start in range(0, len(rows), chunk):
            batch = rows[start : start + chunk]
            params: list[Any] = []
            for row in batch:
                values = list(row)
                for index, convert in converters:
                    values[index] = convert(values[index])
                params.extend(values)
            sql = (
                f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES "  # noqa: S608
                f"{', '.join([one] * len(batch))} RETURNING {quote(meta.pk.column)}"
            )
            cursor.execute(sql, params)
            ids.extend(row[0] for row in cursor.fetchall())
    return ids
