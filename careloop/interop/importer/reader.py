"""Reading spreadsheets row by row without loading them whole: .xlsx (openpyxl read-only)
and .csv (UTF-8, UTF-8 with BOM, or GB18030 as Excel in China saves it)."""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Iterator
from itertools import chain, islice
from pathlib import Path
from typing import Any, BinaryIO

from django.utils.translation import gettext as _
from openpyxl import load_workbook
from openpyxl.utils.cell import range_boundaries
from openpyxl.worksheet._read_only import ReadOnlyWorksheet

from careloop.interop.importer.columns import known_fields

_DIMENSION = re.compile(rb'<(?:\w+:)?dimension\s+ref="([^"]+)"')
_ROW = re.compile(rb"<(?:\w+:)?row[\s>/]")
_MERGE = re.compile(rb'<(?:\w+:)?mergeCell\s+ref="([^"]+)"')
HEAD_ROWS = 10  # how far down the header row is looked for


def _size_from_head(self: Any) -> None:
    """openpyxl's own ``_get_size`` parses the whole sheet when it has no <dimension>
    element (files from many export tools, and openpyxl's write-only mode), once per open;
    the element, when there, is at the top, so reading the head is enough."""
    with self._get_source() as source:
        head = source.read(1 << 16).split(b"sheetData", 1)[0]
    match = _DIMENSION.search(head)
    if match:
        try:
            bounds = range_boundaries(match[1].decode())
        except ValueError:
            return
        self._min_column, self._min_row, self._max_column, self._max_row = bounds


ReadOnlyWorksheet._get_size = _size_from_head  # type: ignore[attr-defined]


class ReadError(ValueError):
    """The file cannot be read as a spreadsheet; the message says why."""


def _kind(name: str) -> str:
    suffix = Path(name).suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        return "xlsx"
    if suffix in (".csv", ".txt"):
        return "csv"
    if suffix == ".xls":
        raise ReadError(_("Old .xls files: save the file as .xlsx in Excel, then import it."))
    raise ReadError(
        _("%(suffix)s files cannot be imported: upload .xlsx or .csv.")
        % {"suffix": suffix or _("Extension-less")}
    )


_BINARY = (
    b"\x89PNG",
    b"%PDF",
    b"\xff\xd8\xff",
    b"GIF8",
    b"\xd0\xcf\x11\xe0",
    b"\xff\xfe",
    b"\xfe\xff",
)


def _csv_text(handle: BinaryIO) -> io.TextIOWrapper:
    head = handle.read(65536)
    handle.seek(0)
    if head.startswith(b"PK\x03\x04"):  # a workbook (a zip) saved under a .csv name
        raise ReadError(
            _("This file is an Excel (.xlsx) workbook named .csv: rename it .xlsx and import it.")
        )
    # Not text: a picture, a PDF, an old .xls, UTF-16 text (a NUL every other byte). A stray
    # NUL in a cell of a text file is that row's error, not the file's.
    if head.startswith(_BINARY) or head.count(b"\x00") > len(head) // 20:
        raise ReadError(
            _(
                "This file is not a CSV text file (it holds binary data): save it as CSV "
                "(UTF-8) or as .xlsx."
            )
        )
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            # Not final: the head ends where it was cut, often inside a character of a file
            # longer than it (a UTF-8 Chinese character is three bytes).
            codecs.getincrementaldecoder(encoding)().decode(head, final=False)
        except UnicodeDecodeError:
            continue
        return io.TextIOWrapper(handle, encoding=encoding, newline="")
    raise ReadError(
        _("The CSV file's character set is not recognised: save it as UTF-8 or GB18030.")
    )


