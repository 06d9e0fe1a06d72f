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


def _verify_keys() -> None:
    """A web worker given other keys than the database's other machines does not boot
    (careloop/keycheck.py): gunicorn then stops, and `careloop serve` with it. (Tests that
    import this module have no database at import time: their own tests check keys.)"""
    from django.conf import settings
    from django.db import connection

    from careloop.keycheck import verify_keys

    if settings.TESTING:
        return
    try:
        verify_keys()
    finally:
        connection.close()  # not kept open into the worker's requests


_load_urls()
_verify_keys()
