from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from careloop.accounts.models import ApiToken, Organisation, Team, User
from careloop.patients.access import scope_organisation_ids


class WithinOrganisations:
    """For an administrator bound to an organisation (not a superuser): the rows of their
    organisation and those below it only, and choices of organisations and teams there only,
    so that no one can be moved, nor an organisation hung, outside their scope (a user moved to
    the root would see every patient of the installation)."""

    scope_field = "organisation_id"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        rows = super().get_queryset(request)  # type: ignore[misc]
        scope = scope_organisation_ids(request.user)
        return rows if scope is None else rows.filter(**{f"{self.scope_field}__in": scope})

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        scope = scope_organisation_ids(request.user)
        if scope is not None and db_field.name in ("organisation", "parent"):
            kwargs["queryset"] = Organisation.objects.filter(pk__in=scope)
        if scope is not None and db_field.name == "parent":  # no tree of its own outside
            kwargs["required"] = True
        if scope is not None and db_field.name == "user":  # a token's: never given away
            kwargs["queryset"] = User.objects.filter(organisation_id__in=scope, is_superuser=False)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)  # type: ignore[misc]

    def formfield_for_manytomany(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        scope = scope_organisation_ids(request.user)
        if scope is not None and db_field.name == "teams":
            kwargs["queryset"] = Team.objects.filter(organisation_id__in=scope)
        return super().formfield_for_manytomany(db_field, request, **kwargs)  # type: ignore[misc]


@admin.register(Organisation)
class OrganisationAdmin(WithinOrganisations, admin.ModelAdmin):
    scope_field = "pk"
    list_display = ["name", "code", "kind", "parent", "is_active"]
    list_filter = ["kind", "is_active"]
    search_fields = ["name", "code"]
    readonly_fields = ["path"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        # Their own organisation stays where it hangs: moving it would take them out of
        # (or above) the scope they were given.
        fields = list(super().get_readonly_fields(request, obj))
        user = request.user
        if (
            obj is not None
            and not user.is_superuser
            and obj.pk == getattr(user, "organisation_id", None)
        ):
            fields.append("parent")
        return fields

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
class TeamAdmin(WithinOrganisations, admin.ModelAdmin):
    list_display = ["name", "organisation"]
    list_filter = [("organisation", admin.RelatedOnlyFieldListFilter)]  # those in scope
    search_fields = ["name"]


@admin.register(User)
class UserAdmin(WithinOrganisations, BaseUserAdmin):
    list_display = ["username", "display_name", "organisation", "is_active", "is_staff"]
    list_filter = [
        "groups",
        ("organisation", admin.RelatedOnlyFieldListFilter),  # those in scope
        "is_active",
        "is_staff",
    ]
    search_fields = ["username", "display_name"]
    fieldsets = (
        *(BaseUserAdmin.fieldsets or ()),
        (_("CareLoop"), {"fields": ("display_name", "organisation", "teams", "wecom_userid")}),
    )
    filter_horizontal = ["groups", "user_permissions", "teams"]

    def save_model(self, request: HttpRequest, obj: User, form: Any, change: bool) -> None:
        # The add form asks for no organisation: an organisation's administrator adds to
        # theirs (of none, the user would leave their scope, and their list, at once).
        if not change and obj.organisation_id is None and not request.user.is_superuser:
            obj.organisation_id = getattr(request.user, "organisation_id", None)
        super().save_model(request, obj, form, change)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        # Nor a superuser of their organisation: a new password would make them one.
        rows = super().get_queryset(request)
        return rows if request.user.is_superuser else rows.filter(is_superuser=False)

    def get_readonly_fields(self, request, obj=None):
        # Only a superuser grants superuser status or direct permissions: an administrator
        # bound to an organisation cannot lift the organisation scope for anyone.
        fields = list(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            fields += ["is_superuser", "user_permissions"]
        return fields


@admin.register(ApiToken)
class ApiTokenAdmin(WithinOrganisations, admin.ModelAdmin):
    scope_field = "user__organisation_id"
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
