"""The document store: one durable source of truth, changes saved atomically or not at all."""

import errno
import gc
import os
import shutil
import subprocess
from contextlib import contextmanager

import pytest

from embeddings import FakeEncoder
from qa import Assistant, open_index
from qa.docstore import DocStore
from qa.errors import StorageError
from qa.store import load
from qa.vocabulary import VOCABULARY_FILE

REPORT = (
    "# 慈溪工业报告\n\n## 企业梯队\n\n目前慈溪共有国家级单项冠军企业3家，省级隐形冠军企业2家。\n"
)
FARM = "慈溪农业概况\n\n慈溪杨梅种植面积约为五万亩，是当地的特色水果。\n"
BRIDGE = "# 海洋经济\n\n慈溪跨海大桥全长三十六公里，于2008年通车。\n"


@pytest.fixture
def tokenizer(shared_tokenizer):
    return shared_tokenizer


@pytest.fixture
def kb_dir(tmp_path):
    """(corpus folder, index folder) with two bundled documents; the index lives in its own
    parent folder so that folder can be made read-only."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "report.md").write_text(REPORT, encoding="utf-8")
    (corpus / "farm.txt").write_text(FARM, encoding="utf-8")
    (tmp_path / "kb").mkdir()
    return corpus, tmp_path / "kb" / "index"


def opened(corpus, index, tokenizer, encoder=None) -> Assistant:
    encoder = encoder or FakeEncoder()
    kb = open_index(corpus, index, encoder)
    return Assistant(kb, encoder, tokenizer, index_dir=index)


def upload(tmp_path, name, text):
    folder = tmp_path / "uploads"
    folder.mkdir(exist_ok=True)
    (folder / name).write_text(text, encoding="utf-8")
    return folder / name


def sources(assistant):
    return sorted(d["source"] for d in assistant.documents())


def disk_snapshot(index):
    """Every file of the index folder (document store included) and its bytes; the
    vocabulary cache (recounted whenever the indexed text changed) is left out."""
    return {
        str(p.relative_to(index)): p.read_bytes()
        for p in sorted(index.rglob("*"))
        if p.is_file() and p.name != VOCABULARY_FILE
    }


def test_upload_is_stored_content_addressed_and_logged(kb_dir, tmp_path, tokenizer):
    corpus, index = kb_dir
    assistant = opened(corpus, index, tokenizer)
    assistant.add_files([upload(tmp_path, "bridge.md", BRIDGE)], ["bridge.md"], by="alice")
    store = DocStore(index)
    entry = store.state()["uploads"]["bridge.md"]
    assert store.blob(entry).read_text("utf-8") == BRIDGE
    assert store.blob(entry).name.startswith(entry["sha256"])
    (row,) = store.audit()
    assert (row["by"], row["action"], row["document"]) == ("alice", "add", "bridge.md")
    assert row["sha256"] == load(index).manifest["documents"]["bridge.md"]


def test_uploads_survive_a_model_change(kb_dir, tmp_path, tokenizer):
    corpus, index = kb_dir
    assistant = opened(corpus, index, tokenizer)
    assistant.add_files([upload(tmp_path, "bridge.md", BRIDGE)], ["bridge.md"])
    (tmp_path / "uploads" / "bridge.md").unlink()  # the original upload is gone: the store has it
    other = opened(corpus, index, tokenizer, FakeEncoder(dim=32, name="other-model"))
    assert other.kb.manifest["model"] == "other-model"
    assert sources(other) == ["bridge.md", "farm.txt", "report.md"]
    assert other.ask("慈溪跨海大桥全长多少公里？").found


def test_uploads_and_removals_survive_an_index_of_the_earlier_format(kb_dir, tmp_path, tokenizer):
    """An index saved by the JSONL store (format 1) is rebuilt from corpus + uploads −
    removals; its document store comes along and its old files do not."""
    import json

    corpus, index = kb_dir
    assistant = opened(corpus, index, tokenizer)
    assistant.add_files([upload(tmp_path, "bridge.md", BRIDGE)])
    assistant.remove_document("farm.txt")
    manifest = json.loads((index / "manifest.json").read_text("utf-8"))
    (index / "manifest.json").write_text(json.dumps(manifest | {"format": 1}), "utf-8")
    (index / "chunks.sqlite").unlink()
    (index / "chunks.jsonl").write_text("{}\n", "utf-8")
    again = opened(corpus, index, tokenizer)
    assert sources(again) == ["bridge.md", "report.md"]
    assert not (index / "chunks.jsonl").exists() and (index / "documents").is_dir()


def test_uploads_survive_a_chunking_change_and_a_new_corpus_folder(kb_dir, tmp_path, tokenizer):
    from qa import ChunkParams

    corpus, index = kb_dir
    opened(corpus, index, tokenizer).add_files([upload(tmp_path, "bridge.md", BRIDGE)])
    kb = open_index(corpus, index, FakeEncoder(), ChunkParams(size=120, overlap=20))
    assert "bridge.md" in kb.sources
    moved = tmp_path / "moved"
    shutil.copytree(corpus, moved)
    (moved / "farm.txt").unlink()
    kb = open_index(moved, index, FakeEncoder())
    assert sorted(kb.sources) == ["bridge.md", "report.md"]


def test_removed_bundled_document_stays_removed_and_can_be_restored(kb_dir, tokenizer):
    corpus, index = kb_dir
    assistant = opened(corpus, index, tokenizer)
    assert assistant.remove_document("farm.txt", by="bob") > 0
    assert assistant.removed_documents() == ["farm.txt"]
    rebuilt = opened(corpus, index, tokenizer, FakeEncoder(dim=32, name="other-model"))
    assert sources(rebuilt) == ["report.md"]  # the rebuild did not bring it back
    assert rebuilt.restore_document("farm.txt", by="bob") > 0
    assert sources(rebuilt) == ["farm.txt", "report.md"]
    assert rebuilt.removed_documents() == []
    assert [r["action"] for r in DocStore(index).audit()] == ["remove", "restore"]
    assert sources(opened(corpus, index, tokenizer)) == ["farm.txt", "report.md"]


def test_removed_upload_is_restored_from_the_store(kb_dir, tmp_path, tokenizer):
    corpus, index = kb_dir
    assistant = opened(corpus, index, tokenizer)
    assistant.add_files([upload(tmp_path, "bridge.md", BRIDGE)])
    assistant.remove_document("bridge.md")
    assert sources(opened(corpus, index, tokenizer)) == ["farm.txt", "report.md"]
    assert assistant.restore_document("bridge.md") > 0
    assert assistant.ask("慈溪跨海大桥全长多少公里？").found


def test_upload_replacing_a_bundled_document_wins_over_the_corpus(kb_dir, tmp_path, tokenizer):
    corpus, index = kb_dir
    assistant = opened(corpus, index, tokenizer)
    assistant.add_files([upload(tmp_path, "farm.txt", BRIDGE)])
    assert DocStore(index).audit()[-1]["action"] == "replace"
    rebuilt = opened(corpus, index, tokenizer, FakeEncoder(dim=32, name="other-model"))
    farm = [c.text for c in rebuilt.kb.chunks.values() if c.source == "farm.txt"]
    assert farm and all("杨梅" not in t for t in farm)


def test_nothing_to_remove_or_restore_changes_nothing(kb_dir, tokenizer):
    corpus, index = kb_dir
    assistant = opened(corpus, index, tokenizer)
    before = disk_snapshot(index)
    assert assistant.remove_document("nope.md") == 0
    assert assistant.restore_document("report.md") == 0
    assert disk_snapshot(index) == before


def test_reopening_an_unchanged_knowledge_base_does_not_rebuild(kb_dir, tmp_path, tokenizer):
    corpus, index = kb_dir
    assistant = opened(corpus, index, tokenizer)
    assistant.add_files([upload(tmp_path, "bridge.md", BRIDGE)])
    assistant.remove_document("farm.txt")
    before = disk_snapshot(index)
    opened(corpus, index, tokenizer)
    assert disk_snapshot(index) == before


def test_another_process_change_is_picked_up(kb_dir, tmp_path, tokenizer):
    corpus, index = kb_dir
    app = opened(corpus, index, tokenizer)
    cli = Assistant(load(index), FakeEncoder(), tokenizer, index_dir=index)
    cli.add_files([upload(tmp_path, "bridge.md", BRIDGE)])
    assert "bridge.md" not in sources(app)
    assert app.reload_if_changed()
    assert app.ask("慈溪跨海大桥全长多少公里？").found
    assert not app.reload_if_changed()  # nothing new
    app.remove_document("report.md")  # the app's own change starts from the CLI's
    assert sources(load_assistant(index, tokenizer)) == ["bridge.md", "farm.txt"]


def load_assistant(index, tokenizer):
    return Assistant(load(index), FakeEncoder(), tokenizer, index_dir=index)


# --- a failed save changes nothing --------------------------------------------------


def assert_unchanged(assistant, index, docs, snapshot):
    assert sources(assistant) == docs
    assert disk_snapshot(index) == snapshot
    assert sources(load_assistant(index, assistant.tokenizer)) == docs
    assert assistant.ask("慈溪有几家国家级单项冠军企业？").found


@pytest.mark.parametrize("where", ["faiss.write_index", "tempfile.mkdtemp", "os.replace"])
def test_disk_full_on_upload_changes_nothing(kb_dir, tmp_path, tokenizer, monkeypatch, where):
    corpus, index = kb_dir
    assistant = opened(corpus, index, tokenizer)
    before, docs = disk_snapshot(index), sources(assistant)
    path = upload(tmp_path, "bridge.md", BRIDGE)
    module, name = where.split(".")
    target = {"faiss": pytest.importorskip("faiss"), "tempfile": __import__("tempfile")}.get(
        module, os
    )

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(target, name, full)
    with pytest.raises(StorageError, match="磁盘空间不足"):
        assistant.add_files([path])
    monkeypatch.undo()
    assert_unchanged(assistant, index, docs, before)
    assert DocStore(index).audit() == []


def test_disk_full_on_removal_changes_nothing(kb_dir, tokenizer, monkeypatch):
    corpus, index = kb_dir
    assistant = opened(corpus, index, tokenizer)
    before, docs = disk_snapshot(index), sources(assistant)
    import faiss

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(faiss, "write_index", full)
    with pytest.raises(StorageError, match="磁盘空间不足"):
        assistant.remove_document("report.md")
    monkeypatch.undo()
    assert_unchanged(assistant, index, docs, before)


@contextmanager
def read_only(folder):
    """Make ``folder`` read-only, for root too (a read-only bind mount), else skip."""
    if os.geteuid() != 0:
        modes = {p: p.stat().st_mode for p in [folder, *folder.rglob("*")] if p.is_dir()}
        for p in modes:
            p.chmod(0o555)
        try:
            yield
        finally:
            for p, mode in modes.items():
                p.chmod(mode)
        return
    mounted = subprocess.run(["mount", "--bind", "-o", "ro", folder, folder], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot make a read-only folder as root: {mounted.stderr!r}")
    try:
        yield
    finally:
        gc.collect()  # an assistant loaded meanwhile holds its passages file open until freed
        subprocess.run(["umount", folder], check=True)


@pytest.mark.parametrize("action", ["add", "remove"])
def test_read_only_folder_changes_nothing(kb_dir, tmp_path, tokenizer, action):
    corpus, index = kb_dir
    assistant = opened(corpus, index, tokenizer)
    before, docs = disk_snapshot(index), sources(assistant)
    path = upload(tmp_path, "bridge.md", BRIDGE)
    with read_only(index.parent):
        with pytest.raises(StorageError) as caught:
            if action == "add":
                assistant.add_files([path])
            else:
                assistant.remove_document("farm.txt")
        assert "只读" in str(caught.value) or "权限" in str(caught.value)
        assert_unchanged(assistant, index, docs, before)


def test_a_change_waits_for_another_process_then_gives_up_clearly(
    kb_dir, tmp_path, tokenizer, monkeypatch
):
    import multiprocessing

    import qa.docstore

    corpus, index = kb_dir
    assistant = opened(corpus, index, tokenizer)
    before = disk_snapshot(index)
    ready, done = multiprocessing.Event(), multiprocessing.Event()
    holder = multiprocessing.Process(target=hold_lock, args=(index, ready, done))
    holder.start()
    try:
        assert ready.wait(30)
        monkeypatch.setattr(qa.docstore, "LOCK_TIMEOUT", 0.3)
        with pytest.raises(StorageError, match="另一个进程"):
            assistant.add_files([upload(tmp_path, "bridge.md", BRIDGE)])
    finally:
        done.set()
        holder.join(30)
    assert disk_snapshot(index) == before
    assert assistant.add_files([upload(tmp_path, "bridge.md", BRIDGE)]) > 0  # free again


def hold_lock(index, ready, done):
    with DocStore(index).lock():
        ready.set()
        done.wait(30)


class BlockingEncoder(FakeEncoder):
    """Embeds passages only once ``release`` is set: a slow upload, held mid-embedding."""

    def __init__(self):
        super().__init__()
        import threading

        self.embedding, self.release = threading.Event(), threading.Event()

    def encode_passages(self, texts, progress=False):
        self.embedding.set()
        assert self.release.wait(30)
        return super().encode_passages(texts, progress)


def test_questions_are_answered_while_a_document_is_embedded(kb_dir, tmp_path, tokenizer):
    import threading

    corpus, index = kb_dir
    opened(corpus, index, tokenizer)  # built with the plain fake encoder
    encoder = BlockingEncoder()
    assistant = Assistant(load(index), encoder, tokenizer, index_dir=index)
    adding = threading.Thread(
        target=assistant.add_files, args=([upload(tmp_path, "bridge.md", BRIDGE)],)
    )
    adding.start()
    try:
        assert encoder.embedding.wait(30)  # the upload is mid-embedding…
        answers = []
        asking = threading.Thread(
            target=lambda: answers.append(assistant.ask("慈溪有几家国家级单项冠军企业？"))
        )
        asking.start()
        asking.join(10)  # …and a question is answered meanwhile, not after it
        assert answers and answers[0].found and "bridge.md" not in sources(assistant)
    finally:
        encoder.release.set()
        adding.join(30)
    assert "bridge.md" in sources(assistant)
