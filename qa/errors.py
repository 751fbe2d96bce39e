"""The engine's exceptions: one base, specific subclasses."""

from __future__ import annotations


class QAError(Exception):
    """Base of the engine's own errors."""


class LLMError(QAError):
    """The language model could not give a usable reply (unreachable, timed out, rate
    limited, server error, malformed reply). ``kind`` names which, for logs and notices."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind
