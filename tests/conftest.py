"""Fixtures shared by several test modules."""

import pytest


@pytest.fixture(scope="module")
def shared_tokenizer():
    """One jieba tokenizer for every Assistant a module builds in-process (each new one
    takes ~1 s to load its dictionary); subprocess tests still build their own."""
    import qa.assistant
    from qa.text import Tokenizer

    tok = Tokenizer()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(qa.assistant, "Tokenizer", lambda: tok)
        yield tok
