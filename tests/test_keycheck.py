"""Several machines against one database must share CARELOOP_FIELD_KEY and
CARELOOP_SECRET_KEY: a machine given other keys refuses to start, naming the key, instead of
writing identifiers the others cannot read (and enrolling people twice)."""

from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from careloop.accounts.models import KeyCheck
from careloop.env import ConfigurationError, new_fernet_key
from careloop.keycheck import verify_keys
from tests.factories import PatientFactory

pytestmark = pytest.mark.django_db


def test_a_machine_with_other_keys_than_the_first_refuses_to_start(settings: Any) -> None:
    first_field, first_secret = list(settings.FIELD_ENCRYPTION_KEYS), settings.SECRET_KEY
    verify_keys()  # the first machine to start records its keys
    assert KeyCheck.objects.count() == 1
    verify_keys()  # a second one with the same keys starts

    settings.FIELD_ENCRYPTION_KEYS = [new_fernet_key()]  # generated on that machine
    with pytest.raises(ConfigurationError, match="CARELOOP_FIELD_KEY cannot read"):
        verify_keys()
    with pytest.raises(CommandError, match="CARELOOP_FIELD_KEY"):
        call_command("scheduler")  # refuses before it enqueues anything

    settings.FIELD_ENCRYPTION_KEYS = first_field
    settings.SECRET_KEY = "another-machines-own-secret-key-" + "x" * 20
    with pytest.raises(ConfigurationError, match="CARELOOP_SECRET_KEY is not the one"):
        verify_keys()
    settings.SECRET_KEY = first_secret
    verify_keys()


def test_a_deliberate_key_change_is_recorded_by_rotatekeys(settings: Any) -> None:
    old = list(settings.FIELD_ENCRYPTION_KEYS)
    verify_keys()
    new = new_fernet_key()
    settings.FIELD_ENCRYPTION_KEYS = [new, *old]  # the rotation's first step: both keys
    verify_keys()
    settings.SECRET_KEY = "the-new-secret-key-for-every-machine-" + "y" * 20
    call_command("rotatekeys")
    settings.FIELD_ENCRYPTION_KEYS = [new]  # the old key dropped: the new one reads all
    verify_keys()
    settings.FIELD_ENCRYPTION_KEYS = old  # a machine left on the old key
    with pytest.raises(ConfigurationError, match="CARELOOP_FIELD_KEY"):
        verify_keys()


def test_identifiers_stored_before_the_check_existed_are_checked_too(settings: Any) -> None:
    PatientFactory()
    settings.FIELD_ENCRYPTION_KEYS = [new_fernet_key()]
    with pytest.raises(ConfigurationError, match="CARELOOP_FIELD_KEY"):
        verify_keys()
    assert not KeyCheck.objects.exists()  # nothing recorded under the wrong key
