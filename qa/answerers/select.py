"""The answerer a configuration asks for: extractive unless a model base URL is set."""

from __future__ import annotations

from ..assistant import Assistant
from ..llm_client import LLMClient, LLMConfig, config_from_env
from .base import Answerer
from .extractive import ExtractiveAnswerer
from .llm import LLMAnswerer, LLMTrace


def make_answerer(
    assistant: Assistant, config: LLMConfig | None, trace: list[LLMTrace] | None = None
) -> Answerer:
    if config is None:
        return ExtractiveAnswerer(assistant)
    return LLMAnswerer(assistant, LLMClient(config), trace=trace)


def answerer_for(
    assistant: Assistant, url: str | None = None, trace: list[LLMTrace] | None = None
) -> Answerer:
    """For the command line: the model at ``url`` (``--llm``), else at ``QA_LLM_BASE_URL``,
    else extractive."""
    return make_answerer(assistant, config_from_env(url), trace)
