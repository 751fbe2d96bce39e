"""The answerer a configuration asks for: extractive unless a model base URL is set."""

from __future__ import annotations

from ..assistant import Assistant
from ..llm_client import LLMClient, LLMConfig
from .base import Answerer
from .extractive import ExtractiveAnswerer
from .llm import LLMAnswerer


def make_answerer(assistant: Assistant, config: LLMConfig | None) -> Answerer:
    if config is None:
        return ExtractiveAnswerer(assistant)
    return LLMAnswerer(assistant, LLMClient(config))
