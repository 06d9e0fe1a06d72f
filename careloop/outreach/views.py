"""Staff pages of outreach: the outbox (every message, and answering as the patient in a
demo) and the inbox of replies that need a person to read them."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Q, QuerySet
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from careloop.audit.services import record
from careloop.outreach.faq_reply import NotSent, queue_answer
from careloop.outreach.models import Message, Reply, StaffNotification
from careloop.outreach.models.channels import AUTOMATED
from careloop.outreach.models.faq import ANSWER_LIMIT
from careloop.outreach.replies import receive
from careloop.patients.access import patients_for, scope_organisation_ids
from careloop.typing import AuthedRequest

PAGE_SIZE = 50


def visible_messages(user: object) -> QuerySet[Message]:
    return Message.objects.filter(patient__in=patients_for(user).values("pk"))


def unmatched_replies(user: Any) -> QuerySet[Reply]:
    """Replies from senders nobody recognised, received by a channel setting of the user's
    organisations or by a platform-wide one (no organisation)."""
    replies = Reply.objects.filter(patient__isnull=True)
    org_ids = scope_organisation_ids(user)
    if org_ids is None:
        return replies
    return replies.filter(Q(organisation__isnull=True) | Q(organisation_id__in=org_ids))


@login_required
@permission_required("outreach.view_message", raise_exception=True)
def outbox(request: AuthedRequest) -> HttpResponse:
    items = visible_messages(request.user).select_related("patient", "task", "voice_call")
    status = request.GET.get("status", "")
    if status in Message.Status.values:
        items = items.filter(status=status)
    channel = request.GET.get("channel", "")
    if channel in dict(AUTOMATED):
        items = items.filter(channel=channel)
    page = Paginator(items, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "outreach/outbox.html",
        {
            "page": page,
            "status": status,
            "channel": channel,
            "statuses": Message.Status.choices,
            "channels": AUTOMATED,
        },
    )


@login_required
@permission_required("outreach.add_reply", raise_exception=True)
@require_POST
def answer_as_patient(request: AuthedRequest, pk: int) -> HttpResponse:
    """Demo and training: type the patient's reply to a message of the outbox."""
    # The reply is read as the patient's (alerts, the follow-up's answers): not on a share
    # that only lets the user read the patient.
    writable = patients_for(request.user, write=True).values("pk")
    message = get_object_or_404(
        Message.objects.filter(patient__in=writable), pk=pk, provider="outbox"
    )
    text = request.POST.get("text", "").strip()
    if not text:
        messages.error(request, _("Type the patient's reply first."))
        return redirect("outreach:outbox")
    reply = receive(message.channel, text, provider="outbox", message=message)
    record(
        request.user,
        "create",
        "reply",
        reply.pk,
        patient_id=message.patient_id,
        summary="reply entered from the outbox as the patient",
    )
    if reply.alert_id:
        messages.warning(request, _("Reply recorded; it raised an alert."))
    else:
        messages.success(request, _("Reply recorded."))
    return redirect("outreach:outbox")


@login_required
@permission_required("outreach.view_reply", raise_exception=True)
def inbox(request: AuthedRequest) -> HttpResponse:
    show = request.GET.get("show", "")
    show = show if show in ("todo", "all") else "todo"
    replies = Reply.objects.filter(patient__in=patients_for(request.user).values("pk"))
    if request.user.has_perm("outreach.change_reply"):
        # Senders nobody recognised belong to no patient: the staff who handle replies see
        # those their organisations' channels received.
        replies = replies | unmatched_replies(request.user)
    if show == "todo":
        replies = replies.filter(
            handled_at__isnull=True, kind__in=[Reply.Kind.UNMATCHED, Reply.Kind.UNCLEAR]
        )
    page = Paginator(
        replies.select_related("patient", "alert", "faq").order_by("-received_at", "-id"),
        PAGE_SIZE,
    ).get_page(request.GET.get("page"))
    # Handled by those who may change the patient's record, not by a read-only share.
    writable = set(
        patients_for(request.user, write=True)
        .filter(pk__in=[r.patient_id for r in page if r.patient_id])
        .values_list("pk", flat=True)
    )
    handleable = {r.pk for r in page if r.patient_id is None or r.patient_id in writable}
    return render(
        request, "outreach/inbox.html", {"page": page, "show": show, "handleable": handleable}
    )


