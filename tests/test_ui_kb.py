"""The 知识库 tab's handlers, called directly: editors manage, visitors only read and
upload to their own session."""

from types import SimpleNamespace

import pytest

from embeddings import FakeEncoder
from qa import Assistant, open_index
from qa.auth import COOKIE, LOGIN, NOT_ALLOWED, Access, hash_password
from qa.docstore import DocStore
from qa.overlay import Overlays
from qa.store import load
from qa.ui_kb import KnowledgeBaseTab

REPORT = (
    "# 慈溪工业报告\n\n## 企业梯队\n\n目前慈溪共有国家级单项冠军企业3家，省级隐形冠军企业2家。\n"
)
FARM = "慈溪农业概况\n\n慈溪杨梅种植面积约为五万亩，是当地的特色水果。\n"
EVIL = "# 防护测试文档\n\n防护测试段落：<script>alert(1)</script>应原样显示。\n"
NEW_DOC = "# 海洋经济\n\n慈溪跨海大桥全长三十六公里，于2008年通车。\n"
BRIDGE_Q = "慈溪跨海大桥全长多少公里？"

# view(): access, table, description, remove choices, restore choices, audit, editor, mine
TABLE, DESCRIPTION, REMOVE, RESTORE, AUDIT, EDITOR, MINE = 1, 2, 3, 4, 5, 6, 7


@pytest.fixture
def assistant(tmp_path, shared_tokenizer):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "report.md").write_text(REPORT, encoding="utf-8")
    (corpus / "farm.txt").write_text(FARM, encoding="utf-8")
    (corpus / "evil.md").write_text(EVIL, encoding="utf-8")
    kb = open_index(corpus, tmp_path / "index", FakeEncoder())
    return Assistant(kb, FakeEncoder(), shared_tokenizer, index_dir=tmp_path / "index")


@pytest.fixture
def access():
    return Access(LOGIN, users={"alice": hash_password("secret")})


@pytest.fixture
def tab(assistant, access):
    return KnowledgeBaseTab(lambda: assistant, access, Overlays())


def request(session="s1", cookie=None):
    return SimpleNamespace(
        cookies={COOKIE: cookie} if cookie else {}, headers={}, session_hash=session
    )


@pytest.fixture
def editor(access):
    return request("editor-session", access.login("alice", "secret"))


def upload_file(tmp_path, name, data):
    folder = tmp_path / "uploads"
    folder.mkdir(exist_ok=True)
    path = folder / name
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return str(path)


def sources(assistant):
    return sorted(d["source"] for d in assistant.documents())


# --- anonymous callers change nothing ------------------------------------------------


@pytest.mark.parametrize("cookie", [None, "forged-session-id"])
def test_management_needs_an_editor(tab, assistant, tmp_path, cookie):
    anonymous = request(cookie=cookie)
    before, disk = sources(assistant), sorted(load(assistant.index_dir).sources)
    path = upload_file(tmp_path, "farm.txt", NEW_DOC)
    assert tab.upload([path], True, anonymous)[0] == NOT_ALLOWED
    assert tab.remove("report.md", anonymous)[0] == NOT_ALLOWED
    assert tab.restore("report.md", anonymous)[0] == NOT_ALLOWED
    assert sources(assistant) == before and sorted(load(assistant.index_dir).sources) == disk
    assert DocStore(assistant.index_dir).audit() == []


def test_visitors_see_documents_but_no_management_or_audit(tab, editor, tmp_path):
    tab.upload([upload_file(tmp_path, "bridge.md", NEW_DOC)], False, editor)
    view = tab.view(request())
    assert "report.md" in view[TABLE] and "**4** 篇文档" in view[DESCRIPTION]
    assert view[EDITOR]["visible"] is False and view[AUDIT] == ""
    assert view[REMOVE]["choices"] == [] and view[RESTORE]["choices"] == []
    assert "/kb/login" in view[0]


