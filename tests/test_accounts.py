"""Log-in, lockout, two-factor, roles, API tokens."""

from io import StringIO
from typing import Any
from urllib.parse import quote

import pytest
from django.contrib.auth.hashers import make_password
from django.core.management import call_command
from django.test import Client
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from careloop import settings as project_settings
from careloop.accounts.models import ApiToken
from careloop.accounts.roles import Role
from careloop.accounts.tokens import do_create_token, user_for_token
from careloop.audit.models import AuditEvent
from tests.factories import PASSWORD, UserFactory


def login(client: Client, username: str, password: str = PASSWORD) -> Any:
    return client.post("/accounts/login/", {"username": username, "password": password})


def code_for(device: TOTPDevice) -> str:
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"


def test_production_hasher_is_argon2(settings: Any) -> None:
    assert project_settings.PASSWORD_HASHERS[0].endswith("Argon2PasswordHasher")
    settings.PASSWORD_HASHERS = project_settings.PASSWORD_HASHERS
    assert make_password("s3cret-passphrase").startswith("argon2$")


def test_a_nurse_logs_in_and_out(alice: Any) -> None:
    client = Client()
    response = login(client, "alice")
    assert response.status_code == 302 and response["Location"] == "/worklist/"
    assert client.get("/worklist/").status_code == 200
    assert client.get("/").status_code == 200
    assert AuditEvent.objects.filter(actor=alice, action="login").exists()
    client.post("/accounts/logout/")
    assert client.get("/").status_code == 302


@pytest.mark.parametrize(
    ("role", "landing"),
    [
        (Role.NURSE, "/worklist/"),
        (Role.HEALTH_MANAGER, "/worklist/"),
        (Role.DOCTOR, "/worklist/"),
        (Role.SUPERVISOR, "/dashboard/"),
        (Role.COORDINATOR, "/worklist/revisits/"),
    ],
)
def test_each_role_lands_on_the_page_of_its_day(hospital: Any, role: str, landing: str) -> None:
    UserFactory(username="someone", organisation=hospital, role=role)
    client = Client()
    assert login(client, "someone")["Location"] == landing
    assert client.get(landing).status_code == 200
    # Already logged in, the log-in page sends them there too; a page asked for wins.
    assert client.get("/accounts/login/")["Location"] == landing
    client.post("/accounts/logout/")
    asked = client.post(
        "/accounts/login/?next=/patients/", {"username": "someone", "password": PASSWORD}
    )
    assert asked["Location"] == "/patients/"
    client.post("/accounts/logout/")
    # Opening the site's address asks for no page in particular.
    opened = client.get("/")
    assert opened["Location"] == "/accounts/login/?next=/"
    signed_in = client.post(opened["Location"], {"username": "someone", "password": PASSWORD})
    assert signed_in["Location"] == landing


def test_a_user_without_a_role_lands_on_the_home_page(hospital: Any) -> None:
    UserFactory(username="plain", organisation=hospital)
    assert login(Client(), "plain")["Location"] == "/"


def test_a_wrong_password_is_refused_and_audited(alice: Any) -> None:
    response = login(Client(), "alice", "wrong")
    assert response.status_code == 200
    assert "alert-danger" in response.content.decode()
    assert AuditEvent.objects.filter(action="login_failed", actor_label="alice").exists()


def test_five_failures_lock_the_account(alice: Any) -> None:
    client = Client()
    for _ in range(5):
        login(client, "alice", "wrong")
    locked = login(Client(), "alice")  # even the right password, from another browser
    assert locked.status_code == 429
    assert "15" in locked.content.decode()


