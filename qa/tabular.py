"""Question files in and answer files out: .txt, .jsonl, .csv and .xlsx.

Reading gives one ``Row`` per question, in file order; a row that cannot be used (bad JSON,
undecodable text) carries an ``error`` instead of aborting the whole file. Writing turns
answer records (``Answer.to_record`` plus carried-through input columns) into JSONL lines or
flat CSV/XLSX rows with a readable sources column.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

from .readers.text import decode as decode_text_lossy

log = logging.getLogger(__name__)

INPUT_SUFFIXES = (".txt", ".jsonl", ".csv", ".xlsx")
OUTPUT_SUFFIXES = (".jsonl", ".csv", ".xlsx")
QUESTION_NAMES = ("question", "问题")
ID_NAMES = ("id",)
RECORD_KEYS = (
    "id", "question", "answer", "short_answer", "found", "confidence", "reason",
    "mode", "notice", "sentences", "citations", "error",
)  # fmt: skip
# CSV/XLSX output: the record flattened; carried-through input columns follow.
FLAT_COLUMNS = (
    "id", "question", "answer", "short_answer", "found", "confidence", "reason",
    "mode", "notice", "source", "sources", "error",
)  # fmt: skip
EXCERPT_CHARS = 150
XLSX_MAX_CELL = 32767
_ILLEGAL_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_MARKER = re.compile(r"\[\d+\]")

csv.field_size_limit(1 << 24)  # a long cell is data, not an error


@dataclass
class Row:
    """One question of an input file; ``fields`` are its other columns (gold data included)."""

    id: object  # the file's id, else the line (TXT/JSONL) or sheet row (CSV/XLSX) number
    question: str
    fields: dict = field(default_factory=dict)
    error: str | None = None  # why the row cannot be asked, found while reading


@dataclass
class Table:
    rows: list[Row]
    columns: list[str]  # names of the carried-through columns, in input order


# --- reading -------------------------------------------------------------------------------


def decode(data: bytes) -> tuple[str, str, bool]:
    """``(text, encoding, lossy)`` by the one decoder of ``qa.readers.text``, lenient:
    ``lossy`` means some bytes became U+FFFD, and the rows holding them are reported as
    undecodable rather than answered as mojibake."""
    return decode_text_lossy(data, allow_lossy=True)


def read_table(path: str | Path) -> Table:
    """The questions of ``path`` (.txt, .jsonl, .csv or .xlsx).

    Raises ``ValueError`` for an unsupported file or a table without a question column.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in INPUT_SUFFIXES:
        raise ValueError(f"不支持的问题文件 {path.name}：请用 .txt、.jsonl、.csv 或 .xlsx")
    if suffix == ".xlsx":
        return _read_xlsx(path)
    text, encoding, lossy = decode(path.read_bytes())
    log.info("%s: decoded as %s%s", path.name, encoding, " (lossy)" if lossy else "")
    table = {".txt": _read_txt, ".jsonl": _read_jsonl, ".csv": _read_csv}[suffix](text)
    if lossy:
        for row in table.rows:
            if row.error is None and "\ufffd" in row.question:
                row.error = f"无法解码的文字（文件按 {encoding} 读取）：请检查这一行的编码。"
    return table


def _lines(text: str) -> list[str]:
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


def _read_txt(text: str) -> Table:
    """One question a line; blank lines are skipped, ids are line numbers."""
    rows = [Row(n, line) for n, line in enumerate(_lines(text), 1) if line.strip()]
    return Table(rows, [])


def _find(names: list[str], wanted: tuple[str, ...]) -> str | None:
    return next((n for n in names if str(n).strip().lower() in wanted), None)


def _row(number: int, values: dict, question_key: str | None) -> Row:
    """A row from named values: the id column if set, else ``number``; the rest carried."""
    id_key = _find(list(values), ID_NAMES)
    row_id = values.get(id_key) if id_key else None
    row_id = number if row_id is None or row_id == "" else row_id
    question = values.get(question_key) if question_key else None
    fields = {k: v for k, v in values.items() if k not in (id_key, question_key)}
    question = "" if question is None else question if isinstance(question, str) else str(question)
    return Row(row_id, question, fields)


