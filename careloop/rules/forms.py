"""The rule form: the definition is typed as JSON in the safe rule language (never Python),
checked on save and on dry run, errors shown on the field they concern with their path."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from careloop.accounts.models import Organisation
from careloop.accounts.ownership import organisations_to_choose
from careloop.rules.conditions import RuleError
from careloop.rules.engine import AVAILABLE_TRIGGERS
from careloop.rules.models import Trigger

JSON_ATTRS = {"rows": 10, "class": "form-control font-monospace", "spellcheck": "false"}


class RuleForm(forms.Form):
    code = forms.SlugField(
        label=_("Code"), max_length=60, help_text=_("Letters, digits and hyphens; never changes.")
    )
    name = forms.CharField(label=_("Rule name"), max_length=200)
    description = forms.CharField(
        label=_("Description"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2, "class": "form-control"}),
    )
    trigger = forms.ChoiceField(
        label=_("Runs when"),
        choices=[(t.value, t.label) for t in Trigger if t in AVAILABLE_TRIGGERS],
    )
    organisation = forms.ModelChoiceField(
        label=_("Organisation"),
        queryset=Organisation.objects.filter(is_active=True).order_by("path"),
        required=False,
        empty_label=_("Every organisation"),
    )
    condition = forms.CharField(label=_("Condition"), widget=forms.Textarea(JSON_ATTRS))
    actions = forms.CharField(label=_("Actions"), widget=forms.Textarea(JSON_ATTRS))
    cooldown_hours = forms.IntegerField(
        label=_("Quiet period (hours)"),
        min_value=0,
        max_value=24 * 365,
        initial=24,
        help_text=_("After firing for a patient, the rule does not fire again for them so soon."),
    )
    enabled = forms.BooleanField(label=_("Enabled"), required=False)

    def __init__(self, *args: Any, editing: bool = False, user: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if user is not None:  # a rule for organisations of the user's scope only
            choice = self.fields["organisation"]
            assert isinstance(choice, forms.ModelChoiceField)
            choice.queryset = organisations_to_choose(user)
        for field in self.fields.values():
            if not isinstance(field.widget, forms.CheckboxInput | forms.Textarea | forms.Select):
                field.widget.attrs.setdefault("class", "form-control")
            elif isinstance(field.widget, forms.Select):
                field.widget.attrs.setdefault("class", "form-select")
        if editing:
            self.fields["code"].disabled = True

    def clean_code(self) -> str:
        code = str(self.cleaned_data["code"])
        if code in ("new", "patients"):
            raise forms.ValidationError(_("This code is reserved."), code="reserved")
        return code

    def _json(self, name: str) -> Any:
        text = self.cleaned_data.get(name, "")
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:  # in the page's language, not Python's
            raise forms.ValidationError(
                _("The JSON cannot be read at line %(line)d, column %(column)d.")
                % {"line": exc.lineno, "column": exc.colno},
                code="json",
            ) from exc

    def clean_condition(self) -> Any:
        return self._json("condition")

    def clean_actions(self) -> Any:
        return self._json("actions")

    def definition(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "name": data["name"],
            "description": data["description"],
            "trigger": data["trigger"],
            "condition": data["condition"],
            "actions": data["actions"],
            "cooldown_hours": data["cooldown_hours"],
            "enabled": data["enabled"],
            "organisation": data["organisation"],
        }

    def add_rule_error(self, error: RuleError) -> None:
        """Show a ``RuleError`` on the field its path starts with."""
        head = error.path.split(".", 1)[0].split("[", 1)[0]
        field = head if head in ("condition", "actions", "trigger") else None
        self.add_error(
            field, gettext("%(path)s: %(message)s") % {"path": error.path, "message": error.message}
        )
