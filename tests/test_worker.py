"""The background indexing worker and the snapshot swap: questions are answered while a
document is embedded, failed additions change nothing, progress is reported."""

from __future__ import annotations

import os
import threading
import time

import pytest

from embeddings import FakeEncoder
from qa import Assistant
from qa import assistant as assistant_module
from qa.errors import StorageError
from qa.worker import IndexWorker, Job, limit_this_thread

pytestmark = pytest.mark.usefixtures("shared_tokenizer")

BAY = "前湾新区建设情况\n\n前湾新区位于杭州湾南岸，规划面积604平方公里，是浙江省四大新区之一。\n"
FARM = "现代农业开发区\n\n现代农业开发区以蔬菜和花卉种植为主，建成高标准农田12万亩。\n"
LONG = "".join(f"第{i}段：慈溪海洋经济第{i}项指标增长了{i}个百分点。\n\n" for i in range(200))


class SlowEncoder(FakeEncoder):
    """Passages take ``delay`` seconds a call; queries are instant."""

    def __init__(self, delay: float = 0.0):
        super().__init__()
        self.delay = delay
        self.embedding = threading.Event()

    def encode_passages(self, texts, progress=False):
        self.embedding.set()
        time.sleep(self.delay)
        return super().encode_passages(texts, progress)


@pytest.fixture
def setup(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "bay.txt").write_text(BAY, encoding="utf-8")
    encoder = SlowEncoder()
    assistant = Assistant.open(tmp_path / "index", corpus=corpus, model=encoder)
    encoder.embedding.clear()  # set by the build above
    worker = IndexWorker(
        lambda paths, names, progress: assistant.add_files(paths, names, progress=progress),
        model="fake",
    )
    yield assistant, worker, encoder, tmp_path
    worker.close()


def _file(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_job_runs_in_the_background_and_reports_progress(setup):
    assistant, worker, _, tmp_path = setup
    job = worker.submit([_file(tmp_path, "long.txt", LONG)], ["海洋.txt"])
    assert job.state == "queued" and "排队" in job.describe()
    done = worker.wait(job.id, timeout=30)
    assert done.state == "done" and done.added > 0 and done.total == done.done > 16
    assert "已添加" in done.describe()
    assert "海洋.txt" in {d["source"] for d in assistant.documents()}
    # answered from the new document (whether it answers or refuses is the answerer's call)
    assert assistant.ask("第7项指标增长了多少？").citations[0].source == "海洋.txt"


def test_questions_are_answered_while_a_document_is_embedded(setup):
    assistant, worker, encoder, tmp_path = setup
    encoder.delay = 1.5  # each embedding call
    job = worker.submit([_file(tmp_path, "farm.txt", FARM)])
    assert encoder.embedding.wait(5)
    start = time.perf_counter()
    answer = assistant.ask("前湾新区规划面积多大？")
    assert time.perf_counter() - start < 1.0, "the question waited for the embedding"
    assert answer.citations[0].source == "bay.txt" and "604" in answer.citations[0].text
    running = worker.job(job.id)
    assert running.state == "running" and "正在" in running.describe()
    assert "farm.txt" not in {d["source"] for d in assistant.documents()}  # not yet swapped in
    assert worker.wait(job.id, timeout=30).state == "done"
    assert "farm.txt" in {d["source"] for d in assistant.documents()}


def test_failed_job_is_reported_and_the_worker_goes_on(setup):
    assistant, worker, _, tmp_path = setup
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"\x00\x01\x02" * 10)
    failed = worker.wait(worker.submit([bad]).id, timeout=30)
    assert failed.state == "failed" and failed.message and "❌" in failed.describe()
    ok = worker.wait(worker.submit([_file(tmp_path, "farm.txt", FARM)]).id, timeout=30)
    assert ok.state == "done"


def test_failed_save_changes_neither_memory_nor_disk(setup, monkeypatch):
    assistant, worker, _, tmp_path = setup
    before = assistant.documents()
    on_disk = (tmp_path / "index" / "chunks.sqlite").read_bytes()

    def full_disk(kb, folder):
        raise StorageError(f"无法保存到 {folder}：磁盘空间不足")

    monkeypatch.setattr(assistant_module, "save", full_disk)
    job = worker.wait(worker.submit([_file(tmp_path, "farm.txt", FARM)]).id, timeout=30)
    assert job.state == "failed" and "磁盘空间不足" in job.message
    assert assistant.documents() == before
    assert not assistant.ask("现代农业开发区建成高标准农田多少亩？").found
    assert (tmp_path / "index" / "chunks.sqlite").read_bytes() == on_disk
    with pytest.raises(StorageError):
        assistant.remove_document("bay.txt")
    assert assistant.documents() == before


