"""Answerers: the extractive default and the optional language-model one."""

from .base import Answerer, final
from .extractive import ExtractiveAnswerer, with_sentences
from .llm import NOTICES, LLMAnswerer, LLMTrace
from .select import answerer_for, make_answerer

__all__ = [
    "NOTICES",
    "Answerer",
    "ExtractiveAnswerer",
    "LLMAnswerer",
    "LLMTrace",
    "answerer_for",
    "final",
    "make_answerer",
    "with_sentences",
]
