"""The administration for an administrator bound to an organisation (not a superuser): users,
teams, organisations and API tokens of their organisation and below only, and no way to move
anyone (themselves included) or an organisation outside that scope."""

from __future__ import annotations

from typing import Any

from careloop.accounts.models import ApiToken, Organisation, Team, User
from careloop.accounts.roles import Role
from careloop.accounts.tokens import do_create_token
from tests.factories import PatientFactory, UserFactory, two_factor_client


def _user_form(user: User, **changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "username": user.username,
        "display_name": user.display_name,
        "organisation": user.organisation_id or "",
        "is_active": "on",
        "is_staff": "on" if user.is_staff else "",
        "groups": [g.pk for g in user.groups.all()],
        "teams": [t.pk for t in user.teams.all()],
        "date_joined_0": "2026-01-01",
        "date_joined_1": "08:00:00",
        "wecom_userid": "",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v != ""}


def test_an_organisations_administrator_sees_and_edits_only_its_own_staff(
    hospital: Any, cardiology: Any, community: Any
) -> None:
    admin = UserFactory(username="hadmin", organisation=hospital, role=Role.ADMIN, is_staff=True)
    nurse = UserFactory(username="cardnurse", organisation=cardiology, role=Role.NURSE)
    other = UserFactory(username="cnurse", organisation=community, role=Role.NURSE)
    Team.objects.create(name="社区团队", organisation=community)
    do_create_token(other)
    client = two_factor_client(admin, HTTP_ACCEPT_LANGUAGE="en")

    users = client.get("/admin/accounts/user/").content.decode()
    assert "cardnurse" in users and "cnurse" not in users
    assert client.get(f"/admin/accounts/user/{other.pk}/change/").status_code == 302  # not found
    teams = client.get("/admin/accounts/team/").content.decode()
    assert "社区团队" not in teams
    organisations = client.get("/admin/accounts/organisation/").content.decode()
    assert hospital.name in organisations and community.name not in organisations
    tokens = client.get("/admin/accounts/apitoken/").content.decode()
    assert ApiToken.objects.get(user=other).prefix not in tokens

    # The form offers organisations of the scope only; one outside it is refused.
    page = client.get(f"/admin/accounts/user/{nurse.pk}/change/").content.decode()
    assert cardiology.name in page and community.name not in page
    moved = client.post(
        f"/admin/accounts/user/{admin.pk}/change/", _user_form(admin, organisation=community.pk)
    )
    assert moved.status_code == 200  # the form again, with the error
    admin.refresh_from_db()
    assert admin.organisation_id == hospital.pk
    # Within the scope it works as before.
    kept = client.post(
        f"/admin/accounts/user/{nurse.pk}/change/", _user_form(nurse, organisation=hospital.pk)
    )
    assert kept.status_code == 302, kept.content.decode()[:2000]
    nurse.refresh_from_db()
    assert nurse.organisation_id == hospital.pk


def test_an_organisations_administrator_cannot_hang_their_organisation_elsewhere(
    hospital: Any, cardiology: Any, community: Any
) -> None:
    admin = UserFactory(username="cadmin", organisation=cardiology, role=Role.ADMIN, is_staff=True)
    client = two_factor_client(admin, HTTP_ACCEPT_LANGUAGE="en")
    own = client.get(f"/admin/accounts/organisation/{cardiology.pk}/change/").content.decode()
    assert 'name="parent"' not in own  # shown, not editable
    assert client.get(f"/admin/accounts/organisation/{hospital.pk}/change/").status_code == 302
    # A superuser still sees and moves everything.
    root = UserFactory(username="root", organisation=None, is_staff=True, is_superuser=True)
    everything = (
        two_factor_client(root, HTTP_ACCEPT_LANGUAGE="en")
        .get("/admin/accounts/organisation/")
        .content.decode()
    )
    assert community.name in everything and hospital.name in everything
    assert Organisation.objects.get(pk=cardiology.pk).parent_id == hospital.pk


