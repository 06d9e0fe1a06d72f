import json

from django.core.management.base import BaseCommand

from careloop.interop.fhir.capability import capability_statement


class Command(BaseCommand):
    help = "Print the FHIR CapabilityStatement (committed as docs/fhir/CapabilityStatement.json)."

    def handle(self, *args, **options):
        self.stdout.write(
            json.dumps(capability_statement(), indent=2, ensure_ascii=False, sort_keys=True)
        )
