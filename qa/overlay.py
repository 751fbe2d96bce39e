"""A visitor's own documents: a private overlay searched together with the shared index.

Each session (a page load, keyed by Gradio's session hash) may upload a few small files to
ask about. They are chunked and embedded into memory only, never saved, never seen by any
other session, and dropped when the session ends (page closed, or idle for
``SESSION_SECONDS``). The shared knowledge base is not changed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .assistant import Assistant
from .chunking import ChunkParams, chunk_document
from .errors import QAError
from .readers import read_document
from .records import Chunk
from .retrieval import indexed_text

log = logging.getLogger(__name__)

MAX_SESSION_BYTES = 2 * 1024 * 1024  # all of one session's files together
MAX_SESSION_FILES = 5
MAX_SESSIONS = 20  # sessions holding files at once (each holds a copy of the shared vectors)
MAX_SESSIONS_PER_VISITOR = 3  # of them, held by one visitor (address): no one takes them all
SESSION_SECONDS = 2 * 3600  # idle time after which a session's files are dropped
PROGRESS_STEP = 16  # passages embedded between two progress reports


class OverlayFull(QAError):
    """A session upload over the size, file or session limits."""


@dataclass
class Overlay:
    """One session's documents: {name: (chunks, vectors)}."""

    owner: str = ""  # the visitor's address
    docs: dict[str, tuple[list[Chunk], np.ndarray]] = field(default_factory=dict)
    sizes: dict[str, int] = field(default_factory=dict)
    used: float = field(default_factory=time.monotonic)
    version: int = 0
    cached: tuple[object, int, Assistant] | None = None  # (shared kb, version, assistant)

    @property
    def size(self) -> int:
        return sum(self.sizes.values())


class Overlays:
    """Every session's overlay; thread-safe."""

    def __init__(
        self,
        max_bytes: int = MAX_SESSION_BYTES,
        max_files: int = MAX_SESSION_FILES,
        max_sessions: int = MAX_SESSIONS,
        idle_seconds: float = SESSION_SECONDS,
        max_per_visitor: int = MAX_SESSIONS_PER_VISITOR,
    ):
        self.max_bytes, self.max_files, self.max_per_visitor = max_bytes, max_files, max_per_visitor
        self.max_sessions, self.idle_seconds = max_sessions, idle_seconds
        self._sessions: dict[str, Overlay] = {}
        self._lock = threading.Lock()

    def add(
        self,
        session: str,
        shared: Assistant,
        path: str | Path,
        name: str,
        progress: Callable[[int, int], None] | None = None,
        owner: str = "",
    ) -> int:
        """Read, chunk and embed one file into ``session``'s overlay (replacing a same-named
        one) of the visitor ``owner``; returns its number of passages. Raises
        ``OverlayFull`` past a limit and ``UnreadableDocument`` for a file that cannot be
        read. ``progress(done, total)`` follows the embedding, in passages."""
        if not session:
            raise OverlayFull("无法识别会话，请刷新页面后重试。")
        if hasattr(shared.kb, "hybrid"):  # Milvus: a private copy would be a whole collection
            raise OverlayFull("使用 Milvus 存储时不支持上传个人文档。")
        size = Path(path).stat().st_size
        with self._lock:
            self._expire()
            overlay = self._sessions.get(session)
            if overlay is None:  # a new session's place: within both limits
                if len(self._sessions) >= self.max_sessions:
                    raise OverlayFull("当前上传个人文档的访客过多，请稍后再试。")
                held = sum(o.owner == owner for o in self._sessions.values()) if owner else 0
                if held >= self.max_per_visitor:
                    raise OverlayFull(
                        f"同一访客最多在 {self.max_per_visitor} 个会话中上传个人文档，"
                        "请在已有的会话中上传，或稍后再试。"
                    )
                overlay = Overlay(owner=owner)
            others = {n: s for n, s in overlay.sizes.items() if n != name}
            if len(others) + 1 > self.max_files:
                raise OverlayFull(f"每个会话最多 {self.max_files} 个个人文档。")
            if sum(others.values()) + size > self.max_bytes:
                mb = self.max_bytes / 1024 / 1024
                raise OverlayFull(f"个人文档合计不能超过 {mb:.0f} MB。")
        doc = read_document(path, name)
        params = ChunkParams(**shared.kb.manifest.get("chunking", {}))
        chunks = chunk_document(doc, params)
        texts = [indexed_text(c) for c in chunks]
        parts = []
        for start in range(0, len(texts), PROGRESS_STEP):
            if progress:
                progress(start, len(texts))
            parts.append(shared.encoder.encode_passages(texts[start : start + PROGRESS_STEP]))
        if progress:
            progress(len(texts), len(texts))
        vectors = np.concatenate(parts) if parts else np.zeros((0, shared.kb.dim), np.float32)
        with self._lock:
            overlay = self._sessions.setdefault(session, overlay)
            overlay.docs[name] = (chunks, vectors)
            overlay.sizes[name] = size
            overlay.version += 1
            overlay.used = time.monotonic()
        return len(chunks)

    def names(self, session: str | None) -> list[str]:
        with self._lock:
            overlay = self._sessions.get(session or "")
            return sorted(overlay.docs) if overlay else []

    def drop(self, session: str | None) -> None:
        """Forget a session's documents (it ended)."""
        with self._lock:
            if self._sessions.pop(session or "", None) is not None:
                log.info("dropped the documents of session %s", session)

    def assistant(self, session: str | None, shared: Assistant) -> Assistant:
        """The assistant for ``session``: ``shared`` itself, or, when the session has
        documents, one over the shared passages plus the session's (theirs win on a name)."""
        with self._lock:
            overlay = self._sessions.get(session or "")
            if overlay is None:
                return shared
            overlay.used = time.monotonic()
            cached = overlay.cached
            if cached and cached[0] is shared.kb and cached[1] == overlay.version:
                return cached[2]
            version, docs = overlay.version, dict(overlay.docs)
        kb = shared.kb.copy()
        for name, (chunks, vectors) in docs.items():
            kb.remove_source(name)
            kb.add(chunks, vectors)
        merged = Assistant(kb, shared.encoder, shared.tokenizer, shared.settings)
        with self._lock:
            if self._sessions.get(session or "") is overlay:
                overlay.cached = (shared.kb, version, merged)
        return merged

    def _expire(self) -> None:
        limit = time.monotonic() - self.idle_seconds
        for session in [s for s, o in self._sessions.items() if o.used < limit]:
            del self._sessions[session]
