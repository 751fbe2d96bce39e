"""What the app runs beside the assistant: the micro-batcher that answers concurrent
questions together, the background indexing worker, and per-visitor caps on Gradio's
upload route."""

from __future__ import annotations

import ipaddress
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .assistant import Assistant
from .errors import Busy
from .microbatch import BUSY_MESSAGE, MicroBatcher
from .records import Answer
from .worker import IndexWorker

log = logging.getLogger(__name__)

MAX_SESSION_FILES = 20  # uploads one visitor may post within UPLOAD_WINDOW_S
MAX_SESSION_MB = 20  # and their total size
MAX_TOTAL_MB = 500  # all visitors together within UPLOAD_WINDOW_S
UPLOAD_WINDOW_S = 3600  # as long as the upload cache keeps a file (app.CACHE_CLEANING)
UPLOAD_ROUTE = "/upload"  # Gradio's (/gradio_api/upload)


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
    """Files and bytes each visitor (session or address) has uploaded within the last
    ``window_s``; ``take`` refuses what goes past the caps, ``total_bytes`` bounds all
    visitors together (the upload cache keeps files for about that long)."""

    max_files: int = MAX_SESSION_FILES
    max_bytes: int = MAX_SESSION_MB * 1024 * 1024
    window_s: float = UPLOAD_WINDOW_S
    total_bytes: int = MAX_TOTAL_MB * 1024 * 1024
    used: dict[str, tuple[int, int, float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def take(self, session: str, path: Path) -> str | None:
        """Count ``path`` against ``session``; the reason (for the user) if it is over a cap."""
        return self.take_bytes(session, path.stat().st_size)

    def take_bytes(self, key: str, size: int) -> str | None:
        """Count one upload of ``size`` bytes against ``key``; the reason if over a cap."""
        now = time.monotonic()
        with self._lock:
            for old in [k for k, (_, _, since) in self.used.items() if now - since > self.window_s]:
                del self.used[old]
            files, used, since = self.used.get(key, (0, 0, now))
            per = "每小时" if self.window_s == 3600 else f"每 {self.window_s / 60:g} 分钟"
            if files + 1 > self.max_files:
                return f"{per}最多上传 {self.max_files} 个文件，请稍后再试"
            mb = self.max_bytes // 1024 // 1024
            if size > self.max_bytes:  # never allowed, however long one waits
                return f"文件太大（{size / 1024 / 1024:.1f} MB），{per}最多上传 {mb} MB"
            if used + size > self.max_bytes:
                return f"{per}上传总量已达上限（{mb} MB），请稍后再试"
            if sum(u for _, u, _ in self.used.values()) + size > self.total_bytes:
                return "服务器暂存的上传文件已满，请稍后再试"
            self.used[key] = (files + 1, used + size, since)
        return None


Proxies = tuple["ipaddress.IPv4Network | ipaddress.IPv6Network | str", ...]
LOOPBACK, PRIVATE = "loopback", "private"  # every loopback / private address
PROXIES_ENV = "QA_TRUSTED_PROXIES"


FORM_OVERHEAD = 64 * 1024  # a multipart post's boundaries and headers around the file


class UploadLimit:
    """ASGI middleware capping what one visitor may post to Gradio's upload route (which
    anyone can call without the page): a ``Content-Length`` is required, and each visitor
    (the client address; behind a proxy, the address it last added to ``X-Forwarded-For``)
    gets ``quota``'s allowance. ``exempt(request)`` (an editor) passes uncounted. A post
    longer than ``max_bytes`` (Gradio's own file size limit, plus the form's few bytes) is
    refused for everyone, uncounted, with a message in Chinese (Gradio's is in English)."""

    def __init__(
        self,
        app,
        quota: UploadQuota,
        exempt: Callable[[object], bool] | None = None,
        proxies: Proxies = (LOOPBACK,),
        max_bytes: int | None = None,
    ):
        self.app, self.quota, self.exempt, self.proxies = app, quota, exempt, proxies
        self.max_bytes = max_bytes

    async def __call__(self, scope, receive, send):
        if (
            scope["type"] != "http"
            or scope["method"] != "POST"
            or not scope["path"].rstrip("/").endswith(UPLOAD_ROUTE)
        ):
            return await self.app(scope, receive, send)
        from starlette.requests import Request
        from starlette.responses import JSONResponse

        request = Request(scope)
        who = visitor(request, self.proxies)
        length = request.headers.get("content-length", "")
        problem, status = None, 413
        if not length.isdigit():
            problem, status = "上传需要 Content-Length", 411
        elif self.max_bytes and int(length) > self.max_bytes + FORM_OVERHEAD:
            mb = self.max_bytes / 1024 / 1024
            problem = f"文件太大（{int(length) / 1024 / 1024:.1f} MB），单个文件上限 {mb:g} MB"
        elif not (self.exempt and self.exempt(request)):
            problem = self.quota.take_bytes(who, int(length))
        if problem:
            log.warning("upload refused for %s: %s", who, problem)
            return await JSONResponse({"error": problem}, status_code=status)(scope, receive, send)
        return await self.app(scope, receive, send)


def trusted_proxies(env) -> Proxies:
    """The peers whose ``X-Forwarded-For`` is believed: ``QA_TRUSTED_PROXIES`` (addresses
    or networks, comma-separated; ``private`` for every private address); by default the
    loopback (a reverse proxy on this host), and on a Space (``SPACE_ID``) also private
    addresses (its router). A LAN client could write any ``X-Forwarded-For`` too."""
    given = env.get(PROXIES_ENV, "").strip()
    if not given:
        return (LOOPBACK, PRIVATE) if env.get("SPACE_ID") else (LOOPBACK,)
    named = [part.strip() for part in given.split(",") if part.strip()]
    return tuple(
        part if part in (LOOPBACK, PRIVATE) else ipaddress.ip_network(part, strict=False)
        for part in named
    )


def visitor(request, proxies: Proxies = (LOOPBACK,)) -> str:
    """Who posts: the peer's address; when the peer is a trusted proxy (``proxies``), the
    last address in ``X-Forwarded-For``, which that proxy added. Anyone else could write
    any ``X-Forwarded-For``, so it is not read for them."""
    client = getattr(request, "client", None)
    peer = client.host if client else ""
    forwarded = [a.strip() for a in request.headers.get("x-forwarded-for", "").split(",")]
    named = forwarded[-1] if _is_proxy(peer, proxies) else ""
    return named if _address(named) else peer


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _is_proxy(host: str, proxies: Proxies) -> bool:
    address = _address(host)
    if address is None:
        return False
    return any(
        address.is_loopback if p == LOOPBACK
        else address.is_private if p == PRIVATE
        else not isinstance(p, str) and address in p
        for p in proxies
    )  # fmt: skip
