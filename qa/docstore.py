"""The knowledge base's own documents: the one durable source of truth for what is indexed.

    index/documents/
      state.json        uploads {name: {sha256, suffix, size, by, at}} and removals {name: …}
      blobs/<sha256>.md originals of uploads, content-addressed (immutable once written)
      audit.jsonl       one change a line: who, when, what, document, file hash
    .index.lock         beside the index folder: the file lock shared by the app and the CLI

What is indexed is always: corpus folder + stored uploads − removals (``DocStore.files``);
every rebuild starts from it, so uploads survive a new model or chunking and removed bundled
documents stay removed until an editor restores them. The index's atomic folder save
carries this folder over (``store.save``). Changes are staged, then committed by one rename.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import logging
import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

log = logging.getLogger(__name__)

STORE_DIR = "documents"
STATE, AUDIT, BLOBS = "state.json", "audit.jsonl", "blobs"
LOCK_TIMEOUT = 120.0  # seconds a change waits for another process's change


class Busy(OSError):
    """Another process holds the knowledge-base lock for longer than ``LOCK_TIMEOUT``."""


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def corpus_files(folder: str | Path | None, suffixes: list[str]) -> dict[str, Path]:
    """{name: path} of the supported, visible files below ``folder`` (sorted by path)."""
    if folder is None or not Path(folder).is_dir():
        return {}
    found = sorted(
        p
        for p in Path(folder).rglob("*")
        if p.is_file() and p.suffix.lower() in suffixes and not p.name.startswith(".")
    )
    return {p.name: p for p in found}


# --- pure changes of the state ----------------------------------------------------------


def with_upload(state: dict, name: str, entry: dict) -> dict:
    """The state with ``name`` stored as an upload (replacing any, undoing a removal)."""
    removed = {k: v for k, v in state["removed"].items() if k != name}
    return {"uploads": state["uploads"] | {name: entry}, "removed": removed}


def with_removal(state: dict, name: str, by: str) -> dict:
    """The state with ``name`` removed; an upload's entry is kept so it can be restored."""
    uploads = {k: v for k, v in state["uploads"].items() if k != name}
    record = {"by": by, "at": now(), "upload": state["uploads"].get(name)}
    return {"uploads": uploads, "removed": state["removed"] | {name: record}}


def with_restore(state: dict, name: str) -> dict:
    """The state with the removal of ``name`` undone (its upload, if it was one, is back)."""
    record = state["removed"].get(name) or {}
    removed = {k: v for k, v in state["removed"].items() if k != name}
    uploads = dict(state["uploads"])
    if record.get("upload"):
        uploads[name] = record["upload"]
    return {"uploads": uploads, "removed": removed}


