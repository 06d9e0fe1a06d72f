"""The form for a health lecture: when and where, how many seats, the points it earns."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from careloop.accounts.ownership import organisations_to_choose
from careloop.care.lectures import taken
from careloop.care.models import Lecture
from careloop.forms import StyledFormMixin


class LectureForm(StyledFormMixin, forms.ModelForm):
    class Meta:
        model = Lecture
        fields = [
            "organisation",
            "title",
            "topic",
            "speaker",
            "starts_at",
            "minutes",
            "place",
            "capacity",
            "points",
            "description",
        ]
        widgets = {
            "starts_at": forms.DateTimeInput(
                attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"
            ),
            "description": forms.Textarea(attrs={"rows": 4}),
        }
        labels = {"organisation": _("Organisation")}
        help_texts = {
            "place": _("A room and its address, or the link of an online lecture."),
            "capacity": _("Leave empty for no limit."),
            "topic": _("Such as 高血压, 糖尿病, 合理膳食."),
        }

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choice = self.fields["organisation"]
        assert isinstance(choice, forms.ModelChoiceField)
        choice.queryset = organisations_to_choose(user)
        choice.empty_label = None
        if self.instance.pk is None:
            self.initial.setdefault("organisation", getattr(user, "organisation_id", None))
            self.initial.setdefault("points", settings.CARELOOP_POINTS_LECTURE)

    def clean_starts_at(self) -> Any:
        starts = self.cleaned_data["starts_at"]
        moved = self.instance.pk is None or starts != self.instance.starts_at
        if moved and starts <= timezone.now():
            raise forms.ValidationError(_("The start must be in the future."))
        return starts

    def clean_minutes(self) -> int:
        minutes: int = self.cleaned_data["minutes"]
        if not 10 <= minutes <= 600:
            raise forms.ValidationError(_("A lecture lasts from 10 to 600 minutes."))
        return minutes

    def clean_points(self) -> int:
        points: int = self.cleaned_data["points"]
        if points > 1000:
            raise forms.ValidationError(_("At most 1,000 points."))
        # A mark undone takes back the lecture's points as they are then: changed after
        # someone earned them, it would take back more (or less) than was given.
        changed = self.instance.pk is not None and points != self.instance.points
        if changed and self.instance.seats.filter(attended_at__isnull=False).exists():
            raise forms.ValidationError(
                _("Attendance has been marked: the points for attending cannot change.")
            )
        return points

    def clean_capacity(self) -> int | None:
        capacity: int | None = self.cleaned_data["capacity"]
        if capacity is not None:
            if capacity < 1:
                raise forms.ValidationError(_("At least one seat, or leave empty for no limit."))
            if self.instance.pk is not None and capacity < (held := taken(self.instance)):
                raise forms.ValidationError(
                    _("%(n)s patients have signed up: the seats cannot be fewer.") % {"n": held}
                )
        return capacity
