"""Plain records passed between the stages of the engine."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

SECTION_SEP = " > "


@dataclass(frozen=True)
class Document:
    """A decoded, repaired source document.

    ``text`` is the normalised text every chunk offset refers to.
    """

    source: str  # file name, e.g. "report.md"
    title: str
    text: str


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

    def to_json(self) -> dict:
        return {
            "n": self.n,
            "source": self.source,
            "title": self.title,
            "section": self.section,
            "text": self.text,
            "score": round(self.score, 4),
        }


@dataclass(frozen=True)
class Answer:
    """A reply: ``answer`` carries [n] markers that refer to ``citations``."""

    question: str
    answer: str
    found: bool
    citations: tuple[Citation, ...] = ()
    query: str = ""  # the question as searched (after follow-up rewriting)
    extra: dict = field(default_factory=dict, compare=False)

    def to_record(self, id: str | int | None = None) -> dict:
        return {
            "id": id,
            "question": self.question,
            "answer": self.answer,
            "found": self.found,
            "citations": [c.to_json() for c in self.citations],
        }
