"""Roles over real HTTP: ``python app.py`` in a subprocess on 127.0.0.1 (fake encoder, tiny
corpus), called as a hostile client would — events by ``fn_index`` through the queue
routes, and ``gradio_client`` — and as an editor with the terminal link or a users file."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from qa.auth import COOKIE, NOT_ALLOWED, write_user

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT = 120
REPORT = (
    "# 慈溪工业报告\n\n## 企业梯队\n\n目前慈溪共有国家级单项冠军企业3家，省级隐形冠军企业2家。\n"
)
FARM = "慈溪农业概况\n\n慈溪杨梅种植面积约为五万亩，是当地的特色水果。\n"
FAKE = "# 慈溪工业报告\n\n目前慈溪共有国家级单项冠军企业9家。\n"
BRIDGE = "# 海洋经济\n\n慈溪跨海大桥全长三十六公里，于2008年通车。\n"
QUESTION = "慈溪有几家国家级单项冠军企业？"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(tmp: Path, **env: str):
    """(url, process, log path) of the app on a fresh corpus and index in ``tmp``."""
    corpus = tmp / "corpus"
    corpus.mkdir()
    (corpus / "report.md").write_text(REPORT, encoding="utf-8")
    (corpus / "farm.txt").write_text(FARM, encoding="utf-8")
    port = free_port()
    environ = {
        k: v for k, v in os.environ.items() if k not in ("QA_ADMIN_PASSWORD", "QA_USERS_FILE")
    }
    environ |= {
        "GRADIO_SERVER_PORT": str(port),
        "GRADIO_SERVER_NAME": "127.0.0.1",
        "GRADIO_ANALYTICS_ENABLED": "False",
        "GRADIO_TEMP_DIR": str(tmp / "gradio"),
        "QA_MODEL": "fake",
        "QA_CORPUS_DIR": str(corpus),
        "QA_INDEX_DIR": str(tmp / "index"),
    } | env
    log = tmp / "app.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "app.py"], cwd=ROOT, env=environ, stdout=out, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_TIMEOUT
    while "问答页" not in log.read_text() or not _up(url):
        if proc.poll() is not None or time.monotonic() > deadline:
            stop(proc)
            pytest.fail(f"app did not start:\n{log.read_text()}")
        time.sleep(0.3)
    return url, proc, log


def _up(url: str) -> bool:
    try:
        return httpx.get(url + "/", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def stop(proc) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="module")
def link_app(tmp_path_factory):
    """The app with no login configured: it prints a one-time editor link."""
    tmp = tmp_path_factory.mktemp("link")
    url, proc, log = start(tmp)
    yield url, log.read_text(), tmp
    stop(proc)


@pytest.fixture(scope="module")
def login_app(tmp_path_factory):
    """The app with a users file (alice / correct horse)."""
    tmp = tmp_path_factory.mktemp("login")
    write_user(tmp / "users", "alice", "correct horse")
    url, proc, log = start(tmp, QA_USERS_FILE=str(tmp / "users"))
    yield url, log.read_text(), tmp
    stop(proc)


def events(url: str) -> dict[str, int]:
    """{handler name: fn_index} of the page's events, as a hostile client finds them."""
    config = httpx.get(url + "/config").json()
    return {d["api_name"]: d["id"] for d in config["dependencies"] if d.get("api_name")}


def call(url: str, fn_index: int, data: list, session: str, cookies: dict | None = None):
    """Call one event over HTTP as the page does (join the queue, read the event stream);
    returns the completion message."""
    with httpx.Client(base_url=url, cookies=cookies or {}, timeout=30) as client:
        joined = client.post(
            "/gradio_api/queue/join",
            json={"data": data, "fn_index": fn_index, "session_hash": session},
        )
        assert joined.status_code == 200, joined.text
        with client.stream("GET", f"/gradio_api/queue/data?session_hash={session}") as stream:
            for line in stream.iter_lines():
                if line.startswith("data:"):
                    message = json.loads(line[5:])
                    if message.get("msg") == "process_completed":
                        return message
    raise AssertionError("no completion message")


def answer(url: str) -> str:
    from gradio_client import Client

    return Client(url + "/", verbose=False).predict(QUESTION, api_name="/ask")


