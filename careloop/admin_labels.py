"""Coded values in the administration's lists shown by their labels, in the reader's language:
a column (``labelled_column``) and a filter (``labelled_filter``) for fields stored as codes
without ``choices`` (a plan's trigger, a task's channel, a message's provider). A code
without a label is shown as stored."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from django.contrib import admin
from django.contrib.admin.filters import AllValuesFieldListFilter

if TYPE_CHECKING:
    from django.contrib.admin.filters import _ListFilterChoices

Label = Callable[[str], Any]


def labelled_column(field: str, description: Any, label: Label) -> Callable[[Any], str]:
    """A ``list_display`` entry showing ``label(obj.<field>)``, sorted by the field."""

    @admin.display(description=description, ordering=field)
    def column(obj: Any) -> str:
        value = getattr(obj, field)
        return str(label(value)) if value else ""

    column.__name__ = f"{field}_label"
    return column


def labelled_filter(label: Label) -> type[AllValuesFieldListFilter]:
    """A ``list_filter`` of the values found, each named by ``label``."""

    class LabelledValuesFilter(AllValuesFieldListFilter):
        def choices(self, changelist: Any) -> Iterator[_ListFilterChoices]:
            values = [str(v) for v in self.lookup_choices if v is not None]
            for n, choice in enumerate(super().choices(changelist)):
                if 1 <= n <= len(values):  # after "All", the values in order
                    value = values[n - 1]
                    shown = str(choice["display"])
                    choice["display"] = str(label(value)) + shown[len(value) :]
                yield choice

    return LabelledValuesFilter
