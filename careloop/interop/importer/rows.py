"""One spreadsheet row → the patient it is about, when, and its results; or what is wrong
with it, column by column. No database access."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.utils.translation import gettext as _

from careloop.clinical.loinc import loinc_problem, looks_like_loinc
from careloop.interop.importer.columns import IGNORE, ITEM, ColumnMap, name_key
from careloop.interop.times import EARLIEST_YEAR, in_the_future, too_early
from careloop.patients import identity
from careloop.patients.validation import identifier_message

LOCAL_TZ = ZoneInfo("Asia/Shanghai")
_SEX = {
    "男": "male",
    "男性": "male",  # as some exam-centre and HIS exports write it
    "女性": "female",
    "m": "male",
    "male": "male",
    "1": "male",
    "女": "female",
    "f": "female",
    "female": "female",
    "2": "female",
}
# A flag written with the number, as exam-centre and LIS exports do: an arrow after it or
# before it ("6.8↑", "↑6.8"), or a letter after it ("6.8 H", "2.1L", "25.0 HH").
_NUMBER = re.compile(
    r"^([↑↓]*)\s*([<>]=?|≤|≥)?\s*([-+]?\d+(?:\.\d+)?)\s*([↑↓]*|HH?|LL?)$", re.IGNORECASE
)
_DATE = re.compile(
    r"^(\d{4})[-/.年]?(\d{1,2})[-/.月]?(\d{1,2})日?(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?$"
)
_SERIAL = re.compile(r"^\d{5}(?:\.\d+)?$")  # 46086 is 2026-03-05, 46086.5 its noon
EXCEL_EPOCH = datetime(1899, 12, 30)  # noqa: DTZ001 - Excel serial dates count from here


@dataclass
class Cell:
    code: str  # LOINC (when known) or the sender's code
    name: str
    value: float | None
    comparator: str
    text: str
    unit: str = ""
    reference: str = ""
    flags: str = ""


@dataclass
class ParsedRow:
    number: int  # the row as Excel numbers it (the header is row 1)
    values: list[Any]
    patient: dict[str, Any] = field(default_factory=dict)
    effective_at: datetime | None = None
    report: str = ""
    results: list[Cell] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what was read other than as written

    def fail(self, column: str, message: str) -> None:
        self.errors.append((column, message))


def text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return unicodedata.normalize("NFKC", str(value)).strip()


def parse_when(value: Any) -> datetime | None:
    """A date or date-time as Excel or a person writes it; local time."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=LOCAL_TZ)
    if isinstance(value, date):
        return datetime.combine(value, time(0, 0), tzinfo=LOCAL_TZ)
    written = text(value)
    if _SERIAL.match(written):  # a serial stored as text: a CSV Excel saved, a text cell
        value = float(written)
    if isinstance(value, int | float) and 20000 < value < 80000:
        return (EXCEL_EPOCH + timedelta(days=float(value))).replace(tzinfo=LOCAL_TZ)
    match = _DATE.match(written)
    if not match:
        return None
    year, month, day, hour, minute, second = match.groups()
    try:
        return datetime(
            int(year),
            int(month),
            int(day),
            int(hour or 0),
            int(minute or 0),
            int(second or 0),
            tzinfo=LOCAL_TZ,
        )
    except ValueError:
        return None


def parse_value(raw: Any) -> tuple[float | None, str, str, str]:
    """(number, comparator, text as written, flag from an arrow) from a result cell."""
    if isinstance(raw, bool):
        return None, "", text(raw), ""
    if isinstance(raw, int | float):
        return float(raw), "", text(raw), ""
    written = text(raw)
    match = _NUMBER.match(written)
    if not match:
        return None, "", written, ""
    before, comparator, number, after = match.groups()
    comparator = {"≤": "<=", "≥": ">="}.get(comparator or "", comparator or "")
    if before and after:  # "↑6.8↓": which is it?
        return None, "", written, ""
    marks = (before or after).upper()
    flag = "H" if "↑" in marks else ("L" if "↓" in marks else marks)
    return float(number), comparator, number, flag


def _measured(code: str) -> bool:
    """Whether the catalogue's item ``code`` is a number with a unit (glucose, not HBsAg)."""
    from careloop.clinical import catalogue

    item = catalogue.current().items.get(code)
    return item is not None and bool(item.unit)


def _not_a_number(row: ParsedRow, target: str, name: str) -> None:
    row.fail(target, _("%(item)s: the result is not a number.") % {"item": name})


def _check_amount(row: ParsedRow, loinc: str, amount: float | None, name: str) -> None:
    """A number is there for a measured item, and one it can have (not negative)."""
    from careloop.clinical.assessment import ImpossibleValue, check_possible

    if amount is None and _measured(loinc):
        _not_a_number(row, "value", name)
        return
    try:
        check_possible(loinc, amount, name)
    except ImpossibleValue:
        row.fail("value", _("%(item)s: a result cannot be negative.") % {"item": name})


def _landline_from_number(value: Any, written: str) -> str:
    mobile_like = written.startswith("1") and not written.startswith("10")
    if not isinstance(value, int | float) or mobile_like:
        return ""
    try:
        return identity.validate_landline("0" + written)
    except identity.IdentifierError:
        return ""


