"""Webhook endpoints and their deliveries in the administration: an administrator adds the
integrator's address and the events it wants, sends a test event, reads what was delivered
and sends a given-up delivery again."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from careloop.admin_scope import ScopedToOrganisations
from careloop.interop.webhook_events import deliver_soon, ping
from careloop.interop.webhook_models import EVENTS, WebhookDelivery, WebhookEndpoint


class EndpointForm(forms.ModelForm):
    url = forms.URLField(
        label=_("address"),
        max_length=500,
        assume_scheme="https",
        help_text=WebhookEndpoint._meta.get_field("url").help_text,
    )
    events = forms.MultipleChoiceField(
        label=_("events"),
        choices=[(name, f"{name}：{label}") for name, label in EVENTS.items()],
        widget=forms.CheckboxSelectMultiple,
    )

    class Meta:
        model = WebhookEndpoint
        fields = ["name", "url", "organisation", "events", "active"]


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(ScopedToOrganisations, admin.ModelAdmin):
    form = EndpointForm
    list_display = ["name", "url", "organisation", "event_names", "active", "created_at"]
    list_filter = ["active"]
    search_fields = ["name", "url"]
    readonly_fields = ["secret", "created_at"]
    actions = ["send_test_event"]

    @admin.display(description=_("events"))
    def event_names(self, obj: WebhookEndpoint) -> str:
        return ", ".join(obj.events)

    @admin.action(
        description=_("Send a test event (ping) to the selected endpoints"), permissions=["change"]
    )
    def send_test_event(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        endpoints = [e for e in queryset if self.has_change_permission(request, e)]
        for endpoint in endpoints:
            ping(endpoint)
        self.message_user(
            request,
            ngettext(
                "A test event is on its way to %(n)d endpoint; its delivery is listed under "
                "webhook deliveries.",
                "A test event is on its way to %(n)d endpoints; their deliveries are listed "
                "under webhook deliveries.",
                len(endpoints),
            )
            % {"n": len(endpoints)},
            messages.SUCCESS,
        )


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ScopedToOrganisations, admin.ModelAdmin):
    """Read only: what was sent, when and with what answer; a delivery given up (or any)
    can be sent again."""

    scope_path = "endpoint__organisation"
    list_display = [
        "id",
        "created_at",
        "endpoint",
        "event",
        "status",
        "attempts",
        "last_status",
        "next_attempt_at",
        "delivered_at",
    ]
    list_filter = ["status", "event"]
    search_fields = ["event_id", "endpoint__name"]
    list_select_related = ["endpoint"]
    actions = ["send_again"]
    readonly_fields = [
        "endpoint",
        "event",
        "event_id",
        "payload",
        "status",
        "attempts",
        "next_attempt_at",
        "last_status",
        "last_error",
        "created_at",
        "delivered_at",
    ]
    exclude = ["claimed_by"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Viewing is the view permission's; a change here is only "send again" (an action).
        return obj is None and super().has_change_permission(request, obj)

    @admin.action(description=_("Send the selected deliveries again"), permissions=["change"])
    def send_again(self, request: HttpRequest, queryset: QuerySet[WebhookDelivery]) -> None:
        count = queryset.filter(claimed_by="").update(  # not one being sent right now
            status=WebhookDelivery.Status.PENDING,
            attempts=0,
            next_attempt_at=timezone.now(),
            claimed_by="",
            delivered_at=None,
        )
        if count:
            deliver_soon()
        self.message_user(
            request,
            ngettext(
                "%(n)d delivery will be sent again.", "%(n)d deliveries will be sent again.", count
            )
            % {"n": count},
            messages.SUCCESS,
        )
