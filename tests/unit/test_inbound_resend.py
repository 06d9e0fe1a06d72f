"""Whether a message under a control id already taken is the stored one sent again."""

from __future__ import annotations

from careloop.interop.inbound_store import same_message

FIRST = (
    b"MSH|^~\\&|LIS|HOSP|CL|CL|20261123234012||ORU^R01|C1|P|2.5\r"
    b"PID|1||MZ1^^^HOSP^MR||\xe5\xbc\xa0\xe4\xb8\x89\r"
    b"OBX|1|NM|2345-7^GLU^LN||7.1|mmol/L"
)
RESTAMPED = FIRST.replace(b"|20261123234012|", b"|20261124080000|")


def test_given_a_resend_stamped_again_then_it_is_the_same_message() -> None:
    assert same_message(FIRST, RESTAMPED)
    assert same_message(FIRST + b"\r", RESTAMPED.replace(b"\r", b"\r\n"))


def test_given_a_sender_that_frames_with_blank_lines_then_a_restamped_resend_is_the_same() -> None:
    """The parser takes a message with a newline before MSH, blank lines between segments
    and whitespace at its end as the message without them: so must the resend check, or a
    true resend stamped again in MSH-7 is answered AR 205 and never imported."""
    framed = b"\r\n" + FIRST.replace(b"\rPID", b"\r\rPID") + b"\r\n\r\n"
    assert same_message(framed, b"\r\n" + RESTAMPED.replace(b"\rPID", b"\r\rPID") + b"\r\n")
    assert same_message(b"\n" + FIRST, RESTAMPED)


def test_given_other_results_under_the_control_id_then_they_are_another_message() -> None:
    assert not same_message(FIRST, RESTAMPED.replace(b"7.1", b"7.2"))
    assert not same_message(b"\r\n" + FIRST, b"\r\n" + FIRST.replace(b"MZ1", b"MZ2"))
    assert not same_message(FIRST, FIRST.replace(b"|C1|", b"|C1|", 1) + b"\rNTE|1||x")
