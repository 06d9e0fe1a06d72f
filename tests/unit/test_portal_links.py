"""Patient links: signed and expiring; a changed character or a late open is refused."""

from __future__ import annotations

import pytest

from careloop.portal.links import LinkError, make_token, read


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
