"""Property-based checks of /api/v1 against its own OpenAPI schema (schemathesis):
no server errors, only documented status codes, responses that match their schemas."""

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance

from careloop.accounts.tokens import do_create_token
from careloop.wsgi import application

schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", application)


@pytest.fixture(autouse=True)
def _keep_the_test_connection() -> Iterator[None]:
    # The WSGI handler closes "obsolete" connections around each request; inside the test's
    # transaction that would close it under the test. Django's own test client unhooks the
    # same receivers while it calls the application.
    for signal in (signals.request_started, signals.request_finished):
        signal.disconnect(close_old_connections)
    yield
    for signal in (signals.request_started, signals.request_finished):
        signal.connect(close_old_connections)


@pytest.fixture
def auth(alice: Any, bob: Any, patient_factory: Any) -> dict[str, str]:
    patient_factory(organisation=bob.organisation)
    _, token = do_create_token(bob)
    return {"Authorization": f"Bearer {token}"}


@schema.parametrize()
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
def test_the_api_keeps_to_its_schema(case: Any, auth: dict[str, str]) -> None:
    # Two checks do not apply: unknown query parameters are ignored on purpose (integrators
    # add their own), and schema-valid data may still break a clinical rule (an ID number's
    # check digit, a sex that contradicts it) and be rejected with 422. Every other check
    # holds: no 5xx, only documented status codes and content types, conforming bodies.
    case.call_and_validate(
        headers=auth, excluded_checks=[negative_data_rejection, positive_data_acceptance]
    )