def test_the_uploaded_file_may_vanish_once_submitted(setup):
    _, worker, encoder, tmp_path = setup
    encoder.delay = 0.5
    first = worker.submit([_file(tmp_path, "a.txt", FARM)])
    path = _file(tmp_path, "b.txt", LONG)
    second = worker.submit([path])
    path.unlink()  # e.g. Gradio's upload cache cleaned
    assert worker.wait(first.id, 30).state == "done"
    assert worker.wait(second.id, 30).state == "done"


def test_a_question_reads_one_snapshot(setup, monkeypatch):
    """Search and the IDF used for answering come from the same snapshot, even when a
    change is swapped in between them."""
    assistant, _, _, tmp_path = setup
    seen = []
    original = assistant_module.Assistant._answer

    def answer(self, question, query, passages):
        if not seen:  # a change lands while this question is being answered
            assistant.add_files([_file(tmp_path, "farm.txt", FARM)])
        seen.append(self.retriever.bm25.n_docs)
        return original(self, question, query, passages)

    monkeypatch.setattr(assistant_module.Assistant, "_answer", answer)
    before = assistant.retriever.bm25.n_docs
    assistant.ask("前湾新区规划面积多大？")
    assert seen == [before] and assistant.retriever.bm25.n_docs > before


def test_worker_thread_priority_is_lowered_alone():
    tid_main = threading.get_native_id()
    main_before = os.getpriority(os.PRIO_PROCESS, tid_main)
    seen = {}

    def body():
        tid = threading.get_native_id()
        before = os.getpriority(os.PRIO_PROCESS, tid)
        limit_this_thread(nice=3)
        seen["delta"] = os.getpriority(os.PRIO_PROCESS, tid) - before

    thread = threading.Thread(target=body)
    thread.start()
    thread.join()
    assert seen["delta"] == 3 or os.getpriority(os.PRIO_PROCESS, tid_main) >= 19
    assert os.getpriority(os.PRIO_PROCESS, tid_main) == main_before


def test_job_descriptions():
    assert "排队" in Job(1, ("a.md",), estimate_s=120).describe()
    assert "读取" in Job(1, ("a.md",), state="running").describe()
    running = Job(1, ("a.md",), state="running", done=5, total=10, started=time.monotonic() - 5)
    assert "5/10" in running.describe() and "还需" in running.describe()
    assert Job(1, ("a.md",), state="failed", message="坏了").describe() == "❌ a.md：坏了"


def test_close_abandons_the_running_job_and_removes_its_files(setup):
    assistant, worker, encoder, tmp_path = setup
    encoder.delay = 0.3
    before = assistant.documents()
    job = worker.submit([_file(tmp_path, "long.txt", LONG)])
    assert encoder.embedding.wait(5)
    copies = set(worker._folders)
    assert copies and all(any(f.iterdir()) for f in copies)
    worker.close(timeout=30)
    assert worker.job(job.id).state == "failed" and "停止" in worker.job(job.id).message
    assert assistant.documents() == before, "nothing of the abandoned job was swapped in"
    assert not any(f.exists() for f in copies)


def test_a_job_may_bring_its_own_add_and_summary(tmp_path):
    seen = []

    def add(paths, names, progress):
        progress(1, 2)
        seen.append((paths[0].read_text(encoding="utf-8"), names))
        return 2, "已替换，2 个段落"

    worker = IndexWorker()  # no default: every job brings its own
    with pytest.raises(ValueError):
        worker.submit([_file(tmp_path, "a.txt", FARM)])
    done = worker.wait(worker.submit([_file(tmp_path, "b.txt", FARM)], ["农业.txt"], add).id, 10)
    worker.close()
    assert done.state == "done" and done.added == 2 and done.describe().endswith("已替换，2 个段落")
    assert seen == [(FARM, ["农业.txt"])]


def test_an_editors_addition_runs_before_queued_session_uploads(tmp_path):
    from qa.worker import SESSION_PRIORITY

    release, order = threading.Event(), []

    def add(name):
        def run(paths, names, progress):
            if name == "blocker":
                release.wait(10)
            order.append(name)
            return 1

        return run

    worker = IndexWorker()
    path = _file(tmp_path, "a.txt", FARM)
    blocker = worker.submit([path], add=add("blocker"))
    time.sleep(0.1)  # the blocker is running
    visitors = [worker.submit([path], add=add(f"visitor{i}"), priority=SESSION_PRIORITY)
                for i in range(3)]  # fmt: skip
    editor = worker.submit([path], add=add("editor"))
    release.set()
    for job in (blocker, *visitors, editor):
        assert worker.wait(job.id, 10).state == "done"
    worker.close()
    assert order == ["blocker", "editor", "visitor0", "visitor1", "visitor2"]
