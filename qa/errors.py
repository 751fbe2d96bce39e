"""The engine's exceptions: one base class, one subclass per kind of failure."""


class QAError(Exception):
    """Base class of the engine's errors; the message is meant for the user."""
