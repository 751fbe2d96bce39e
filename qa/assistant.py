"""Load once, answer many: the engine's entry point for the CLI, batch runs and the app."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from embeddings import Encoder, load_encoder

from .answering import (
    NUMBER_QUESTION,
    QUESTION_NUMBER,
    AnswerParams,
    Evidence,
    missing_numbers,
    rerank,
    score_sentences,
    trim_sentence,
    weighted_terms,
)
from .chunking import ChunkParams
from .docstore import DocStore, now, with_removal, with_restore, with_upload
from .errors import QuestionError, StorageError, storage_error
from .followup import needs_context, rewrite_followup
from .grounding import REASONS, document_region, document_subject, document_year, with_its_year
from .indexing import (
    DEFAULT_CORPUS,
    DEFAULT_INDEX,
    add_documents,
    file_hashes,
    files_fingerprint,
    open_index,
)
from .indexing import remove_document as _remove_document
from .readers import UnreadableDocument, read_document, supported_suffixes
from .records import Answer, Citation, Passage, Sentence
from .retrieval import Retriever
from .selection import AnswerSelector
from .store import MANIFEST, IndexMismatch, KnowledgeBase, load, read_manifest, save
from .subjects import ensure_subjects, opening
from .text import Tokenizer, plain_text
from .vocabulary import load_vocabulary

log = logging.getLogger(__name__)

NOT_FOUND = "资料中没有找到能回答这个问题的内容。"
EAGER_SUBJECTS = 20  # at most this many uncached document subjects are learned at open
MAX_QUESTION_CHARS = 500


def check_question(question: object, max_chars: int = MAX_QUESTION_CHARS) -> str:
    """The question as plain text (no markup, escapes or control characters) and stripped,
    or ``QuestionError`` with a message for the user."""
    question = plain_text(question).strip() if isinstance(question, str) else ""
    if not question:
        raise QuestionError("问题为空：请输入一个问题。")
    if len(question) > max_chars:
        raise QuestionError(f"问题太长（{len(question)} 字），请控制在 {max_chars} 字以内。")
    return question


HISTORY_MESSAGE = "对话历史应是此前各个问题组成的列表（每项一个问题的文字）。"


def check_history(history: object) -> list[str]:
    """The conversation's earlier questions as plain-text strings, oldest first: none for
    ``None``, one for a lone string (not its characters); ``QuestionError`` for anything
    else (a number, a mapping, a list holding other things)."""
    if history is None:
        return []
    if isinstance(history, str):
        history = [history]
    if not isinstance(history, (list, tuple)) or not all(isinstance(h, str) for h in history):
        raise QuestionError(HISTORY_MESSAGE)
    return [text for h in history if (text := plain_text(h).strip())]


@dataclass(frozen=True)
class Settings:
    top_k: int = 5  # passages cited
    lexical_weight: float = 0.6  # tuned on the dev set and CMRC 2018 trial
    candidates: int = 100
    answer: AnswerParams = AnswerParams()
    rule: str = "calibrated"  # "calibrated" (grounding + answerability model) or "coverage"


@dataclass(frozen=True)
class Snapshot:
    """What one question is answered from: a knowledge base, the retriever (BM25, IDF) built
    on it, and the document subjects learned from it. A change swaps in a new one."""

    kb: KnowledgeBase
    retriever: Retriever
    subjects: dict[str, str] = field(default_factory=dict)
    regions: dict[str, str] = field(default_factory=dict)


class Assistant:
    """Answers questions from a knowledge base with cited, extractive answers.

    Thread-safe. Each question reads one ``Snapshot``; ``add_files``/``remove_document``/
    ``restore_document`` build the changed knowledge base aside, save it, then swap a new
    snapshot in under a short lock, so questions are answered meanwhile.
    """

    def __init__(
        self,
        kb: KnowledgeBase,
        encoder: Encoder,
        tokenizer: Tokenizer | None = None,
        settings: Settings = Settings(),
        index_dir: str | Path | None = None,
    ):
        self.encoder = encoder
        self.tokenizer = tokenizer or Tokenizer()
        self.settings = settings
        self.index_dir = Path(index_dir) if index_dir else None
        self.tokenizer.add_words(load_vocabulary(kb, self.tokenizer, self.index_dir))
        self._snapshot = Snapshot(
            kb, Retriever(kb, encoder, self.tokenizer, settings.lexical_weight, settings.candidates)
        )
        self._reading = threading.local()  # the snapshot this thread's question started with
        self.selector = AnswerSelector(
            self.tokenizer,
            lambda t: self.retriever.bm25.idf(t),
            lambda t: self.retriever.bm25.document_frequency(t),
            self._subject_of,
            settings.answer,
            region_of=self._region_of,
        )
        self._lock = threading.RLock()  # the engine lock: held to search and to swap
        self._change_lock = threading.RLock()  # one change (or reload) at a time
        self._stamp = self._disk_stamp()  # the index on disk this kb was loaded/saved as

    def snapshot(self) -> Snapshot:
        """The snapshot this thread reads: the one its current question started with, else
        the latest."""
        return getattr(self._reading, "snapshot", None) or self._snapshot

    @property
    def kb(self) -> KnowledgeBase:
        return self.snapshot().kb

    @property
    def retriever(self) -> Retriever:
        return self.snapshot().retriever

    @classmethod
    def open(
        cls,
        index_dir: str | Path = DEFAULT_INDEX,
        corpus: str | Path | None = DEFAULT_CORPUS,
        model: str | Encoder | None = None,
        chunking: ChunkParams = ChunkParams(),
        settings: Settings = Settings(),
        progress: bool = False,
    ) -> Assistant:
        """Open (building or refreshing as needed) the index of ``corpus`` in ``index_dir``.

        ``corpus=None`` uses the index as it is. ``model=None`` takes the index's own model,
        else the default one.
        """
        if model is None or isinstance(model, str):
            manifest = read_manifest(index_dir) or {}
            model = load_encoder(model or manifest.get("model"))
        tokenizer = Tokenizer()
        kb = open_index(corpus, index_dir, model, chunking, progress, tokenizer=tokenizer)
        assistant = cls(kb, model, tokenizer, settings=settings, index_dir=index_dir)
        subjects = ensure_subjects(kb, assistant.tokenizer, index_dir, EAGER_SUBJECTS)
        assistant._snapshot.subjects.update(subjects)
        return assistant

    # --- answering -------------------------------------------------------------

    def ask(
        self,
        question: str,
        history: Sequence[str] = (),
        sources: Collection[str] | None = None,
    ) -> Answer:
        """Answer one question; ``history`` holds the conversation's earlier questions,
        oldest first, so a follow-up ("那2003年呢？") is read with them; ``sources`` (document
        names) limits retrieval to those documents (``None``: all)."""
        return self.ask_many([question], [history], sources)[0]

    def ask_many(
        self,
        questions: Sequence[str],
        histories: Sequence[Sequence[str]] | None = None,
        sources: Collection[str] | None = None,
    ) -> list[Answer]:
        """Answer several questions, embedding them in one batch; ``histories[i]`` is the
        conversation before ``questions[i]`` (none by default); ``sources`` as in ``ask``."""
        questions = [check_question(q) for q in questions]
        histories = [check_history(h) for h in histories] if histories else [[] for _ in questions]
        queries = [rewrite_followup(q, h) for q, h in zip(questions, histories)]
        outer = getattr(self._reading, "snapshot", None)
        with self._lock:
            snapshot = outer or self._snapshot  # search, IDF and subjects read the same one
        self._reading.snapshot = snapshot
        try:
            with self._lock:
                ranked = snapshot.retriever.search_many(queries, self.settings.top_k, sources)
            return [self._answer(q, s, p) for q, s, p in zip(questions, queries, ranked)]
        finally:
            self._reading.snapshot = outer

    def _answer(self, question: str, query: str, passages: list[Passage]) -> Answer:
        if self.settings.rule == "coverage":
            return self._answer_by_coverage(question, query, passages)
        decision = self.selector.decide(query, passages)
        alone = query == question and needs_context(question)  # "那2003年呢？" with no history
        c = None if alone else decision.chosen
        order = rerank(passages, decision.evidence)
        if c is not None:  # the answer's passage is cited first
            order = [c.evidence.passage] + [i for i in order if i != c.evidence.passage]
        position = {old: new for new, old in enumerate(order)}
        highlights: dict[int, list[tuple[int, int]]] = {}
        sentences: tuple[Sentence, ...] = ()
        why = ""
        if c is not None:
            n = position[c.evidence.passage] + 1
            highlights[c.evidence.passage] = list(decision.spans)
            year = document_year(passages[c.evidence.passage].chunk.date)
            short = with_its_year(c.short, year) or decision.quote  # 今年 → 今年（2020年）
            quote = f"{decision.quote}[{n}]"
            answer = quote if short == decision.quote else f"{short}\n{quote}"
            sentences = (Sentence(decision.quote, (n,), True),)
        else:
            short = ""
            why = REASONS["followup"] if alone else decision.reason
            answer = NOT_FOUND if why == NOT_FOUND else f"{NOT_FOUND}{why}"
        extra = {
            "evidence_score": c.evidence.score if c else 0.0,
            "coverage": c.evidence.coverage if c else 0.0,
        }
        return Answer(
            question,
            answer,
            c is not None,
            self._citations(passages, order, highlights),
            query,
            short_answer=short,
            confidence=0.0 if alone else decision.confidence,
            reason="" if c is not None else why,
            sentences=sentences,
            extra=extra,
        )

    def _citations(
        self, passages: list[Passage], order: list[int], highlights: dict[int, list]
    ) -> tuple[Citation, ...]:
        return tuple(
            Citation(
                n=new + 1,
                source=passages[old].chunk.source,
                title=passages[old].chunk.title,
                section=passages[old].chunk.section_path,
                text=passages[old].chunk.text,
                score=passages[old].score,
                highlights=tuple(highlights.get(old, ())),
                page=passages[old].chunk.page,
                page_end=passages[old].chunk.page_end,
                location=passages[old].chunk.location,
                date=passages[old].chunk.date,
            )
            for new, old in enumerate(order)
        )

    def _answer_by_coverage(self, question: str, query: str, passages: list[Passage]) -> Answer:
        """The earlier rule, kept to compare against: one threshold on term coverage."""
        params = self.settings.answer
        weights = weighted_terms(self.tokenizer.tokens(query), self.retriever.bm25.idf)
        evidence = score_sentences(query, weights, passages, params)
        order = rerank(passages, evidence)
        position = {old: new for new, old in enumerate(order)}
        best = evidence[0] if evidence else None
        found = best is not None and self._covers(query, best, passages)
        highlights: dict[int, list[tuple[int, int]]] = {}
        if best is not None and found:
            sentence = passages[best.passage].chunk.text[best.start : best.end]
            wants_number = bool(NUMBER_QUESTION.search(query))
            numbers = tuple(QUESTION_NUMBER.findall(query))
            text = trim_sentence(sentence, weights, params.max_answer_chars, wants_number, numbers)
            highlights[best.passage] = [(best.start, best.end)]
            answer = f"{text}[{position[best.passage] + 1}]"
        else:
            answer = NOT_FOUND
        citations = self._citations(passages, order, highlights)
        return Answer(question, answer, found, citations, query, short_answer="")

    def _covers(self, query: str, best: Evidence, passages: list[Passage]) -> bool:
        chunk = passages[best.passage].chunk
        if missing_numbers(query, f"{chunk.section_path}\n{chunk.text}"):
            return False
        return best.coverage >= self.settings.answer.min_coverage

    def _subject_of(self, passage: Passage) -> str:
        """The document's own subject (learned once per document)."""
        source, snapshot = passage.chunk.source, self.snapshot()
        if source not in snapshot.subjects:  # cached for the index by ``open`` (qa/subjects.py)
            _, texts = opening(snapshot.kb.chunks, source)
            snapshot.subjects[source] = document_subject(passage.chunk.title, texts, self.tokenizer)
        return snapshot.subjects[source]

    def _region_of(self, passage: Passage) -> str:
        """The province the document's place lies in (learned once per document, from all
        of its text: a province is named seldom, and not always in the opening)."""
        source, snapshot = passage.chunk.source, self.snapshot()
        if source not in snapshot.regions:
            chunks = snapshot.kb.chunks
            texts = [c.text for c in chunks.many(list(chunks.fids_of(source)))]
            texts.append(passage.chunk.title)
            region = document_region(texts, self.tokenizer, self._subject_of(passage))
            snapshot.regions[source] = region
        return snapshot.regions[source]

    # --- knowledge base management ----------------------------------------------

    def documents(self) -> list[dict]:
        """One row per document: source, title, number of chunks (from one snapshot; per
        document its passage ids and its first passage, not every passage's text)."""
        kb, rows = self.kb, []
        for source in kb.sources:
            fids = list(kb.chunks.fids_of(source))
            if fids:
                title = kb.chunks.many(fids[:1])[0].title
                rows.append({"source": source, "title": title, "chunks": len(fids)})
        return rows

    def add_files(
        self,
        paths: Sequence[str | Path],
        names: Sequence[str] | None = None,
        progress: Callable[[int, int], None] | None = None,
        by: str = "local",
    ) -> int:
        """Read, chunk and embed files into the knowledge base (a same-named document is
        replaced); their originals are kept in the document store. Raises
        ``UnreadableDocument`` for a file that cannot be read and ``StorageError`` when the
        change cannot be saved (then nothing changed, in memory or on disk).
        ``progress(done, total)`` follows the embedding, in passages."""
        names = list(names) if names else [Path(p).name for p in paths]
        docs = [read_document(p, name) for p, name in zip(paths, names)]
        hashes = {n: file_hashes([Path(p)])[Path(p).name] for p, n in zip(paths, names)}
        known = set(self.kb.manifest.get("documents", {}))
        encoder = _Progress(self.encoder, progress) if progress else self.encoder

        def change(kb: KnowledgeBase, state: dict, store: DocStore | None):
            audit = []
            for path, name in zip(paths, names):
                if store is not None:
                    entry = store.put_blob(path) | {"by": by, "at": now()}
                    state = with_upload(state, name, entry)
                audit.append(("replace" if name in known else "add", name, by, hashes[name]))
            added = add_documents(kb, docs, encoder, self._chunking(), hashes, self.kb)
            return added, state, audit

        return self._change(change)

    def remove_document(self, source: str, by: str = "local") -> int:
        """Remove one document (its passages and vectors); the removal is recorded, so a
        rebuild does not bring a bundled document back (``restore_document`` does).
        Returns the number of passages removed (0: no such document, nothing changed)."""

        def change(kb: KnowledgeBase, state: dict, store: DocStore | None):
            sha = kb.manifest.get("documents", {}).get(source)
            removed = _remove_document(kb, source)
            if not removed and source not in self._files(state):
                return 0, None, []
            return removed, with_removal(state, source, by), [("remove", source, by, sha)]

        return self._change(change)

    def restore_document(self, source: str, by: str = "local") -> int:
        """Bring a removed document back (a bundled one from the corpus folder, an upload
        from the store); returns its number of passages, 0 when it was not removed."""

        def change(kb: KnowledgeBase, state: dict, store: DocStore | None):
            if source not in state["removed"]:
                return 0, None, []
            state = with_restore(state, source)
            path = self._files(state).get(source)
            if path is None:
                raise UnreadableDocument(f"{source} 的原文件已不存在，无法恢复")
            doc = read_document(path, source)
            sha = file_hashes([path])[path.name]
            added = add_documents(kb, [doc], self.encoder, self._chunking(), {source: sha}, self.kb)
            return added, state, [("restore", source, by, sha)]

        return self._change(change)

    def removed_documents(self) -> list[str]:
        """Names of removed documents an editor can restore."""
        return sorted(self.store.state()["removed"]) if self.store else []

    def document_file(self, digest: str) -> Path | None:
        """The original file of the document whose content hash (as in the manifest) is
        ``digest``: from the corpus folder or the document store, never any other path."""
        names = [n for n, h in self.kb.manifest.get("documents", {}).items() if h == digest]
        if not names or self.store is None:
            return None
        path = self._files(self.store.state()).get(names[0])
        if path is None or not path.is_file() or file_hashes([path])[path.name] != digest:
            return None
        return path

    def reload_if_changed(self) -> bool:
        """Pick up a change another process (``python -m qa kb``) saved: load the index
        from disk and swap it in. Cheap (one ``stat``) when nothing changed."""
        if self.index_dir is None or self._disk_stamp() in (None, self._stamp):
            return False
        with self._change_lock:
            stamp = self._disk_stamp()
            if stamp in (None, self._stamp):
                return False
            try:
                kb = load(self.index_dir)
            except IndexMismatch as exc:
                log.warning("not reloading %s: %s", self.index_dir, exc)
                self._stamp = stamp
                return False
            if kb.manifest.get("model") != self.encoder.name:
                log.warning("not reloading %s: built with another model", self.index_dir)
                self._stamp = stamp
                return False
            self._swap(kb, stamp)
            log.info("reloaded %s (%d passages)", self.index_dir, len(kb))
        return True

    @property
    def store(self) -> DocStore | None:
        return DocStore(self.index_dir) if self.index_dir else None

    def _files(self, state: dict) -> dict[str, Path]:
        if self.store is None:
            return {}
        return self.store.files(self.kb.manifest.get("corpus"), supported_suffixes(), state)

    def _chunking(self) -> ChunkParams:
        return ChunkParams(**self.kb.manifest.get("chunking", {}))

    def _change(self, change) -> int:
        """Apply ``change(kb_copy, state, store) -> (count, new state or None, audit rows)``:
        built aside on a copy (embedding outside the engine lock), saved atomically under
        the knowledge-base file lock, then swapped in under a short lock. When the save
        fails, ``StorageError`` names the cause and memory and disk stay as they were."""
        store = self.store
        with self._change_lock:
            if store is None:
                kb = self.kb.copy()
                count, _, _ = change(kb, {"uploads": {}, "removed": {}}, None)
                self._swap(kb, None)
                return count
            try:
                with store.lock():
                    self.reload_if_changed()
                    kb, blobs = self.kb.copy(), store.blobs()
                    try:
                        count, state, audit = change(kb, store.state(), store)
                        if state is None:
                            return count
                        kb.manifest["corpus_fingerprint"] = files_fingerprint(self._files(state))
                        retriever = self._retriever(kb)  # builds BM25, which is saved too
                        staged = store.stage(state)
                        try:
                            save(kb, store.index_dir)  # = self.index_dir
                        except BaseException:
                            store.discard(staged)
                            raise
                    except BaseException:
                        store.drop_blobs_except(blobs)
                        raise
                    store.commit(staged)
                    for action, name, who, sha in audit:
                        store.record(action, name, who, sha)
                    self._swap(kb, self._disk_stamp(), retriever)
            except OSError as exc:
                raise storage_error(exc, self.index_dir) from exc
            except RuntimeError as exc:  # faiss reports a failed write as RuntimeError
                raise StorageError(f"无法保存到 {self.index_dir}：写入失败（{exc}）") from exc
        return count

    def _retriever(self, kb: KnowledgeBase) -> Retriever:
        return Retriever(
            kb, self.encoder, self.tokenizer, self.settings.lexical_weight, self.settings.candidates
        )

    def _swap(self, kb: KnowledgeBase, stamp, retriever: Retriever | None = None) -> None:
        """Make ``kb`` the one answered from: the retriever is built first (unless given),
        then both are swapped under the engine lock (questions wait only for the assignment)."""
        retriever = retriever or self._retriever(kb)
        with self._lock:
            self._snapshot = Snapshot(kb, retriever)
            self._stamp = stamp

    def _disk_stamp(self) -> tuple | None:
        try:
            st = os.stat(Path(self.index_dir) / MANIFEST)  # type: ignore[arg-type]
        except (OSError, TypeError):
            return None
        return (st.st_ino, st.st_mtime_ns, st.st_size)


class _Progress:
    """An encoder that reports ``(passages embedded, total)`` while embedding passages."""

    def __init__(self, encoder: Encoder, report: Callable[[int, int], None], step: int = 16):
        self.encoder, self.report, self.step = encoder, report, step
        self.name, self.dim = encoder.name, encoder.dim

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self.encoder.encode_queries(texts)

    def encode_passages(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        parts, total = [], len(texts)
        self.report(0, total)
        for start in range(0, total, self.step):
            parts.append(self.encoder.encode_passages(texts[start : start + self.step]))
            self.report(min(start + self.step, total), total)
        return np.concatenate(parts) if parts else np.zeros((0, self.dim), np.float32)
