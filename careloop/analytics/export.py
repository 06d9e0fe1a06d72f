"""Excel files of the dashboard: every figure with its parts, and any list behind one.
Patient names are masked in exported files."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from io import BytesIO

from django.utils import timezone
from django.utils.translation import gettext as _
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import Cell
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from careloop.analytics.figure import Figure
from careloop.analytics.listing import Listing, Row
from careloop.analytics.scope import Scope
from careloop.patients.identity import mask_name

MAX_ROWS = 100_000
CHUNK = 2_000

# A figure's value is written as a number (a rate as its fraction) so a supervisor can
# compute with it; the cell's number format shows it as the dashboard does.
NUMBER_FORMATS = {"%": "0.0%", "¥": '"¥"#,##0.00'}
PLAIN_NUMBER = "0.0"
TIME_FORMAT = "yyyy-mm-dd hh:mm"


def _saved(book: Workbook) -> bytes:
    out = BytesIO()
    book.save(out)
    return out.getvalue()


def figures_workbook(scope: Scope, figures: list[Figure]) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = _("Dashboard")
    where = str(scope.organisation or _("all organisations"))
    if scope.team:
        where += " · " + scope.team.name
    if scope.person:
        where += " · " + (scope.person.display_name or scope.person.username)
    sheet.append([_("Period"), f"{scope.first} – {scope.last}", where])
    sheet.append([_("Figure"), _("Value"), _("Part"), _("Count")])
    for figure in figures:
        sheet.append([figure.label, figure.shown if figure.value is None else figure.value, "", ""])
        if figure.value is not None:
            value = sheet.cell(row=sheet.max_row, column=2)
            value.number_format = NUMBER_FORMATS.get(figure.unit, PLAIN_NUMBER)
        for part in figure.parts:
            sheet.append(["", "", part.label, part.count])
    sheet.column_dimensions["A"].width = 40
    sheet.column_dimensions["C"].width = 30
    return _saved(book)


def list_workbook(
    title: str, rows: Listing, shown: Callable[[list[Row]], list[Row]] = lambda r: r
) -> bytes:
    """The list as a sheet; ``shown`` hides what the reader may not see, a chunk at a time."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet(title[:31])
    sheet.append([_("Time"), _("Patient"), _("Card number"), _("What"), _("State")])
    chunks = (shown(rows[n : min(n + CHUNK, MAX_ROWS)]) for n in range(0, MAX_ROWS, CHUNK))
    for row in (row for chunk in chunks for row in chunk):
        patient = row.patient
        sheet.append(
            [
                _time_cell(sheet, row.when) if row.when else "",
                mask_name(patient.name) if patient else "",
                patient.card_number if patient else "",
                row.what,
                row.state,
            ]
        )
    return _saved(book)


def _time_cell(sheet: WriteOnlyWorksheet, when: datetime) -> Cell:
    """A time as a date cell (local time: Excel has no time zones) a reader can sort and
    compute with, shown as on the screen."""
    cell = WriteOnlyCell(sheet, value=timezone.localtime(when).replace(tzinfo=None))
    cell.number_format = TIME_FORMAT
    return cell
