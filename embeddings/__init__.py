"""Text encoders: one small interface, several implementations chosen by name."""

from .base import Encoder, FakeEncoder, normalise
from .registry import DEFAULT_MODEL, load_encoder

__all__ = ["DEFAULT_MODEL", "Encoder", "FakeEncoder", "load_encoder", "normalise"]
