"""Each document's own subject (``grounding.document_subject``), learned once per index and
cached beside it as ``subjects.json``, so a question never pays for tagging a document's
opening (~0.1-0.3 s a document on two cores: a question reaching 8 new documents of a large
index took seconds).

The cache is keyed by the indexed text (``vocabulary_key``: a hash of the passage ids), the
tokenizer's dictionary (``Tokenizer.key``) and the learning rule's version
(``SUBJECT_VERSION``), which are all a subject depends on, so a cached subject is the one the
question would have learned."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable
from pathlib import Path

from .grounding import SUBJECT_SAMPLE_CHARS, SUBJECT_VERSION, document_subject
from .text import Tokenizer
from .vocabulary import vocabulary_key

log = logging.getLogger(__name__)

SUBJECTS_FILE = "subjects.json"
READ_BATCH = 16  # passages read at a time: only as many as the opening sample needs


def opening(chunks, source: str) -> tuple[str, list[str]]:
    """The title of ``source`` and the texts of its first passages, in order, until they
    hold ``SUBJECT_SAMPLE_CHARS`` characters (``chunks``: a store's id -> passage map)."""
    ids, texts, title = list(chunks.fids_of(source)), [], ""
    for at in range(0, len(ids), READ_BATCH):
        part = chunks.many(ids[at : at + READ_BATCH])
        title = title or part[0].title
        texts += [c.text for c in part]
        if sum(map(len, texts)) >= SUBJECT_SAMPLE_CHARS:
            break
    return title, texts


def learn_subjects(
    kb, tokenizer: Tokenizer, sources: Iterable[str] | None = None
) -> dict[str, str]:
    """source -> subject for ``sources`` (default: every document of ``kb``)."""
    sources = list(kb.sources if sources is None else sources)
    out, start = {}, time.monotonic()
    for i, source in enumerate(sources, 1):
        title, texts = opening(kb.chunks, source)
        out[source] = document_subject(title, texts, tokenizer)
        if i % 1000 == 0:
            eta = (len(sources) - i) * (time.monotonic() - start) / i
            log.info("subjects: %d/%d documents, ETA %.0f s", i, len(sources), eta)
    return out


def subjects_key(kb, tokenizer: Tokenizer) -> str:
    return f"{vocabulary_key(kb)}:{tokenizer.key()}:{SUBJECT_VERSION}"


def load_subjects(index_dir: str | Path | None, key: str) -> dict[str, str]:
    """The cached subjects when they were learned for ``key``, else none."""
    if index_dir is None:
        return {}
    try:
        cached = json.loads((Path(index_dir) / SUBJECTS_FILE).read_text("utf-8"))
        if cached.get("key") == key:
            return {str(k): str(v) for k, v in cached["subjects"].items()}
    except (OSError, ValueError, KeyError, AttributeError):
        pass
    return {}


def write_subjects(index_dir: str | Path, key: str, subjects: dict[str, str]) -> None:
    """Cache ``subjects`` (atomically: temp file, then rename); a failure is only logged."""
    path = Path(index_dir) / SUBJECTS_FILE
    try:
        tmp = path.with_suffix(".tmp")
        blob = json.dumps({"key": key, "subjects": subjects}, ensure_ascii=False)
        tmp.write_text(blob, "utf-8")
        tmp.replace(path)
    except OSError as exc:
        log.warning("cannot cache document subjects in %s: %s", path, exc)


def ensure_subjects(
    kb, tokenizer: Tokenizer, index_dir: str | Path, learn_at_most: int | None = None
) -> dict[str, str]:
    """Every document's subject, from the cache in ``index_dir`` when it is current;
    the missing ones are learned and the cache rewritten — unless there are more than
    ``learn_at_most`` of them (a stale cache of a large index: hours of tagging at start),
    then only the cached ones are returned and the rest are learned when a question needs
    them (``qa index`` learns them all)."""
    key = subjects_key(kb, tokenizer)
    subjects = load_subjects(index_dir, key)
    missing = [s for s in kb.sources if s not in subjects]
    if missing and learn_at_most is not None and len(missing) > learn_at_most:
        log.info("%d document subjects not cached: learned per question", len(missing))
        return subjects
    if missing:
        subjects |= learn_subjects(kb, tokenizer, missing)
        if Path(index_dir).is_dir():
            write_subjects(index_dir, key, subjects)
    return subjects
