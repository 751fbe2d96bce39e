"""The 知识库 tab: the document list for everyone, private session uploads for visitors,
and management (add/replace, remove, restore, audit log) for logged-in editors only.

Every management handler checks the editor session itself (``Access.editor``), so calling
the events by ``fn_index`` over HTTP without a login changes nothing.

Additions (an editor's and a visitor's session uploads alike) are embedded by the background
``IndexWorker`` (``qa/worker.py``: one thread, lower priority), so questions keep being
answered meanwhile. A handler waits up to ``WAIT_S`` for its jobs (small files are done by
then); otherwise it returns their progress and a timer polls it until they are done.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

import gradio as gr

from .assistant import Assistant
from .auth import LINK, LOGIN, NOT_ALLOWED, Access
from .errors import QAError
from .overlay import Overlays
from .readers import UnreadableDocument, read_document, summary, supported_suffixes
from .render import describe_knowledge_base, escape, render_documents
from .serving import LOOPBACK, Proxies, visitor
from .ui_notices import UNSUPPORTED_TYPE
from .worker import SESSION_PRIORITY, IndexWorker, Job

log = logging.getLogger(__name__)

MAX_UPLOAD_MB = 5
MAX_UPLOAD_BYTES = MAX_UPLOAD_MB * 1024 * 1024
MAX_UPLOAD_FILES = 10
AUDIT_ROWS = 50  # latest audit-log entries shown to editors
WAIT_S = 1.5  # a handler waits this long for its additions before showing progress
POLL_S = 1.0  # how often the page asks for the progress of running additions
SHARED, SESSION = "shared", "session"  # the two kinds of addition, each with its status line
UPLOAD_STILL_RUNNING = "上一次上传的文件还在建立索引，请等它完成后再上传。"
ACTIONS = {"add": "添加", "replace": "替换", "remove": "删除", "restore": "恢复"}


def check_upload(path: Path, max_bytes: int | None = None) -> str | None:
    """Why an uploaded file cannot be added (a message for the user), or None."""
    max_bytes = max_bytes or MAX_UPLOAD_BYTES
    suffixes = supported_suffixes()
    if path.suffix.lower() not in suffixes:
        return UNSUPPORTED_TYPE.format(types=" / ".join(suffixes))
    try:
        size = path.stat().st_size
    except OSError:
        return "文件不存在或无法读取，请重新上传"
    if size > max_bytes:
        return f"文件太大（{size / 1024 / 1024:.1f} MB，上限 {max_bytes / 1024 / 1024:.0f} MB）"
    if size == 0:
        return "文件是空的"
    return None


def render_audit(rows: list[dict]) -> str:
    if not rows:
        return "审计日志：还没有修改记录。"
    lines = ["| 时间 (UTC) | 编辑者 | 操作 | 文档 | 文件哈希 |", "| --- | --- | --- | --- | --- |"]
    for r in reversed(rows):
        sha = escape((r.get("sha256") or "")[:16])
        action = ACTIONS.get(r.get("action"), r.get("action"))
        lines.append(
            f"| {escape(r.get('at'))} | {escape(r.get('by'))} | {escape(action)} "
            f"| {escape(r.get('document'))} | `{sha}` |"
        )
    return "\n".join(lines)


def _files(files: list[str] | str | None) -> list[Path]:
    if isinstance(files, str):
        files = [files]
    return [Path(f) for f in files or []]


class KnowledgeBaseTab:
    """Handlers of the tab, given the shared assistant's getter, the access rules and the
    session overlays (``proxies``: see ``qa.serving.trusted_proxies``)."""

    def __init__(
        self,
        get_assistant: Callable[[], Assistant],
        access: Access,
        overlays: Overlays,
        get_worker: Callable[[], IndexWorker] | None = None,
        proxies: Proxies = (LOOPBACK,),
    ):
        self.get_assistant = get_assistant
        self.proxies = proxies  # whose X-Forwarded-For names a visitor (qa.serving)
        self.access = access
        self.overlays = overlays
        self._own_worker: IndexWorker | None = None
        self.get_worker = get_worker or self._worker
        # session -> kind -> (lines decided at once, ids of the jobs still to describe)
        self._pending: dict[str, dict[str, tuple[list[str], list[int]]]] = {}
        self._lock = threading.Lock()

    def _worker(self) -> IndexWorker:
        with self._lock:
            if self._own_worker is None:
                self._own_worker = IndexWorker()
            return self._own_worker

    def assistant_for(self, request: gr.Request | None) -> Assistant:
        """The assistant a session asks: the shared one plus the session's own documents."""
        return self.overlays.assistant(_session(request), self.get_assistant())

    # --- what the page shows ---------------------------------------------------------

    def denied(self) -> str:
        if self.access.can_edit:
            return NOT_ALLOWED
        return f"共享知识库为只读（{escape(self.access.reason)}），无法修改。"

    def access_text(self, editor: str | None) -> str:
        if editor:
            return f"已登录为编辑者 **{escape(editor)}** · [退出登录](/kb/logout)"
        if self.access.mode == LOGIN:
            return "查看与提问无需登录。修改共享知识库需要 [编辑者登录](/kb/login)。"
        if self.access.mode == LINK:
            return "查看与提问无需登录。修改共享知识库：打开启动终端中打印的编辑者链接。"
        return f"共享知识库为只读（{escape(self.access.reason)}）。"

    def view(self, request: gr.Request) -> tuple:
        """(access, documents table, description, remove choices, restore choices,
        audit log, editor panel, session documents) for this caller."""
        editor = self.access.editor(request)
        assistant = self.get_assistant()
        docs = assistant.documents()
        removed = assistant.removed_documents() if editor else []
        audit = (
            render_audit(assistant.store.audit(AUDIT_ROWS)) if editor and assistant.store else ""
        )
        mine = self.overlays.names(_session(request))
        mine_text = (
            "本会话的个人文档：" + "、".join(escape(n) for n in mine)
            if mine
            else "本会话还没有个人文档。"
        )
        return (
            self.access_text(editor),
            render_documents(docs),
            describe_knowledge_base(docs),
            gr.update(choices=[d["source"] for d in docs] if editor else [], value=None),
            gr.update(choices=removed, value=None),
            audit,
            gr.update(visible=bool(editor)),
            mine_text,
        )

    # --- editors ---------------------------------------------------------------------

    def upload(self, files, replace: bool, request: gr.Request) -> tuple:
        """Add uploaded files to the shared knowledge base (editors only); a same-named
        document is replaced only when ``replace`` is ticked. Returns (status, upload box,
        *view, timer)."""
        editor = self.access.editor(request)
        if not editor:
            return (self.denied(), None, *self.view(request), gr.update())
        paths = _files(files)
        if not paths:
            return ("请先选择要上传的文件。", None, *self.view(request), gr.update())
        lines, keep, jobs = [], False, []
        if len(paths) > MAX_UPLOAD_FILES:
            lines.append(f"一次最多上传 {MAX_UPLOAD_FILES} 个文件，其余未处理。")
            paths = paths[:MAX_UPLOAD_FILES]
        assistant = self.get_assistant()
        known = {d["source"] for d in assistant.documents()}
        for path in paths:
            name = path.name
            problem = check_upload(path)
            if problem is None and name in known and not replace:
                problem = "同名文档已存在：勾选“替换同名文档”后再点“添加到知识库”即可替换"
                keep = True
            if problem:
                lines.append(f"❌ {escape(name)}：{escape(problem)}")
                continue
            verb = "已替换" if name in known else "已添加"
            add = _shared_addition(assistant, editor, verb)
            jobs.append(self.get_worker().submit([path], [name], add=add).id)
        box = gr.update() if keep else None
        return self._started(request, SHARED, lines, jobs, box)

    def remove(self, source: str | None, request: gr.Request) -> tuple:
        """Remove one document from the shared knowledge base (editors only)."""
        editor = self.access.editor(request)
        if not editor:
            return (self.denied(), *self.view(request))
        if not source:
            return ("请先选择要删除的文档。", *self.view(request))
        try:
            removed = self.get_assistant().remove_document(source, by=editor)
        except QAError as exc:
            return (f"❌ 未删除 {escape(source)}：{escape(exc)}", *self.view(request))
        status = (
            f"🗑️ 已删除 {escape(source)}（{removed} 个段落），可在下方恢复。"
            if removed
            else f"知识库中没有文档 {escape(source)}。"
        )
        return (status, *self.view(request))

    def restore(self, source: str | None, request: gr.Request) -> tuple:
        """Bring a removed document back (editors only)."""
        editor = self.access.editor(request)
        if not editor:
            return (self.denied(), *self.view(request))
        if not source:
            return ("请先选择要恢复的文档。", *self.view(request))
        try:
            added = self.get_assistant().restore_document(source, by=editor)
        except (QAError, UnreadableDocument) as exc:
            return (f"❌ 未恢复 {escape(source)}：{escape(exc)}", *self.view(request))
        status = (
            f"♻️ 已恢复 {escape(source)}（{added} 个段落）"
            if added
            else f"{escape(source)} 没有被删除。"
        )
        return (status, *self.view(request))

    # --- visitors --------------------------------------------------------------------

    def session_upload(self, files, request: gr.Request) -> tuple:
        """Add files to this session's private documents only. Returns (status, upload
        box, *view, timer)."""
        session = _session(request)
        lines, jobs = [], []
        status, running = self._status(session, SESSION)
        if running:  # one upload at a time per visitor; the running one stays on show
            status = f"{status}\n\n❌ {UPLOAD_STILL_RUNNING}"
            return (status, None, *self.view(request), gr.Timer(active=True))
        shared, owner = self.get_assistant(), visitor(request, self.proxies)
        for path in _files(files)[:MAX_UPLOAD_FILES]:
            problem = check_upload(path, self.overlays.max_bytes)
            if problem:
                lines.append(f"❌ {escape(path.name)}：{escape(problem)}")
                continue
            add = _session_addition(self.overlays, session, shared, owner)
            job = self.get_worker().submit([path], [path.name], add=add, priority=SESSION_PRIORITY)
            jobs.append(job.id)
        if not lines and not jobs:
            lines.append("请先选择要上传的文件。")
        return self._started(request, SESSION, lines, jobs, None)

    # --- additions in the background ---------------------------------------------------

    def _started(self, request, kind: str, lines: list[str], jobs: list[int], box) -> tuple:
        """Wait up to ``WAIT_S`` for ``jobs``; (status, box, *view, timer)."""
        session = _session(request)
        with self._lock:
            self._pending.setdefault(session, {})[kind] = (lines, jobs)
        worker, end = self.get_worker(), time.monotonic() + WAIT_S
        for job_id in jobs:
            worker.wait(job_id, timeout=max(0.0, end - time.monotonic()))
        status, running = self._status(session, kind)
        running = running or self._status(session, SESSION if kind == SHARED else SHARED)[1]
        return (status, box, *self.view(request), gr.Timer(active=running))

    def _status(self, session: str, kind: str) -> tuple[str, bool]:
        """(status lines of ``session``'s additions of ``kind``, whether any is running)."""
        with self._lock:
            lines, jobs = self._pending.get(session, {}).get(kind, ([], []))
        worker = self.get_worker()
        found = [job for job in (worker.job(j) for j in jobs) if job is not None]
        described = [_describe(job, kind) for job in found]
        return "\n\n".join(lines + described), any(not j.finished for j in found)

    def progress(self, request: gr.Request) -> tuple:
        """The timer's tick: (session status, editor status, *view, timer); the view is
        refreshed, and the timer stopped, once every addition of the session is done."""
        session = _session(request)
        mine, mine_running = self._status(session, SESSION)
        shared, shared_running = self._status(session, SHARED)
        running = mine_running or shared_running
        view = [gr.update()] * VIEW_SIZE if running else list(self.view(request))
        return (mine or gr.update(), shared or gr.update(), *view, gr.Timer(active=running))

    def end_session(self, request: gr.Request) -> None:
        self.overlays.drop(_session(request))
        with self._lock:
            self._pending.pop(_session(request), None)


