"""The 问答 (chat) tab of the app: conversation, evidence panel, document filter, feedback,
copy and download; and the ``/ask`` and ``/ask_record`` API functions.

``build_chat_tab(demo, get_assistant, model)`` builds the tab inside ``gr.Tabs()`` and wires
its events; ``api_functions(get_assistant)`` gives the two (async) API functions for
``gr.api``. With ``get_batcher`` (the app's micro-batcher, ``qa/serving.py``) extractive
questions from the page and the API are answered in batches, and a full batcher gives the
busy message instead of an error.
The page's behaviour that needs no server (clicking ``[n]``, copying, the length counter,
keeping the newest answer in view) is the script ``HEAD``, with Gradio's own English notices
put into Chinese (``qa/ui_notices.py``); its look is ``CSS``.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from .answerers import Answerer
from .assistant import (
    MAX_QUESTION_CHARS,
    Assistant,
    QuestionError,
    check_history,
    check_question,
)
from .chat_view import MODE_LABELS, partial_reply
from .errors import Busy
from .feedback import VERDICTS, FeedbackError, append_feedback, feedback_path, feedback_record
from .microbatch import BUSY_MESSAGE, MicroBatcher
from .records import Answer, Sentence
from .render import (
    HELPFUL,
    WRONG,
    answer_markdown,
    conversation_markdown,
    describe_knowledge_base,
    escape,
    evidence_html,
    filter_note,
    reply_html,
)
from .ui_notices import CSS as NOTICES_CSS
from .ui_notices import SCRIPT as NOTICES_SCRIPT

log = logging.getLogger(__name__)

DEFAULT_SOURCES = 3
EXAMPLES = [
    "慈溪有几家国家级单项冠军企业？",
    "2017年慈溪全市工业总产值是多少？",
    "慈溪上市企业总数达到多少家？",
    "慈溪的市长叫什么名字？",
]
EMPTY_PROMPT = "请输入一个问题，例如：慈溪有几家国家级单项冠军企业？"
PENDING = '<div class="qa-pending">正在查找资料…</div>'
CHAT_PLACEHOLDER = (
    "**用中文提问关于慈溪的问题。**<br>回答先给出结论，再引用原文句子并标出处 [n]；"
    "点击 [n] 或出处标签，右侧（手机上在下方）显示原文并高亮所用句子。"
    "资料中没有答案时会直接说明。"
)
FOLLOWUP_HINT = "可以追问：先问“2017年慈溪全市工业总产值是多少？”，再问“那2003年呢？”。"
FILTER_LABEL = "只在勾选的文档中检索（都不勾选 = 全部文档）"
COMMENT_PLACEHOLDER = "对回答的意见（可选）：写好后点回答下方的“答案有误”或“有帮助”"
FEEDBACK_THANKS = {WRONG: "已记录：答案有误。谢谢指正！", HELPFUL: "已记录：有帮助。谢谢！"}
FEEDBACK_VERDICT = {"wrong": WRONG, "helpful": HELPFUL}
ANSWER_FAILED = "出错了：这个问题暂时无法回答，请稍后再试。"
FEEDBACK_FAILED = "反馈暂时无法保存，请稍后再试。"
DOWNLOAD_NAME = "慈溪资料问答-对话记录.md"

# Gradio's own interface strings that its zh-CN locale lacks (shown as raw keys otherwise).
# The page is Chinese only, so every locale a browser may send gets the Chinese strings.
GRADIO_ZH = {
    "common.upload": "上传",
    "common.complete": "完成",
    "common.stop": "停止",
    "common.copy": "复制",
    "common.copied": "已复制",
    "upload_text.click_to_upload": "点击上传",
    "upload_text.drop_file": "将文件拖放到此处",
    "common.built_with_gradio": "使用 Gradio 构建",
    "common.settings": "设置",
    "errors.use_via_api": "通过 API 使用",
}

CSS = (
    """
