"""The shared cast: two organisations, staff in different roles, API helpers, Chromium."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterable, Iterator
from typing import Any

import pytest
from django.test import Client

from careloop.accounts.models import Organisation
from careloop.accounts.roles import Role
from careloop.accounts.tokens import do_create_token
from careloop.interop import patient_locks
from tests.factories import OrganisationFactory, PatientFactory, TeamFactory, UserFactory

# Two requests at the same moment exist on PostgreSQL only (SQLite's write gate lets one
# writer in at a time): those tests run in the PostgreSQL run of `make test`.
collect_ignore = (
    []
    if os.environ.get("CARELOOP_DATABASE_URL", "").startswith("postgres")
    else ["test_concurrent.py"]
)

# Playwright's sync API runs an event loop in the test thread; Django's ORM refuses to run
# inside one unless told it is safe (the browser never touches the database itself).
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture(autouse=True)
def _fast_passwords(settings: Any) -> None:
    # Argon2 is the production hasher (tests/test_accounts.py checks it); tests hash fast.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _site_language_after_each_test() -> Iterator[None]:
    # A request in English (Accept-Language) leaves English active in the thread.
    from django.utils import translation

    yield
    translation.deactivate()


@pytest.fixture(autouse=True)
def _fresh_catalogue() -> Iterator[None]:
    # The catalogue snapshot is cached per process; each test starts from the database.
    from careloop.clinical import catalogue

    catalogue.invalidate()
    yield
    catalogue.invalidate()


@pytest.fixture
def hospital(db: None) -> Organisation:
    """City hospital with a cardiology department below it."""
    return OrganisationFactory(code="H1", name="第一人民医院", kind=Organisation.Kind.HOSPITAL)


@pytest.fixture
def cardiology(hospital: Organisation) -> Organisation:
    return OrganisationFactory(code="H1-CARD", name="心内科", kind="department", parent=hospital)


@pytest.fixture
def community(db: None) -> Organisation:
    """A community centre in another tree: hospital staff must not see its patients."""
    return OrganisationFactory(
        code="C1", name="和平社区卫生服务中心", kind=Organisation.Kind.COMMUNITY_CENTRE
    )


@pytest.fixture
def alice(hospital: Organisation) -> Any:
    """Alice, follow-up nurse at the hospital."""
    return UserFactory(
        username="alice", display_name="王爱丽", organisation=hospital, role=Role.NURSE
    )


@pytest.fixture
def bob(hospital: Organisation) -> Any:
    """Bob, supervisor at the hospital (reveals identifiers, reads the audit log)."""
    return UserFactory(
        username="bob", display_name="周博", organisation=hospital, role=Role.SUPERVISOR
    )


@pytest.fixture
def carol(cardiology: Organisation) -> Any:
    """Carol, doctor in the cardiology department (sees only its subtree)."""
    return UserFactory(
        username="carol", display_name="李可", organisation=cardiology, role=Role.DOCTOR
    )


@pytest.fixture
def dave(community: Organisation) -> Any:
    """Dave, nurse at the community centre."""
    return UserFactory(
        username="dave", display_name="刘大伟", organisation=community, role=Role.NURSE
    )


@pytest.fixture
def team(hospital: Organisation) -> Any:
    return TeamFactory(organisation=hospital, name="心内科随访组")


@pytest.fixture
def patient_factory(db: None) -> type[PatientFactory]:
    return PatientFactory


class ApiClient:
    """A JSON client for /api/v1 with a bearer token."""

    def __init__(self, token: str | None) -> None:
        self.client = Client()
        self.headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}

    def _send(self, method: str, path: str, body: Any = None, raw: str | None = None) -> Any:
        data = raw if raw is not None else (json.dumps(body) if body is not None else None)
        call = getattr(self.client, method)
        if data is None:
            return call(path, **self.headers)
        return call(path, data=data, content_type="application/json", **self.headers)

    def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        return self.client.get(path, params or {}, **self.headers)

    def post(self, path: str, body: Any = None, raw: str | None = None) -> Any:
        return self._send("post", path, body, raw)

    def patch(self, path: str, body: Any = None) -> Any:
        return self._send("patch", path, body)


@pytest.fixture
def api_as() -> Any:
    def make(user: Any) -> ApiClient:
        _, token = do_create_token(user, name="test")
        return ApiClient(token)

    return make


@pytest.fixture
def anonymous_api() -> ApiClient:
    return ApiClient(None)


# ------------------------------------------------------------------ browser (Chromium)

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
        )
        yield instance
        instance.close()


@pytest.fixture
def page(browser: Any, live_server: Any) -> Iterator[Any]:
    context = browser.new_context(
        base_url=live_server.url, locale="zh-CN", viewport={"width": 1366, "height": 900}
    )
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def held(monkeypatch: pytest.MonkeyPatch) -> list[list[int]]:
    """The patients each write held (patient_locks.holding), in order."""
    held: list[list[int]] = []
    real = patient_locks.holding

    @contextlib.contextmanager
    def holding(patient_ids: Iterable[int]) -> Iterator[None]:
        held.append(list(patient_ids))
        with real(patient_ids):
            yield

    monkeypatch.setattr(patient_locks, "holding", holding)
    return held
