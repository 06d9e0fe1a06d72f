from django.contrib import admin

from careloop.admin_scope import ScopedToOrganisations
from careloop.interop.models import CodeMapping, InboundMessage, SourceSystem


class CodeMappingInline(admin.TabularInline):
    model = CodeMapping
    extra = 1


@admin.register(SourceSystem)
class SourceSystemAdmin(ScopedToOrganisations, admin.ModelAdmin):
    list_display = ["facility", "name", "organisation", "default_encoding", "active", "created_at"]
    list_filter = ["active", "default_encoding"]
    search_fields = ["facility", "name"]
    inlines = [CodeMappingInline]


@admin.register(CodeMapping)
class CodeMappingAdmin(ScopedToOrganisations, admin.ModelAdmin):
    scope_path = "source__organisation"
    list_display = ["source", "local_code", "local_name", "loinc"]
    list_filter = ["source"]
    search_fields = ["local_code", "local_name", "loinc"]


@admin.register(InboundMessage)
class InboundMessageAdmin(ScopedToOrganisations, admin.ModelAdmin):
    """Read-only here: the raw text and reprocessing live on the staff page (audited)."""

    scope_path = "source__organisation"

    list_display = [
        "id",
        "received_at",
        "sending_facility",
        "message_type",
        "control_id",
        "status",
        "ack_code",
    ]
    list_filter = ["status", "transport", "message_type"]
    search_fields = ["control_id", "sending_facility"]
    exclude = ["raw"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


from careloop.interop import webhook_admin  # noqa: E402,F401  (registers the webhook pages)
