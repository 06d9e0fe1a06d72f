"""Fast bulk INSERT for loads of many rows (demo data, imports, benchmarks).

Django's bulk_create builds a model instance and compiles every value; for millions of rows
that costs more than the database. ``insert_rows`` takes plain tuples and converts only the
values that need it (encryption, aware datetimes, JSON), then runs one executemany.
Blind indexes are not computed here: pass them in the row.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connection, connections, models, transaction
from django.db.backends.base.base import BaseDatabaseWrapper

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


def _converter(field: models.Field, db: BaseDatabaseWrapper) -> Callable[[Any], Any] | None:
    """How a value of ``field`` goes to ``db``: the connection itself, not Django's
    ``connection`` proxy, whose every attribute read is a thread-local lookup (per value,
    that was a sixth of the nightly enrolment's time)."""
    if isinstance(field, EncryptedTextField):
        return lambda value: crypto.encrypt(value) if value else value
    if isinstance(field, models.DateTimeField):
        return _memo(db.ops.adapt_datetimefield_value)
    if isinstance(field, models.TimeField):
        return _memo(db.ops.adapt_timefield_value)
    if isinstance(field, models.JSONField):
        return _json_converter(field)
    if isinstance(field, models.DecimalField | models.UUIDField):
        return lambda value: field.get_db_prep_save(value, db)
    return None


def _json_converter(field: models.JSONField) -> Callable[[Any], Any]:
    """JSON as text (what Django sends SQLite; COPY and PostgreSQL's parameters take it for
    a ``jsonb`` column as well): None stays SQL NULL. Short lists of strings (a task's
    channel policy) repeat from row to row and are serialised once each."""
    encoder = field.encoder

    def to_json(value: Any) -> Any:
        return None if value is None else json.dumps(value, cls=encoder)

    repeated = _memo(to_json)

    def convert(value: Any) -> Any:
        # Strings only: 1, 1.0 and True are equal as keys but not as JSON.
        if type(value) is list and len(value) <= 8 and all(type(v) is str for v in value):
            return repeated(tuple(value))
        return to_json(value)

    return convert


def array_type(field: models.Field, db: BaseDatabaseWrapper) -> str:
    """The PostgreSQL array type a column's values travel in (``unnest(%s::…)``). Text for
    character columns: a cast to ``varchar(n)`` would cut a value that is too long, where
    storing it into the column refuses it."""
    if isinstance(field, models.CharField):
        return "text[]"
    return f"{field.db_type(db)}[]"


def concrete_field(model: type[models.Model], name: str) -> models.Field:
    field = model._meta.get_field(name)
    if not isinstance(field, models.Field) or not field.column:
        raise ValueError(f"{model._meta.label}.{name} is not a column")
    return field


@contextlib.contextmanager
def bulk_cursor() -> Iterator[Any]:
    """A cursor for statements with many parameters. On PostgreSQL a server-binding psycopg
    cursor: Django's default client-side binding quotes every value in Python, which costs
    more than the database's work on bulk rows. Errors are Django's, as from any cursor."""
    if connection.vendor != "postgresql":
        with connection.cursor() as cursor:
            yield cursor
        return
    import psycopg

    connection.ensure_connection()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        yield cursor


class BulkInsert:
    """A multi-row INSERT into one table from plain rows (sequences in ``fields`` order).

    ``prepare`` converts a row (encrypts, adapts times, serialises JSON), ``execute`` and
    ``returning_ids`` only run SQL: a caller can convert outside its transaction and hold
    the write lock only for the statements.
    """

    def __init__(
        self, model: type[models.Model], fields: Sequence[str], sealed: Sequence[str] = ()
    ) -> None:
        """``sealed``: encrypted fields whose values come encrypted already (``fields.sealed``)."""
        self.model = model
        self.fields = list(fields)
        self.field_objects = field_objects = [concrete_field(model, name) for name in fields]
        quote = connection.ops.quote_name
        self.table = quote(model._meta.db_table)
        self.columns = ", ".join(quote(f.column) for f in field_objects)
        self.one = "(" + ", ".join(["%s"] * len(field_objects)) + ")"
        self.pk_column = quote(model._meta.pk.column)
        db = connections[DEFAULT_DB_ALIAS]  # this thread's connection, resolved once
        self.converters = [
            (i, conv)
            for i, f in enumerate(field_objects)
            if f.name not in sealed and (conv := _converter(f, db)) is not None
        ]

    def prepare(self, row: Sequence[Any]) -> list[Any]:
        values = list(row)
        for index, convert in self.converters:
            values[index] = convert(values[index])
        return values

    def execute(
        self, rows: Sequence[Sequence[Any]], *, chunk: int = 5000, ignore_conflicts: bool = False
    ) -> int:
        """INSERT prepared rows (COPY on PostgreSQL); returns how many went in.
        ``ignore_conflicts``: a row that would break a unique constraint is left out (``ON
        CONFLICT DO NOTHING``: on SQLite one statement per row sent as one batch; on
        PostgreSQL, whose COPY has no such clause, COPYed into a temporary table first)."""
        if not rows:
            return 0
        if connection.vendor == "postgresql" and not ignore_conflicts:
            with (
                bulk_cursor() as cursor,
                cursor.copy(f"COPY {self.table} ({self.columns}) FROM STDIN") as copy,
            ):
                for row in rows:
                    copy.write_row(row)
            return len(rows)
        if connection.vendor == "postgresql":
            return self._copy_skipping_conflicts(rows)
        sql = f"INSERT INTO {self.table} ({self.columns}) VALUES {self.one}"  # noqa: S608
        if ignore_conflicts:
            sql += " ON CONFLICT DO NOTHING"
        inserted = 0
        with bulk_cursor() as cursor:
            for start in range(0, len(rows), chunk):
                cursor.executemany(sql, rows[start : start + chunk])
                inserted += max(cursor.rowcount, 0)
        return inserted

    def _copy_skipping_conflicts(self, rows: Sequence[Sequence[Any]]) -> int:
        """PostgreSQL: the rows COPYed into a temporary table of this session, then one
        ``INSERT … SELECT … ON CONFLICT DO NOTHING``. (An INSERT per row, even sent as one
        batch, is parsed and planned row by row: Django's connections prepare nothing, for
        the sake of connection poolers; ~130 µs of the server's time per outreach message.
        ``unnest`` over an array per column, tried too, took twice as long as the COPY.)

        The temporary table is named for its columns and their types, so a connection kept
        across a schema change, or a pooled one another client used, never writes into a
        table of other columns; all four statements run in one transaction, and it is empty
        again after each."""
        shape = ",".join(f"{f.column}:{f.db_type(connection)}" for f in self.field_objects)
        digest = hashlib.sha256(f"{self.table}({shape})".encode()).hexdigest()[:16]
        stage = connection.ops.quote_name(f"careloop_stage_{digest}")
        with transaction.atomic(), bulk_cursor() as cursor:
            cursor.execute(
                f"CREATE TEMPORARY TABLE IF NOT EXISTS {stage} ON COMMIT DELETE ROWS AS "  # noqa: S608
                f"SELECT {self.columns} FROM {self.table} WITH NO DATA"
            )
            with cursor.copy(f"COPY {stage} ({self.columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            cursor.execute(
                f"INSERT INTO {self.table} ({self.columns}) "  # noqa: S608
                f"SELECT {self.columns} FROM {stage} ON CONFLICT DO NOTHING"
            )
            inserted = max(cursor.rowcount, 0)
            cursor.execute(f"DELETE FROM {stage}")  # noqa: S608 (another batch may follow)
        return inserted

    def returning_ids(self, rows: Sequence[Sequence[Any]], *, chunk: int = 500) -> list[int]:
        """INSERT prepared rows and return their new primary keys, in order (ascending).
        PostgreSQL: ids from the sequence, then COPY; otherwise multi-row INSERT … RETURNING,
        answered in insertion order (SQLite ≥ 3.35, PostgreSQL)."""
        ids: list[int] = []
        if not rows:
            return ids
        with bulk_cursor() as cursor:
            sequenced = isinstance(self.model._meta.pk, models.AutoField)
            if connection.vendor == "postgresql" and sequenced:
                # The ids drawn from the table's sequence first, then the rows COPYed with
                # them: the server does far less per row than for one INSERT … RETURNING
                # each (pipelined, that was most of the rules sweep's time).
                cursor.execute(
                    "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                    [self.model._meta.db_table, self.model._meta.pk.column, len(rows)],
                )
                ids = sorted(pk for (pk,) in cursor.fetchall())  # ascending, in row order
                copy_sql = f"COPY {self.table} ({self.pk_column}, {self.columns}) FROM STDIN"
                with cursor.copy(copy_sql) as copy:
                    for pk, row in zip(ids, rows, strict=True):
                        copy.write_row((pk, *row))
                return ids
            for start in range(0, len(rows), chunk):
                batch = rows[start : start + chunk]
                sql = (
                    f"INSERT INTO {self.table} ({self.columns}) VALUES "  # noqa: S608
                    f"{', '.join([self.one] * len(batch))} RETURNING {self.pk_column}"
                )
                cursor.execute(sql, [value for row in batch for value in row])
                ids.extend(row[0] for row in cursor.fetchall())
        return ids


def insert_rows(
    model: type[models.Model],
    fields: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    chunk: int = 5000,
    ignore_conflicts: bool = False,
    sealed: Sequence[str] = (),
) -> int:
    """INSERT ``rows`` (tuples in the order of ``fields``) into ``model``'s table; with
    ``ignore_conflicts``, rows that would break a unique constraint are left out;
    ``sealed``: encrypted fields whose values come encrypted already."""
    insert = BulkInsert(model, fields, sealed)
    total = 0
    batch: list[Sequence[Any]] = []
    for row in rows:
        batch.append(insert.prepare(row) if insert.converters else row)
        if len(batch) >= chunk:
            total += insert.execute(batch, chunk=chunk, ignore_conflicts=ignore_conflicts)
            batch = []
    if batch:
        total += insert.execute(batch, chunk=chunk, ignore_conflicts=ignore_conflicts)
    return total


def insert_returning_ids(
    model: type[models.Model],
    fields: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    chunk: int = 500,
) -> list[int]:
    """INSERT ``rows`` and return their new primary keys, in order."""
    insert = BulkInsert(model, fields)
    return insert.returning_ids([insert.prepare(row) for row in rows], chunk=chunk)


def model_row(
    model: type[models.Model], fields: Sequence[str], values: dict[str, Any], *, now: Any
) -> list[Any]:
    """A row for ``fields`` from ``values``, the rest as Django would fill them on save: the
    field's default, now for ``auto_now`` fields, a blind index from its plaintext."""
    from careloop.fields import BlindIndexField, DerivedCharField

    row = []
    for name in fields:
        if name in values:
            row.append(values[name])
            continue
        field = concrete_field(model, name)
        if isinstance(field, BlindIndexField):
            row.append(field.index_of(values.get(field.source)))
        elif isinstance(field, DerivedCharField):
            row.append(field.derive(values.get(field.source)))
        elif getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            row.append(now)
        else:
            row.append(field.get_default())
    return row


def create_instances(objs: Sequence[models.Model]) -> None:
    """``bulk_create`` for new instances of one plain model (no signals; ``auto_now`` fields
    filled), their primary keys set, through ``BulkInsert``: Django's bulk_create compiles
    every value of every row (on PostgreSQL as arrays for UNNEST, each value quoted in
    Python) — most of the time a batch of rule firings, with their JSON, took."""
    if not objs:
        return
    model = type(objs[0])
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    from careloop.fields import BlindIndexField, DerivedCharField

    plain = not any(
        isinstance(f, BlindIndexField | DerivedCharField) or f.db_default is not models.NOT_PROVIDED
        for f in fields
    )
    if not plain:  # fields that need Django's save path
        model._default_manager.bulk_create(objs)
        return
    stamped = [
        f for f in fields if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)
    ]
    for obj in objs:
        for field in stamped:
            field.pre_save(obj, add=True)
    ids = insert_returning_ids(
        model, [f.name for f in fields], [[getattr(o, f.attname) for f in fields] for o in objs]
    )
    for obj, pk in zip(objs, ids, strict=True):
        obj.pk = pk
        obj._state.adding, obj._state.db = False, connection.alias
