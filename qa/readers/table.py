"""Spreadsheets as documents (.xlsx, .csv): each row a passage ``列名：值；列名：值。``
located by sheet and row (``Sheet1 第 12 行``), under a heading per sheet."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

from .base import CORRUPT, MARK, Extract, Location, ReadOptions, UnreadableDocument
from .text import decode_text


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return " ".join(str(value).split())


def row_passage(header: Sequence[str], row: Sequence[str]) -> str:
    """``列名：值；列名：值。`` for the non-empty cells of ``row``."""
    pairs = [f"{name}：{value}" if name else value for name, value in zip(header, row) if value]
    return "；".join(pairs) + "。" if pairs else ""


def rows_text(
    rows: Iterable[Sequence[object]], where: str, heading: str = "", first_row: int = 1
) -> tuple[list[str], list[Location]]:
    """Lines (a heading, then one marked line per data row) and their locations; the
    first non-empty row is the header. Row numbers are the sheet's (1-based)."""
    lines: list[str] = [f"## {heading}"] if heading else []
    locations: list[Location] = []
    header: list[str] | None = None
    for number, raw in enumerate(rows, first_row):
        cells = [_cell(v) for v in raw]
        if not any(cells):
            continue
        if header is None:
            header = [c or f"第{i + 1}列" for i, c in enumerate(cells)]
            continue
        extra = [f"第{i + 1}列" for i in range(len(header), len(cells))]
        passage = row_passage(header + extra, cells)
        if passage:
            lines.append(MARK + passage)
            locations.append(Location(None, f"{where}第 {number} 行".strip(), split=True))
    return lines, locations


def read_csv(data: bytes, options: ReadOptions) -> Extract:
    text = decode_text(data)
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",\t;")
    except csv.Error:
        dialect = csv.excel
    rows = csv.reader(io.StringIO(text), dialect)
    lines, locations = rows_text(rows, "")
    return Extract("\n".join(lines), tuple(locations))


def read_xlsx(data: bytes, options: ReadOptions) -> Extract:
    import zipfile

    import openpyxl

    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError):
        raise UnreadableDocument(CORRUPT.format(kind="Excel（.xlsx）")) from None
    lines: list[str] = []
    locations: list[Location] = []
    try:
        for sheet in book.worksheets:
            rows = sheet.iter_rows(values_only=True)
            more, where = rows_text(rows, f"{sheet.title} ", sheet.title)
            lines += more
            locations += where
    finally:
        book.close()
    return Extract("\n".join(lines), tuple(locations))