@login_required
@permission_required("outreach.change_reply", raise_exception=True)
@require_POST
def mark_handled(request: AuthedRequest, pk: int) -> HttpResponse:
    mine = Reply.objects.filter(patient__in=patients_for(request.user, write=True).values("pk"))
    reply = get_object_or_404(mine | unmatched_replies(request.user), pk=pk)
    if reply.handled_at is None:
        reply.handled_at, reply.handled_by = timezone.now(), request.user
        reply.save(update_fields=["handled_at", "handled_by"])
        record(
            request.user,
            "update",
            "reply",
            reply.pk,
            patient_id=reply.patient_id,
            summary="reply marked handled",
        )
    messages.success(request, _("Marked as handled."))
    return redirect("outreach:inbox")


@login_required
@permission_required("outreach.change_reply", raise_exception=True)
@require_POST
def answer_reply(request: AuthedRequest, pk: int) -> HttpResponse:
    """Answer a patient's reply in words from the inbox (the closest common question's
    answer offered to start from): sent back on its channel, the reply then handled."""
    mine = Reply.objects.filter(patient__in=patients_for(request.user, write=True).values("pk"))
    text = request.POST.get("text", "").strip()
    if not text or len(text) > ANSWER_LIMIT:
        get_object_or_404(mine, pk=pk)
        messages.error(
            request, _("Write the answer, at most %(n)d characters.") % {"n": ANSWER_LIMIT}
        )
        return redirect("outreach:inbox")
    with transaction.atomic():  # two people answering at once: the second is told so
        reply = get_object_or_404(
            mine.select_for_update(of=("self",)).select_related("patient"), pk=pk
        )
        key = f"answer:{reply.pk}"
        if Message.objects.filter(key=key).exists():
            messages.info(request, _("This reply has been answered already."))
            return redirect("outreach:inbox")
        queued = queue_answer(reply, reply.patient, text, key)
        if isinstance(queued, NotSent):
            messages.error(request, _("Not sent: %(why)s") % {"why": queued.why})
            return redirect("outreach:inbox")
        reply.handled_at, reply.handled_by = timezone.now(), request.user
        reply.save(update_fields=["handled_at", "handled_by"])
    record(
        request.user,
        "create",
        "message",
        queued.pk,
        patient_id=reply.patient_id,
        summary=f"answer to reply {reply.pk}",
    )
    messages.success(request, _("The answer is on its way to the patient."))
    return redirect("outreach:inbox")


@login_required
def notifications(request: AuthedRequest) -> HttpResponse:
    """My notifications; one about an alert on a patient I cannot open (an owner set before
    owners had to be able to, or a patient since moved) shows neither title nor text."""
    items = StaffNotification.objects.filter(user=request.user).select_related("alert")
    page = Paginator(items, PAGE_SIZE).get_page(request.GET.get("page"))
    about = {n.alert.patient_id for n in page.object_list if n.alert is not None}
    visible = set(patients_for(request.user).filter(pk__in=about).values_list("pk", flat=True))
    for item in page.object_list:
        item.hidden = item.alert is not None and item.alert.patient_id not in visible
    return render(request, "outreach/notifications.html", {"page": page})


@login_required
def open_notification(request: AuthedRequest, pk: int) -> HttpResponse:
    item = get_object_or_404(StaffNotification, pk=pk, user=request.user)
    if item.read_at is None:
        item.read_at = timezone.now()
        item.save(update_fields=["read_at"])
    if item.link.startswith("/") and not item.link.startswith("//"):
        return redirect(item.link)
    return redirect("outreach:notifications")