:root { --qa-muted: #4b5563; }  /* secondary text, >= 4.5:1 on the page (Gradio's is lighter) */
.dark { --qa-muted: #a3acb9; }
#qa-chat .qa-reply { line-height: 1.65; }
.qa-reply .qa-note { display: block; color: var(--qa-muted); }
.qa-reply .qa-short { display: block; font-size: 1.05em; margin: 2px 0 4px; }
.qa-reply .qa-quote { display: block; border-left: 3px solid var(--color-accent);
  padding: 0 0 0 8px; margin: 4px 0; color: var(--body-text-color); }
.qa-reply .qa-reason { display: block; margin: 4px 0; color: var(--qa-muted); }
.qa-ref { color: var(--color-accent); font-weight: 600; cursor: pointer; padding: 0 1px;
  font-size: 0.9em; vertical-align: super; line-height: 0; }
.qa-chips { display: flex; flex-wrap: wrap; gap: 4px 6px; margin-top: 6px; align-items: center; }
.qa-chips-head { font-size: 0.85em; color: var(--qa-muted); }
.qa-chip { font-size: 0.82em; border: 1px solid var(--border-color-primary); cursor: pointer;
  border-radius: 999px; padding: 1px 8px; background: var(--background-fill-secondary);
  max-width: 100%; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.qa-chip:hover, .qa-ref:hover { text-decoration: underline; }
.qa-actions { display: flex; flex-wrap: wrap; gap: 10px; margin-top: 6px; font-size: 0.8em; }
.qa-act { cursor: pointer; color: var(--qa-muted); border-bottom: 1px dotted; }
.qa-act.qa-done { color: var(--color-accent); }
.qa-copytext { display: none; }
#qa-chat .qa-reply { border-left: 3px solid transparent; padding-left: 8px;
  margin-left: -8px; }
#qa-chat .qa-reply.qa-selected { border-left-color: var(--color-accent); }
#qa-evidence-box { max-height: 72vh; overflow-y: auto; padding: 4px 8px; }
.qa-ev { display: none; }
.qa-ev.qa-ev-active { display: block; }
.qa-ev-q { font-weight: 600; margin-bottom: 6px; overflow-wrap: anywhere; }
.qa-ev-head { font-weight: 600; margin: 8px 0 4px; }
.qa-ev-head.qa-related { border-top: 2px dashed var(--border-color-primary); padding-top: 8px; }
.qa-ev-refusal { font-weight: 600; }
.qa-evidence .qa-reason { color: var(--qa-muted); margin: 4px 0; }
.qa-ev-empty, .qa-ev-none { color: var(--qa-muted); }
.qa-source { border-left: 3px solid var(--border-color-primary); padding: 4px 10px;
  margin: 8px 0; border-radius: 4px; background: var(--background-fill-secondary);
  overflow-wrap: anywhere; scroll-margin: 8px; }
.qa-source.qa-target { border-left-color: var(--color-accent);
  box-shadow: 0 0 0 2px var(--color-accent); }
.qa-source-title, .qa-where { display: block; }
.qa-where { color: var(--qa-muted); }
.qa-passage { margin-top: 4px; font-size: 0.92em; line-height: 1.65; }
.qa-passage mark { background: #fde68a; color: #1f2937; padding: 0 1px; }
.qa-pending { color: var(--qa-muted); }
#qa-counter { text-align: right; font-size: 0.8em; color: var(--qa-muted);
  margin-top: -6px; }
#qa-counter.qa-over { color: var(--error-text-color, #dc2626); font-weight: 600; }
#qa-hidden { display: none !important; }
@media (max-width: 700px) {  /* one column: the evidence right under the question box */
  #qa-main { flex-direction: column; }
  #qa-left { display: contents; }
  #qa-left > * { order: 3; }
  #qa-left > #qa-chat, #qa-left > #qa-ask-row, #qa-left > #qa-counter-box { order: 1; }
  #qa-right { order: 2; }
  #qa-evidence-box { max-height: none; }
  #qa-chat { height: 56vh !important; }
}
"""
    + NOTICES_CSS
)

HEAD = (
    """<script>
(() => {
  const LIMIT = __LIMIT__;
  const $ = (sel, root = document) => root.querySelector(sel);
  const tag = (el, name) =>  // "qa-turn-3" in el's classes -> "3"
    ((el.className || "").match(new RegExp(`qa-${name}-([0-9a-z]+)`)) || [])[1];

  // The passage shown: kept, so that a panel the server renders again after a click (its
  // update may land a moment after the reply's) shows the same passage and sentence.
  let chosen = null, painted = null;
  function select(turn, n) {
    chosen = [turn, n];
    const panel = $("#qa-evidence-box");
    if (!panel) return;
    painted = panel.querySelector(".qa-ev");
    panel.querySelectorAll(".qa-ev").forEach(
      (ev) => ev.classList.toggle("qa-ev-active", tag(ev, "turn") === turn));
    document.querySelectorAll("#qa-chat .qa-reply").forEach(
      (r) => r.classList.toggle("qa-selected", tag(r, "turn") === turn));
    panel.querySelectorAll(".qa-target").forEach((s) => s.classList.remove("qa-target"));
    if (!n) return;
    const source = document.getElementById(`qa-src-${turn}-${n}`);
    if (!source) return;
    source.classList.add("qa-target");
    const mark = source.querySelector("mark");
    source.scrollIntoView({ block: "nearest" });
    if (mark) mark.scrollIntoView({ block: "nearest" });
  }

  function copy(text, el) {
    const done = () => { el.classList.add("qa-done"); el.textContent = "已复制"; };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, () => fallback(text, done));
    } else fallback(text, done);
  }
  function fallback(text, done) {
    const area = document.createElement("textarea");
    area.value = text;
    document.body.appendChild(area);
    area.select();
    try { document.execCommand("copy"); done(); } finally { area.remove(); }
  }

  function feedback(turn, verdict, el) {
    const box = $("#qa-fb-target textarea"), send = $("#qa-fb-send");
    if (!box || !send) return;
    box.value = `${turn}:${verdict}`;
    box.dispatchEvent(new Event("input", { bubbles: true }));
    setTimeout(() => send.click(), 50);
    el.classList.add("qa-done");
  }

  function act(event) {
    const el = event.target.closest(".qa-ref, .qa-chip, .qa-copy, .qa-fb, .qa-reply");
    const reply = event.target.closest("#qa-chat .qa-reply");
    if (!el || !reply) return;
    const turn = tag(reply, "turn");
    if (el.classList.contains("qa-copy")) copy($(".qa-copytext", reply).textContent, el);
    else if (el.classList.contains("qa-fb")) feedback(turn, tag(el, "verdict"), el);
    else select(turn, tag(el, "n"));
  }
  document.addEventListener("click", act);
  document.addEventListener("keydown", (event) => {
    const key = event.key === "Enter" || event.key === " ";
    if (key && event.target.closest(".qa-reply [role=button]")) {
      event.preventDefault();
      act(event);
    }
  });

  let newest = null;
  setInterval(() => {
    const counter = $("#qa-counter"), box = $("#qa-question textarea");
    if (counter && box) {
      const n = box.value.trim().length;
      counter.textContent = `${n} / ${LIMIT} 字`;
      counter.classList.toggle("qa-over", n > LIMIT);
    }
    const replies = document.querySelectorAll("#qa-chat .qa-reply");
    const last = replies[replies.length - 1];
    if (last && last !== newest && !last.dataset.seen) {
      last.dataset.seen = "1";
      newest = last;
      // a citation of it chosen already (clicked before this check ran) stays chosen and
      // in view
      if (!chosen || chosen[0] !== tag(last, "turn")) {
        select(tag(last, "turn"));
        last.scrollIntoView({ block: "nearest" });
      }
    }
    const shown = document.querySelector("#qa-evidence-box .qa-ev");
    if (chosen && shown && shown !== painted) select(...chosen);  // the panel was redrawn
  }, 200);
})();
</script>""".replace("__LIMIT__", str(MAX_QUESTION_CHARS))
    + NOTICES_SCRIPT
)


@dataclass
class ChatTab:
    """What the rest of the page may update: the knowledge base description."""

    kb_info: gr.Markdown


class ChatHandlers:
    """The chat tab's event handlers, over the shared assistant ``get_assistant()``; with
    ``get_answerer`` (LLM mode) replies are written by the model, each sentence shown once
    it passed its check."""

    def __init__(
        self,
        get_assistant: Callable[[], Assistant],
        assistant_for: Callable[[gr.Request | None], Assistant] | None = None,
        get_answerer: Callable[[], Answerer] | None = None,
        get_batcher: Callable[[], MicroBatcher] | None = None,
        editor_of: Callable[[gr.Request | None], str | None] | None = None,
    ):
        self.get_assistant = get_assistant
        self.editor_of = editor_of  # an editor's feedback is gold for `qa eval`, a visitor's not
        self.assistant_for = assistant_for  # the shared assistant plus a session's own files
        self.get_answerer = get_answerer
        self.get_batcher = get_batcher  # extractive questions answered in batches

    def respond(
        self,
        message: str | None,
        history: list[dict] | None,
        answers: list[Answer] | None,
        max_sources: float = DEFAULT_SOURCES,
        chosen: list[str] | None = None,
        request: gr.Request | None = None,
    ) -> Iterator[tuple[list[dict], str, list[Answer], str]]:
        """Yields (chat, text box, answers, evidence panel): first the question with a
        placeholder, then the reply. A follow-up is read with the earlier questions;
        ``chosen`` documents (none: all) limit retrieval."""
        history, answers = list(history or []), list(answers or [])
        shown = int(max_sources)
        evidence = evidence_html(answers, shown)
        message = message or ""
        if not message.strip():
            yield history + [assistant(EMPTY_PROMPT)], "", answers, evidence
            return
        try:
            question = check_question(message)
        except QuestionError as exc:
            cut = message if len(message) <= 80 else message[:80] + "…"
            yield history + [user(cut), assistant(escape(exc))], message, answers, evidence
            return
        history += [user(question), assistant(PENDING)]
        yield list(history), "", answers, evidence
        sources = set(chosen) if chosen else None
        earlier = [a.question for a in answers]
        answer: Answer | None = None
        try:
            engine = self.assistant_for(request) if self.assistant_for else self.get_assistant()
            if self.get_answerer is None and self.get_batcher is not None:
                batcher = self.get_batcher()
                answer = batcher.ask(question, earlier, sources, ask_many=engine.ask_many)
            elif self.get_answerer is None:
                answer = engine.ask(question, earlier, sources=sources)
            else:
                said: list[str] = []
                for item in self.get_answerer().over(engine).stream(question, earlier, sources):
                    if isinstance(item, Sentence):
                        said.append(item.text)
                        history[-1] = assistant(partial_reply(said))
                        yield list(history), "", answers, evidence
                    else:
                        answer = item
            if answer is None:
                raise RuntimeError("the answerer gave no answer")
        except Busy:
            history[-1] = assistant(BUSY_MESSAGE)
            yield history, message, answers, evidence
            return
        except Exception:  # the page shows a message, never a traceback
            log.exception("answering %r failed", question)
            history[-1] = assistant(ANSWER_FAILED)
            yield history, message, answers, evidence
            return
        notes = [
            f"结合上文理解为：{answer.query}" if answer.query != question else "",
            filter_note(len(sources) if sources is not None else None),
            f"⚠ {answer.notice}" if answer.notice else "",
            MODE_LABELS["llm"] if answer.mode == "llm" else "",
        ]
        answers.append(answer)
        history[-1] = assistant(reply_html(answer, len(answers) - 1, shown, notes))
        yield history, "", answers, evidence_html(answers, shown)

    def documents(self) -> tuple[dict, str]:
        """(filter choices, knowledge base description) for the tab."""
        docs = self.get_assistant().documents()
        choices = [(f"{d['title']}（{d['source']}）", d["source"]) for d in docs]
        return gr.update(choices=choices), describe_knowledge_base(docs)

    def download(self, answers: list[Answer] | None, request: gr.Request) -> str | None:
        """The conversation with its sources as a Markdown file (None before any answer)."""
        if not answers:
            return None
        session = hashlib.sha256((request.session_hash or "").encode()).hexdigest()[:16]
        folder = Path(tempfile.gettempdir()) / "qa-chat" / session  # the hash comes from the client
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / DOWNLOAD_NAME
        path.write_text(conversation_markdown(answers), encoding="utf-8")
        return str(path)

    def feedback(
        self,
        target: str,
        comment: str,
        answers: list[Answer] | None,
        request: gr.Request | None = None,
    ) -> tuple[str, str]:
        """Record ``target`` ("turn:verdict") with ``comment``: (status, comment box)."""
        answers = list(answers or [])
        turn, _, verdict = (target or "").partition(":")
        if not turn.isdigit() or int(turn) >= len(answers) or verdict not in VERDICTS:
            return "请点击某条回答下方的“答案有误”或“有帮助”。", comment
        assistant_ = self.get_assistant()
        if not assistant_.index_dir:
            return "这个知识库没有保存位置，反馈无法记录。", comment
        try:
            by = (self.editor_of(request) if self.editor_of else None) or ""
            record = feedback_record(answers[int(turn)], verdict, comment, by=by)
            append_feedback(feedback_path(assistant_.index_dir), record)
        except FeedbackError as exc:
            return escape(exc), comment
        except OSError:
            log.exception("cannot write feedback for %s", assistant_.index_dir)
            return FEEDBACK_FAILED, comment
        thanks = FEEDBACK_THANKS[FEEDBACK_VERDICT[verdict]]
        gr.Info(thanks, duration=4, title="反馈")  # the status line may be out of view
        return thanks, ""


def user(content: str) -> dict:
    return {"role": "user", "content": content}


def assistant(content: str) -> dict:
    return {"role": "assistant", "content": content}


def build_chat_tab(
    demo: gr.Blocks,
    get_assistant: Callable[[], Assistant],
    model: str,
    max_sources: int = 5,
    assistant_for: Callable[[gr.Request | None], Assistant] | None = None,
    get_answerer: Callable[[], Answerer] | None = None,
    llm_model: str = "",
    get_batcher: Callable[[], MicroBatcher] | None = None,
    editor_of: Callable[[gr.Request | None], str | None] | None = None,
) -> ChatTab:
    """The 问答 tab (inside ``gr.Tabs()``), its events wired; ``max_sources`` bounds the
    number-of-sources setting; ``get_answerer``: LLM mode (``llm_model`` is shown);
    ``get_batcher``: extractive questions go through the micro-batcher; ``editor_of``: the
    editor's name for a request (their feedback is kept as gold), None for a visitor."""
    handlers = ChatHandlers(get_assistant, assistant_for, get_answerer, get_batcher, editor_of)
    mode = MODE_LABELS["llm"] + f"（{llm_model}）" if get_answerer else MODE_LABELS["extractive"]
    with gr.Tab("问答") as tab:
        with gr.Row(equal_height=False, elem_id="qa-main"):
            with gr.Column(scale=3, min_width=340, elem_id="qa-left"):
                chatbot = gr.Chatbot(
                    show_label=False,
                    elem_id="qa-chat",
                    height=520,
                    placeholder=CHAT_PLACEHOLDER,
                    latex_delimiters=[],
                    allow_tags=False,
                    buttons=[],
                    feedback_options=None,
                )
                with gr.Row(equal_height=True, elem_id="qa-ask-row"):
                    box = gr.Textbox(
                        label="问题",
                        placeholder="输入问题，例如：慈溪有几家国家级单项冠军企业？",
                        show_label=False,
                        elem_id="qa-question",
                        scale=5,
                        min_width=200,
                        autofocus=True,
                        lines=1,
                        max_lines=6,
                    )
                    send = gr.Button("提问", variant="primary", scale=1, min_width=72)
                gr.HTML(
                    f'<div id="qa-counter">0 / {MAX_QUESTION_CHARS} 字</div>',
                    elem_id="qa-counter-box",
                )
                gr.Examples(EXAMPLES, inputs=box, label="示例问题")
                with gr.Accordion("检索范围与设置", open=False):
                    chosen = gr.CheckboxGroup([], label=FILTER_LABEL, elem_id="qa-filter")
                    shown = gr.Slider(
                        1, max_sources, value=DEFAULT_SOURCES, step=1, label="显示来源数"
                    )
                    gr.Textbox(model, label="向量模型（QA_MODEL）", interactive=False)
                    gr.Textbox(mode, label="回答方式", interactive=False)
                    kb_info = gr.Markdown("正在加载知识库…")
                    gr.Markdown(FOLLOWUP_HINT)
                with gr.Row(equal_height=True):
                    comment = gr.Textbox(
                        label="意见",
                        placeholder=COMMENT_PLACEHOLDER,
                        show_label=False,
                        elem_id="qa-comment",
                        scale=4,
                        min_width=200,
                    )
                    download = gr.DownloadButton(
                        "下载对话（Markdown）", value=None, scale=1, min_width=120, size="sm"
                    )
                status = gr.Markdown(elem_id="qa-status")
                with gr.Row(elem_id="qa-hidden"):
                    target = gr.Textbox(
                        label="反馈",
                        elem_id="qa-fb-target",
                        visible="hidden",
                        show_label=False,
                        container=False,
                    )
                    send_feedback = gr.Button("feedback", elem_id="qa-fb-send", visible="hidden")
            with gr.Column(scale=2, min_width=300, elem_id="qa-right"):
                gr.Markdown("#### 出处与原文")
                evidence = gr.HTML(evidence_html([]), elem_id="qa-evidence-box")
        answers = gr.State([])

    chat = dict(
        fn=handlers.respond,
        inputs=[box, chatbot, answers, shown, chosen],
        outputs=[chatbot, box, answers, evidence],
        api_visibility="private",
        show_progress_on=[chatbot],  # a failed event must not cover the question in the box
    )
    for event in (box.submit(**chat), send.click(**chat)):
        event.then(handlers.download, answers, download, api_visibility="private")
    chatbot.clear(
        lambda: ([], evidence_html([]), None),
        outputs=[answers, evidence, download],
        api_visibility="private",
    )
    send_feedback.click(
        handlers.feedback,
        [target, comment, answers],
        [status, comment],
        api_visibility="private",
    )
    refresh = dict(fn=handlers.documents, outputs=[chosen, kb_info], api_visibility="private")
    demo.load(**refresh)
    tab.select(**refresh)
    return ChatTab(kb_info)


