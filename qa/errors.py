"""The engine's exceptions: one base, ``QAError``, whose message is fit to show a user."""

from __future__ import annotations

import errno


class QAError(Exception):
    """A failure the user can understand and act on; ``str(exc)`` is the message."""


class QuestionError(QAError, ValueError):
    """A question that cannot be asked (empty, too long)."""


class UnreadableDocument(QAError, ValueError):
    """A file that cannot be turned into text (binary, undecodable, empty, unsupported)."""


class IndexMismatch(QAError, RuntimeError):
    """The index on disk was built differently from what is asked (or is damaged)."""


class DamagedIndex(IndexMismatch):
    """Stored bytes or passage text no longer match their checksum or content hash."""


class CorpusNotFound(QAError, FileNotFoundError):
    """The documents folder does not exist."""


class StorageError(QAError, OSError):
    """The index could not be written: disk full, no permission, read-only folder."""


class Busy(QAError):
    """Too many questions are waiting; the caller should try again shortly."""


class NeedsConfirmation(QAError):
    """Work that would take long (an hours-long indexing) and was not confirmed."""


_STORAGE_CAUSES = {
    errno.ENOSPC: "磁盘空间不足",
    errno.EDQUOT: "磁盘配额已用完",
    errno.EACCES: "没有写入权限",
    errno.EPERM: "没有写入权限",
    errno.EROFS: "文件夹是只读的",
}


def storage_error(exc: OSError, where: object) -> StorageError:
    """A ``StorageError`` naming the cause of ``exc`` (an ``OSError`` raised writing ``where``)."""
    cause = _STORAGE_CAUSES.get(exc.errno or 0, exc.strerror or str(exc))
    error = StorageError(f"无法保存到 {where}：{cause}")
    error.errno = exc.errno
    return error


class LLMError(QAError):
    """The language model could not give a usable reply (unreachable, timed out, rate
    limited, server error, malformed reply). ``kind`` names which, for logs and notices."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind
