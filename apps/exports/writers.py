"""Writing rows to CSV (UTF-8 with a BOM, so Excel reads accents) or XLSX (openpyxl's write-only
mode, which keeps one row in memory), with cells that spreadsheets never run as formulas."""

import csv
import datetime as dt
import decimal
import io
import re
from collections.abc import Iterable
from typing import BinaryIO

# Cells a spreadsheet would read as a formula (CSV injection, OWASP): "=", "+", "-", "@", and the
# tab and carriage return that some programs strip before looking.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# Plain numbers (a phone in E.164, a negative amount) are not formulas: they stay as they are.
_NUMBER = re.compile(r"^[+-]?\d+(?:[.,]\d+)*$")
# Characters XLSX (XML 1.0) cannot hold.
_ILLEGAL_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def safe_text(value: str) -> str:
    """`value` as a cell's text: prefixed with a quote when a spreadsheet would run it."""
    if value.startswith(_FORMULA_START) and not _NUMBER.match(value):
        return "'" + value
    return value


def cell(value):
    """A value as written: text made safe, times as ISO 8601 text, lists joined; numbers and
    booleans stay typed (XLSX) or become their text (CSV)."""
    if value is None:
        return ""
    if isinstance(value, bool | int | float | decimal.Decimal):
        return value
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        value = "; ".join(str(item) for item in value)
    return safe_text(str(value))


def write_csv(out: BinaryIO, header: list[str], rows: Iterable[list]) -> int:
    """Write the header and rows; returns the number of data rows."""
    text = io.TextIOWrapper(out, encoding="utf-8-sig", newline="")
    writer = csv.writer(text)
    writer.writerow([safe_text(name) for name in header])
    count = 0
    for row in rows:
        writer.writerow([cell(value) for value in row])
        count += 1
    text.flush()
    text.detach()
    return count


def write_xlsx(out: BinaryIO, header: list[str], rows: Iterable[list], *, title: str) -> int:
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=title[:31])
    sheet.append([safe_text(name) for name in header])
    count = 0
    for row in rows:
        values = [cell(value) for value in row]
        sheet.append([_ILLEGAL_XML.sub("", value) if isinstance(value, str) else
                      float(value) if isinstance(value, decimal.Decimal) else value for value in values])
        count += 1
    workbook.save(out)
    return count