def indexed(tmp: Path) -> list[str]:
    return sorted(json.loads((tmp / "index" / "manifest.json").read_text())["documents"])


def uploaded(url: str, name: str, text: str) -> list[dict]:
    """A file posted to Gradio's upload route, as an event's File input value."""
    posted = httpx.post(url + "/gradio_api/upload", files={"files": (name, text.encode())})
    path = posted.json()[0]
    return [{"path": path, "orig_name": name, "meta": {"_type": "gradio.FileData"}}]


def editor_cookies(link_text: str) -> dict:
    link = re.search(r"(http://\S+/kb/editor\?token=\S+)", link_text).group(1)
    response = httpx.get(link)
    assert response.status_code == 303
    assert "httponly" in response.headers["set-cookie"].lower()
    return {COOKIE: response.cookies[COOKIE]}


# --- anonymous callers --------------------------------------------------------------


@pytest.mark.parametrize("cookies", [None, {COOKIE: "forged"}])
def test_anonymous_fn_index_calls_change_nothing(link_app, cookies):
    url, _, tmp = link_app
    fns = events(url)
    assert "3家" in answer(url)
    before = indexed(tmp)
    # replace a bundled document with a forged one, by fn_index, without logging in
    done = call(url, fns["upload"], [uploaded(url, "report.md", FAKE), True], "anon-1", cookies)
    assert done["output"]["data"][0] == NOT_ALLOWED
    for name in ("remove", "restore"):  # the dropdowns hold no choices for visitors
        done = call(url, fns[name], ["report.md"], "anon-2", cookies)
        assert not done["success"] or done["output"]["data"][0] == NOT_ALLOWED
    view = call(url, fns["view"], [], "anon-3", cookies)["output"]["data"]
    assert "审计" not in json.dumps(view, ensure_ascii=False)  # no audit log for visitors
    assert indexed(tmp) == before and "3家" in answer(url)


def test_gradio_client_reaches_only_the_ask_endpoint(link_app):
    from gradio_client import Client

    url, _, _ = link_app
    client = Client(url + "/", verbose=False)
    assert list(client.view_api(print_info=False, return_format="dict")["named_endpoints"]) == [
        "/ask",
        "/ask_record",
    ]
    fns = events(url)
    for fn_index in fns.values():
        if fn_index in (fns["ask"], fns["ask_record"]):
            continue
        with pytest.raises(ValueError):
            client.predict("report.md", fn_index=fn_index)


def test_a_bad_editor_token_is_refused(link_app):
    url, _, _ = link_app
    response = httpx.get(url + "/kb/editor?token=guess")
    assert response.status_code == 403 and COOKIE not in response.cookies
    assert httpx.post(url + "/kb/login", data={"name": "admin", "password": "x"}).status_code == 401


# --- editors ------------------------------------------------------------------------


def test_terminal_link_makes_an_editor_until_logout(link_app):
    url, log, tmp = link_app
    assert "编辑者链接" in log
    cookies = editor_cookies(log)
    fns = events(url)
    view = call(url, fns["view"], [], "editor-1", cookies)["output"]["data"]
    assert "已登录为编辑者" in view[0]
    done = call(
        url, fns["upload"], [uploaded(url, "bridge.md", BRIDGE), False], "editor-1", cookies
    )
    assert "✅ bridge.md：已添加" in done["output"]["data"][0]
    assert "bridge.md" in indexed(tmp)
    audit = call(url, fns["view"], [], "editor-1", cookies)["output"]["data"][5]
    assert "bridge.md" in audit and "本机" in audit
    logout = httpx.get(url + "/kb/logout", cookies=cookies)
    assert logout.status_code == 303
    done = call(url, fns["upload"], [uploaded(url, "x.md", BRIDGE), False], "editor-1", cookies)
    assert done["output"]["data"][0] == NOT_ALLOWED


SEAWALL = "# 海塘\n\n慈溪十塘全长约五十八公里，建于明代。\n"
SEAWALL_Q = "慈溪十塘全长多少公里？"


