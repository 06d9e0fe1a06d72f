"""Administration: pathway templates (each save checked and kept as a new version), holidays,
and read-only views of plans and tasks."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from careloop.admin_labels import labelled_column, labelled_filter
from careloop.admin_scope import ScopedToOrganisations
from careloop.followup.definition import DefinitionError
from careloop.followup.models import ExamPackage, Holiday, Pathway, PathwayVersion, Plan, Task
from careloop.followup.models.pathways import TriggerKind
from careloop.followup.models.plans import channel_label
from careloop.followup.pathways import check_pathway, do_save_pathway


class IndentedJSONField(forms.JSONField):
    """JSON laid out one key a line: a pathway's definition came as one line of thousands of
    characters, where the paths the checks name (nodes[3].script.revisit) could not be found."""

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, forms.fields.InvalidJSONInput):
            return value  # what was typed, as typed
        return json.dumps(value, ensure_ascii=False, indent=2, cls=self.encoder)


class PathwayForm(forms.ModelForm):
    definition = IndentedJSONField(
        label=_("Definition"),
        widget=forms.Textarea(attrs={"rows": 30, "cols": 100, "class": "font-monospace"}),
        help_text=_("Trigger and nodes as JSON; see docs/pathways.md."),
    )
    note = forms.CharField(label=_("What changed"), required=False, max_length=200)

    class Meta:
        model = Pathway
        fields = ["code", "name", "description", "organisation", "enabled", "definition"]

    def clean_definition(self) -> Any:
        definition = self.cleaned_data["definition"]
        try:
            check_pathway(definition)
        except DefinitionError as exc:
            raise forms.ValidationError(f"{exc.path}: {exc.message}") from exc
        return definition


class VersionInline(admin.TabularInline):
    model = PathwayVersion
    fields = ["version", "name", "saved_by", "saved_at", "note"]
    readonly_fields = ["version", "name", "saved_by", "saved_at", "note"]
    extra = 0
    can_delete = False
    ordering = ["-version"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Pathway)
class PathwayAdmin(ScopedToOrganisations, admin.ModelAdmin):
    shared_when_empty = True
    form = PathwayForm
    list_display = ["code", "name", "trigger", "version", "enabled", "organisation"]
    list_filter = ["trigger", "enabled"]
    search_fields = ["code", "name"]
    readonly_fields = ["trigger", "version", "updated_by", "updated_at"]
    inlines = [VersionInline]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return [*self.readonly_fields, "code"] if obj else self.readonly_fields

    def save_model(self, request: HttpRequest, obj: Pathway, form: Any, change: bool) -> None:
        data = {
            "name": form.cleaned_data["name"],
            "description": form.cleaned_data.get("description", ""),
            "definition": json.loads(json.dumps(form.cleaned_data["definition"])),
            "enabled": form.cleaned_data.get("enabled", True),
        }
        saved, _changed = do_save_pathway(
            request.user, obj.code, data, note=form.cleaned_data.get("note", "")
        )
        fields = {"organisation": form.cleaned_data.get("organisation"), "enabled": data["enabled"]}
        Pathway.objects.filter(pk=saved.pk).update(**fields)
        obj.pk = saved.pk
        obj.refresh_from_db()

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        """Versions are written by ``do_save_pathway``, never edited here; the admin's change
        message still asks each inline what it saved: nothing."""
        for formset in formsets:
            formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []


@admin.register(Holiday)
class HolidayAdmin(ScopedToOrganisations, admin.ModelAdmin):
    shared_when_empty = True
    list_display = ["day", "name", "organisation"]
    list_filter = ["organisation"]
    date_hierarchy = "day"


@admin.register(ExamPackage)
class ExamPackageAdmin(ScopedToOrganisations, admin.ModelAdmin):
    shared_when_empty = True
    list_display = ["name", "price", "sex", "min_age", "max_age", "is_active", "organisation"]
    list_filter = ["is_active", "organisation"]
    search_fields = ["name", "code"]


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def trigger_label(code: str) -> Any:
    return TriggerKind(code).label if code in TriggerKind.values else code


@admin.register(Plan)
class PlanAdmin(ScopedToOrganisations, ReadOnlyAdmin):
    list_display = [
        "pk",
        "pathway",
        "status",
        labelled_column("trigger", _("trigger"), trigger_label),
        "anchor",
        "started_at",
    ]
    list_filter = ["status", "pathway", ("trigger", labelled_filter(trigger_label))]
    raw_id_fields = ["patient"]


@admin.register(Task)
class TaskAdmin(ScopedToOrganisations, ReadOnlyAdmin):
    list_display = [
        "pk",
        "title",
        "status",
        labelled_column("channel", _("channel"), channel_label),
        "due_at",
        "assignee",
    ]
    list_filter = ["status", "purpose", ("channel", labelled_filter(channel_label))]
    raw_id_fields = ["patient", "plan"]
