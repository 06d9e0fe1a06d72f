"""Follow-up forms: the outcome of an attempt, and the structured form of the task (the
national hypertension / type 2 diabetes follow-up forms of REFERENCE.md §1, a symptom check,
wound check, care-guide confirmation, satisfaction)."""

from __future__ import annotations

from datetime import date
from typing import Any

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext, pgettext_lazy

from careloop.followup.models import Outcome
from careloop.followup.recordings import sniff
from careloop.forms import StyledFormMixin

HTN_SYMPTOMS = [
    "无症状",
    "头痛头晕",
    "恶心呕吐",
    "眼花耳鸣",
    "呼吸困难",
    "心悸胸闷",
    "鼻衄出血不止",
    "四肢发麻",
    "下肢水肿",
]
DM_SYMPTOMS = [
    "无症状",
    "多饮",
    "多食",
    "多尿",
    "视力模糊",
    "感染",
    "手脚麻木",
    "下肢浮肿",
    "体重明显下降",
]
CHECK_SYMPTOMS = [
    "无不适",
    "胸痛胸闷",
    "呼吸困难",
    "头痛",
    "头晕",
    "心悸",
    "恶心呕吐",
    "视物模糊",
    "水肿",
    "发热",
    "伤口异常",
    "出血",
    "情绪问题",
]
RED_FLAGS = {"胸痛胸闷", "呼吸困难", "出血"}


# Stored as the Chinese words (answers, reports and rules read them); shown translated.
LABELS = {
    "无症状": pgettext_lazy("follow-up form", "No symptoms"),
    "头痛头晕": pgettext_lazy("follow-up form", "Headache or dizziness"),
    "恶心呕吐": pgettext_lazy("follow-up form", "Nausea or vomiting"),
    "眼花耳鸣": pgettext_lazy("follow-up form", "Blurred vision or ringing in the ears"),
    "呼吸困难": pgettext_lazy("follow-up form", "Shortness of breath"),
    "心悸胸闷": pgettext_lazy("follow-up form", "Palpitations or chest tightness"),
    "鼻衄出血不止": pgettext_lazy("follow-up form", "Nosebleed that does not stop"),
    "四肢发麻": pgettext_lazy("follow-up form", "Numb limbs"),
    "下肢水肿": pgettext_lazy("follow-up form", "Oedema of the legs"),
    "多饮": pgettext_lazy("follow-up form", "Drinks much more"),
    "多食": pgettext_lazy("follow-up form", "Eats much more"),
    "多尿": pgettext_lazy("follow-up form", "Passes much more urine"),
    "视力模糊": pgettext_lazy("follow-up form", "Blurred eyesight"),
    "感染": pgettext_lazy("follow-up form", "Infection"),
    "手脚麻木": pgettext_lazy("follow-up form", "Numb hands or feet"),
    "下肢浮肿": pgettext_lazy("follow-up form", "Swollen legs"),
    "体重明显下降": pgettext_lazy("follow-up form", "Marked weight loss"),
    "无不适": pgettext_lazy("follow-up form", "No complaints"),
    "胸痛胸闷": pgettext_lazy("follow-up form", "Chest pain or tightness"),
    "头痛": pgettext_lazy("follow-up form", "Headache"),
    "头晕": pgettext_lazy("follow-up form", "Dizziness"),
    "心悸": pgettext_lazy("follow-up form", "Palpitations"),
    "视物模糊": pgettext_lazy("follow-up form", "Blurred vision"),
    "水肿": pgettext_lazy("follow-up form", "Oedema"),
    "发热": pgettext_lazy("follow-up form", "Fever"),
    "伤口异常": pgettext_lazy("follow-up form", "Wound problem"),
    "出血": pgettext_lazy("follow-up form", "Bleeding"),
    "情绪问题": pgettext_lazy("follow-up form", "Emotional problems"),
    "自伤风险": pgettext_lazy("follow-up form", "Risk of self-harm"),
    "良好": pgettext_lazy("follow-up form", "Good"),
    "一般": pgettext_lazy("follow-up form", "Fair"),
    "差": pgettext_lazy("follow-up form", "Poor"),
    "规律": pgettext_lazy("follow-up form", "Regularly"),
    "间断": pgettext_lazy("follow-up form", "On and off"),
    "不服药": pgettext_lazy("follow-up form", "Not taking them"),
    "愈合良好": pgettext_lazy("follow-up form", "Healing well"),
    "红肿": pgettext_lazy("follow-up form", "Red and swollen"),
    "渗液": pgettext_lazy("follow-up form", "Oozing"),
    "裂开": pgettext_lazy("follow-up form", "Opened up"),
    "门诊": pgettext_lazy("follow-up form", "Clinic visit"),
    "家庭": pgettext_lazy("follow-up form", "Home visit"),
    "电话": pgettext_lazy("follow-up form", "Phone"),
    "轻": pgettext_lazy("follow-up form", "Light"),
    "中": pgettext_lazy("follow-up form", "Moderate"),
    "重": pgettext_lazy("follow-up form", "Heavy"),
    "触及正常": pgettext_lazy("follow-up form", "Felt, normal"),
    "减弱": pgettext_lazy("follow-up form", "Weak"),
    "消失": pgettext_lazy("follow-up form", "Absent"),
    "无": pgettext_lazy("follow-up form", "None"),
    "偶尔": pgettext_lazy("follow-up form", "Occasional"),
    "频繁": pgettext_lazy("follow-up form", "Frequent"),
}