VIEW_SIZE = 8  # components view() updates


def _describe(job: Job, kind: str) -> str:
    line = escape(job.describe())
    return line + "，仅本会话可用" if kind == SESSION and job.state == "done" else line


def _shared_addition(assistant: Assistant, editor: str, verb: str):
    """The worker's job for an editor's upload: add to the shared base, say what was read."""

    def add(paths: list[Path], names: list[str], progress) -> tuple[int, str]:
        try:
            doc = read_document(paths[0], names[0])  # pages and OCR, for the summary
            added = assistant.add_files(paths, names, progress, by=editor)
        except UnreadableDocument as exc:
            raise QAError(f"无法添加：{exc}") from exc
        except ValueError as exc:
            raise QAError(f"无法读取：{exc}") from exc
        return added, f"{verb}，{summary(doc.pages, doc.ocr_pages, added)}"

    return add


def _session_addition(overlays: Overlays, session: str, shared: Assistant, owner: str = ""):
    """The worker's job for a visitor's upload: into their session's overlay only."""

    def add(paths: list[Path], names: list[str], progress) -> tuple[int, str]:
        try:
            added = overlays.add(session, shared, paths[0], names[0], progress, owner)
        except ValueError as exc:
            if isinstance(exc, QAError):
                raise
            raise QAError(f"无法读取：{exc}") from exc
        return added, f"{added} 个段落"

    return add


