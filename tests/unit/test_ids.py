"""Row ids from typed text: digits only, never a number no row can have."""

import pytest

from careloop.ids import row_id


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("12", 12),
        (" 7 ", 7),
        ("", None),
        ("abc", None),
        ("²", None),
        ("-1", None),
        ("1" * 30, None),
        (None, None),
        ("١٢", None),
    ],
)
def test_row_id(text: object, expected: int | None) -> None:
    assert row_id(text) == expected
