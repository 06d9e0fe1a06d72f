from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from careloop.admin_labels import labelled_column, labelled_filter
from careloop.admin_scope import ScopedToOrganisations
from careloop.audit.models import OBJECT_TYPES, AuditEvent


def object_type_label(code: str) -> object:
    return OBJECT_TYPES.get(code, code)


@admin.register(AuditEvent)
class AuditEventAdmin(ScopedToOrganisations, admin.ModelAdmin):
    """Read-only: the audit log is append-only."""

    scope_path = "organisation_id"

    list_display = [
        "at",
        "actor_label",
        "action",
        labelled_column("object_type", _("record type"), object_type_label),
        "object_id",
        "patient_id",
        "via",
    ]
    list_filter = ["action", "via", ("object_type", labelled_filter(object_type_label))]
    search_fields = ["actor_label", "object_id"]
    date_hierarchy = "at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