def _read_jsonl(text: str) -> Table:
    """One JSON object a line with a ``question`` key and optional ``id``."""
    rows: list[Row] = []
    columns: dict[str, None] = {}
    for n, line in enumerate(_lines(text), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            rows.append(Row(n, "", error=f"第 {n} 行不是有效的 JSON：{exc.msg}"))
            continue
        if not isinstance(obj, dict):
            rows.append(Row(n, "", error=f"第 {n} 行不是 JSON 对象"))
            continue
        key = _find(list(obj), QUESTION_NAMES)
        row = _row(n, obj, key)
        if key is None:
            row.error = f"第 {n} 行没有 question 字段"
        rows.append(row)
        columns.update(dict.fromkeys(row.fields))
    return Table(rows, list(columns))


def _table(records: list[tuple[int, list]], what: str) -> Table:
    """Rows from a header record and data records ``(sheet row number, cells)``."""
    if not records:
        raise ValueError(f"{what}是空的：第一行应是列名，其中一列名为 question 或 问题")
    header = ["" if h is None else str(h).strip() for h in records[0][1]]
    question_key = _find(header, QUESTION_NAMES)
    if question_key is None:
        found = "、".join(h for h in header if h) or "（无）"
        raise ValueError(f"{what}没有问题列：需要名为 question 或 问题 的列（现有列：{found}）")
    named = [(i, h) for i, h in enumerate(header) if h]  # unnamed columns are dropped
    rows = []
    for number, cells in records[1:]:
        if all(c is None or str(c).strip() == "" for c in cells):
            continue
        values = {h: cells[i] if i < len(cells) else None for i, h in named}
        rows.append(_row(number, values, question_key))
    id_key = _find(header, ID_NAMES)
    return Table(rows, [h for _, h in named if h not in (question_key, id_key)])


def _read_csv(text: str) -> Table:
    """A header row, then one question a row; comma- or tab-separated."""
    first = text.split("\n", 1)[0]
    delimiter = "\t" if "\t" in first and "," not in first else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        records = list(enumerate(reader, 1))
    except csv.Error as exc:
        raise ValueError(f"CSV 文件格式有误：{exc}") from exc
    return _table(records, "CSV 文件")


def _read_xlsx(path: Path) -> Table:
    """The first sheet that has a question column (header in its first row)."""
    import openpyxl

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a damaged or foreign file
        raise ValueError(f"无法打开 Excel 文件 {path.name}：{exc}") from exc
    try:
        error = None
        for sheet in book.worksheets:
            records = [(n, list(r)) for n, r in enumerate(sheet.iter_rows(values_only=True), 1)]
            try:
                return _table(records, f"工作表“{sheet.title}”")
            except ValueError as exc:
                error = error or exc
        raise error or ValueError(f"Excel 文件 {path.name} 没有工作表")
    finally:
        book.close()


# --- answer records as flat rows -----------------------------------------------------------


def check_output(path: Path) -> None:
    """Raise ``ValueError`` unless ``path`` is an answers format."""
    if path.suffix.lower() not in OUTPUT_SUFFIXES:
        raise ValueError(f"不支持的输出文件 {path.name}：请用 .jsonl、.csv 或 .xlsx")


def carried_name(key: str) -> str:
    """The output name of an input column: ``input_<key>`` if it would clobber a record key."""
    return f"input_{key}" if key in RECORD_KEYS or key in FLAT_COLUMNS else key


def excerpt(text: str, focus: str = "", width: int = EXCERPT_CHARS) -> str:
    """``width`` characters of ``text`` on one line, starting a little before ``focus``."""
    text = " ".join(text.split())
    at = text.find(focus) if focus else -1
    start = max(0, at - 20) if at > 0 else 0
    cut = text[start : start + width]
    return ("…" if start else "") + cut + ("…" if start + width < len(text) else "")


def sources_text(record: dict) -> str:
    """``[n] document · section · location: excerpt`` lines for the record's citations."""
    answer = _MARKER.sub("", record.get("answer") or "").strip()
    lines = []
    for c in record.get("citations") or []:
        section = "".join(f" · {c[k]}" for k in ("section", "location") if c.get(k))
        lines.append(f"[{c['n']}] {c['source']}{section}: {excerpt(c['text'], answer)}")
    return "\n".join(lines)


def flatten(record: dict) -> dict:
    """The record as one CSV/XLSX row: citations become ``source`` and ``sources``."""
    citations = record.get("citations") or []
    flat = {k: v for k, v in record.items() if k not in ("citations", "sentences")}
    flat["source"] = citations[0]["source"] if citations else ""
    flat["sources"] = sources_text(record)
    flat.setdefault("error", "")
    return flat


def output_columns(carried: list[str]) -> list[str]:
    return [*FLAT_COLUMNS, *(carried_name(c) for c in carried)]


_PLAIN_NUMBER = re.compile(r"[-+]?\d+(\.\d+)?")


def csv_cell(value: object) -> str:
    """A CSV cell's text; text that Excel would take for a formula is quoted with '."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False)
    text = str(value)
    if text[:1] in ("=", "+", "-", "@", "\t", "\r") and not _PLAIN_NUMBER.fullmatch(text):
        return "'" + text  # a spreadsheet would run it as a formula
    return text


def xlsx_cell(sheet, value: object):
    """A write-only cell: text cleaned of characters XML forbids, never read as a formula."""
    from openpyxl.cell import WriteOnlyCell

    if isinstance(value, (list, dict)):
        value = json.dumps(value, ensure_ascii=False)
    if isinstance(value, str):
        value = _ILLEGAL_XML.sub("", value)[:XLSX_MAX_CELL]
    cell = WriteOnlyCell(sheet, value=value)
    if isinstance(value, str) and cell.data_type == "f":
        cell.data_type = "s"
    return cell


def write_xlsx(path: Path, columns: list[str], rows: list[dict]) -> None:
    """Write the whole sheet at once (XLSX cannot be appended to)."""
    import openpyxl

    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet("answers")
    sheet.append([xlsx_cell(sheet, c) for c in columns])
    for row in rows:
        sheet.append([xlsx_cell(sheet, row.get(c)) for c in columns])
    tmp = path.with_name(path.name + ".tmp")
    book.save(tmp)
    tmp.replace(path)


def read_xlsx_rows(path: Path) -> tuple[list[str], list[dict]]:
    """Header and rows (as dicts) of the first sheet of an answers workbook."""
    import openpyxl

    book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        rows = list(book.worksheets[0].iter_rows(values_only=True))
    finally:
        book.close()
    if not rows:
        return [], []
    header = [str(h) for h in rows[0]]
    return header, [dict(zip(header, r)) for r in rows[1:]]
