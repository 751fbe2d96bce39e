"""The messages sent to a language model: the template ``prompts/answer.txt`` filled with the
question, the conversation so far and the numbered passages.

Passages, titles and earlier questions are untrusted text: each passage is one JSON object
(so no text inside it can close the block or pose as an instruction), the conversation and
the question likewise, and the template is filled in one pass, so a passage that contains
``{{question}}`` stays text; < and > are escaped, so "</passages>" cannot end the block.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from functools import cache
from importlib.resources import files

from .records import Citation

TEMPLATE = "answer.txt"
_SLOT = re.compile(r"\{\{(\w+)\}\}")
_PART = re.compile(r"^=== (system|user) ===$", re.MULTILINE)


@cache
def load_template(name: str = TEMPLATE) -> dict[str, str]:
    """The template's parts by role: ``{"system": …, "user": …}``."""
    text = files("qa").joinpath("prompts", name).read_text(encoding="utf-8")
    pieces = _PART.split(text)
    return {role: body.strip() for role, body in zip(pieces[1::2], pieces[2::2])}


def fill(template: str, values: dict[str, str]) -> str:
    """``{{name}}`` slots replaced in one pass (values are never read as slots)."""
    return _SLOT.sub(lambda m: values.get(m.group(1), m.group(0)), template)


def quoted(value: object) -> str:
    """``value`` as JSON, with < and > escaped so no text can close a <passages> block."""
    text = json.dumps(value, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e")


def passage_lines(citations: Sequence[Citation], budget_chars: int) -> str:
    """One JSON line per passage; texts are cut so that all of them fit ``budget_chars``
    (each gets an equal share, and what a short one leaves goes to the others)."""
    left, lines = budget_chars, []
    for i, c in enumerate(citations):
        share = left // max(1, len(citations) - i)
        text = c.text if len(c.text) <= share else c.text[: max(0, share - 1)] + "…"
        left -= len(text)
        row = {"n": c.n, "title": c.title, "section": c.section, "page": c.page, "text": text}
        lines.append(quoted(row))
    return "\n".join(lines)


def build_messages(
    question: str,
    citations: Sequence[Citation],
    history: Sequence[str] = (),
    refusal: str = "",
    budget_chars: int = 6000,
) -> list[dict]:
    """The chat messages (system, user) for answering ``question`` from ``citations``."""
    parts = load_template()
    values = {
        "refusal": refusal,
        "passages": passage_lines(citations, budget_chars),
        "history": "\n".join(quoted(h) for h in history) or "（无 / none）",
        "question": quoted(question),
    }
    return [
        {"role": "system", "content": fill(parts["system"], values)},
        {"role": "user", "content": fill(parts["user"], values)},
    ]
