"""The engine's exception base; specific errors subclass it where they are defined."""


class QAError(Exception):
    """Base of the errors the engine raises on purpose (bad input, damaged index, ...)."""