class DocStore:
    """The document store of the index in ``index_dir`` (see the module docstring)."""

    def __init__(self, index_dir: str | Path):
        self.index_dir = Path(index_dir)
        self.folder = self.index_dir / STORE_DIR
        self.lock_path = self.index_dir.with_name(f".{self.index_dir.name}.lock")

    # --- reading ------------------------------------------------------------------

    def state(self) -> dict:
        try:
            state = json.loads((self.folder / STATE).read_text("utf-8"))
        except FileNotFoundError:
            return {"uploads": {}, "removed": {}}
        uploads, removed = state.get("uploads", {}), state.get("removed", {})
        return {"uploads": dict(uploads), "removed": dict(removed)}

    def blob(self, entry: dict) -> Path:
        return self.folder / BLOBS / f"{entry['sha256']}{entry['suffix']}"

    def files(
        self, corpus: str | Path | None, suffixes: list[str], state: dict | None = None
    ) -> dict[str, Path]:
        """{name: path} of what the knowledge base holds: corpus + uploads − removals."""
        state = self.state() if state is None else state
        files = corpus_files(corpus, suffixes)
        files.update({name: self.blob(entry) for name, entry in state["uploads"].items()})
        return {n: p for n, p in sorted(files.items()) if n not in state["removed"]}

    def entries(self, corpus: str | Path | None, suffixes: list[str]) -> list[dict]:
        """One row per document known to the store: name, origin (corpus/upload), removed."""
        state = self.state()
        bundled = corpus_files(corpus, suffixes)
        names = sorted(set(bundled) | set(state["uploads"]) | set(state["removed"]))
        rows = []
        for name in names:
            removed = state["removed"].get(name)
            upload = state["uploads"].get(name) or (removed or {}).get("upload")
            rows.append(
                {
                    "source": name,
                    "origin": "upload" if upload else "corpus",
                    "sha256": upload["sha256"] if upload else None,
                    "by": (upload or {}).get("by", ""),
                    "at": (upload or {}).get("at", ""),
                    "removed": bool(removed),
                }
            )
        return rows

    def audit(self, limit: int | None = None) -> list[dict]:
        """The audit log, oldest first (the last ``limit`` entries)."""
        try:
            lines = (self.folder / AUDIT).read_text("utf-8").splitlines()
        except FileNotFoundError:
            return []
        rows = []
        for line in lines[-limit:] if limit else lines:
            try:
                rows.append(json.loads(line))
            except ValueError:
                continue  # a line cut by a crash
        return rows

    # --- writing ------------------------------------------------------------------

    def put_blob(self, path: str | Path) -> dict:
        """Copy a file into the store under its content hash; returns its upload entry
        (without who/when). Writing the same content twice is a no-op."""
        path = Path(path)
        sha = sha256_file(path)
        entry = {"sha256": sha, "suffix": path.suffix.lower(), "size": path.stat().st_size}
        target = self.blob(entry)
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            self._write_atomic(target, path.read_bytes())
        return entry

    def blobs(self) -> set[str]:
        folder = self.folder / BLOBS
        return {p.name for p in folder.iterdir()} if folder.is_dir() else set()

    def drop_blobs_except(self, keep: set[str]) -> None:
        """Delete blobs written since ``keep = blobs()`` was taken (after a failed change)."""
        for name in self.blobs() - keep:
            (self.folder / BLOBS / name).unlink(missing_ok=True)

    def stage(self, state: dict) -> Path:
        """Write ``state`` beside the current one; ``commit`` makes it current (one rename)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".state-", suffix=".json", dir=self.folder)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(state, f, ensure_ascii=False, indent=1)
                f.flush()
                os.fsync(f.fileno())
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return Path(tmp)

    def commit(self, staged: Path) -> None:
        """Make a staged state current. The index save may have swapped the folder meanwhile
        (carrying the staged file over), so the file is looked up by name."""
        os.replace(self.folder / staged.name, self.folder / STATE)

    def discard(self, staged: Path) -> None:
        (self.folder / staged.name).unlink(missing_ok=True)

    def record(self, action: str, name: str, by: str, sha256: str | None = None) -> None:
        """Append one line to the audit log (a failure is logged, never raised: the change
        it records is already saved)."""
        row = {"at": now(), "by": by, "action": action, "document": name, "sha256": sha256}
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            with open(self.folder / AUDIT, "a", encoding="utf-8") as f:
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
        except OSError as exc:
            log.error("could not write the audit log: %s (%s)", exc, row)

    @contextmanager
    def lock(self, timeout: float | None = None, required: bool = True) -> Iterator[None]:
        """Exclusive lock on the knowledge base, shared by every process (app, CLI); not
        reentrant. ``required=False``: go on unlocked where no lock file can be made (a
        read-only folder: then nothing can be saved either)."""
        try:
            self.lock_path.parent.mkdir(parents=True, exist_ok=True)
            handle = open(self.lock_path, "a")
        except OSError:
            if required:
                raise
            yield
            return
        with handle as f:
            deadline = time.monotonic() + (LOCK_TIMEOUT if timeout is None else timeout)
            while True:
                try:
                    fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise Busy(errno.EBUSY, "知识库正被另一个进程修改，请稍后再试") from None
                    time.sleep(0.05)
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)

    @staticmethod
    def _write_atomic(target: Path, data: bytes) -> None:
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