def test_an_organisations_administrator_cannot_take_over_a_superuser_or_give_away_a_token(
    hospital: Any, cardiology: Any, community: Any
) -> None:
    """A superuser who happens to be of the organisation is not theirs to edit (a new
    password would make them the superuser), and a token of their organisation cannot be
    pointed at a user outside it (its holder would act as that user)."""
    admin = UserFactory(username="cadmin", organisation=cardiology, role=Role.ADMIN, is_staff=True)
    root = UserFactory(username="root", organisation=cardiology, is_staff=True, is_superuser=True)
    other = UserFactory(username="cnurse", organisation=community, role=Role.NURSE)
    token, _ = do_create_token(admin)
    client = two_factor_client(admin, HTTP_ACCEPT_LANGUAGE="en")

    assert ">root</a>" not in client.get("/admin/accounts/user/").content.decode()
    assert client.get(f"/admin/accounts/user/{root.pk}/change/").status_code == 302
    assert client.get(f"/admin/accounts/user/{root.pk}/password/").status_code == 404
    page = client.get(f"/admin/accounts/apitoken/{token.pk}/change/").content.decode()
    assert "cnurse" not in page and ">root<" not in page
    for target in (root, other):
        client.post(
            f"/admin/accounts/apitoken/{token.pk}/change/",
            {"user": target.pk, "name": token.name or "t"},
        )
        token.refresh_from_db()
        assert token.user_id == admin.pk


def test_an_organisations_administrator_adds_a_user_to_their_organisation(
    hospital: Any, cardiology: Any
) -> None:
    """The add form asks for a username and password only: the new user is of the
    administrator's organisation (of none, they would vanish from the administrator's own
    list the moment they were saved, never to be given an organisation or a role)."""
    admin = UserFactory(username="cadmin", organisation=cardiology, role=Role.ADMIN, is_staff=True)
    client = two_factor_client(admin, HTTP_ACCEPT_LANGUAGE="en")
    added = client.post(
        "/admin/accounts/user/add/",
        {
            "username": "newnurse",
            "usable_password": "true",
            "password1": "Sui-fang-2026!",
            "password2": "Sui-fang-2026!",
            "_continue": "1",
        },
    )
    assert added.status_code == 302, added.content.decode()[:3000]
    user = User.objects.get(username="newnurse")
    assert user.organisation_id == cardiology.pk
    assert client.get(f"/admin/accounts/user/{user.pk}/change/").status_code == 200


def test_an_organisations_administrator_adds_organisations_below_their_own_only(
    hospital: Any, cardiology: Any
) -> None:
    """Without a parent, a new organisation would be a tree of its own, out of the
    administrator's scope (as would one of theirs moved to the top)."""
    admin = UserFactory(username="cadmin", organisation=cardiology, role=Role.ADMIN, is_staff=True)
    client = two_factor_client(admin, HTTP_ACCEPT_LANGUAGE="en")
    base = {"name": "心内一病区", "kind": "department", "is_active": "on"}
    top = client.post("/admin/accounts/organisation/add/", {**base, "code": "TOP"})
    assert top.status_code == 200  # the form again, with the error
    assert not Organisation.objects.filter(code="TOP").exists()
    below = client.post(
        "/admin/accounts/organisation/add/", {**base, "code": "H1-CARD-1", "parent": cardiology.pk}
    )
    assert below.status_code == 302, below.content.decode()[:3000]
    assert Organisation.objects.get(code="H1-CARD-1").parent_id == cardiology.pk


def test_an_organisations_administrator_filters_by_the_organisations_in_scope_only(
    hospital: Any, cardiology: Any, community: Any
) -> None:
    admin = UserFactory(username="cadmin", organisation=cardiology, role=Role.ADMIN, is_staff=True)
    UserFactory(username="cnurse", organisation=community, role=Role.NURSE)
    Team.objects.create(name="社区团队", organisation=community)
    client = two_factor_client(admin, HTTP_ACCEPT_LANGUAGE="en")
    for page in ("/admin/accounts/user/", "/admin/accounts/team/"):
        assert community.name not in client.get(page).content.decode(), page


