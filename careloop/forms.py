"""Form styling shared by every staff form (Tabler/Bootstrap classes, error state)."""

from __future__ import annotations

from typing import Any

from django import forms


def widget_class(widget: forms.Widget) -> str:
    if isinstance(widget, forms.CheckboxInput):
        return "form-check-input"
    if isinstance(widget, forms.CheckboxSelectMultiple | forms.RadioSelect):
        return ""
    if isinstance(widget, forms.Select):
        return "form-select"
    return "form-control"


class StyledFormMixin:
    """Adds the CSS classes to widgets, and marks a field invalid whenever it gets an error,
    also when the error comes from a service after validation."""

    fields: dict[str, forms.Field]
    errors: Any

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            css = widget_class(field.widget)
            if css and css not in field.widget.attrs.get("class", ""):
                field.widget.attrs["class"] = (
                    field.widget.attrs.get("class", "") + " " + css
                ).strip()

    def add_error(self, field: str | None, error: Any) -> None:
        super().add_error(field, error)  # type: ignore[misc]
        for name in self.errors:
            if name in self.fields:
                attrs = self.fields[name].widget.attrs
                if "is-invalid" not in attrs.get("class", ""):
                    attrs["class"] = (attrs.get("class", "") + " is-invalid").strip()


# Dates of what has happened (a diagnosis's onset, a past illness, a medicine started): a
# date after today is a typing slip (2030 for 2023). A medicine's stop may be planned ahead.
PAST_DATES = ("onset_date", "occurred_on", "started_on")


class PastDatesMixin:
    """Refuses a date still to come in ``PAST_DATES``, and a stop before the start
    (``started_on`` / ``stopped_on``), in the form's ``clean``."""

    cleaned_data: dict[str, Any]

    def clean(self) -> dict[str, Any]:
        from django.utils import timezone
        from django.utils.translation import gettext as _

        data = super().clean() or {}  # type: ignore[misc]
        today = timezone.localdate()
        for name in PAST_DATES:
            value = self.cleaned_data.get(name)
            if value is not None and value > today:
                self.add_error(name, _("This date is still to come."))  # type: ignore[attr-defined]
        started, stopped = self.cleaned_data.get("started_on"), self.cleaned_data.get("stopped_on")
        if started and stopped and stopped < started:
            self.add_error("stopped_on", _("The stop cannot be before the start."))  # type: ignore[attr-defined]
        return data