def _session(request: gr.Request | None) -> str:
    return str(getattr(request, "session_hash", None) or "")


def build_kb_tab(tab: KnowledgeBaseTab, demo: gr.Blocks, kb_info: gr.Markdown) -> None:
    """The tab's components and events (call inside ``gr.Tab("知识库")``); ``kb_info`` is
    the chat tab's description of the knowledge base, refreshed with the tab."""
    suffixes = supported_suffixes()
    private = dict(api_visibility="private")
    access_md = gr.Markdown(elem_id="kb-access")
    docs_table = gr.Markdown()
    with gr.Accordion("我的文档（只在本会话中使用，不会改变共享知识库，关闭页面即删除）"):
        mine_md = gr.Markdown()
        mine = gr.File(
            label=f"上传个人文档（{' / '.join(suffixes)}，合计 ≤ "
            f"{tab.overlays.max_bytes // 1024 // 1024} MB）",
            file_count="multiple",
            file_types=suffixes,
            elem_id="kb-session-upload",
        )
        mine_add = gr.Button("上传到本会话", elem_id="kb-session-add")
        mine_status = gr.Markdown()
    with gr.Group(visible=False, elem_id="kb-editor") as editor_box:
        gr.Markdown("### 管理共享知识库（编辑者）")
        with gr.Row():
            with gr.Column():
                files = gr.File(
                    label=f"上传文档（{' / '.join(suffixes)}，每个 ≤ {MAX_UPLOAD_MB} MB）",
                    file_count="multiple",
                    file_types=suffixes,
                    elem_id="kb-upload",
                )
                replace = gr.Checkbox(label="替换同名文档", value=False)
                add = gr.Button("添加到知识库", variant="primary", elem_id="kb-add")
            with gr.Column():
                remove_choice = gr.Dropdown(label="选择要删除的文档", choices=[])
                delete = gr.Button("删除文档", variant="stop")
                restore_choice = gr.Dropdown(label="选择要恢复的已删除文档", choices=[])
                restore = gr.Button("恢复文档")
        status = gr.Markdown()
        audit = gr.Markdown()
    view = [
        access_md,
        docs_table,
        kb_info,
        remove_choice,
        restore_choice,
        audit,
        editor_box,
        mine_md,
    ]
    timer = gr.Timer(POLL_S, active=False)
    changes = dict(concurrency_limit=1, concurrency_id="knowledge_base", **private)
    add.click(tab.upload, [files, replace], [status, files, *view, timer], **changes)
    delete.click(tab.remove, remove_choice, [status, *view], **changes)
    restore.click(tab.restore, restore_choice, [status, *view], **changes)
    embeds = dict(concurrency_limit=1, concurrency_id="session_uploads", **private)
    mine_add.click(tab.session_upload, mine, [mine_status, mine, *view, timer], **embeds)
    ticks = [mine_status, status, *view, timer]
    timer.tick(tab.progress, None, ticks, show_progress="hidden", **private)
    demo.load(tab.view, None, view, **private)
    demo.unload(tab.end_session)
