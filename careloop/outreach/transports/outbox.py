"""The built-in outbox: every message is kept in CareLoop's own database (the Message row
itself) and shown on the staff outbox page, where a demo user can answer as the patient.
No provider account needed, so the system works out of the box."""

from __future__ import annotations

from django.utils.translation import pgettext_lazy

from careloop.outreach.transports.base import Outgoing, Receipt, Transport


class Outbox(Transport):
    name = "outbox"
    label = pgettext_lazy("provider", "Built-in outbox")
    channel = "*"

    def send(self, message: Outgoing) -> Receipt:
        return Receipt(provider_id=f"outbox:{message.key}", delivered=True)
