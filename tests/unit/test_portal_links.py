"""Patient links: encrypted and expiring; a changed character or a late open is refused."""

from __future__ import annotations

import base64

import pytest
from django.core import signing

from careloop.portal.links import SALT, LinkError, make_token, read


def test_a_link_carries_patient_purpose_and_questionnaire() -> None:
    token = make_token(42, "questionnaire", questionnaire="phq9", task_id=7, days=3, now=1000.0)
    link = read(token, now=1000.0 + 3 * 86400 - 1)
    assert (link.patient_id, link.purpose, link.questionnaire, link.task_id) == (
        42,
        "questionnaire",
        "phq9",
        7,
    )
    assert len(link.fingerprint) == 32 and token not in link.fingerprint


def test_an_expired_link_is_refused_as_expired() -> None:
    token = make_token(42, days=1, now=1000.0)
    with pytest.raises(LinkError) as raised:
        read(token, now=1000.0 + 86400 + 1)
    assert not raised.value.tampered


@pytest.mark.parametrize(
    "change",
    [
        lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),
        lambda t: "x" + t[1:],
        lambda t: t[:10],
        lambda t: "",
    ],
)
def test_a_changed_link_is_refused_as_tampered(change) -> None:  # type: ignore[no-untyped-def]
    token = make_token(42)
    with pytest.raises(LinkError) as raised:
        read(change(token))
    assert raised.value.tampered


def test_bad_purpose_or_lifetime() -> None:
    with pytest.raises(ValueError, match="purpose"):
        make_token(1, "anything")
    with pytest.raises(ValueError, match="days"):
        make_token(1, days=31)


def _decoded(token: str) -> bytes:
    return base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))


def test_a_link_reveals_neither_the_patient_nor_its_purpose() -> None:
    """The token is encrypted: no record number, purpose or questionnaire can be read from it,
    and two links for the same page differ."""
    first = make_token(987654321, "questionnaire", questionnaire="phq9", task_id=7)
    second = make_token(987654321, "questionnaire", questionnaire="phq9", task_id=7)
    assert first != second
    for token in (first, second):
        raw = _decoded(token)
        assert b"phq9" not in raw and b"questionnaire" not in raw and b"987654321" not in raw
        assert (987654321).to_bytes(8, "big") not in raw
        assert ":" not in token and "/" not in token and "+" not in token  # safe in a URL


def test_a_link_is_short_enough_for_a_text_message() -> None:
    assert len(make_token(10**9, "home")) <= 70
    assert (
        len(make_token(10**9, "questionnaire", questionnaire="discharge-symptoms", task_id=10**9))
        <= 100
    )


def test_a_link_made_under_another_secret_key_opens_nothing(settings) -> None:  # type: ignore[no-untyped-def]
    token = make_token(42)
    settings.SECRET_KEY = "another-secret-key-" + "x" * 40
    with pytest.raises(LinkError) as raised:
        read(token)
    assert raised.value.tampered


def test_links_sent_before_the_secret_key_was_rotated_still_open(settings) -> None:  # type: ignore[no-untyped-def]
    old = settings.SECRET_KEY
    token = make_token(42, "readings")
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = "rotated-secret-key-" + "y" * 40, [old]
    assert read(token).patient_id == 42
    assert read(make_token(43)).patient_id == 43  # new links under the new key


def test_a_link_of_the_earlier_signed_format_opens_until_it_expires() -> None:
    """Links sent before the encrypted format (Django's signed JSON) keep working."""
    payload = {"p": 42, "u": "questionnaire", "q": "phq9", "t": 7, "x": 1000 + 86400}
    token = signing.dumps(payload, salt=SALT, compress=True)
    link = read(token, now=1000.0)
    assert (link.patient_id, link.purpose, link.questionnaire, link.task_id) == (
        42,
        "questionnaire",
        "phq9",
        7,
    )
    with pytest.raises(LinkError) as raised:
        read(token, now=1000.0 + 86400 + 1)
    assert not raised.value.tampered
    with pytest.raises(LinkError) as raised:
        read(token[:-1] + ("A" if token[-1] != "A" else "B"), now=1000.0)
    assert raised.value.tampered


def test_every_change_of_the_last_character_is_refused() -> None:
    """base64 leaves spare bits in the last character: a change there is refused too."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    for _ in range(20):
        token = make_token(42)
        for other in alphabet.replace(token[-1], ""):
            with pytest.raises(LinkError):
                read(token[:-1] + other)
