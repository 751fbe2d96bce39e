"""Plain records passed between the stages of the engine."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

SECTION_SEP = " > "


@dataclass(frozen=True)
class Mark:
    """Where a location (a page, a table row) starts in ``Document.text``; ``split``:
    no chunk spans it."""

    start: int
    page: int | None = None  # 1-based
    label: str = ""  # "第 6 页", "Sheet1 第 12 行"
    split: bool = False


@dataclass(frozen=True)
class Document:
    """A decoded, repaired source document.

    ``text`` is the normalised text every chunk offset refers to; ``marks`` (sorted by
    offset) say where each page or table row starts in it.
    """

    source: str  # file name, e.g. "report.md"
    title: str
    text: str
    marks: tuple[Mark, ...] = ()
    date: str = ""  # ISO date of the document (from its text, metadata or file), or ""
    pages: int = 0  # pages of the file (0: a format without pages)
    ocr_pages: int = 0  # pages read by OCR
    notes: tuple[str, ...] = ()  # what the reader warned about (pages skipped...)


@dataclass(frozen=True)
class Chunk:
    """A passage of a document: the unit that is indexed and cited."""

    id: str  # content hash, stable across re-indexing
    source: str
    title: str
    section: tuple[str, ...]  # heading path, outermost first
    start: int  # character offsets into Document.text
    end: int
    text: str
    page: int | None = None  # 1-based page where the chunk starts (None: no pages)
    page_end: int | None = None  # page where it ends
    location: str = ""  # display string: "第 6 页", "第 6–7 页", "Sheet1 第 12 行"
    date: str = ""  # the document's date (ISO), or ""

    @property
    def section_path(self) -> str:
        return SECTION_SEP.join(self.section)

    def to_json(self) -> dict:
        return asdict(self) | {"section": list(self.section)}

    @classmethod
    def from_json(cls, row: dict) -> Chunk:
        return cls(**(row | {"section": tuple(row["section"])}))


@dataclass(frozen=True)
class Passage:
    """A chunk retrieved for a question, with its fused score."""

    chunk: Chunk
    score: float
    dense: float = 0.0  # cosine of the question's and the passage's vectors (not rescaled)


@dataclass(frozen=True)
class Citation:
    """A numbered source shown to the user; ``highlights`` are (start, end) spans of
    ``text`` that the answer used."""

    n: int
    source: str
    title: str
    section: str
    text: str
    score: float
    highlights: tuple[tuple[int, int], ...] = ()
    page: int | None = None  # 1-based page where the passage starts (None: no pages)
    page_end: int | None = None
    location: str = ""  # display string: "第 6 页", "Sheet1 第 12 行"
    date: str = ""  # the document's date (ISO, or "" when unknown)

    def to_json(self) -> dict:
        return {
            "n": self.n,
            "source": self.source,
            "title": self.title,
            "section": self.section,
            "text": self.text,
            "score": round(self.score, 4),
            "highlights": [list(h) for h in self.highlights],
            "page": self.page,
            "page_end": self.page_end,
            "location": self.location,
            "date": self.date,
        }


@dataclass(frozen=True)
class Sentence:
    """One sentence of a shown answer, with the citations it carries and whether the
    checks found it supported by them."""

    text: str
    citations: tuple[int, ...] = ()
    supported: bool = True

    def to_json(self) -> dict:
        return {"text": self.text, "citations": list(self.citations), "supported": self.supported}


@dataclass(frozen=True)
class Answer:
    """A reply: ``answer`` carries [n] markers that refer to ``citations``."""

    question: str
    answer: str
    found: bool
    citations: tuple[Citation, ...] = ()
    query: str = ""  # the question as searched (after follow-up rewriting)
    short_answer: str = ""  # the direct answer (a value, a name, a list); "" when refused
    confidence: float = 0.0  # calibrated probability that the shown answer is supported
    reason: str = ""  # why the documents do not answer (for the user); "" when answered
    mode: str = "extractive"  # which answerer produced what is shown: extractive / llm
    notice: str = ""  # "" or why the model's answer was not used
    sentences: tuple[Sentence, ...] = ()
    extra: dict = field(default_factory=dict, compare=False)

    def to_record(self, id: str | int | None = None) -> dict:
        return {
            "id": id,
            "question": self.question,
            "answer": self.answer,
            "short_answer": self.short_answer,
            "found": self.found,
            "confidence": round(self.confidence, 4),
            "reason": self.reason,
            "mode": self.mode,
            "notice": self.notice,
            "sentences": [s.to_json() for s in self.sentences],
            "citations": [c.to_json() for c in self.citations],
        }
