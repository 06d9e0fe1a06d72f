from django.core.management.base import BaseCommand

from careloop.crypto import rotate_all


class Command(BaseCommand):
    help = (
        "Re-encrypt personal identifiers under the first key of CARELOOP_FIELD_KEY and "
        "recompute their lookup hashes. Put the new key first, keep the old ones after it "
        "until this has run."
    )

    def handle(self, *args, **options):
        for label, count in rotate_all().items():
            self.stdout.write(f"{label}: {count} rows re-encrypted")
