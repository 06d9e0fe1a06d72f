"""One process's share of ``careloop pathways enrol-eligible --workers N`` (a module without
model imports, so a spawned process can load it before Django is set up)."""

from __future__ import annotations


def enrol_share(shard: tuple[int, int]) -> dict[str, dict[str, int]]:
    import django

    django.setup()
    from careloop.followup.bulk_enrol import enrol_eligible

    return enrol_eligible(shard=shard)
