"""What the app runs beside the assistant: the micro-batcher that answers concurrent
questions together, the background indexing worker, and per-session upload caps."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

from .assistant import Assistant
from .errors import Busy
from .microbatch import BUSY_MESSAGE, MicroBatcher
from .records import Answer
from .worker import IndexWorker

MAX_SESSION_FILES = 20  # uploads one browser session may add
MAX_SESSION_MB = 20  # and their total size


@dataclass
class Services:
    """The batcher and the worker of one assistant."""

    assistant: Assistant
    batcher: MicroBatcher
    worker: IndexWorker

    def ask(self, question: str, history: tuple[str, ...] | list[str] = ()) -> Answer | str:
        """The answer, or ``BUSY_MESSAGE`` when too many questions are waiting."""
        try:
            return self.batcher.ask(question, history)
        except Busy:
            return BUSY_MESSAGE

    def close(self) -> None:
        self.batcher.close()
        self.worker.close()


_current: Services | None = None
_lock = threading.Lock()


def services(assistant: Assistant) -> Services:
    """The services of ``assistant``, started on first use. The app has one assistant: a
    different one (tests) closes the previous services."""
    global _current
    with _lock:
        if _current is None or _current.assistant is not assistant:
            if _current is not None:
                _current.close()
            model = getattr(assistant.encoder, "name", "")
            _current = Services(
                assistant,
                MicroBatcher(assistant.ask_many),
                IndexWorker(
                    lambda paths, names, progress: assistant.add_files(paths, names, progress),
                    model=model,
                ),
            )
        return _current


@dataclass
class UploadQuota:
    """Files and bytes each session has uploaded; ``take`` refuses what goes past the caps."""

    max_files: int = MAX_SESSION_FILES
    max_bytes: int = MAX_SESSION_MB * 1024 * 1024
    used: dict[str, tuple[int, int]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def take(self, session: str, path: Path) -> str | None:
        """Count ``path`` against ``session``; the reason (for the user) if it is over a cap."""
        size = path.stat().st_size
        with self._lock:
            files, used = self.used.get(session, (0, 0))
            if files + 1 > self.max_files:
                return f"本次会话最多上传 {self.max_files} 个文件"
            if used + size > self.max_bytes:
                return f"本次会话上传总量已达上限（{self.max_bytes // 1024 // 1024} MB）"
            self.used[session] = (files + 1, used + size)
        return None
