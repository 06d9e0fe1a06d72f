import json

from django.core.management.base import BaseCommand

from careloop.api import api


class Command(BaseCommand):
    help = "Print the OpenAPI schema of /api/v1 (committed as docs/api/openapi.json)."

    def handle(self, *args, **options):
        schema = api.get_openapi_schema(path_prefix="/api/v1")
        self.stdout.write(json.dumps(schema, indent=2, ensure_ascii=False, sort_keys=True))
