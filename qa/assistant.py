"""Load once, answer many: the engine's entry point for the CLI, batch runs and the app."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

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
from .followup import rewrite_followup
from .indexing import DEFAULT_CORPUS, DEFAULT_INDEX, add_documents, file_hashes, open_index
from .indexing import remove_document as _remove_document
from .readers import read_document
from .records import Answer, Citation, Passage
from .retrieval import Retriever
from .store import KnowledgeBase, read_manifest, save
from .text import Tokenizer

log = logging.getLogger(__name__)

NOT_FOUND = "资料中没有找到能回答这个问题的内容。"
MAX_QUESTION_CHARS = 500


class QuestionError(ValueError):
    """A question that cannot be asked (empty, too long)."""


def check_question(question: object, max_chars: int = MAX_QUESTION_CHARS) -> str:
    """The question stripped, or ``QuestionError`` with a message for the user."""
    if not isinstance(question, str) or not question.strip():
        raise QuestionError("问题为空：请输入一个问题。")
    question = question.strip()
    if len(question) > max_chars:
        raise QuestionError(f"问题太长（{len(question)} 字），请控制在 {max_chars} 字以内。")
    return question


@dataclass(frozen=True)
class Settings:
    top_k: int = 5  # passages cited
    lexical_weight: float = 0.6  # tuned on the dev set and CMRC 2018 trial
    candidates: int = 100
    answer: AnswerParams = AnswerParams()


class Assistant:
    """Answers questions from a knowledge base with cited, extractive answers.

    Thread-safe for ``ask``; ``add_files``/``remove_document`` take a lock.
    """

    def __init__(
        self,
        kb: KnowledgeBase,
        encoder: Encoder,
        tokenizer: Tokenizer | None = None,
        settings: Settings = Settings(),
        index_dir: str | Path | None = None,
    ):
        self.kb = kb
        self.encoder = encoder
        self.tokenizer = tokenizer or Tokenizer()
        self.settings = settings
        self.index_dir = Path(index_dir) if index_dir else None
        self.retriever = Retriever(
            kb, encoder, self.tokenizer, settings.lexical_weight, settings.candidates
        )
        self._lock = threading.RLock()

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
        return cls(kb, model, tokenizer, settings=settings, index_dir=index_dir)

    # --- answering -------------------------------------------------------------

    def ask(self, question: str, history: Sequence[str] = ()) -> Answer:
        """Answer one question; ``history`` holds the conversation's earlier questions,
        oldest first, so a follow-up ("那2003年呢？") is read with them."""
        return self.ask_many([question], [history])[0]

    def ask_many(
        self, questions: Sequence[str], histories: Sequence[Sequence[str]] | None = None
    ) -> list[Answer]:
        """Answer several questions, embedding them in one batch; ``histories[i]`` is the
        conversation before ``questions[i]`` (none by default)."""
        questions = [check_question(q) for q in questions]
        histories = list(histories) if histories else [() for _ in questions]
        queries = [rewrite_followup(q, h) for q, h in zip(questions, histories)]
        with self._lock:
            ranked = self.retriever.search_many(queries, self.settings.top_k)
        return [self._answer(q, s, p) for q, s, p in zip(questions, queries, ranked)]

    def _answer(self, question: str, query: str, passages: list[Passage]) -> Answer:
        params = self.settings.answer
        weights = weighted_terms(self.tokenizer.tokens(query), self.retriever.bm25.idf)
        evidence = score_sentences(query, weights, passages, params)
        order = rerank(passages, evidence)
        position = {old: new for new, old in enumerate(order)}
        best = evidence[0] if evidence else None
        found = best is not None and self._answers(query, best, passages)
        highlights: dict[int, list[tuple[int, int]]] = {}
        if found:
            sentence = passages[best.passage].chunk.text[best.start : best.end]
            wants_number = bool(NUMBER_QUESTION.search(query))
            numbers = tuple(QUESTION_NUMBER.findall(query))
            text = trim_sentence(sentence, weights, params.max_answer_chars, wants_number, numbers)
            n = position[best.passage] + 1
            highlights[best.passage] = [(best.start, best.end)]
            answer = f"{text}[{n}]"
        else:
            answer = NOT_FOUND
        citations = tuple(
            Citation(
                n=new + 1,
                source=passages[old].chunk.source,
                title=passages[old].chunk.title,
                section=passages[old].chunk.section_path,
                text=passages[old].chunk.text,
                score=passages[old].score,
                highlights=tuple(highlights.get(old, ())),
            )
            for new, old in enumerate(order)
        )
        extra = {
            "evidence_score": best.score if best else 0.0,
            "coverage": best.coverage if best else 0.0,
        }
        return Answer(question, answer, found, citations, query, extra)

    def _answers(self, query: str, best: Evidence, passages: list[Passage]) -> bool:
        """Is the best evidence good enough to answer rather than refuse?"""
        chunk = passages[best.passage].chunk
        if missing_numbers(query, f"{chunk.section_path}\n{chunk.text}"):
            return False
        return best.coverage >= self.settings.answer.min_coverage

    # --- knowledge base management ----------------------------------------------

    def documents(self) -> list[dict]:
        """One row per document: source, title, number of chunks."""
        rows: dict[str, dict] = {}
        for chunk in self.kb.chunks.values():
            row = rows.setdefault(
                chunk.source, {"source": chunk.source, "title": chunk.title, "chunks": 0}
            )
            row["chunks"] += 1
        return list(rows.values())

    def add_files(self, paths: Sequence[str | Path], names: Sequence[str] | None = None) -> int:
        """Read, chunk and embed files into the index (a same-named document is replaced),
        then save it. Raises ``UnreadableDocument`` for a file that cannot be read."""
        names = list(names) if names else [Path(p).name for p in paths]
        docs = [read_document(p, name) for p, name in zip(paths, names)]
        hashes = {n: file_hashes([Path(p)])[Path(p).name] for p, n in zip(paths, names)}
        with self._lock:
            added = add_documents(self.kb, docs, self.encoder, self._chunking(), hashes)
            self._changed()
        return added

    def remove_document(self, source: str) -> int:
        with self._lock:
            removed = _remove_document(self.kb, source)
            self._changed()
        return removed

    def _chunking(self) -> ChunkParams:
        return ChunkParams(**self.kb.manifest.get("chunking", {}))

    def _changed(self) -> None:
        self.retriever.refresh()
        if self.index_dir:
            save(self.kb, self.index_dir)
