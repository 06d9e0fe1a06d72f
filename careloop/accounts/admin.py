from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.db import transaction
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from careloop.accounts.models import ApiToken, Organisation, Team, User


@admin.register(Organisation)
class OrganisationAdmin(admin.ModelAdmin):
    list_display = ["name", "code", "kind", "parent", "is_active"]
    list_filter = ["kind", "is_active"]
    search_fields = ["name", "code"]
    readonly_fields = ["path"]

    def save_model(self, request: HttpRequest, obj: Organisation, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if change and {"region_north", "urban"} & set(form.changed_data):
            # China-PAR reads them: its patients are re-assessed by the task worker.
            from careloop.rules.tasks import reassess_organisation

            transaction.on_commit(lambda: reassess_organisation.enqueue(obj.pk))
            self.message_user(
                request, _("Its patients' China-PAR risk is being re-assessed in the background.")
            )


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name", "organisation"]
    list_filter = ["organisation"]
    search_fields = ["name"]


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ["username", "display_name", "organisation", "is_active", "is_staff"]
    list_filter = ["groups", "organisation", "is_active", "is_staff"]
    search_fields = ["username", "display_name"]
    fieldsets = (
        *(BaseUserAdmin.fieldsets or ()),
        (_("CareLoop"), {"fields": ("display_name", "organisation", "teams", "wecom_userid")}),
    )
    filter_horizontal = ["groups", "user_permissions", "teams"]

    def get_readonly_fields(self, request, obj=None):
        # Only a superuser grants superuser status or direct permissions: an administrator
        # bound to an organisation cannot lift the organisation scope for anyone.
        fields = list(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            fields += ["is_superuser", "user_permissions"]
        return fields


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = [
        "prefix",
        "user",
        "name",
        "created_at",
        "last_used_at",
        "expires_at",
        "revoked_at",
    ]
    list_filter = ["revoked_at"]
    search_fields = ["prefix", "user__username", "name"]
    readonly_fields = ["prefix", "token_hash", "created_at", "last_used_at"]
    actions = ["revoke"]

    def has_add_permission(self, request):  # tokens are shown once: create them with the CLI
        return False

    @admin.action(description=_("Revoke selected tokens"))
    def revoke(self, request, queryset):
        from careloop.accounts.tokens import do_revoke_token

        for token in queryset:
            do_revoke_token(token.prefix, actor=request.user)
