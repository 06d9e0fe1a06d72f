"""The knowledge base's starter entries (``data/faq_pack.json``), for every organisation:
loaded by ``careloop demo``; an administrator edits them and adds the hospital's own."""

from __future__ import annotations

import json
from pathlib import Path

from careloop.outreach.models import FaqEntry

PACK = Path(__file__).resolve().parent / "data" / "faq_pack.json"


def load_faq_pack() -> int:
    """Add the pack's entries missing for every organisation (by question); returns how
    many were added. An entry already there is left as the administrator made it."""
    have = set(FaqEntry.objects.filter(organisation=None).values_list("question", flat=True))
    added = [
        FaqEntry(
            question=item["question"], variants="\n".join(item["variants"]), answer=item["answer"]
        )
        for item in json.loads(PACK.read_text(encoding="utf-8"))
        if item["question"] not in have
    ]
    FaqEntry.objects.bulk_create(added)
    return len(added)
