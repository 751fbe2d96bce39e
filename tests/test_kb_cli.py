"""``python -m qa kb …``, in-process with the fake encoder."""

import pytest

from qa.auth import read_users, verify_password
from qa.cli import main
from qa.docstore import DocStore
from qa.store import load

REPORT = "# 慈溪工业报告\n\n目前慈溪共有国家级单项冠军企业3家。\n"
FARM = "慈溪农业概况\n\n慈溪杨梅种植面积约为五万亩。\n"
BRIDGE = "# 海洋经济\n\n慈溪跨海大桥全长三十六公里。\n"


@pytest.fixture
def kb(tmp_path, monkeypatch):
    monkeypatch.setenv("QA_MODEL", "fake")
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "report.md").write_text(REPORT, encoding="utf-8")
    (corpus / "farm.txt").write_text(FARM, encoding="utf-8")
    index = tmp_path / "index"
    assert main(["index", "--corpus", str(corpus), "--index", str(index), "--model", "fake"]) == 0
    (tmp_path / "bridge.md").write_text(BRIDGE, encoding="utf-8")
    return index


def kb_cmd(index, *args):
    return main(["kb", *args, "--index", str(index)])


def test_add_remove_restore_list_and_log(kb, tmp_path, capsys):
    bridge = str(tmp_path / "bridge.md")
    assert kb_cmd(kb, "add", bridge, "--by", "alice") == 0
    assert kb_cmd(kb, "add", bridge) == 1  # exists: needs --replace
    assert "--replace" in capsys.readouterr().err
    assert kb_cmd(kb, "add", bridge, "--replace", "--by", "alice") == 0
    assert kb_cmd(kb, "remove", "farm.txt", "--by", "bob") == 0
    assert kb_cmd(kb, "remove", "nope.md") == 1
    assert sorted(load(kb).sources) == ["bridge.md", "report.md"]
    capsys.readouterr()
    assert kb_cmd(kb, "list") == 0
    listing = capsys.readouterr().out
    assert "bridge.md\t上传" in listing and "farm.txt\t自带\t已删除" in listing
    assert kb_cmd(kb, "restore", "farm.txt") == 0
    assert sorted(load(kb).sources) == ["bridge.md", "farm.txt", "report.md"]
    capsys.readouterr()
    assert kb_cmd(kb, "log") == 0
    actions = [line.split("\t")[1:4] for line in capsys.readouterr().out.splitlines()]
    assert actions[:3] == [
        ["alice", "add", "bridge.md"],
        ["alice", "replace", "bridge.md"],
        ["bob", "remove", "farm.txt"],
    ]


def test_export_then_import_into_a_fresh_index(kb, tmp_path):
    assert kb_cmd(kb, "add", str(tmp_path / "bridge.md")) == 0
    assert kb_cmd(kb, "remove", "farm.txt") == 0
    archive = tmp_path / "kb.zip"
    assert kb_cmd(kb, "export", str(archive)) == 0
    fresh = tmp_path / "fresh"
    corpus = str(tmp_path / "corpus")
    assert main(["index", "--corpus", corpus, "--index", str(fresh), "--model", "fake"]) == 0
    assert kb_cmd(fresh, "import", str(archive)) == 0
    assert sorted(load(fresh).sources) == ["bridge.md", "report.md"]
    assert DocStore(fresh).state()["removed"].keys() == {"farm.txt"}


def test_missing_file_is_a_clear_error(kb, capsys):
    assert kb_cmd(kb, "add", "/nonexistent/x.md") == 2
    assert "找不到文件" in capsys.readouterr().err


def test_passwd_writes_a_hash(tmp_path, monkeypatch):
    users = tmp_path / "users"
    monkeypatch.setenv("QA_NEW_PASSWORD", "correct horse")
    assert main(["kb", "passwd", "alice", "--users-file", str(users)]) == 0
    assert verify_password("correct horse", read_users(users)["alice"])
    monkeypatch.setenv("QA_NEW_PASSWORD", "short")
    assert main(["kb", "passwd", "bob", "--users-file", str(users)]) == 1


def test_list_and_log_of_a_folder_without_an_index_say_so(tmp_path, capsys):
    missing = tmp_path / "typo"
    assert kb_cmd(missing, "list") == 0
    out, err = capsys.readouterr()
    assert "还没有索引" in err and "未索引" in out and " 0 段" not in out
    assert kb_cmd(missing, "log") == 0
    assert "还没有修改记录" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        kb_cmd(missing, "log", "--limit", "0")
