"""Administration of channels and message templates. Secrets are write-only here: the form
shows which are set, never their values."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin
from django.utils import timezone
from django.utils.html import format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from careloop.admin_labels import labelled_column, labelled_filter
from careloop.admin_scope import PlatformWide, ScopedToOrganisations
from careloop.followup.admin import ReadOnlyAdmin
from careloop.followup.models.plans import channel_label
from careloop.outreach.models import (
    ChannelConfig,
    FaqEntry,
    Message,
    MessageTemplate,
    ProviderCallback,
    Reply,
)
from careloop.outreach.receiving import callback_urls
from careloop.outreach.transports import TRANSPORTS, ConfigError, transport

# The kinds of push a provider sends to its callback address (``reader.kinds``).
CALLBACK_KINDS = {
    "report": pgettext_lazy("callback kind", "delivery report"),
    "reply": pgettext_lazy("callback kind", "reply"),
    "events": pgettext_lazy("callback kind", "event push"),
    # FreeSWITCH: mod_httapi's gateway URL and the hang-up hook's (set on each call placed).
    "ivr": pgettext_lazy("callback kind", "IVR steps (httapi)"),
    "hangup": pgettext_lazy("callback kind", "call ended"),
}


def provider_label(name: str) -> Any:
    return TRANSPORTS[name].label if name in TRANSPORTS else name


def callback_kind_label(kind: str) -> Any:
    return CALLBACK_KINDS.get(kind, kind)


PROVIDER = labelled_column("provider", _("provider"), provider_label)
PROVIDER_FILTER = ("provider", labelled_filter(provider_label))
CHANNEL = labelled_column("channel", _("channel"), channel_label)
CHANNEL_FILTER = ("channel", labelled_filter(channel_label))


class WriteOnlyTextarea(forms.Textarea):
    """A box for secrets: what was typed is never written back into the page (a form shown
    again for another field's error would otherwise hold the secrets in full)."""

    def format_value(self, value: Any) -> str | None:
        return None


def _json_object(value: Any) -> dict[str, Any]:
    if value in (None, ""):
        return {}
    if not isinstance(value, dict):
        raise forms.ValidationError(_('Enter a JSON object: {"name": "value", …}.'))
    return value


# Names that are secrets whatever the provider: typed into the plain settings they would be
# stored unencrypted and shown back in full.
SECRET_NAMES = frozenset(
    {"password", "callback_token", "encoding_aes_key"}.union(
        *(t.REQUIRED_SECRETS for t in TRANSPORTS.values())
    )
)


class ChannelConfigForm(forms.ModelForm):
    provider = forms.ChoiceField(
        label=_("provider"), choices=[(name, t.label) for name, t in TRANSPORTS.items()]
    )
    new_secrets = forms.JSONField(
        label=_("secrets"),
        required=False,
        widget=WriteOnlyTextarea,
        help_text=_(
            'JSON, e.g. {"access_key_id": "…", "access_key_secret": "…"}. '
            "Leave empty to keep the stored secrets."
        ),
    )

    class Meta:
        model = ChannelConfig
        fields = ["organisation", "channel", "provider", "settings", "weekly_cap", "enabled"]

    def clean_settings(self) -> dict[str, Any]:
        settings = _json_object(self.cleaned_data.get("settings"))
        secret = sorted(SECRET_NAMES.intersection(settings))
        if secret:
            raise forms.ValidationError(
                _("%(names)s is a secret: put it in the secrets, which are kept encrypted.")
                % {"names": ", ".join(secret)}
            )
        return settings

    def clean_new_secrets(self) -> dict[str, Any]:
        return _json_object(self.cleaned_data.get("new_secrets"))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        provider, channel = data.get("provider"), data.get("channel")
        if provider and channel and TRANSPORTS[provider].channel not in (channel, "*"):
            raise forms.ValidationError(_("This provider does not send on that channel."))
        secrets = data.get("new_secrets") or self.instance.secret_values()
        if provider:
            try:
                transport(provider, data.get("settings") or {}, secrets)
            except ConfigError as error:
                raise forms.ValidationError(str(error)) from error
        return data

    def save(self, commit: bool = True) -> ChannelConfig:
        if self.cleaned_data.get("new_secrets"):
            self.instance.set_secrets(self.cleaned_data["new_secrets"])
        return super().save(commit)


@admin.register(ChannelConfig)
class ChannelConfigAdmin(ScopedToOrganisations, admin.ModelAdmin):
    shared_when_empty = True
    form = ChannelConfigForm
    list_display = ["channel", PROVIDER, "organisation", "weekly_cap", "enabled", "secret_names"]
    readonly_fields = ["secret_names", "callback_addresses"]

    def get_fields(self, request: Any, obj: Any = None) -> Any:
        """The callback addresses carry the token that authenticates a provider's pushes:
        shown to those who may change the setting only (not the platform's, read only to
        an organisation's administrator)."""
        fields = list(super().get_fields(request, obj))
        if obj is not None and not self.has_change_permission(request, obj):
            fields = [f for f in fields if f != "callback_addresses"]
        return fields

    @admin.display(description=_("callback addresses"))
    def callback_addresses(self, obj: ChannelConfig) -> str:
        urls = callback_urls(obj)
        if not urls:
            return "—"
        return format_html_join(
            mark_safe("<br>"),
            "{}: <code>{}</code>",
            (
                (callback_kind_label(kind), settings.CARELOOP_PUBLIC_URL.rstrip("/") + url)
                for kind, url in urls.items()
            ),
        )

    @admin.display(description=_("secrets set"))
    def secret_names(self, obj: ChannelConfig) -> str:
        return ", ".join(sorted(json.loads(obj.secrets))) if obj.secrets else "—"


@admin.register(MessageTemplate)
class MessageTemplateAdmin(ScopedToOrganisations, admin.ModelAdmin):
    shared_when_empty = True
    list_display = ["name", "purpose", "channel", "organisation", "provider_template", "approved"]
    list_filter = ["channel", "purpose", "approved"]


@admin.register(FaqEntry)
class FaqEntryAdmin(ScopedToOrganisations, admin.ModelAdmin):
    """The knowledge base: entries for every organisation (empty) are shown to an
    administrator bound to one, and changed only by a superuser."""

    shared_when_empty = True
    list_display = ["question", "organisation", "active", "times_used", "updated_at"]
    list_filter = ["active"]
    search_fields = ["question", "variants", "answer"]
    readonly_fields = ["times_used", "updated_at"]
    fields = ["question", "variants", "answer", "organisation", "active", *readonly_fields]

    def save_model(self, request: Any, obj: FaqEntry, form: Any, change: bool) -> None:
        obj.updated_at = timezone.now()
        super().save_model(request, obj, form, change)


@admin.register(Message)
class MessageAdmin(ScopedToOrganisations, admin.ModelAdmin):
    list_display = ["key", CHANNEL, PROVIDER, "status", "tries", "created_at", "sent_at"]
    list_filter = ["status", CHANNEL_FILTER, PROVIDER_FILTER]
    readonly_fields = [f.name for f in Message._meta.fields if f.name != "to"]
    exclude = ["to"]


@admin.register(Reply)
class ReplyAdmin(ScopedToOrganisations, ReadOnlyAdmin):
    """Read only: a reply is what the patient said (handled in the reply inbox); not deleted
    here either, where nothing is scoped or audited (an unhandled "胸痛" would vanish)."""

    list_display = ["received_at", CHANNEL, "kind", "patient", "handled_at"]
    list_filter = ["kind", CHANNEL_FILTER]
    exclude = ["sender"]

    def has_delete_permission(self, request: Any, obj: Any = None) -> bool:
        return False


@admin.register(ProviderCallback)
class ProviderCallbackAdmin(PlatformWide, admin.ModelAdmin):
    list_display = [
        "received_at",
        PROVIDER,
        labelled_column("kind", _("kind"), callback_kind_label),
        "status",
        "reports",
        "replies",
        "error",
    ]
    list_filter = ["status", PROVIDER_FILTER, ("kind", labelled_filter(callback_kind_label))]
    exclude = ["body"]
    readonly_fields = [f.name for f in ProviderCallback._meta.fields if f.name != "body"]

    def has_add_permission(self, request: Any) -> bool:
        return False