def api_functions(
    get_assistant: Callable[[], Assistant],
    get_answerer: Callable[[], Answerer] | None = None,
    get_batcher: Callable[[], MicroBatcher] | None = None,
) -> tuple[Callable, Callable]:
    """``(ask, ask_record)`` (async) for ``gr.api``, over the shared assistant (in LLM mode
    ``get_answerer()``); with ``get_batcher`` extractive questions wait on the micro-batcher
    without holding a thread, so concurrent callers share embedding batches."""

    async def answer(question: str, history: list[str]) -> Answer:
        if get_answerer is None and get_batcher is not None:
            batcher = await asyncio.to_thread(get_batcher)  # may reload a changed index
            return await batcher.ask_async(question, history)
        engine = get_answerer or get_assistant
        return await asyncio.to_thread(lambda: engine().ask(question, history))

    async def ask(question: str, history: list[str] | None = None) -> str:
        """Answer one question from the knowledge base, as Markdown: the answer with [n]
        markers, then the numbered sources (title, section, page, file; the passage quoted
        with the used sentence in bold). ``history``: the conversation's earlier questions,
        oldest first. Empty or over-long questions get a message instead, and so does a
        question asked while too many others wait (try again)."""
        try:
            question = check_question(question)
            return answer_markdown(await answer(question, check_history(history)))
        except (QuestionError, Busy) as exc:
            return str(exc)

    async def ask_record(question: str, history: list[str] | None = None) -> dict:
        """Answer one question; the answer record itself (``answer``, ``short_answer``,
        ``found``, ``confidence``, ``reason``, ``citations`` with page, location and
        highlights). An empty or over-long question gives ``{"error": message}``, a busy
        server ``{"error": message, "busy": true}``."""
        try:
            question = check_question(question)
            return (await answer(question, check_history(history))).to_record()
        except QuestionError as exc:
            return {"error": str(exc)}
        except Busy as exc:
            return {"error": str(exc), "busy": True}

    return ask, ask_record
