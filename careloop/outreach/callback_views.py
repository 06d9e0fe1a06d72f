"""``/outreach/callbacks/<setting>/<token>/<kind>/``: where providers push delivery reports,
replies and events (see ``receiving``). No login: the token in the path (and WeChat's
signature) is the authentication; an unknown setting or wrong token is a plain 404."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from careloop.outreach.callbacks import READERS, CallbackRequest
from careloop.outreach.models import ChannelConfig
from careloop.outreach.receiving import handle, token_matches

MAX_BODY = 1024 * 1024


def too_large(request: HttpRequest, limit: int = MAX_BODY) -> bool:
    """A push whose Content-Length is not a number or over ``limit`` (answered 413)."""
    length = request.headers.get("Content-Length") or "0"
    return not length.isdecimal() or int(length) > limit


@csrf_exempt
@require_http_methods(["GET", "POST"])
def callback(request: HttpRequest, config_id: int, token: str, kind: str) -> HttpResponse:
    config = (
        ChannelConfig.objects.select_related("organisation")
        .filter(pk=config_id, enabled=True)
        .first()
    )
    if config is None or not token_matches(config_id, token):
        raise Http404
    reader = READERS.get(config.provider)
    if reader is None or kind not in reader.kinds:
        raise Http404
    if request.method == "GET" and not reader.verified_by_get:
        return HttpResponse(status=405)
    if too_large(request):
        return HttpResponse(status=413)
    handled = handle(
        config,
        kind,
        CallbackRequest(
            request.method or "POST", {k: str(v) for k, v in request.GET.items()}, request.body
        ),
    )
    return HttpResponse(handled.body, status=handled.status, content_type=handled.content_type)
