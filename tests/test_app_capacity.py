"""The app under load and failure: per-session upload caps, Gradio's upload cache cleaned,
a clear start-up message for a missing corpus."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import app
from embeddings import FakeEncoder
from qa import Assistant, open_index
from qa.serving import PROXIES_ENV as PROXIES
from qa.serving import UploadLimit, UploadQuota, services, trusted_proxies, visitor

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
    assert quota.take("s1", small) == "每小时最多上传 2 个文件，请稍后再试"
    assert quota.take("s2", small) is None, "another session has its own allowance"
    big = tmp_path / "b.txt"
    big.write_bytes(b"x" * 700)
    assert "上限" in quota.take("s2", big)


def test_upload_cache_is_cleaned():
    assert app.demo.delete_cache == app.CACHE_CLEANING


def test_gradio_does_not_recompute_its_event_summary_after_every_event():
    """Gradio's monitoring summary (a pandas frame of past events, 5–13 ms each) is off."""
    queue = app.demo._queue
    records = [{"function": "ask", "status": "success", "process_time": 0.1}] * 50
    queue.events_recorded += len(records)
    assert queue.compute_analytics_summary(records) == {"functions": {}}


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


def _tiny_app(quota, exempt=None, proxies=("loopback",), max_bytes=None):
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    async def upload(request):
        await request.body()
        return PlainTextResponse("ok")

    inner = Starlette(routes=[Route("/gradio_api/upload", upload, methods=["POST"])])
    return UploadLimit(inner, quota, exempt, proxies, max_bytes)


def test_upload_route_is_capped_per_visitor_and_editors_are_exempt():
    from starlette.testclient import TestClient

    quota = UploadQuota(max_files=3, max_bytes=2500)
    proxy = ("10.0.0.1", 50000)  # a reverse proxy in front of the app
    editor = lambda r: r.cookies.get("editor") == "yes"  # noqa: E731
    client = TestClient(_tiny_app(quota, editor, trusted_proxies({PROXIES: "10.0.0.0/24"})),
                        client=proxy)  # fmt: skip
    post = lambda who="", **kw: client.post(  # noqa: E731
        "/gradio_api/upload", content=b"x" * 1000, headers={"x-forwarded-for": who}, **kw
    )
    assert post().status_code == 200 and post().status_code == 200
    refused = post()
    assert refused.status_code == 413 and "上限" in refused.json()["error"]
    assert post("10.0.0.9").status_code == 200, "another visitor has their own allowance"
    assert post("1.2.3.4, 10.0.0.9").status_code == 200, "a forged first hop changes nothing"
    assert post("1.2.3.4, 10.0.0.9").status_code == 413
    client.cookies.set("editor", "yes")
    assert all(post().status_code == 200 for _ in range(5))


def test_a_file_over_the_size_limit_is_told_so_and_not_counted():
    from starlette.testclient import TestClient

    quota = UploadQuota(max_files=2, max_bytes=300 * 1024)
    client = TestClient(_tiny_app(quota, max_bytes=100 * 1024))
    big = client.post("/gradio_api/upload", content=b"x" * 200 * 1024)
    assert big.status_code == 413 and "文件太大" in big.json()["error"], big.json()
    assert "上传总量" not in big.json()["error"]
    too_much = UploadQuota(max_bytes=1024).take_bytes("a", 4096)
    assert too_much is not None and too_much.startswith("文件太大")
    for _ in range(2):  # the refused one took nothing of the allowance
        assert client.post("/gradio_api/upload", content=b"x" * 1000).status_code == 200


def test_upload_without_length_is_refused_and_the_window_frees_the_allowance(monkeypatch):
    from starlette.testclient import TestClient

    quota = UploadQuota(max_files=1, window_s=60)
    client = TestClient(_tiny_app(quota))
    chunked = client.post("/gradio_api/upload", content=iter([b"x" * 10]))
    assert chunked.status_code == 411
    assert client.post("/gradio_api/upload", content=b"x").status_code == 200
    assert client.post("/gradio_api/upload", content=b"x").status_code == 413
    later = time.monotonic() + 61
    monkeypatch.setattr(time, "monotonic", lambda: later)
    assert client.post("/gradio_api/upload", content=b"x").status_code == 200


