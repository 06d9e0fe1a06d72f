"""Factories for tests: organisations, staff with roles, patients with valid identifiers;
a client signed in past two-factor login."""

from __future__ import annotations

import itertools
from datetime import date
from typing import Any

import factory
from django.contrib.auth.models import Group
from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice

from careloop.accounts.models import Organisation, Team, User
from careloop.accounts.roles import Role
from careloop.patients.identity import make_id_number
from careloop.patients.models import Patient
from careloop.patients.services import luhn_check_digit

PASSWORD = "correct horse battery"  # every test user's

_sequence = itertools.count(1)


def valid_id(birth: date = date(1990, 3, 7), male: bool = True, region: str = "110101") -> str:
    """A fresh valid ID number for the given birth date and sex."""
    n = next(_sequence) % 500
    return make_id_number(region, birth, n * 2 + (1 if male else 0))


def fresh_phone() -> str:
    return f"139{next(_sequence):08d}"


class OrganisationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organisation

    code = factory.Sequence(lambda n: f"ORG{n:04d}")
    name = factory.Sequence(lambda n: f"测试医院{n}")
    kind = Organisation.Kind.HOSPITAL


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team

    organisation = factory.SubFactory(OrganisationFactory)
    name = factory.Sequence(lambda n: f"随访组{n}")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    display_name = factory.Sequence(lambda n: f"员工{n}")
    organisation = factory.SubFactory(OrganisationFactory)
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def role(self, create: bool, extracted: str | None, **kwargs: object) -> None:
        if extracted:
            self.groups.add(Group.objects.get(name=extracted))
            if extracted == Role.ADMIN:
                self.is_staff = True
        if create:
            self.save()


class PatientFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Patient

    name = factory.Sequence(lambda n: f"患者{n}")
    sex = "male"
    birth_date = date(1960, 5, 1)
    id_number = factory.LazyAttribute(lambda p: valid_id(p.birth_date, p.sex == "male"))
    phone = factory.LazyFunction(fresh_phone)
    organisation = factory.SubFactory(OrganisationFactory)

    @factory.lazy_attribute
    def card_number(self) -> str:
        body = f"7{next(_sequence):010d}"
        return body + luhn_check_digit(body)


def two_factor_client(user: Any, **headers: Any) -> Client:
    """A client signed in as ``user`` with a confirmed authenticator, its code given (as the
    administration asks of administrators)."""
    device = TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
    client = Client(**headers)
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client
