from django.core.management.base import BaseCommand

from careloop.crypto import rotate_all
from careloop.keycheck import record_keys


class Command(BaseCommand):
    help = (
        "Re-encrypt personal identifiers under the first key of CARELOOP_FIELD_KEY and "
        "recompute their lookup hashes. Put the new key first, keep the old ones after it "
        "until this has run. Then records the keys (CARELOOP_FIELD_KEY, "
        "CARELOOP_SECRET_KEY) every machine of this database is checked against at its start."
    )

    def handle(self, *args, **options):
        for label, count in rotate_all().items():
            self.stdout.write(f"{label}: {count} rows re-encrypted")
        record_keys()  # what every machine's keys are checked against when it starts
        self.stdout.write("keys recorded: every machine must now be given these")
