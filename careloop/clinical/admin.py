from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from careloop.admin_scope import PlatformWide, ScopedToOrganisations
from careloop.clinical import catalogue
from careloop.clinical.models import (
    CriticalValueRule,
    Icd10Code,
    ObservationDefinition,
    ReferenceRange,
)


@admin.register(Icd10Code)
class Icd10CodeAdmin(PlatformWide, admin.ModelAdmin):
    list_display = ["code", "name", "name_en"]
    search_fields = ["code", "name", "name_en"]


@admin.register(ObservationDefinition)
class ObservationDefinitionAdmin(PlatformWide, admin.ModelAdmin):
    list_display = ["code", "name", "name_en", "category", "unit"]
    list_filter = ["category"]
    search_fields = ["code", "name", "name_en"]


@admin.register(ReferenceRange)
class ReferenceRangeAdmin(PlatformWide, admin.ModelAdmin):
    list_display = [
        "code",
        "sex",
        "age_from",
        "age_to",
        "low",
        "low_inclusive",
        "high",
        "high_inclusive",
        "note",
    ]
    list_filter = ["sex"]
    search_fields = ["code"]


@admin.register(CriticalValueRule)
class CriticalValueRuleAdmin(ScopedToOrganisations, admin.ModelAdmin):
    """Changes reach every process within 30 seconds (the catalogue snapshot's lifetime)."""

    shared_when_empty = True

    list_display = [
        "code",
        "item_name",
        "organisation",
        "patient_group",
        "low",
        "low_inclusive",
        "high",
        "high_inclusive",
        "positive",
        "first_only",
        "active",
    ]
    list_filter = ["active", "patient_group", "positive", "first_only", "organisation"]
    search_fields = ["code"]

    @admin.display(description=_("exam item"))
    def item_name(self, rule: CriticalValueRule) -> str:
        item = catalogue.current().item(rule.code)
        return item.name if item else ""
