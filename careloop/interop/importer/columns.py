"""Spreadsheet columns and the CareLoop fields they hold.

Two layouts are read: *long* (one result per row: item code or name, value, unit …) and
*wide* (one patient-visit per row, a column per item: 空腹血糖, 总胆固醇 …). A column maps to
a patient field, a result field, ``item:<LOINC>`` (a wide column of that item's values) or
``ignore``. Headers are recognised by their usual Chinese and English names.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

PATIENT_FIELDS = [
    "name",
    "sex",
    "birth_date",
    "id_number",
    "phone",
    "mrn",
    "exam_number",
    "passport",
]
RESULT_FIELDS = [
    "effective_at",
    "item_code",
    "item_name",
    "value",
    "unit",
    "reference",
    "flags",
    "report",
]
IGNORE = "ignore"
ITEM = "item:"

SYNONYMS: dict[str, list[str]] = {
    "name": ["姓名", "名字", "患者姓名", "客户姓名", "受检者", "name", "patient name"],
    "sex": ["性别", "sex", "gender"],
    "birth_date": [
        "出生日期",
        "出生年月日",
        "生日",
        "date of birth",
        "birth date",
        "dob",
        "birth_date",
    ],
    "id_number": [
        "身份证号",
        "身份证",
        "身份证号码",
        "证件号",
        "证件号码",
        "id number",
        "id_number",
        "resident id",
        "resident id number",
    ],
    "phone": [
        *("手机号", "手机", "手机号码", "联系电话", "电话", "座机", "固话", "固定电话", "家庭电话"),
        *("phone", "mobile", "mobile phone", "landline", "telephone"),
        *("phone (mobile or landline)", "电话（手机或座机）"),  # the column page's own words
    ],
    "mrn": ["门诊号", "住院号", "病历号", "病案号", "mrn", "medical record number"],
    "exam_number": ["体检号", "体检编号", "exam number", "exam_number"],
    "passport": ["护照号", "护照", "passport", "passport number"],
    "effective_at": [
        "检查日期",
        "体检日期",
        "检验日期",
        "采样时间",
        "采样日期",
        "报告日期",
        "检查时间",
        "日期",
        "date",
        "exam date",  # what the page calls it (FIELD_LABELS)
        "effective_at",
        "observed at",
    ],
    "item_code": [
        "项目代码",
        "项目编码",
        "检验代码",
        "检验项目代码",
        "代码",
        "编码",
        "item code",
        "code",
        "loinc",
    ],
    "item_name": ["项目名称", "检验项目", "检查项目", "项目", "item", "item name"],
    "value": ["结果", "结果值", "检验结果", "测定值", "检查结果", "value", "result"],
    "unit": ["单位", "unit", "units"],
    "reference": ["参考范围", "参考值", "参考区间", "reference", "reference range"],
    "flags": ["异常标识", "提示", "结果提示", "标识", "异常提示", "flag", "flags", "abnormal flag"],
    "report": ["报告", "报告名称", "套餐", "套餐名称", "report", "report name"],
}
FIELD_LABELS = {
    "name": gettext_lazy("Name"),
    "sex": gettext_lazy("Sex"),
    "birth_date": gettext_lazy("Date of birth"),
    "id_number": gettext_lazy("Resident ID number"),
    "phone": gettext_lazy("Phone (mobile or landline)"),
    "mrn": gettext_lazy("Medical record number"),
    "exam_number": gettext_lazy("Exam number"),
    "passport": gettext_lazy("Passport number"),
    "effective_at": gettext_lazy("Exam date"),
    "item_code": gettext_lazy("Item code"),
    "item_name": gettext_lazy("Item name"),
    "value": gettext_lazy("Result"),
    "unit": gettext_lazy("Unit"),
    "reference": gettext_lazy("Reference range"),
    "flags": gettext_lazy("Abnormal flag"),
    "report": gettext_lazy("Report name"),
    IGNORE: gettext_lazy("(not imported)"),
}


def _key(text: object) -> str:
    folded = unicodedata.normalize("NFKC", str(text or "")).strip().lower()
    return re.sub(r"[\s_()（）:：]+", " ", folded).strip()


_BY_SYNONYM = {_key(word): target for target, words in SYNONYMS.items() for word in words}
# Without spaces: exam centres pad short headers to the column's width with full-width
# spaces ("姓　　名", "性　别"), and some split words ("出生 日期").
_BY_COMPACT = {key.replace(" ", ""): target for key, target in _BY_SYNONYM.items()}


def _field(key: str) -> str | None:
    """The field a header (as ``_key`` gives it) names, if any."""
    return _BY_SYNONYM.get(key) or _BY_COMPACT.get(key.replace(" ", ""))


class MappingError(ValueError):
    """The columns cannot give what an import needs; the message says what is missing."""


@dataclass
class ColumnMap:
    """Column header → target, in column order."""

    headers: list[str]
    targets: list[str]
    items: dict[int, str] = field(default_factory=dict)  # column index → LOINC (wide)

    @classmethod
    def build(cls, headers: list[str], columns: Mapping[str, str]) -> ColumnMap:
        targets = [columns.get(h, IGNORE) for h in headers]
        items = {i: t[len(ITEM) :] for i, t in enumerate(targets) if t.startswith(ITEM)}
        return cls(headers, targets, items)

    def index(self, target: str) -> int | None:
        return self.targets.index(target) if target in self.targets else None

    @property
    def is_long(self) -> bool:
        return "value" in self.targets

    def check(self) -> None:
        for target in set(self.targets):
            if self.targets.count(target) > 1 and target != IGNORE:
                label = FIELD_LABELS.get(target, target)
                raise MappingError(
                    _("Two columns are both “%(field)s”: keep only one.") % {"field": label}
                )
        identity = {"id_number", "exam_number", "mrn", "passport"}
        if not identity.intersection(self.targets) and not {"name", "phone"} <= set(self.targets):
            raise MappingError(
                _(
                    "A column of ID numbers, exam numbers, record numbers or "
                    "passports (or names and mobile numbers) is needed to know "
                    "whose results they are."
                )
            )
        if "effective_at" not in self.targets:
            raise MappingError(_("A column with the exam date is needed."))
        if self.is_long:
            if not {"item_code", "item_name"}.intersection(self.targets):
                raise MappingError(
                    _("With a result column, a column of item codes or item names is needed too.")
                )
        elif not self.items:
            raise MappingError(
                _("No results: mark the result column, or the column of each exam item.")
            )


def distinct(headers: list[str]) -> list[str]:
    """Headers as the mapping names them: one repeated in the sheet is numbered from its
    second column on ("日期", "日期 #2"), so each can be mapped on its own (a mapping is
    remembered by header). Blank headers stay blank."""
    taken = set(headers)
    seen: dict[str, int] = {}
    named = []
    for header in headers:
        seen[header] = seen.get(header, 0) + 1
        if not header or seen[header] == 1:
            named.append(header)
            continue
        number = seen[header]
        while f"{header} #{number}" in taken:  # a header already called "日期 #2"
            number += 1
        taken.add(f"{header} #{number}")
        named.append(f"{header} #{number}")
    return named


def guess(headers: Iterable[object], item_names: Mapping[str, str]) -> dict[str, str]:
    """A first mapping from the headers: known field names, then catalogue item names
    (item_names: normalised Chinese/English name → LOINC) for wide sheets."""
    guessed: dict[str, str] = {}
    used: set[str] = set()
    compact = {name.replace(" ", ""): code for name, code in item_names.items()}
    for header in headers:
        text = str(header or "").strip()
        if not text:
            continue
        key = _key(text)
        target = _field(key)
        if target and target not in used:
            guessed[text] = target
            used.add(target)
            continue
        bare = _key(re.sub(r"\s*[(（\[].*$", "", text))  # "空腹血糖(mmol/L)" → "空腹血糖"
        code = (
            item_names.get(key)
            or item_names.get(bare)
            or compact.get(key.replace(" ", ""))
            or compact.get(bare.replace(" ", ""))
        )
        guessed[text] = f"{ITEM}{code}" if code else IGNORE
    return guessed


def known_fields(cells: Iterable[object]) -> int:
    """How many cells of a row name a patient or result field as a header does."""
    return sum(1 for cell in cells if _field(_key(cell)))


def name_key(name: str) -> str:
    return _key(name)
