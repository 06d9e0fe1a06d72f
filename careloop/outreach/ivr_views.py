"""``/outreach/callbacks/<setting>/<token>/ivr/`` and ``…/hangup/``: where the hospital's
FreeSWITCH asks what to do next on an automated call (``mod_httapi``) and says that it
ended (``api_hangup_hook``). As the other callbacks: no login, the token in the path is the
authentication, every request is stored (encrypted) before it is read."""

from __future__ import annotations

import time

from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from careloop.outreach import ivr
from careloop.outreach.callback_views import too_large
from careloop.outreach.models import ChannelConfig, ProviderCallback
from careloop.outreach.receiving import token_matches
from careloop.outreach.transports.freeswitch import FreeswitchVoice

MAX_BODY = 64 * 1024
# The hook does not post again: a hang-up that comes while the worker is still recording
# the call's send waits for it (about 6 s at most), then is kept as failed.
EARLY_WAITS = (0.2, 0.5, 1.0, 2.0, 2.0)


def _config(config_id: int, token: str) -> ChannelConfig:
    config = (
        ChannelConfig.objects.select_related("organisation")
        .filter(pk=config_id, enabled=True, provider=FreeswitchVoice.name)
        .first()
    )
    if config is None or not token_matches(config_id, token):
        raise Http404
    return config


def _stored(config: ChannelConfig, kind: str, request: HttpRequest) -> ProviderCallback:
    # mod_httapi's params come as a form in the body (method=POST) or in the query string
    # (GET; and POST as well in the releases that append them to the URL whatever the
    # method): both are kept, as one form.
    query = request.META.get("QUERY_STRING", "").encode()
    raw = b"&".join(part for part in (query, request.body) if part)
    return ProviderCallback.objects.create(
        config=config,
        provider=config.provider,
        kind=kind,
        body=ProviderCallback.encode(raw),
    )


def _form(request: HttpRequest) -> dict[str, str]:
    return {**request.GET.dict(), **request.POST.dict()}


@csrf_exempt
@require_http_methods(["GET", "POST"])
def ivr_step(request: HttpRequest, config_id: int, token: str) -> HttpResponse:
    config = _config(config_id, token)
    if too_large(request, MAX_BODY):
        return HttpResponse(status=413)
    stored = _stored(config, "ivr", request)
    answer = ivr.hit(config, _form(request), f"callback {stored.pk}")
    stored.status = ProviderCallback.Status.PROCESSED
    stored.save(update_fields=["status"])
    if answer == b"OK":
        return HttpResponse(answer, content_type="text/plain")
    return HttpResponse(answer, content_type="text/xml; charset=utf-8")


@csrf_exempt
@require_http_methods(["POST"])
def hangup(request: HttpRequest, config_id: int, token: str) -> HttpResponse:
    config = _config(config_id, token)
    if too_large(request, MAX_BODY):
        return HttpResponse(status=413)
    stored = _stored(config, "hangup", request)
    form = _form(request)
    stored.reports, early = ivr.hung_up(config, form)
    for wait in EARLY_WAITS:  # a call refused at once: its send is being recorded
        if not early:
            break
        time.sleep(wait)
        stored.reports, early = ivr.hung_up(config, form)
    stored.status = ProviderCallback.Status.PROCESSED
    if early:
        stored.status = ProviderCallback.Status.FAILED
        stored.error = "the call ended before its send was recorded"
    stored.save(update_fields=["status", "error", "reports"])
    return HttpResponse(b"OK", content_type="text/plain")