def test_an_administrator_must_set_up_two_factor(hospital: Any) -> None:
    UserFactory(username="root", organisation=hospital, role=Role.ADMIN)
    client = Client()
    response = login(client, "root")
    assert response["Location"].startswith("/accounts/2fa/setup/")
    # Every other page sends them back to the set-up until it is done.
    assert client.get("/patients/")["Location"].startswith("/accounts/2fa/setup/")
    from_admin = client.get("/admin/")["Location"]
    assert from_admin == "/accounts/2fa/setup/?next=%2Fadmin%2F"  # and back there after
    page = client.get(from_admin).content.decode()
    assert 'name="next" value="/admin/"' in page
    assert "<svg" in page  # the QR code
    device = TOTPDevice.objects.get(user__username="root")
    wrong = "000000" if code_for(device) != "000000" else "111111"
    bad = client.post("/accounts/2fa/setup/", {"token": wrong})
    assert bad.status_code == 200 and 'role="alert"' in bad.content.decode()
    device.refresh_from_db()
    device.throttle_reset()  # django-otp makes a wrong code wait; the test does not
    done = client.post("/accounts/2fa/setup/", {"token": code_for(device), "next": "/admin/"})
    assert done["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200
    device.refresh_from_db()
    assert device.confirmed


def test_two_factor_can_be_required_of_every_staff_member(alice: Any, settings: Any) -> None:
    """CARELOOP_TWO_FACTOR_ALL_STAFF: a nurse too sets it up before any other page."""
    assert (
        login(Client(), "alice")["Location"] == "/worklist/"
    )  # off by default: only administrators
    settings.TWO_FACTOR_ALL_STAFF = True
    client = Client()
    assert login(client, "alice")["Location"].startswith("/accounts/2fa/setup/")
    assert client.get("/worklist/")["Location"].startswith("/accounts/2fa/setup/")


def test_a_user_with_two_factor_is_asked_for_the_code(alice: Any) -> None:
    device = TOTPDevice.objects.create(user=alice, name="phone", confirmed=True)
    client = Client()
    response = login(client, "alice")
    assert response["Location"].startswith("/accounts/2fa/verify/")
    assert client.get("/patients/")["Location"].startswith("/accounts/2fa/verify/")
    client.post("/accounts/2fa/verify/", {"token": code_for(device), "next": "/patients/"})
    assert client.get("/patients/").status_code == 200


def test_a_page_asked_for_with_its_own_query_survives_the_two_factor_step(alice: Any) -> None:
    from urllib.parse import parse_qs, urlsplit

    TOTPDevice.objects.create(user=alice, name="phone", confirmed=True)
    asked = "/worklist/?scope=team&section=overdue"
    response = Client().post(
        f"/accounts/login/?next={quote(asked)}", {"username": "alice", "password": PASSWORD}
    )
    where = urlsplit(response["Location"])
    assert where.path == "/accounts/2fa/verify/"
    assert parse_qs(where.query)["next"] == [asked]  # not cut at its "&"


def test_the_log_in_page_asked_for_after_logging_in_is_no_loop(alice: Any) -> None:
    client = Client()
    login(client, "alice")
    again = client.get("/accounts/login/?next=/accounts/login/")
    assert again.status_code == 302 and again["Location"] == "/worklist/"


def test_an_administrator_cannot_turn_two_factor_off(hospital: Any) -> None:
    admin = UserFactory(username="root", organisation=hospital, role=Role.ADMIN)
    device = TOTPDevice.objects.create(user=admin, name="phone", confirmed=True)
    client = Client()
    login(client, "root")
    client.post("/accounts/2fa/verify/", {"token": code_for(device)})
    client.post("/accounts/2fa/disable/")
    assert TOTPDevice.objects.filter(user=admin).exists()


def test_roles_carry_the_permissions_of_the_table(alice: Any, bob: Any, carol: Any) -> None:
    assert alice.has_perm("patients.reveal_phone")
    assert not alice.has_perm("patients.reveal_identifier")
    assert not alice.has_perm("audit.view_auditevent")
    assert bob.has_perm("audit.view_auditevent") and bob.has_perm("patients.reveal_identifier")
    assert carol.has_perm("clinical.add_condition")


def test_tokens_are_stored_hashed_and_always_parse(alice: Any) -> None:
    for _ in range(30):  # the secret part often contains "_" and "-"
        item, token = do_create_token(alice)
        assert user_for_token(token) == alice
        assert token not in item.token_hash and ApiToken.hash(token) == item.token_hash
    assert user_for_token("cl_nope") is None
    assert user_for_token("") is None


def test_an_inactive_users_token_stops_working(alice: Any) -> None:
    _, token = do_create_token(alice)
    alice.is_active = False
    alice.save()
    assert user_for_token(token) is None


def test_apitoken_command_creates_lists_and_revokes(alice: Any) -> None:
    out = StringIO()
    call_command("apitoken", "create", "alice", "--name", "LIS", stdout=out)
    token = out.getvalue().strip()
    assert token.startswith("cl_") and user_for_token(token) == alice
    listing = StringIO()
    call_command("apitoken", "list", stdout=listing)
    assert '"user": "alice"' in listing.getvalue() and token not in listing.getvalue()
    prefix = token.split("_")[1]
    call_command("apitoken", "revoke", prefix, stdout=StringIO())
    assert user_for_token(token) is None
    # as the token begins, or the whole token, also name it
    for named in (lambda t: "_".join(t.split("_")[:2]), lambda t: t):
        out = StringIO()
        call_command("apitoken", "create", "alice", stdout=out)
        another = out.getvalue().strip()
        call_command("apitoken", "revoke", named(another), stdout=StringIO())
        assert user_for_token(another) is None


def test_apitoken_for_an_unknown_user_fails(db: None) -> None:
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="no active user"):
        call_command("apitoken", "create", "nobody", stdout=StringIO())


def test_a_used_token_is_resolved_from_memory_until_something_changes(
    alice: Any, django_assert_num_queries: Any
) -> None:
    from django.contrib.auth.models import Group

    _, token = do_create_token(alice)
    first = user_for_token(token)
    assert first is not None and first.has_perm("patients.add_patient")
    with django_assert_num_queries(0):  # user, permissions and scope all kept
        again = user_for_token(token)
        assert again == alice and again.has_perm("patients.add_patient")
        assert again is not first  # each request gets its own copy
    alice.groups.remove(*Group.objects.filter(user=alice))  # role taken away: forgotten
    changed = user_for_token(token)
    assert changed is not None and not changed.has_perm("patients.add_patient")
    alice.is_active = False
    alice.save()
    assert user_for_token(token) is None