def test_an_organisations_administrator_reads_only_its_own_rows_on_the_other_pages(
    hospital: Any, community: Any
) -> None:
    """The other administration pages were not scoped: an administrator of the hospital read
    the community centre's messages to patients (their names in the text), replies, audit
    records and HL7 messages, and changed the platform's SMS provider and the ICD-10 catalogue
    every organisation uses."""
    from careloop.audit.services import record
    from careloop.clinical.models import Icd10Code
    from careloop.interop.models import InboundMessage, SourceSystem
    from careloop.outreach.models import ChannelConfig, Message

    admin = UserFactory(username="hadmin", organisation=hospital, role=Role.ADMIN, is_staff=True)
    client = two_factor_client(admin, HTTP_ACCEPT_LANGUAGE="en")
    theirs = PatientFactory(organisation=community)
    ours = PatientFactory(organisation=hospital)
    for patient, body in ((theirs, "社区的短信正文"), (ours, "医院的短信正文")):
        Message.objects.create(
            organisation=patient.organisation,
            patient=patient,
            key=f"adm-{patient.pk}",
            channel="sms",
            provider="outbox",
            body=body,
            status=Message.Status.SENT,
        )
    lis = SourceSystem.objects.create(facility="COMMUNITY-LIS", organisation=community)
    InboundMessage.objects.create(raw=b"MSH", source=lis, control_id="CTRL-COMMUNITY")
    record(None, "view", "patient", theirs.pk, patient_id=theirs.pk, summary="x")
    platform = ChannelConfig.objects.create(channel="sms", provider="outbox", weekly_cap=3)
    code, _ = Icd10Code.objects.update_or_create(code="I10", defaults={"name": "原发性高血压"})

    messages = client.get("/admin/outreach/message/").content.decode()
    assert f"adm-{ours.pk}" in messages and f"adm-{theirs.pk}" not in messages
    assert "COMMUNITY-LIS" not in client.get("/admin/interop/sourcesystem/").content.decode()
    assert "CTRL-COMMUNITY" not in client.get("/admin/interop/inboundmessage/").content.decode()
    audit = client.get("/admin/audit/auditevent/").content.decode()
    assert f">{theirs.pk}<" not in audit
    # The platform's SMS setting is shown, not changed; nor is the shared catalogue.
    assert client.get("/admin/outreach/channelconfig/").status_code == 200
    page = client.get(f"/admin/outreach/channelconfig/{platform.pk}/change/")
    assert page.status_code == 200 and 'name="_save"' not in page.content.decode()
    refused = client.post(
        f"/admin/outreach/channelconfig/{platform.pk}/change/",
        {"channel": "sms", "provider": "outbox", "weekly_cap": 99, "enabled": "on"},
    )
    assert refused.status_code == 403
    platform.refresh_from_db()
    assert platform.weekly_cap == 3
    shared = f"/admin/clinical/icd10code/{code.pk}/change/"
    assert client.get(shared).status_code == 200
    assert client.post(shared, {"code": "I10", "name": "改"}).status_code == 403
    assert client.get("/admin/clinical/icd10code/add/").status_code == 403
    # A setting of its own is for its own organisation, never for every one.
    form = client.get("/admin/outreach/channelconfig/add/").content.decode()
    assert hospital.name in form and community.name not in form


def test_an_organisations_administrator_is_not_shown_the_platforms_callback_addresses(
    hospital: Any,
) -> None:
    """The platform's SMS setting is shown read only to an administrator of one
    organisation, with its callback addresses: their token is all that authenticates an
    Aliyun or Tencent push, so they could send delivery reports and patients' replies for
    every organisation's messages."""
    from careloop.outreach.models import ChannelConfig
    from careloop.outreach.receiving import callback_token

    platform = ChannelConfig.objects.create(channel="sms", provider="aliyun_sms", weekly_cap=3)
    own = ChannelConfig.objects.create(
        channel="sms", provider="aliyun_sms", weekly_cap=3, organisation=hospital
    )
    admin = UserFactory(username="hadmin", organisation=hospital, role=Role.ADMIN, is_staff=True)
    client = two_factor_client(admin, HTTP_ACCEPT_LANGUAGE="en")
    page = client.get(f"/admin/outreach/channelconfig/{platform.pk}/change/")
    assert page.status_code == 200 and callback_token(platform.pk) not in page.content.decode()
    mine = client.get(f"/admin/outreach/channelconfig/{own.pk}/change/").content.decode()
    assert callback_token(own.pk) in mine  # their own organisation's, to give the provider
