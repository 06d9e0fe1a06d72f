"""``field__any_of=ids`` and ``in_sql``: a list of ids as one parameter (an array on
PostgreSQL, JSON on SQLite) when long, plain placeholders when short; the same rows either
way, on both databases."""

from typing import Any

import pytest
from django.db import connection

from careloop.patients.models import Lifestyle, Patient
from careloop.sql_lists import SHORT, covering, in_sql

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(patient_factory: Any, hospital: Any) -> list[Any]:
    found = patient_factory.create_batch(SHORT + 6, organisation=hospital)
    for person in found[::2]:
        Lifestyle.objects.create(patient=person, smoking="current")
    return found


@pytest.mark.parametrize("how_many", [0, 1, SHORT, SHORT + 1, SHORT + 6])
def test_any_of_finds_exactly_the_listed_rows(people: list[Any], how_many: int) -> None:
    wanted = [p.pk for p in people[:how_many]] + [10**12]  # an id no row has
    wanted = wanted if how_many else []
    assert set(Patient.objects.filter(pk__any_of=wanted).values_list("pk", flat=True)) == {
        p.pk for p in people[:how_many]
    }
    # through a foreign key, with another condition beside it
    smokers = Lifestyle.objects.filter(patient_id__any_of=wanted, smoking="current")
    assert set(smokers.values_list("patient_id", flat=True)) == {p.pk for p in people[:how_many:2]}


@pytest.mark.parametrize("how_many", [0, 3, SHORT + 6])
def test_in_sql_for_hand_written_queries(people: list[Any], how_many: int) -> None:
    ids = [p.pk for p in people[:how_many]]
    where, params = in_sql("id", ids)
    table = connection.ops.quote_name(Patient._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id FROM {table} WHERE {where}", params)
        assert {pk for (pk,) in cursor.fetchall()} == set(ids)
    assert len(params) == (1 if how_many > SHORT else how_many)


def test_covering_holds_for_every_listed_id_as_a_range_or_a_list(people: list[Any]) -> None:
    """Close ids become a range (the caller keeps the ones it asked for), scattered ones a
    list; either way no listed row is missed."""
    ids = sorted(p.pk for p in people)
    close = ids[:30] + ids[33:]  # a few missing in the middle: still close together
    condition = covering("id", close)
    assert set(condition.children) == {("id__gte", close[0]), ("id__lte", close[-1])}
    found = set(Patient.objects.filter(condition).values_list("pk", flat=True))
    assert found == set(ids)  # the three between them too
    scattered = [*ids[: SHORT + 1], 10**12]
    assert covering("id", scattered).children == [("id__any_of", scattered)]
    found = set(Patient.objects.filter(covering("id", scattered)).values_list("pk", flat=True))
    assert found == set(ids[: SHORT + 1])
    assert not Patient.objects.filter(covering("id", [])).exists()
