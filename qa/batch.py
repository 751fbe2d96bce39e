"""Answer a question file: batched, deduplicated, written as answers come, resumable.

Rows are answered in input order, ``CHUNK`` at a time through ``Assistant.ask_many`` (one
embedding batch per chunk). Each chunk's records are appended to the output at once: to the
.jsonl or .csv output itself, or for .xlsx to ``OUT.partial.jsonl``, which becomes the
workbook when the run ends. So the output of an interrupted run is always a prefix of the
input, and ``resume`` continues after it.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import logging
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from time import perf_counter

from .answerers.base import Answerer
from .assistant import Assistant, QuestionError, check_question
from .records import Answer
from .tabular import (
    Row,
    carried_name,
    check_output,
    csv_cell,
    flatten,
    output_columns,
    read_table,
    read_xlsx_rows,
    write_xlsx,
)

log = logging.getLogger(__name__)

CHUNK = 32  # questions embedded together


@dataclass
class BatchStats:
    total: int  # rows in the input
    resumed: int = 0  # rows an earlier run had written
    written: int = 0  # rows written by this run
    asked: int = 0  # distinct questions this run sent to the assistant
    errors: int = 0  # error records written by this run
    seconds: float = 0.0
    first_errors: list[tuple[object, str]] = field(default_factory=list)  # (id, message)

    @property
    def rate(self) -> float:
        return self.written / self.seconds if self.seconds else 0.0


# --- answering ------------------------------------------------------------------------------


def error_record(row: Row, message: str) -> dict:
    """The record of a row that could not be answered."""
    return {
        "id": row.id,
        "question": row.question,
        "answer": "",
        "found": False,
        "citations": [],
        "error": message,
    }


def _check(row: Row) -> tuple[str | None, str | None]:
    """``(question, None)`` if the row can be asked, else ``(None, error message)``."""
    if row.error:
        return None, row.error
    try:
        return check_question(row.question), None
    except QuestionError as exc:
        return None, str(exc)


Key = tuple[str, tuple[str, ...]]  # (question, earlier questions of its conversation)
CONVERSATION = "conversation"  # rows sharing this column's value form one conversation


def histories(rows: Sequence[Row]) -> list[tuple[str, ...]]:
    """For each row, the earlier questions of its conversation (rows with the same
    ``conversation`` value, in file order); rows without one stand alone."""
    seen: dict[str, list[str]] = {}
    out: list[tuple[str, ...]] = []
    for row in rows:
        conversation = str(row.fields.get(CONVERSATION) or "").strip()
        if not conversation:
            out.append(())
            continue
        earlier = seen.setdefault(conversation, [])
        out.append(tuple(earlier))
        if row.question and row.question.strip():
            earlier.append(row.question.strip())
    return out


def _ask(assistant: Assistant | Answerer, keys: list[Key]) -> dict[Key, Answer | str]:
    """Answers by (question, history); should the batch fail, each question is asked alone
    and a failure becomes its error message."""
    if not keys:
        return {}
    try:
        return dict(zip(keys, assistant.ask_many([q for q, _ in keys], [h for _, h in keys])))
    except Exception:
        log.exception("a batch of %d questions failed; asking them one by one", len(keys))
    results: dict[Key, Answer | str] = {}
    for key in keys:
        try:
            results[key] = assistant.ask(*key)
        except Exception as exc:
            log.warning("question failed: %r: %s", key[0], exc)
            results[key] = f"回答失败：{exc}"
    return results


def _record(row: Row, result: Answer | str) -> dict:
    """The output record of a row: its answer (or error) plus its carried-through columns."""
    record = error_record(row, result) if isinstance(result, str) else result.to_record(row.id)  # type: ignore[arg-type]
    return record | {carried_name(k): v for k, v in row.fields.items()}


def answer_rows(
    assistant: Assistant | Answerer,
    rows: Sequence[Row],
    chunk_size: int = CHUNK,
    stats: BatchStats | None = None,
    skip: int = 0,
) -> Iterator[list[dict]]:
    """The records of ``rows[skip:]`` in order, one list per chunk of rows; each row is
    asked with the earlier questions of its conversation (skipped rows included).

    Each distinct question is asked once; its answer is kept only until its last duplicate
    has been served. A row that cannot be asked becomes an error record.
    """
    conversation = histories(rows)[skip:]
    rows = rows[skip:]
    checked = [_check(row) for row in rows]
    keys: list[Key | None] = [(q, h) if q else None for (q, _), h in zip(checked, conversation)]
    remaining = Counter(k for k in keys if k)
    cache: dict[Key, Answer | str] = {}
    for start in range(0, len(rows), chunk_size):
        part = list(
            zip(rows[start : start + chunk_size], checked[start : start + chunk_size],
                keys[start : start + chunk_size])
        )  # fmt: skip
        todo = list(dict.fromkeys(k for _, _, k in part if k and k not in cache))
        cache.update(_ask(assistant, todo))
        records = []
        for row, (_, error), key in part:
            if key is None:
                records.append(_record(row, error or ""))
                continue
            records.append(_record(row, cache[key]))
            remaining[key] -= 1
            if not remaining[key]:
                del cache[key]
        if stats:
            stats.asked += len(todo)
            errors = [(r["id"], r["error"]) for r in records if "error" in r]
            stats.errors += len(errors)
            stats.first_errors += errors[: max(0, 10 - len(stats.first_errors))]
        yield records


# --- output ---------------------------------------------------------------------------------


def partial_path(out: Path) -> Path:
    """Where an .xlsx run keeps its records until the workbook is written."""
    return out.with_name(out.name + ".partial.jsonl")


def _truncate(path: Path, keep: int, why: str) -> None:
    """Cut ``path`` to its first ``keep`` bytes: what follows is answered again."""
    log.warning("%s: %s; the rows from byte %d on are answered again", path.name, why, keep)
    with path.open("r+b") as f:
        f.truncate(keep)


def _read_jsonl_records(path: Path) -> list[dict]:
    """Records of a JSONL output. The first line that is unfinished (a killed run), not
    UTF-8 or not a JSON object ends the usable part: the file is cut there."""
    if not path.exists():
        return []
    data = path.read_bytes()
    records: list[dict] = []
    start = 0
    while start < len(data):
        end = data.find(b"\n", start)
        if end < 0:
            _truncate(path, start, "unfinished last line")
            break
        try:
            record = json.loads(data[start:end].decode("utf-8"))
            if not isinstance(record, dict):
                raise ValueError("not an object")
        except ValueError:  # UnicodeDecodeError and JSONDecodeError included
            _truncate(path, start, f"line {len(records) + 1} is damaged")
            break
        records.append(record)
        start = end + 1
    return records


def _csv_rows_with_ends(text: str) -> Iterator[tuple[list[str], int]]:
    """``(row, offset after it)`` for each CSV row of ``text``; a row is complete only when
    that offset follows a line break. Stops at a syntax error."""
    consumed = 0

    def lines() -> Iterator[str]:
        nonlocal consumed
        for line in io.StringIO(text, newline=""):  # splits at \r\n, \n, \r only
            consumed += len(line)
            yield line

    reader = csv.reader(lines())
    try:
        for row in reader:
            yield row, consumed
    except csv.Error as exc:
        log.warning("CSV output unreadable after offset %d: %s", consumed, exc)


def _read_csv_rows(path: Path, columns: list[str]) -> list[dict]:
    """Rows of a CSV output, validated: the file is cut after its last row that is whole
    (ends with a line break, has every column, decodes as UTF-8), so a row torn by a killed
    run, bad bytes or a merged row are answered again; rows are never merged."""
    if not path.exists() or path.stat().st_size == 0:
        return []
    data = path.read_bytes()
    bom = len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0
    try:
        text = data[bom:].decode("utf-8")
    except UnicodeDecodeError as exc:  # a cut inside a character, or foreign bytes
        text = data[bom : bom + exc.start].decode("utf-8")
    rows: list[list[str]] = []
    keep = 0  # characters of ``text`` that hold whole rows
    for row, end in _csv_rows_with_ends(text):
        whole = text[end - 1 : end] in ("\n", "\r")
        if not whole or (rows and len(row) != len(columns)):
            break
        if not rows and row != columns:
            raise ValueError(f"{path.name} 的列与这次的输出不同，无法续跑")
        rows.append(row)
        keep = end
    keep_bytes = (bom + len(text[:keep].encode("utf-8"))) if rows else 0
    if keep_bytes < len(data):
        _truncate(path, keep_bytes, "a torn, undecodable or mismatched row")
    return [dict(zip(columns, r)) for r in rows[1:]]


class Output:
    """The answers file being written. ``done`` holds what an earlier run wrote (records for
    JSONL, flat rows for CSV/XLSX) when resuming; records are appended with ``write``."""

    def __init__(self, path: Path, columns: list[str], resume: bool):
        self.path, self.columns = path, columns
        self.kind = path.suffix.lower()
        check_output(path)
        self.earlier: list[dict] = []  # XLSX: the rows of the existing workbook
        target = partial_path(path) if self.kind == ".xlsx" else path
        if not resume:
            path.unlink(missing_ok=True)
            target.unlink(missing_ok=True)
        if self.kind == ".jsonl":
            self.done = _read_jsonl_records(path)
        elif self.kind == ".csv":
            self.done = _read_csv_rows(path, columns)
        else:
            if path.exists():
                header, self.earlier = read_xlsx_rows(path)
                if header != columns:
                    raise ValueError(f"{path.name} 的列与这次的输出不同，无法续跑")
            self.done = self.earlier + [flatten(r) for r in _read_jsonl_records(target)]
        new = not target.exists() or target.stat().st_size == 0
        if self.kind == ".csv":
            self.file = target.open("a", encoding="utf-8-sig" if new else "utf-8", newline="")
            self.csv = csv.writer(self.file)
            if new:
                self.csv.writerow(columns)
        else:
            self.file = target.open("a", encoding="utf-8")

    def write(self, records: list[dict]) -> None:
        if self.kind == ".csv":
            flat = [flatten(r) for r in records]
            self.csv.writerows([csv_cell(f.get(c)) for c in self.columns] for f in flat)
        else:
            for r in records:
                self.file.write(json.dumps(r, ensure_ascii=False, default=str) + "\n")
        self.file.flush()

    def close(self) -> None:
        self.file.close()

    def finish(self) -> None:
        """Close; for XLSX write the workbook from the earlier rows and the partial file."""
        self.close()
        if self.kind == ".xlsx":
            partial = partial_path(self.path)
            rows = self.earlier + [flatten(r) for r in _read_jsonl_records(partial)]
            write_xlsx(self.path, self.columns, rows)
            partial.unlink()


def _same(a: object, b: object) -> bool:
    return str(a if a is not None else "").strip()[:1000] == str(b).strip()[:1000]


def check_continues(done: list[dict], rows: Sequence[Row], out: Path) -> None:
    """Raise ``ValueError`` unless ``done`` (an earlier run's output) is a prefix of ``rows``."""
    if len(done) > len(rows):
        raise ValueError(f"{out.name} 的行数（{len(done)}）多于问题数（{len(rows)}），无法续跑")
    for n, (d, row) in enumerate(zip(done, rows), 1):
        if not (_same(d.get("id"), row.id) and _same(d.get("question"), row.question)):
            raise ValueError(
                f"{out.name} 第 {n} 条（id {d.get('id')}）与输入（id {row.id}）不一致："
                "这不是同一个问题文件的输出，请换一个输出文件或去掉 --resume"
            )


def run_batch(
    assistant: Assistant | Answerer,
    in_path: str | Path,
    out_path: str | Path,
    resume: bool = False,
    chunk_size: int = CHUNK,
    progress: bool = True,
    on_progress: Callable[[int, int], None] | None = None,
) -> BatchStats:
    """Answer every question of ``in_path`` into ``out_path`` (format by extension).

    ``resume`` keeps what an earlier run wrote to ``out_path`` and answers only the rest;
    ``progress`` shows a tqdm bar on stderr; ``on_progress(done, total)`` is called after
    each chunk. Raises ``ValueError`` for an unusable file (never for a bad row).
    """
    in_path, out_path = Path(in_path), Path(out_path)
    if out_path.resolve() == in_path.resolve():
        raise ValueError("输出文件不能与输入文件相同")
    table = read_table(in_path)
    output = Output(out_path, output_columns(table.columns), resume)
    try:
        check_continues(output.done, table.rows, out_path)
    except ValueError:
        output.close()
        raise
    stats = BatchStats(total=len(table.rows), resumed=len(output.done))
    if stats.resumed:
        log.info("resuming after %d of %d rows", stats.resumed, stats.total)
    from tqdm import tqdm

    bar = tqdm(
        total=stats.total, initial=stats.resumed, unit="q", desc="answering", disable=not progress
    )
    start = perf_counter()
    try:
        for records in answer_rows(assistant, table.rows, chunk_size, stats, skip=stats.resumed):
            output.write(records)
            stats.written += len(records)
            bar.update(len(records))
            if on_progress:
                on_progress(stats.resumed + stats.written, stats.total)
    except BaseException:
        output.close()
        raise
    finally:
        bar.close()
    output.finish()
    stats.seconds = perf_counter() - start
    return stats


def run_eval(
    assistant: Assistant | Answerer, rows: Sequence[Row], progress: bool = True
) -> tuple[list[dict], list[float | None]]:
    """Ask each row alone: its record and its latency in seconds (None for an error row)."""
    from tqdm import tqdm

    records: list[dict] = []
    latencies: list[float | None] = []
    for row, history in zip(
        tqdm(rows, unit="q", desc="evaluating", disable=not progress), histories(rows)
    ):
        question, error = _check(row)
        latency = None
        if question is None:
            result: Answer | str = error or ""
        else:
            start = perf_counter()
            key = (question, history)
            result = _ask(assistant, [key])[key]
            latency = perf_counter() - start if isinstance(result, Answer) else None
        records.append(_record(row, result))
        latencies.append(latency)
    return records, latencies
