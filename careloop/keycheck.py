"""Every machine of one database must hold the same keys; a machine that does not refuses
to start.

A city runs CareLoop on several machines against one PostgreSQL. A machine given another
CARELOOP_FIELD_KEY cannot read the identifiers the others wrote (its pages fail), and what it
writes the others cannot read; worse, its lookups by ID number or phone (blind indexes
under its own key) find nobody, so a person already enrolled is enrolled again from the
next HL7 message. A machine given another CARELOOP_SECRET_KEY logs out every user the load
balancer sends to it and refuses the patient links and provider callback addresses the
others made.

So the first process to start records proof of its keys in the database (``KeyCheck``: a
known text encrypted under the field key, an HMAC under the secret key), and every web,
worker, scheduler and HL7 process checks its own keys against it when it starts.
``careloop rotatekeys`` records the keys anew after a deliberate change (see README).
"""

from __future__ import annotations

from django.db import DatabaseError, IntegrityError, transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac

from careloop.crypto import DecryptionError
from careloop.env import ConfigurationError

PROOF = "careloop field key check"
SINGLE = 1  # the one row's id

FIELD_KEY_MISMATCH = (
    "CARELOOP_FIELD_KEY cannot read the identifiers this database holds: another machine "
    "wrote them under another key. Give every machine of one database the same "
    "CARELOOP_FIELD_KEY (and CARELOOP_SECRET_KEY); see README, 'Several machines'."
)
SIGNING_MISMATCH = (
    "CARELOOP_SECRET_KEY is not the one the other machines of this database use: its "
    "log-ins, patient links and callback addresses would not work on them, nor theirs here. "
    "Give every machine the same CARELOOP_SECRET_KEY; after changing it on all of them on "
    "purpose, run `careloop rotatekeys` once to record it (see README, 'Several machines')."
)


def secret_key_digest() -> str:
    return salted_hmac("careloop.keycheck", "secret key", algorithm="sha256").hexdigest()


def verify_keys() -> None:
    """Raise ConfigurationError naming the key when this process's keys are not those the
    database's other machines use; the first to start records its own. A database not
    migrated yet has nothing to check against."""
    from careloop.accounts.models import KeyCheck

    try:
        with transaction.atomic():
            row = KeyCheck.objects.filter(pk=SINGLE).first()
    except DecryptionError:
        raise ConfigurationError(FIELD_KEY_MISMATCH) from None
    except DatabaseError:  # its table not there yet: `careloop migrate` comes first
        return
    if row is None:
        _check_stored_identifiers()  # written before this check existed
        try:
            with transaction.atomic():
                KeyCheck.objects.create(
                    pk=SINGLE, field_key_proof=PROOF, secret_key_digest=secret_key_digest()
                )
        except IntegrityError:  # another machine recorded its keys at the same moment
            verify_keys()
        return
    if row.field_key_proof != PROOF:
        raise ConfigurationError(FIELD_KEY_MISMATCH)
    if row.secret_key_digest != secret_key_digest():
        raise ConfigurationError(SIGNING_MISMATCH)


def record_keys() -> None:
    """Record this process's keys as the database's (after a deliberate change)."""
    from careloop.accounts.models import KeyCheck

    KeyCheck.objects.update_or_create(
        pk=SINGLE,
        defaults={
            "field_key_proof": PROOF,
            "secret_key_digest": secret_key_digest(),
            "recorded_at": timezone.now(),
        },
    )


def _check_stored_identifiers() -> None:
    """The newest patient identifier stored, read with our keys."""
    from careloop.patients.models import Patient

    try:
        Patient.objects.exclude(id_number="").order_by("-pk").values_list(
            "id_number", flat=True
        ).first()
    except DecryptionError:
        raise ConfigurationError(FIELD_KEY_MISMATCH) from None


def verify_for_command() -> None:
    """At a command's start: a mismatch is the command's error (on stderr, exit status 1)."""
    from django.core.management.base import CommandError

    try:
        verify_keys()
    except ConfigurationError as error:
        raise CommandError(str(error)) from None
