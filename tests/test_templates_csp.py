"""Templates carry no inline style attributes: the content security policy (style-src
'self') blocks them in the browser, so the layout they meant would silently not apply."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "careloop"


def test_no_template_has_an_inline_style() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{n}"
        for path in ROOT.rglob("templates/**/*.html")
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if re.search(r"\sstyle=", line)
    ]
    assert not found, found
