"""Document subjects learned once per index and cached beside it (qa/subjects.py): the
cached subject is the one a question would learn, a changed index or dictionary relearns,
and an opened assistant answers without tagging any document."""

from __future__ import annotations

import json

import qa.assistant
import qa.subjects
from embeddings import FakeEncoder
from qa import Assistant
from qa.grounding import document_subject
from qa.subjects import SUBJECTS_FILE, ensure_subjects, load_subjects, opening, subjects_key

REPORTS = {
    "tonglu.md": "# 桐庐县2019年经济发展报告\n\n2019年，我县工业总产值达到512.6亿元。",
    "jiande.md": "# 建德市年度报告\n\n建德市2019年亩均税收31.5万元，我市规上企业420家。",
}


def _open(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir(exist_ok=True)
    for name, text in REPORTS.items():
        (corpus / name).write_text(text, "utf-8")
    return Assistant.open(tmp_path / "idx", corpus=corpus, model=FakeEncoder())


def test_open_caches_each_documents_subject_as_a_question_would_learn_it(
    tmp_path, shared_tokenizer
):
    a = _open(tmp_path)
    cached = json.loads((tmp_path / "idx" / SUBJECTS_FILE).read_text("utf-8"))
    assert cached["subjects"] == {"tonglu.md": "桐庐", "jiande.md": "建德"}
    for source in REPORTS:
        title, texts = opening(a.kb.chunks, source)
        assert cached["subjects"][source] == document_subject(title, texts, a.tokenizer)
    assert a.snapshot().subjects == cached["subjects"]


def test_an_opened_assistant_answers_without_tagging_a_document(
    tmp_path, shared_tokenizer, monkeypatch
):
    _open(tmp_path)  # builds the index and its cache

    def fail(*args):
        raise AssertionError("a document was tagged at question time")

    monkeypatch.setattr(qa.subjects, "document_subject", fail)
    monkeypatch.setattr(qa.assistant, "document_subject", fail)
    a = _open(tmp_path)  # a later start: the cache is read
    answer = a.ask("2019年桐庐县工业总产值是多少？")
    assert answer.citations and answer.citations[0].source == "tonglu.md"


def test_a_stale_cache_is_not_used_and_is_relearned(tmp_path, shared_tokenizer):
    a = _open(tmp_path)
    key = subjects_key(a.kb, a.tokenizer)
    assert load_subjects(tmp_path / "idx", key)
    assert load_subjects(tmp_path / "idx", key + "x") == {}  # another index or dictionary
    (tmp_path / "idx" / SUBJECTS_FILE).write_text(
        json.dumps({"key": "old", "subjects": {"tonglu.md": "错"}}), "utf-8"
    )
    assert ensure_subjects(a.kb, a.tokenizer, tmp_path / "idx")["tonglu.md"] == "桐庐"
    assert load_subjects(tmp_path / "idx", key)["tonglu.md"] == "桐庐"


def test_a_stale_cache_of_many_documents_is_not_relearned_at_open(tmp_path, shared_tokenizer):
    """More missing subjects than ``learn_at_most`` (a large index after a change): open
    returns the cached ones only; the rest are learned when a question needs them."""
    a = _open(tmp_path)
    (tmp_path / "idx" / SUBJECTS_FILE).unlink()
    assert ensure_subjects(a.kb, a.tokenizer, tmp_path / "idx", learn_at_most=1) == {}
    assert not (tmp_path / "idx" / SUBJECTS_FILE).exists()
    learned = ensure_subjects(a.kb, a.tokenizer, tmp_path / "idx", learn_at_most=2)
    assert learned == {"tonglu.md": "桐庐", "jiande.md": "建德"}
