"""Reading spreadsheets row by row without loading them whole: .xlsx (openpyxl read-only)
and .csv (UTF-8, UTF-8 with BOM, or GB18030 as Excel in China saves it)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from django.utils.translation import gettext as _
from openpyxl import load_workbook


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


def _csv_text(handle: BinaryIO) -> io.TextIOWrapper:
    head = handle.read(65536)
    handle.seek(0)
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            head.decode(encoding)
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
            for row in sheet.iter_rows(values_only=True):
                yield list(row)
        else:
            self.handle.seek(0)
            text = _csv_text(self.handle)
            try:
                yield from csv.reader(text)
            finally:
                text.detach()

    def count(self) -> int:
        """Data rows (without the header), for the progress bar."""
        if self.kind == "xlsx":
            sheet = self._workbook.worksheets[0]
            if sheet.max_row:
                return max(0, sheet.max_row - 1)
        return max(0, sum(1 for _ in self.rows()) - 1)

    def close(self) -> None:
        if self._workbook is not None:
            self._workbook.close()


def blank(row: list[Any]) -> bool:
    return all(cell is None or str(cell).strip() == "" for cell in row)