def test_logout_ends_the_editor_session(tab, access, editor):
    assert tab.view(editor)[EDITOR]["visible"] is True
    access.logout(editor.cookies[COOKIE])
    assert tab.view(editor)[EDITOR]["visible"] is False
    assert tab.remove("report.md", editor)[0] == NOT_ALLOWED


# --- editors -------------------------------------------------------------------------


def test_editor_upload_adds_a_document_and_logs_it(tab, assistant, editor, tmp_path):
    assert not assistant.ask(BRIDGE_Q).found
    status, cleared, *view = tab.upload(
        [upload_file(tmp_path, "bridge.md", NEW_DOC)], False, editor
    )
    assert status.startswith("✅ bridge.md：已添加") and cleared is None
    assert "bridge.md" in view[TABLE] and "bridge.md" in view[REMOVE]["choices"]
    assert assistant.ask(BRIDGE_Q).found
    assert "bridge.md" in load(assistant.index_dir).sources
    assert "alice" in view[AUDIT] and "添加" in view[AUDIT] and "bridge.md" in view[AUDIT]


def test_upload_of_a_pdf_shows_pages_and_cites_them(tab, assistant, editor, tmp_path):
    from benchmarks.render_corpus import FONT, render_text_pdf
    from qa.records import Document

    if not FONT.exists():
        pytest.skip("fonts-wqy-zenhei not installed")
    pdf = tmp_path / "bridge.pdf"
    render_text_pdf(Document("bridge.md", "跨海大桥", NEW_DOC.replace("\n\n", "\n")), pdf)
    path = upload_file(tmp_path, "bridge.pdf", pdf.read_bytes())
    status, *_ = tab.upload([path], False, editor)
    assert status.startswith("✅ bridge.pdf：已添加，1 页，") and "个段落" in status
    answer = assistant.ask(BRIDGE_Q)
    assert answer.citations[0].source == "bridge.pdf"
    assert (answer.citations[0].page, answer.citations[0].location) == (1, "第 1 页")


def test_replacing_an_existing_name_needs_confirmation(tab, assistant, editor, tmp_path):
    path = upload_file(tmp_path, "farm.txt", NEW_DOC)
    status, box, *_ = tab.upload([path], False, editor)
    assert "同名文档已存在" in status and box is not None  # the file stays in the box
    assert assistant.ask("慈溪杨梅种植面积是多少？").found  # unchanged
    status, *_ = tab.upload([path], True, editor)
    assert "已替换" in status
    assert not assistant.ask("慈溪杨梅种植面积是多少？").found
    assert len(assistant.documents()) == 3


@pytest.mark.parametrize(
    "name, data, message",
    [
        ("virus.exe", b"MZ\x00\x00", "不支持的文件类型"),
        ("report.pdf", b"%PDF-1.4", "文件已损坏或不是有效的 PDF 文件"),
        ("noext", "文本", "不支持的文件类型"),
        ("empty.txt", b"", "文件是空的"),
        ("binary.txt", b"\x00\x01\x02" * 100, "无法添加"),
        ("spaces.md", "   \n\n  ", "无法添加"),
    ],
)
def test_bad_uploads_are_reported_and_change_nothing(
    tab, assistant, editor, tmp_path, name, data, message
):
    before = assistant.documents()
    status, *_ = tab.upload([upload_file(tmp_path, name, data)], False, editor)
    assert status.startswith(f"❌ {name}") and message in status
    assert assistant.documents() == before


def test_an_upload_that_is_gone_is_a_message(tab, assistant, editor, tmp_path):
    gone = str(tmp_path / "uploads" / "gone.md")
    assert "文件不存在或无法读取" in tab.upload([gone], False, editor)[0]
    assert "文件不存在或无法读取" in tab.session_upload([gone], request("s9"))[0]