def test_the_real_upload_route_refuses_the_third_9_mb_post(tmp_path, monkeypatch):
    from starlette.testclient import TestClient

    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "gradio"))
    with TestClient(app.build_app()) as client:
        sizes, kept = [], []
        for i in range(3):
            files = {"files": (f"f{i}.txt", b"x" * 9_000_000, "text/plain")}
            response = client.post("/gradio_api/upload", files=files)
            sizes.append(response.status_code)
            if response.status_code == 200:
                kept += [Path(p) for p in response.json()]
        assert sizes[:2] == [200, 200] and sizes[2] == 413
        assert "上限" in response.json()["error"]
        assert len(kept) == 2 and all(p.exists() for p in kept)
    assert not any(p.exists() for p in kept), "the upload cache is emptied when the server stops"


def test_only_trusted_proxies_name_the_visitor():
    from types import SimpleNamespace

    def seen(peer, env, forwarded="203.0.113.7"):
        request = SimpleNamespace(
            client=SimpleNamespace(host=peer), headers={"x-forwarded-for": forwarded}
        )
        return visitor(request, trusted_proxies(env))

    assert seen("127.0.0.1", {}) == "203.0.113.7", "a reverse proxy on this host"
    assert seen("10.1.2.3", {}) == "10.1.2.3", "a LAN client cannot name itself anew"
    assert seen("10.1.2.3", {"SPACE_ID": "me/qa"}) == "203.0.113.7", "a Space's router"
    assert seen("10.1.2.3", {PROXIES: "10.1.0.0/16"}) == "203.0.113.7"
    assert seen("10.9.2.3", {PROXIES: "10.1.0.0/16, 192.168.1.5"}) == "10.9.2.3"
    assert seen("192.168.1.5", {PROXIES: "10.1.0.0/16, 192.168.1.5"}) == "203.0.113.7"
    assert seen("127.0.0.1", {PROXIES: "10.1.0.0/16"}) == "127.0.0.1", "only what is named"
    assert seen("127.0.0.1", {}, "not-an-ip") == "127.0.0.1", "only an address names anyone"


def test_the_server_leaves_x_forwarded_for_to_the_app(assistant, monkeypatch):
    """uvicorn's own proxy headers would rewrite a loopback peer's address first."""
    import uvicorn

    seen: dict = {}
    monkeypatch.setattr(uvicorn, "run", lambda server, **options: seen.update(options))
    app.main()
    assert seen["proxy_headers"] is False


def test_a_direct_client_cannot_choose_its_address_by_x_forwarded_for():
    """Without a proxy in between, ``X-Forwarded-For`` is whatever the client wrote."""
    from starlette.testclient import TestClient

    quota = UploadQuota(max_files=2)
    client = TestClient(_tiny_app(quota), client=("93.184.216.34", 50000))
    post = lambda who: client.post(  # noqa: E731
        "/gradio_api/upload", content=b"x", headers={"x-forwarded-for": who}
    )
    assert post("1.1.1.1").status_code == 200 and post("2.2.2.2").status_code == 200
    refused = post("3.3.3.3")
    assert refused.status_code == 413, "a new forged address is no new allowance"
    assert refused.json()["error"] == "每小时最多上传 2 个文件，请稍后再试"


def test_the_v1_endpoint_answers_in_the_apps_micro_batches(assistant, tmp_path, monkeypatch):
    from starlette.testclient import TestClient

    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "gradio"))
    question = {"role": "user", "content": "慈溪跨海大桥全长多少公里？"}
    with TestClient(app.build_app()) as client:
        reply = client.post("/v1/chat/completions", json={"messages": [question]})
    assert reply.status_code == 200
    assert "三十六公里" in reply.json()["choices"][0]["message"]["content"]
    assert services(assistant).batcher.batches == 1
