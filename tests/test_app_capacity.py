"""The app under load and failure: per-session upload caps, Gradio's upload cache cleaned,
a clear start-up message for a missing corpus."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import app
from embeddings import FakeEncoder
from qa import Assistant, open_index
from qa.serving import UploadQuota, services

ROOT = Path(__file__).resolve().parent.parent
DOC = "# 海洋经济\n\n慈溪跨海大桥全长三十六公里，于2008年通车。\n"


@pytest.fixture
def assistant(tmp_path, monkeypatch, shared_tokenizer):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "sea.md").write_text(DOC, encoding="utf-8")
    kb = open_index(corpus, tmp_path / "index", FakeEncoder())
    assistant = Assistant(kb, FakeEncoder(), shared_tokenizer, index_dir=tmp_path / "index")
    monkeypatch.setattr(app, "_assistant", assistant)
    yield assistant
    services(assistant).close()


def test_upload_caps_per_session(tmp_path):
    quota = UploadQuota(max_files=2, max_bytes=1000)
    small = tmp_path / "a.txt"
    small.write_bytes(b"x" * 400)
    assert quota.take("s1", small) is None
    assert quota.take("s1", small) is None
    assert "最多上传 2 个文件" in quota.take("s1", small)
    assert quota.take("s2", small) is None, "another session has its own allowance"
    big = tmp_path / "b.txt"
    big.write_bytes(b"x" * 700)
    assert "上限" in quota.take("s2", big)


def test_upload_cache_is_cleaned():
    assert app.demo.delete_cache == app.CACHE_CLEANING


def test_missing_corpus_folder_is_a_clear_start_up_message(tmp_path):
    env = os.environ | {
        "QA_CORPUS_DIR": str(tmp_path / "nope"),
        "QA_INDEX_DIR": str(tmp_path / "index"),
        "QA_MODEL": "fake",
        "PYTHONIOENCODING": "utf-8",
    }
    run = subprocess.run(
        [sys.executable, "app.py"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert run.returncode != 0
    assert "找不到文档文件夹" in run.stderr and "QA_CORPUS_DIR" in run.stderr
    assert "Traceback" not in run.stderr
