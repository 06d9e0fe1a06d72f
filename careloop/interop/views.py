"""Staff pages for the interfaces: inbound messages, their raw text, reprocessing."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from careloop.audit.services import record
from careloop.interop.hl7.message import HL7Error, shown_text
from careloop.interop.models import InboundMessage
from careloop.interop.processing import BeingImported, reprocess


@login_required
@permission_required("interop.view_inboundmessage", raise_exception=True)
def message_list(request: HttpRequest) -> HttpResponse:
    items = InboundMessage.objects.defer("raw").select_related("source").order_by("-id")
    status = request.GET.get("status", "")
    if status in InboundMessage.Status.values:
        items = items.filter(status=status)
    query = request.GET.get("q", "").strip()
    if query:
        items = items.filter(control_id__icontains=query) | items.filter(
            sending_facility__icontains=query
        )
    page = Paginator(items, 50).get_page(request.GET.get("page"))
    params = request.GET.copy()
    params.pop("page", None)
    counts = {
        s: InboundMessage.objects.filter(status=s).count()
        for s in (
            InboundMessage.Status.RECEIVED,
            InboundMessage.Status.FAILED,
            InboundMessage.Status.REJECTED,
        )
    }
    return render(
        request,
        "interop/message_list.html",
        {
            "page": page,
            "status": status,
            "query": query,
            "statuses": InboundMessage.Status.choices,
            "querystring": params.urlencode(),
            "counts": counts,
        },
    )


@login_required
@permission_required("interop.view_inboundmessage", raise_exception=True)
def message_detail(request: HttpRequest, pk: int) -> HttpResponse:
    message = get_object_or_404(InboundMessage.objects.select_related("source", "patient"), pk=pk)
    record(
        request.user,
        "view",
        "inbound_message",
        message.pk,
        patient_id=message.patient_id,
        summary="raw message shown",
    )
    default = message.source.default_encoding if message.source else "utf-8"
    text = shown_text(bytes(message.raw), message.encoding, default)
    return render(
        request,
        "interop/message_detail.html",
        {
            "message": message,
            "segments": [s for s in text.replace("\n", "\r").split("\r") if s],
        },
    )


@login_required
@permission_required("interop.change_inboundmessage", raise_exception=True)
@require_POST
def message_reprocess(request: HttpRequest, pk: int) -> HttpResponse:
    message = get_object_or_404(InboundMessage, pk=pk)
    if message.transport != InboundMessage.Transport.MLLP:
        # A FHIR body is answered when it arrives: its sender resends it, it is not replayed.
        messages.error(request, _("Only HL7 messages can be processed again."))
        return redirect("interop:message", pk=message.pk)
    try:
        result = reprocess(message)
    except HL7Error as error:
        messages.error(request, _("The message still cannot be read: %(error)s") % {"error": error})
    except BeingImported as busy:  # clicked twice, or a processor has it: once is enough
        messages.info(
            request,
            _("This message is being imported right now (since %(when)s): look again in a moment.")
            % {"when": timezone.localtime(busy.since).strftime("%H:%M:%S")},
        )
    else:
        message.refresh_from_db()
        record(
            request.user,
            "update",
            "inbound_message",
            message.pk,
            patient_id=message.patient_id,
            summary=f"reprocessed: {message.status}",
        )
        if message.status == InboundMessage.Status.PROCESSED:
            messages.success(request, _("The message was imported."))
        elif result.put_back:  # another import has the patient: it waits its turn
            messages.info(
                request,
                _(
                    "Another import is updating this patient right now: the message waits "
                    "and is imported by the processors shortly."
                ),
            )
        else:
            messages.error(
                request, _("The message failed again: %(error)s") % {"error": message.error}
            )
    return redirect("interop:message", pk=message.pk)
