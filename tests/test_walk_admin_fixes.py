"""From a browser walk-through of the administration: a local code cannot be mapped to
something that is not a LOINC code (its results would be stored under it, never graded)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from careloop.interop.models import CodeMapping, SourceSystem
from tests.factories import UserFactory, two_factor_client


def _admin_client(hospital: Any) -> Client:
    admin = UserFactory(organisation=hospital, role="admin", is_staff=True, is_superuser=True)
    return two_factor_client(admin, HTTP_ACCEPT_LANGUAGE="en")


@pytest.mark.parametrize(
    ("typed", "problem"),
    [
        ("hello", "hello is not a LOINC code: digits, a hyphen and a check digit"),
        ("2823-4", "2823-4 is not a LOINC code: its check digit would be 3."),
    ],
)
def test_a_code_mapping_to_something_not_loinc_is_refused_naming_it(
    hospital: Any, typed: str, problem: str
) -> None:
    source = SourceSystem.objects.create(facility="LIS-A", organisation=hospital)
    client = _admin_client(hospital)
    page = client.post(
        "/admin/interop/codemapping/add/",
        {"source": source.pk, "local_code": "K01", "local_name": "钾", "loinc": typed},
    )
    assert page.status_code == 200
    assert problem in page.content.decode()
    assert not CodeMapping.objects.exists()


def test_a_code_mapping_to_a_loinc_code_is_saved_without_spaces(hospital: Any) -> None:
    source = SourceSystem.objects.create(facility="LIS-A", organisation=hospital)
    client = _admin_client(hospital)
    saved = client.post(
        "/admin/interop/codemapping/add/",
        {"source": source.pk, "local_code": "K01", "local_name": "钾", "loinc": " 2823-3 "},
    )
    assert saved.status_code == 302
    assert CodeMapping.objects.get().loinc == "2823-3"


@pytest.mark.parametrize(
    ("url", "english"),
    [
        ("/admin/interop/sourcesystem/add/", "Created at:"),
        ("/admin/accounts/organisation/add/", "Path:"),
    ],
)
def test_the_chinese_administration_names_every_field_in_chinese(
    hospital: Any, url: str, english: str
) -> None:
    client = _admin_client(hospital)
    client.cookies["django_language"] = "zh-hans"
    page = client.get(url).content.decode()
    assert english not in page
