"""The WSGI application gunicorn serves (`careloop serve`).

The URLconf is loaded here, at worker start, not by the first request: it imports every
view and with them the FHIR resource classes, ~0.75 s of work on this machine that would
otherwise fall on whichever request a new worker happens to take first.
"""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "careloop.settings")
application = get_wsgi_application()


def _load_urls() -> None:
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018 - imports the URLconf and its views


_load_urls()
