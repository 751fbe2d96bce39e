"""Question answering over Chinese documents, with citations."""

from .assistant import (
    NOT_FOUND,
    Assistant,
    QuestionError,
    Settings,
    check_history,
    check_question,
)
from .chunking import ChunkParams, chunk_document, split_sentences
from .indexing import DEFAULT_CORPUS, DEFAULT_INDEX, build_index, open_index
from .readers import UnreadableDocument, read_document, read_folder
from .records import Answer, Chunk, Citation, Document, Passage
from .store import IndexMismatch, KnowledgeBase

__all__ = [
    "DEFAULT_CORPUS",
    "DEFAULT_INDEX",
    "NOT_FOUND",
    "Answer",
    "Assistant",
    "Chunk",
    "ChunkParams",
    "Citation",
    "Document",
    "IndexMismatch",
    "KnowledgeBase",
    "Passage",
    "QuestionError",
    "Settings",
    "UnreadableDocument",
    "build_index",
    "check_history",
    "check_question",
    "chunk_document",
    "open_index",
    "read_document",
    "read_folder",
    "split_sentences",
]