class Sheet:
    """The first worksheet (or the CSV), as a header row and data rows."""

    def __init__(self, handle: BinaryIO, name: str) -> None:
        self.kind = _kind(name)
        self.handle = handle
        self._workbook: Any = None
        self._merged: list[tuple[int, int, int, int]] | None = None
        if self.kind == "xlsx":
            try:
                self._workbook = load_workbook(handle, read_only=True, data_only=True)
            except Exception as exc:  # openpyxl raises many kinds for a broken file
                raise ReadError(
                    _("The file is not a valid Excel (.xlsx) file (%(problem)s).")
                    % {"problem": type(exc).__name__}
                ) from exc

    def rows(self) -> Iterator[list[Any]]:
        if self.kind == "xlsx":
            sheet = self._workbook.worksheets[0]
            if self._merged is None:
                self._merged = self._vertical_merges(sheet)
            starting: dict[int, list[tuple[int, int, int]]] = {}
            for first_col, first_row, last_col, last_row in self._merged:
                starting.setdefault(first_row, []).append((first_col, last_col, last_row))
            spans: list[tuple[int, int, int, Any]] = []  # merges over this row, their value
            for number, cells in enumerate(sheet.iter_rows(values_only=True), start=1):
                row = list(cells)
                for first_col, last_col, last_row in starting.get(number, ()):
                    value = row[first_col - 1] if first_col <= len(row) else None
                    spans.append((first_col, last_col, last_row, value))
                if spans:
                    # A cell merged down over several rows (an exam's name, ID number and
                    # date beside each of its items) holds its value in the first row
                    # alone: each row under it reads it too.
                    row += [None] * (max(last for _, last, _, _ in spans) - len(row))
                    for first_col, last_col, _, value in spans:
                        for column in range(first_col - 1, last_col):
                            if row[column] is None:
                                row[column] = value
                    spans = [merge for merge in spans if merge[2] > number]
                yield row
        else:
            self.handle.seek(0)
            text = _csv_text(self.handle)
            try:
                yield from csv.reader(text)
            finally:
                text.detach()

    def table(self) -> tuple[int, list[Any], Iterator[tuple[int, list[Any]]]]:
        """The header row's number (as Excel numbers rows), its cells, and the rows under
        it with their numbers. The header is the first of the top rows that names at least
        two known fields (姓名, 身份证号, 体检日期 …): exam centres put a title above it,
        often merged across the columns ("XX体检中心体检结果汇总"), and an export date;
        without such a row, the first row that is not blank."""
        rows = enumerate(self.rows(), start=1)
        head = list(islice(rows, HEAD_ROWS))
        filled = [(number, values) for number, values in head if not blank(values)]
        chosen = next(
            ((n, v) for n, v in filled if known_fields(v) >= 2),
            filled[0] if filled else (1, []),
        )
        after = ((n, v) for n, v in head if n > chosen[0])
        return chosen[0], chosen[1], chain(after, rows)

    def count(self, header_number: int = 1) -> int:
        """Data rows (those under the header), for the progress bar."""
        if self.kind == "xlsx":
            sheet = self._workbook.worksheets[0]
            if sheet.max_row and sheet.max_row > 1:
                return max(0, int(sheet.max_row) - header_number)
            return max(0, self._xml_rows(sheet) - header_number)
        return max(0, sum(1 for _ in self.rows()) - header_number)

    def _vertical_merges(self, sheet: Any) -> list[tuple[int, int, int, int]]:
        """The sheet's merged ranges over more than one row, as (first column, first row,
        last column, last row): read from its XML, whose <mergeCells> follow the rows
        (openpyxl's read-only sheets do not give them)."""
        found: list[bytes] = []
        rest = b""
        with self._workbook._archive.open(sheet._worksheet_path) as source:
            while chunk := source.read(1 << 20):
                data = rest + chunk
                cut = data.rfind(b"<")
                data, rest = (data[:cut], data[cut:]) if cut >= 0 else (data, b"")
                found += _MERGE.findall(data)
        found += _MERGE.findall(rest)
        merges = []
        for ref in found:
            try:
                first_col, first_row, last_col, last_row = range_boundaries(ref.decode())
            except (ValueError, TypeError):
                continue
            # (None for a range of whole rows or columns: not a cell's.)
            if first_col and first_row and last_col and last_row and last_row > first_row:
                merges.append((first_col, first_row, last_col, last_row))
        return merges

    def _xml_rows(self, sheet: Any) -> int:
        """Row elements in the sheet's XML, counted without parsing it."""
        count, rest = 0, b""
        with self._workbook._archive.open(sheet._worksheet_path) as source:
            while chunk := source.read(1 << 20):
                data = rest + chunk
                cut = data.rfind(b"<")
                data, rest = (data[:cut], data[cut:]) if cut >= 0 else (data, b"")
                count += len(_ROW.findall(data))
        return count + len(_ROW.findall(rest))

    def close(self) -> None:
        if self._workbook is not None:
            self._workbook.close()


def blank(row: list[Any]) -> bool:
    return all(cell is None or str(cell).strip() == "" for cell in row)