def test_oversized_upload_and_too_many_files(tab, assistant, editor, tmp_path, monkeypatch):
    import qa.ui_kb as ui

    monkeypatch.setattr(ui, "MAX_UPLOAD_BYTES", 100)
    status, *_ = tab.upload([upload_file(tmp_path, "big.txt", "慈溪" * 100)], False, editor)
    assert "文件太大" in status
    monkeypatch.setattr(ui, "MAX_UPLOAD_BYTES", 10**6)
    monkeypatch.setattr(ui, "MAX_UPLOAD_FILES", 1)
    files = [upload_file(tmp_path, f"d{i}.md", NEW_DOC + str(i)) for i in range(3)]
    status, *_ = tab.upload(files, False, editor)
    assert "一次最多上传 1 个文件" in status and len(assistant.documents()) == 4


def test_upload_name_is_escaped(tab, editor, tmp_path):
    name = "<img src=x onerror=alert(1)>.exe"
    status, *_ = tab.upload([upload_file(tmp_path, name, b"x")], False, editor)
    assert "<img" not in status and "&lt;img" in status


def test_remove_then_restore_a_bundled_document(tab, assistant, editor):
    assert assistant.ask("慈溪杨梅种植面积是多少？").found
    status, *view = tab.remove("farm.txt", editor)
    assert status.startswith("🗑️ 已删除 farm.txt") and "farm.txt" not in view[TABLE]
    assert view[RESTORE]["choices"] == ["farm.txt"]
    assert not assistant.ask("慈溪杨梅种植面积是多少？").found
    status, *view = tab.restore("farm.txt", editor)
    assert status.startswith("♻️ 已恢复 farm.txt") and "farm.txt" in view[TABLE]
    assert assistant.ask("慈溪杨梅种植面积是多少？").found
    assert tab.remove(None, editor)[0] == "请先选择要删除的文档。"
    assert tab.remove("nope.md", editor)[0] == "知识库中没有文档 nope.md。"


def test_failed_save_tells_the_editor_the_cause(tab, assistant, editor, tmp_path, monkeypatch):
    import errno

    import faiss

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(faiss, "write_index", full)
    status, *_ = tab.upload([upload_file(tmp_path, "bridge.md", NEW_DOC)], False, editor)
    assert status.startswith("❌ bridge.md") and "磁盘空间不足" in status
    status, *_ = tab.remove("farm.txt", editor)
    assert "未删除" in status and "磁盘空间不足" in status
    assert sources(assistant) == ["evil.md", "farm.txt", "report.md"]


# --- a visitor's own documents ---------------------------------------------------------


def test_session_upload_is_invisible_to_other_sessions(tab, assistant, tmp_path):
    alice, bob = request("alice-session"), request("bob-session")
    status, _, *view = tab.session_upload([upload_file(tmp_path, "bridge.md", NEW_DOC)], alice)
    assert "仅本会话可用" in status and "bridge.md" in view[MINE]
    assert tab.assistant_for(alice).ask(BRIDGE_Q).found
    assert not tab.assistant_for(bob).ask(BRIDGE_Q).found
    assert not assistant.ask(BRIDGE_Q).found
    assert "bridge.md" not in load(assistant.index_dir).sources
    assert "bridge.md" not in tab.view(bob)[MINE] and "bridge.md" not in tab.view(bob)[TABLE]
    tab.end_session(alice)
    assert not tab.assistant_for(alice).ask(BRIDGE_Q).found


def test_session_documents_follow_a_shared_change(tab, assistant, editor, tmp_path):
    alice = request("alice-session")
    tab.session_upload([upload_file(tmp_path, "bridge.md", NEW_DOC)], alice)
    assert tab.assistant_for(alice).ask("慈溪杨梅种植面积是多少？").found
    tab.remove("farm.txt", editor)
    merged = tab.assistant_for(alice)
    assert not merged.ask("慈溪杨梅种植面积是多少？").found and merged.ask(BRIDGE_Q).found


def test_session_uploads_are_size_limited(assistant, access, tmp_path):
    tab = KnowledgeBaseTab(lambda: assistant, access, Overlays(max_bytes=200, max_sessions=1))
    alice = request("alice-session")
    status, *_ = tab.session_upload([upload_file(tmp_path, "big.md", "慈溪" * 100)], alice)
    assert "文件太大" in status
    status, *_ = tab.session_upload([upload_file(tmp_path, "a.md", NEW_DOC)], alice)
    assert "✅" in status
    status, *_ = tab.session_upload([upload_file(tmp_path, "b.md", NEW_DOC * 2)], alice)
    assert "合计不能超过" in status
    status, *_ = tab.session_upload([upload_file(tmp_path, "c.md", NEW_DOC)], request("bob"))
    assert "访客过多" in status