def _choices(values: list[str]) -> list[tuple[str, Any]]:
    """Choices stored as the Chinese word, labelled in the page's language."""
    return [(v, LABELS.get(v, v)) for v in values]


THREE = _choices(["良好", "一般", "差"])


class OutcomeForm(StyledFormMixin, forms.Form):
    outcome = forms.ChoiceField(
        label=_("Outcome"), choices=Outcome.choices, widget=forms.RadioSelect
    )
    notes = forms.CharField(
        label=_("Notes"), required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 3})
    )
    recording = forms.FileField(
        label=_("Call recording"),
        required=False,
        help_text=_("mp3, wav, m4a or amr"),
        widget=forms.ClearableFileInput(attrs={"accept": ".mp3,.wav,.m4a,.amr,audio/*"}),
    )
    opt_out = forms.BooleanField(
        label=_("The patient asks not to be followed up any more (stops their plans)"),
        required=False,
    )

    def clean_recording(self) -> Any:
        upload = self.cleaned_data.get("recording")
        if not upload:
            return None
        limit = settings.CARELOOP_RECORDING_MAX_BYTES
        if upload.size > limit:
            raise forms.ValidationError(
                _("The recording is larger than %(mb)d MB.") % {"mb": limit // 2**20}
            )
        head = upload.read(64)
        upload.seek(0)
        kind = sniff(head)
        if kind is None:
            raise forms.ValidationError(
                _("This file is not an mp3, wav, m4a or amr recording (checked by its content).")
            )
        upload.careloop_type = kind
        return upload


class AnswersForm(StyledFormMixin, forms.Form):
    """A structured form whose cleaned data is stored as JSON answers."""

    def answers(self) -> dict[str, Any]:
        data = {}
        for key, value in self.cleaned_data.items():
            if value in (None, "", []):
                continue
            data[key] = value.isoformat() if isinstance(value, date) else value
        return data

    def preset(self, name: str) -> list[str]:
        """What a browser posts for the field when nobody touched it: its initial value,
        else a drop-down's first option (a list without a blank one shows that)."""
        field = self.fields[name]
        initial = self.get_initial_for_field(field, name)
        if isinstance(field, forms.BooleanField):
            return ["on"] if initial else []
        if initial not in (None, "", [], ()):
            values = initial if isinstance(initial, list | tuple) else [initial]
            return [str(v) for v in values]
        widget = field.widget
        if isinstance(widget, forms.Select) and not isinstance(widget, forms.SelectMultiple):
            for value, label in getattr(field, "choices", ()):
                if isinstance(label, list | tuple):  # an option group: its first option
                    value = label[0][0] if label else ""
                return [str(value)] if str(value) else []
        return []

    def typed(self, ignore: tuple[str, ...] = ()) -> bool:
        """Whether the bound data differs from the untouched form (what was typed, ticked or
        chosen, not the presets a browser sends back as they are); ``ignore`` names fields
        that do not count."""
        getlist = getattr(self.data, "getlist", None)
        for name in self.fields:
            if name in ignore:
                continue
            key = self.add_prefix(name)
            if key not in self.data and not isinstance(self.fields[name], forms.BooleanField):
                continue  # nothing sent (a box left unticked is sent as nothing too)
            raw = getlist(key) if getlist else self.data.get(key)
            values = raw if isinstance(raw, list | tuple) else ([] if raw is None else [raw])
            posted = sorted(str(v).strip() for v in values if str(v).strip())
            if posted != sorted(self.preset(name)):
                return True
        return False


# Stored as the Chinese words too (see LABELS).
CARE_GUIDE_TOPICS = [
    ("用药", pgettext_lazy("care guide topic", "Medication")),
    ("饮食", pgettext_lazy("care guide topic", "Diet")),
    ("活动", pgettext_lazy("care guide topic", "Activity")),
    ("体重监测", pgettext_lazy("care guide topic", "Weight monitoring")),
    ("伤口护理", pgettext_lazy("care guide topic", "Wound care")),
    ("复诊时间", pgettext_lazy("care guide topic", "Revisit date")),
    ("紧急情况处理", pgettext_lazy("care guide topic", "What to do in an emergency")),
]


class CareGuideForm(AnswersForm):
    understood = forms.BooleanField(
        label=_("The patient understood the care guide"), required=False
    )
    topics = forms.MultipleChoiceField(
        label=_("Covered"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        choices=CARE_GUIDE_TOPICS,
    )


class SymptomCheckForm(AnswersForm):
    symptoms = forms.MultipleChoiceField(
        label=_("Symptoms"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        choices=_choices(CHECK_SYMPTOMS),
    )
    medication_adherence = forms.ChoiceField(
        label=_("Takes the medicines"),
        required=False,
        choices=[("", "—"), *_choices(["规律", "间断", "不服药"])],
    )
    weight_kg = forms.FloatField(
        label=_("Weight (kg)"), required=False, min_value=20, max_value=300
    )


class WoundForm(AnswersForm):
    wound = forms.ChoiceField(
        label=_("Wound"), choices=_choices(["愈合良好", "红肿", "渗液", "裂开", "感染"])
    )
    pain = forms.IntegerField(label=_("Pain (0–10)"), min_value=0, max_value=10)
    fever = forms.BooleanField(label=_("Fever"), required=False)


class SatisfactionForm(AnswersForm):
    score = forms.IntegerField(
        label=_("How likely to recommend us (0–10)"), min_value=0, max_value=10
    )
    comments = forms.CharField(label=_("Comments"), required=False, max_length=1000)


class _ChronicForm(AnswersForm):
    """The common part of the national hypertension and diabetes follow-up forms."""

    method = forms.ChoiceField(label=_("Follow-up by"), choices=_choices(["门诊", "家庭", "电话"]))
    symptoms_other = forms.CharField(label=_("Other symptoms"), required=False, max_length=200)
    sbp = forms.IntegerField(label=_("Systolic BP (mmHg)"), min_value=50, max_value=300)
    dbp = forms.IntegerField(label=_("Diastolic BP (mmHg)"), min_value=30, max_value=200)
    weight_kg = forms.FloatField(
        label=_("Weight (kg)"), required=False, min_value=20, max_value=300
    )
    weight_target_kg = forms.FloatField(
        label=_("Target weight (kg)"), required=False, min_value=20, max_value=300
    )
    heart_rate = forms.IntegerField(
        label=_("Heart rate (/min)"), required=False, min_value=20, max_value=300
    )
    smoking_per_day = forms.IntegerField(
        label=_("Cigarettes a day"), required=False, min_value=0, max_value=100
    )
    drinking_liang = forms.FloatField(
        label=_("Spirits a day (liang)"), required=False, min_value=0, max_value=50
    )
    exercise_per_week = forms.IntegerField(
        label=_("Exercise (times a week)"), required=False, min_value=0, max_value=21
    )
    exercise_minutes = forms.IntegerField(
        label=_("Exercise (minutes each)"), required=False, min_value=0, max_value=600
    )
    psychology = forms.ChoiceField(
        label=_("Psychological adjustment"), required=False, choices=[("", "—"), *THREE]
    )
    compliance = forms.ChoiceField(
        label=_("Follows medical advice"), required=False, choices=[("", "—"), *THREE]
    )
    medication_adherence = forms.ChoiceField(
        label=_("Medication adherence"), choices=_choices(["规律", "间断", "不服药"])
    )
    adverse_reaction = forms.BooleanField(label=_("Adverse drug reaction"), required=False)
    adverse_reaction_text = forms.CharField(
        label=_("Which reaction"), required=False, max_length=200
    )
    adverse_reaction_hard_to_control = forms.BooleanField(
        label=_("The reaction is hard to control"), required=False
    )
    new_or_worse_complication = forms.BooleanField(
        label=_("New or worse complication"), required=False
    )
    medications = forms.CharField(
        label=_("Medication (name, times a day, dose)"),
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    other_emergency = forms.BooleanField(
        label=_("Another urgent condition this clinic cannot manage"), required=False
    )
    referral_reason = forms.CharField(label=_("Referral reason"), required=False, max_length=200)
    referral_to = forms.CharField(
        label=_("Referred to (institution and department)"), required=False, max_length=200
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        sbp, dbp = data.get("sbp"), data.get("dbp")
        if sbp is not None and dbp is not None and dbp >= sbp:
            self.add_error("dbp", _("The diastolic pressure must be below the systolic."))
        if data.get("adverse_reaction_hard_to_control") and not data.get("adverse_reaction"):
            self.add_error(
                "adverse_reaction", _("Tick the adverse reaction when it is hard to control.")
            )
        return data


class HtnForm(_ChronicForm):
    symptoms = forms.MultipleChoiceField(
        label=_("Symptoms"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        choices=_choices(HTN_SYMPTOMS),
    )
    salt = forms.ChoiceField(
        label=_("Salt intake"), required=False, choices=[("", "—"), *_choices(["轻", "中", "重"])]
    )
    pregnant_or_lactating = forms.BooleanField(label=_("Pregnant or breastfeeding"), required=False)


class DmForm(_ChronicForm):
    symptoms = forms.MultipleChoiceField(
        label=_("Symptoms"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        choices=_choices(DM_SYMPTOMS),
    )
    fpg = forms.FloatField(label=_("Fasting glucose (mmol/L)"), min_value=0.5, max_value=60)
    sample = forms.ChoiceField(
        label=_("Sample"),
        choices=[("venous", _("venous plasma")), ("capillary", _("capillary (fingertip)"))],
    )
    hba1c = forms.FloatField(label=_("HbA1c (%)"), required=False, min_value=3, max_value=20)
    staple_g = forms.IntegerField(
        label=_("Staple food (g a day)"), required=False, min_value=0, max_value=2000
    )
    foot_pulse = forms.ChoiceField(
        label=_("Dorsalis pedis pulse"),
        required=False,
        choices=[("", "—"), *_choices(["触及正常", "减弱", "消失"])],
    )
    hypoglycaemia = forms.ChoiceField(
        label=_("Hypoglycaemic reactions"),
        required=False,
        choices=[("", "—"), *_choices(["无", "偶尔", "频繁"])],
    )
    insulin = forms.CharField(label=_("Insulin (type and dose)"), required=False, max_length=200)
    heart_rate_persistent = forms.BooleanField(
        label=_("The heart rate stays above 100/min"), required=False
    )
    temperature_c = forms.FloatField(
        label=_("Body temperature (°C)"), required=False, min_value=30, max_value=45
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("heart_rate_persistent") and data.get("heart_rate") in (None, ""):
            self.add_error("heart_rate", _("Give the heart rate that stays above 100/min."))
        return data


ANSWER_FORMS: dict[str, type[AnswersForm]] = {
    "care_guide": CareGuideForm,
    "symptom_check": SymptomCheckForm,
    "wound": WoundForm,
    "satisfaction": SatisfactionForm,
    "htn": HtnForm,
    "dm": DmForm,
}


def answers_form(kind: str, data: Any = None, prefix: str = "a") -> AnswersForm | None:
    form_class = ANSWER_FORMS.get(kind)
    return form_class(data, prefix=prefix) if form_class else None


def answer_rows(kind: str, answers: dict[str, Any] | None) -> list[tuple[str, str]]:
    """Stored form answers as a reviewer reads them: each field's label and its value in
    words (choices by their labels, yes/no, lists joined); keys the form does not know
    (a reply's text, a questionnaire's summary) as they are."""
    form = answers_form(kind)
    separator = pgettext("list separator", ", ")
    rows = []
    for key, value in (answers or {}).items():
        field = form.fields.get(key) if form is not None else None
        label = str(field.label) if field is not None and field.label else key
        choices = {str(k): str(v) for k, v in getattr(field, "choices", ()) or ()}
        values = value if isinstance(value, list) else [value]
        shown = []
        for one in values:
            if isinstance(one, bool):
                shown.append(str(_("yes") if one else _("no")))
            else:
                shown.append(choices.get(str(one), "" if one is None else str(one)))
        rows.append((label, separator.join(s for s in shown if s)))
    return rows