def test_session_upload_is_private_to_its_session(link_app):
    url, _, tmp = link_app
    fns = events(url)
    done = call(url, fns["session_upload"], [uploaded(url, "seawall.md", SEAWALL)], "visitor-a")
    assert "仅本会话可用" in done["output"]["data"][0]

    def chat(session: str) -> str:
        done = call(url, fns["respond"], [SEAWALL_Q, [], [], 3, []], session)
        return json.dumps(done["output"]["data"][0], ensure_ascii=False)

    assert "五十八公里" in chat("visitor-a")
    assert "五十八公里" not in chat("visitor-b")
    from gradio_client import Client

    assert "五十八公里" not in Client(url + "/", verbose=False).predict(SEAWALL_Q, api_name="/ask")
    assert "seawall.md" not in indexed(tmp)
    view = call(url, fns["view"], [], "visitor-b")["output"]["data"]
    assert "seawall.md" not in json.dumps(view, ensure_ascii=False)


def test_an_event_cannot_be_handed_a_server_file_by_its_path(link_app):
    """Only files posted to the upload route reach the handlers: not one named by path."""
    url, _, tmp = link_app
    secret = tmp / "secret.txt"  # readable by the server, never uploaded
    secret.write_text("机密\n\n星河镇的金库密码是七七八八。\n", encoding="utf-8")
    named = [{"path": str(secret), "orig_name": "x.txt", "meta": {"_type": "gradio.FileData"}}]
    fns = events(url)
    done = call(url, fns["session_upload"], [named], "thief")
    assert done["success"] is False and "仅本会话可用" not in json.dumps(done, ensure_ascii=False)
    asked = call(url, fns["respond"], ["星河镇的金库密码是什么？", [], [], 3, []], "thief")
    assert "七七八八" not in json.dumps(asked["output"], ensure_ascii=False)
    done = call(url, fns["run"], [named[0]], "thief")  # the batch tab's question file
    assert done["success"] is False
    assert "七七八八" not in json.dumps(done, ensure_ascii=False)
    assert call(url, fns["session_upload"], [uploaded(url, "ok.md", BRIDGE)], "ok")["success"]


def test_original_files_are_served_from_the_store_only(link_app):
    url, _, tmp = link_app
    digest = json.loads((tmp / "index" / "manifest.json").read_text())["documents"]["report.md"]
    response = httpx.get(f"{url}/kb/file/{digest}")
    assert response.status_code == 200 and response.text == REPORT
    assert response.headers["x-content-type-options"] == "nosniff"
    for bad in ("0123456789abcdef", "..%2F..%2Fetc%2Fpasswd", "manifest.json"):
        assert httpx.get(f"{url}/kb/file/{bad}").status_code == 404


def test_users_file_login(login_app):
    url, log, tmp = login_app
    assert "编辑者链接" not in log and "/kb/login" in log
    assert httpx.get(url + "/kb/editor?token=anything").status_code == 403
    wrong = httpx.post(url + "/kb/login", data={"name": "alice", "password": "wrong"})
    assert wrong.status_code == 401 and COOKIE not in wrong.cookies
    right = httpx.post(url + "/kb/login", data={"name": "alice", "password": "correct horse"})
    assert right.status_code == 303
    cookies = {COOKIE: right.cookies[COOKIE]}
    fns = events(url)
    call(url, fns["view"], [], "alice-1", cookies)  # the page loads: her choices are set
    done = call(url, fns["remove"], ["farm.txt"], "alice-1", cookies)
    assert done["output"]["data"][0].startswith("🗑️ 已删除 farm.txt")
    assert indexed(tmp) == ["report.md"]
    log_lines = subprocess.run(
        [sys.executable, "-m", "qa", "kb", "log", "--index", str(tmp / "index")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "alice\tremove\tfarm.txt" in log_lines


def test_cli_change_is_picked_up_by_the_running_app(login_app):
    url, _, tmp = login_app
    bridge = tmp / "bridge.md"
    bridge.write_text(BRIDGE, encoding="utf-8")
    added = subprocess.run(
        [sys.executable, "-m", "qa", "kb", "add", str(bridge), "--index", str(tmp / "index")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=os.environ | {"QA_MODEL": "fake"},
    )
    assert added.returncode == 0, added.stderr
    from gradio_client import Client

    out = Client(url + "/", verbose=False).predict("慈溪跨海大桥全长多少公里？", api_name="/ask")
    assert "三十六公里" in out