def test_one_visitor_cannot_take_every_private_upload_place(assistant, access, tmp_path):
    tab = KnowledgeBaseTab(lambda: assistant, access, Overlays(max_sessions=20, max_per_visitor=2))

    def from_(address, session):
        who = request(session)
        who.client = SimpleNamespace(host=address)
        status, *_ = tab.session_upload([upload_file(tmp_path, "a.md", NEW_DOC)], who)
        tab.get_worker().wait(max(j.id for j in tab.get_worker().jobs()), 10)
        return tab.progress(who)[0]

    assert "✅" in from_("192.0.2.1", "s1") and "✅" in from_("192.0.2.1", "s2")
    assert "同一访客最多在 2 个会话" in from_("192.0.2.1", "s3")
    assert "✅" in from_("192.0.2.9", "s4"), "another visitor still gets a place"
    assert "✅" in from_("192.0.2.1", "s1"), "in a session it holds already"


def test_read_only_mode_refuses_every_change(assistant, tmp_path):
    access = Access.from_env({}, host="0.0.0.0")
    tab = KnowledgeBaseTab(lambda: assistant, access, Overlays())
    anyone = request(cookie="guess")
    status, *_ = tab.upload([upload_file(tmp_path, "x.md", NEW_DOC)], True, anyone)
    assert "只读" in status and "0.0.0.0" in status
    assert "只读" in tab.remove("report.md", anyone)[0]
    assert "只读" in tab.view(anyone)[0] and tab.view(anyone)[EDITOR]["visible"] is False
    assert sources(assistant) == ["evil.md", "farm.txt", "report.md"]


# --- additions run in the background worker -----------------------------------------------


def test_additions_show_progress_until_done(tab, assistant, editor, tmp_path, monkeypatch):
    import threading
    import time

    import qa.ui_kb as ui

    monkeypatch.setattr(ui, "WAIT_S", 0.0)
    release = threading.Event()
    blocker = tab.get_worker().submit(  # an earlier, long addition keeps the worker busy
        [upload_file(tmp_path, "long.md", NEW_DOC)], add=lambda *_: release.wait(10) and 0
    )
    alice = request("alice-session")
    status, _, *view, timer = tab.session_upload([upload_file(tmp_path, "a.md", NEW_DOC)], alice)
    assert status.startswith("⏳ a.md：排队等待") and timer.active is True
    assert "a.md" not in view[MINE]
    again = tab.session_upload([upload_file(tmp_path, "c.md", NEW_DOC)], alice)[0]
    assert again.startswith("⏳ a.md：排队等待") and again.endswith(ui.UPLOAD_STILL_RUNNING)
    status, _, *view, timer = tab.upload([upload_file(tmp_path, "b.md", NEW_DOC)], False, editor)
    assert status.startswith("⏳ b.md") and timer.active is True
    mine, shared, *view, timer = tab.progress(alice)
    assert (
        mine.startswith("⏳ a.md")
        and timer.active is True
        and view[TABLE] == {"__type__": "update"}
    )
    release.set()
    tab.get_worker().wait(blocker.id, 10)

    def settled(who):
        for _ in range(200):
            mine, shared, *view, timer = tab.progress(who)
            if not timer.active:
                return mine, shared, view
            time.sleep(0.05)
        raise AssertionError("the additions did not finish")

    mine, _, view = settled(alice)
    assert mine == "✅ a.md：1 个段落，仅本会话可用" and "a.md" in view[MINE]
    _, shared, view = settled(editor)
    assert shared.startswith("✅ b.md：已添加") and "b.md" in view[TABLE]
    assert tab.assistant_for(alice).ask(BRIDGE_Q).found