def parse_row(
    number: int, values: list[Any], mapping: ColumnMap, item_codes: dict[str, str]
) -> ParsedRow:
    """``item_codes`` turns an item code or name the sheet uses into a LOINC code."""
    row = ParsedRow(number, values)
    for index, value in enumerate(values[: len(mapping.targets)]):
        target = mapping.targets[index]
        if isinstance(value, str) and "\x00" in value and target != IGNORE:
            # PostgreSQL text cannot hold it (the chunk failed there; SQLite stored it).
            row.fail(
                "value" if target.startswith(ITEM) else target,
                _("The cell holds a NUL character (0x00): remove it and import the row again."),
            )

    def cell(target: str) -> Any:
        index = mapping.index(target)
        return values[index] if index is not None and index < len(values) else None

    name = text(cell("name"))
    if name:
        row.patient["name"] = name[:50]
    if raw_sex := text(cell("sex")):
        sex = _SEX.get(raw_sex.lower())
        if sex is None:
            row.fail("sex", _("Sex must be 男/女, M/F or 1/2."))
        else:
            row.patient["sex"] = sex
    if cell("birth_date") not in (None, ""):
        born = parse_when(cell("birth_date"))
        if born is None:
            row.fail("birth_date", _("The date of birth is not a date (use 1960-05-01)."))
        elif born.date() > datetime.now(LOCAL_TZ).date():  # as the forms and the API refuse it
            row.fail("birth_date", _("The date of birth cannot be in the future."))
        elif born.year < EARLIEST_YEAR:
            row.fail("birth_date", _("The date of birth is too early."))
        else:
            row.patient["birth_date"] = born.date()
    raw_id = text(cell("id_number"))
    if isinstance(cell("id_number"), int | float) and len(raw_id) > 15:
        # Excel keeps 15 digits of a number: an ID number typed into a number cell has lost
        # its last ones (1.10101E+17), and no check digit can say more.
        row.fail(
            "id_number",
            _(
                "The ID number was stored by Excel as a number, which keeps only 15 digits: "
                "format the column as text (文本), type the numbers again and import the file "
                "again."
            ),
        )
    elif raw_id:
        try:
            resident = identity.parse_id_number(raw_id)
        except identity.IdentifierError as exc:
            row.fail("id_number", identifier_message(exc))
        else:
            row.patient["id_number"] = resident.number
            if resident.converted_from:
                row.notes.append(
                    _(
                        "The 15-digit first-generation ID number was converted to its "
                        "18-digit number."
                    )
                )
            for key, derived in (("sex", resident.sex), ("birth_date", resident.birth_date)):
                if row.patient.get(key, derived) != derived:
                    row.fail(
                        key,
                        _("The sex does not match the ID number.")
                        if key == "sex"
                        else _("The date of birth does not match the ID number."),
                    )
                row.patient[key] = derived
    if raw_phone := text(cell("phone")):
        try:
            row.patient["phone"] = identity.validate_phone(raw_phone)
        except identity.IdentifierError as exc:
            # A landline typed into a number cell has lost its leading 0 (010-62345678 →
            # 1062345678; no mobile starts 10, 2–9): put back, as no other number is meant.
            restored = _landline_from_number(cell("phone"), raw_phone)
            if restored:
                row.patient["phone"] = restored
            else:
                row.fail("phone", identifier_message(exc))
    for key in ("mrn", "exam_number", "passport"):
        if value := text(cell(key)):
            row.patient[key] = value[:40].upper() if key == "passport" else value[:40]
    if not (
        {"id_number", "mrn", "exam_number", "passport"} & row.patient.keys()
        or {"name", "phone"} <= row.patient.keys()
        or text(cell("id_number"))  # given but wrong: said above, not "no identifier"
    ):
        row.fail(
            "id_number",
            _(
                "No ID number, exam number, record number or passport (nor "
                "name and mobile number): whose results are these?"
            ),
        )

    when = cell("effective_at")
    row.effective_at = parse_when(when)
    if row.effective_at is None:
        row.fail("effective_at", _("The exam date is missing or not a date (use 2026-11-20)."))
    elif in_the_future(row.effective_at):
        row.fail("effective_at", _("The exam date is in the future."))
    elif too_early(row.effective_at):
        row.fail("effective_at", _("The exam date is before 1900."))
    row.report = text(cell("report"))[:200]

    if mapping.is_long:
        code, item = text(cell("item_code")), text(cell("item_name"))
        raw = cell("value")
        if not (code or item):
            row.fail("item_code", _("Give the item code or the item name."))
        elif raw in (None, ""):
            row.fail("value", _("The result is empty."))
        else:
            loinc = item_codes.get(name_key(code)) or item_codes.get(name_key(item)) or ""
            amount, comparator, written, arrow = parse_value(raw)
            _check_amount(row, loinc, amount, item or code)
            if not loinc and looks_like_loinc(code) and loinc_problem(code):
                row.fail(
                    "item_code",
                    _("%(code)s is not a LOINC code (its check digit is wrong).") % {"code": code},
                )
            row.results.append(
                Cell(
                    code=loinc or code,
                    name=item or code,
                    value=amount,
                    comparator=comparator,
                    text=written[:500],
                    unit=text(cell("unit"))[:30],
                    reference=text(cell("reference"))[:60],
                    flags=(text(cell("flags")).upper()[:10] or arrow),
                )
            )
    else:
        for index, loinc in mapping.items.items():
            raw = values[index] if index < len(values) else None
            if raw in (None, ""):
                continue
            amount, comparator, written, arrow = parse_value(raw)
            header = mapping.headers[index]
            _check_amount(row, loinc, amount, header)
            unit = ""
            if found := re.search(r"[(（]([^)）]+)[)）]", header):
                unit = found[1]
            row.results.append(
                Cell(
                    code=loinc,
                    name=header,
                    value=amount,
                    comparator=comparator,
                    text=written[:500],
                    unit=unit,
                    flags=arrow,
                )
            )
        if not row.results and not row.errors:
            row.fail(f"{ITEM}", _("The row has no results."))
    return row
