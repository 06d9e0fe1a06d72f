"""Compile the .po catalogues to .mo with polib (no gettext needed to build)."""

from pathlib import Path

import polib

root = Path(__file__).resolve().parent.parent / "careloop" / "locale"
for po_path in root.glob("*/LC_MESSAGES/*.po"):
    catalogue = polib.pofile(str(po_path))
    catalogue.save_as_mofile(str(po_path.with_suffix(".mo")))
    print(
        f"{po_path.relative_to(root.parent.parent)}: {catalogue.percent_translated()}% translated"
    )
