"""Readers' feedback on answers (答案有误 / 有帮助), one JSON object a line.

The file lies beside the index folder (``index`` → ``index-feedback.jsonl``): the folder
itself is replaced wholesale each time the index is saved, so a file inside it would be lost.
Each record is written with a single ``O_APPEND`` write under a lock, so lines never
interleave; the file stops growing at ``MAX_FEEDBACK_BYTES`` (``FeedbackFull``).

An editor's 有帮助 also carries gold fields (``answers``, ``evidence`` or ``answerable``), so
``python -m qa eval index-feedback.jsonl`` re-checks that the knowledge base still answers
what editors confirmed. Any visitor may leave feedback, but a visitor's vote is only a vote:
it carries no gold (``by`` is ""), so an anonymous 有帮助 can never make a wrong answer a
reference one; rows without gold are left out of the scores.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
from datetime import datetime, timezone
from pathlib import Path

from .records import Answer

log = logging.getLogger(__name__)

HELPFUL = "helpful"
WRONG = "wrong"
VERDICTS = (HELPFUL, WRONG)
MAX_FEEDBACK_BYTES = 5 * 1024 * 1024
MAX_COMMENT_CHARS = 500
_MARKER = re.compile(r"\[\d+\]")
_lock = threading.Lock()


class FeedbackError(ValueError):
    """Feedback that cannot be recorded (a message for the user)."""


class FeedbackFull(FeedbackError):
    """The feedback file has reached its size cap."""


def feedback_path(index_dir: str | Path) -> Path:
    """Where the feedback of the index in ``index_dir`` is kept (beside the folder)."""
    index_dir = Path(index_dir)
    return index_dir.with_name(f"{index_dir.name}-feedback.jsonl")


def feedback_record(
    answer: Answer, verdict: str, comment: str = "", now: datetime | None = None, by: str = ""
) -> dict:
    """The line written for ``verdict`` on ``answer``: what was asked, shown and cited, the
    reader's comment, who gave it (``by``: the editor's name, "" for a visitor), and for a
    reply an editor found helpful the gold fields ``qa eval`` reads."""
    if verdict not in VERDICTS:
        raise FeedbackError(f"未知的反馈类型：{verdict}")
    comment = (comment or "").strip()
    if len(comment) > MAX_COMMENT_CHARS:
        raise FeedbackError(f"意见太长（{len(comment)} 字），请控制在 {MAX_COMMENT_CHARS} 字以内。")
    when = (now or datetime.now(timezone.utc)).isoformat(timespec="seconds")
    record = {
        "time": when,
        "verdict": verdict,
        "by": by,
        "comment": comment,
        "question": answer.question,
        "query": answer.query,
        "answer": answer.answer,
        "short_answer": answer.short_answer,
        "found": answer.found,
        "confidence": round(answer.confidence, 4),
        "citations": [c.to_json() for c in answer.citations],
    }
    if verdict == HELPFUL and by:
        record |= gold_fields(answer)
    return record


def gold_fields(answer: Answer) -> dict:
    """What a reader's 有帮助 vouches for: the shown answer (and the sentence it came from),
    or, for a refusal, that the documents do not answer the question."""
    if not answer.found:
        return {"answerable": False}
    shown = answer.short_answer or _MARKER.sub("", answer.answer).strip()
    fields: dict = {"answerable": True, "answers": [shown]}
    used = [c.text[s:e] for c in answer.citations for s, e in c.highlights]
    if used:
        fields["evidence"] = used[0]
    return fields


def append_feedback(path: str | Path, record: dict, max_bytes: int = MAX_FEEDBACK_BYTES) -> None:
    """Append ``record`` as one line of ``path``; ``FeedbackFull`` once the file would pass
    ``max_bytes``."""
    path = Path(path)
    line = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
    with _lock:
        path.parent.mkdir(parents=True, exist_ok=True)
        size = path.stat().st_size if path.exists() else 0
        if size + len(line) > max_bytes:
            log.warning("feedback file %s is full (%d bytes)", path, size)
            raise FeedbackFull("反馈记录已满，暂时无法保存，请联系管理员。")
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)


def read_feedback(path: str | Path) -> list[dict]:
    """Every readable record of ``path``, oldest first (a damaged line is skipped)."""
    path = Path(path)
    if not path.exists():
        return []
    out = []
    for n, line in enumerate(path.read_text("utf-8", errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        try:
            out.append(json.loads(line))
        except ValueError:
            log.warning("%s line %d is not JSON; skipped", path, n)
    return out


def is_unjudged_feedback(fields: dict) -> bool:
    """A feedback row without gold (marked wrong, or a visitor's): ``qa eval`` leaves it out."""
    return "verdict" in fields and "answers" not in fields and "answerable" not in fields
