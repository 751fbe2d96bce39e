"""The ``index``, ``ask`` and ``chat`` commands."""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

from .answerers import answerer_for
from .assistant import QuestionError, check_question
from .chunking import ChunkParams
from .cli_support import add_common, confirm_duration, open_assistant
from .indexing import DEFAULT_CORPUS, build_index
from .readers import summary
from .records import Document
from .store import clean_leftovers
from .subjects import ensure_subjects
from .text import Tokenizer
from .vocabulary import load_vocabulary


def configure_index(p: argparse.ArgumentParser) -> None:
    add_common(p)
    p.add_argument("--chunk-size", type=int, default=ChunkParams.size)
    p.add_argument("--overlap", type=int, default=ChunkParams.overlap)


def cmd_index(args: argparse.Namespace) -> int:
    from embeddings import load_encoder

    corpus = args.corpus or DEFAULT_CORPUS
    clean_leftovers(args.index)
    confirm_duration(args, corpus)
    encoder = load_encoder(args.model)
    params = ChunkParams(args.chunk_size, args.overlap)
    skipped = []
    read: list[Document] = []
    kb = build_index(
        corpus,
        args.index,
        encoder,
        params,
        progress=True,
        on_skip=lambda p, why: skipped.append((p, why)),
        on_read=read.append,
        tokenizer=(tokenizer := Tokenizer()),  # BM25 is built with the corpus vocabulary
    )
    # each document's subject, learned with the dictionary the assistant will have, and cached
    tokenizer.add_words(load_vocabulary(kb, tokenizer, Path(args.index)))
    ensure_subjects(kb, tokenizer, args.index)
    passages = Counter(c.source for c in kb.chunks.values())
    for doc in read:
        notes = "".join(f"；{note}" for note in doc.notes)
        print(f"  {doc.source}：{summary(doc.pages, doc.ocr_pages, passages[doc.source])}{notes}")
    for path, why in skipped:
        print(f"skipped {path.name}: {why}", file=sys.stderr)
    print(
        f"indexed {len(kb.sources)} documents, {len(kb)} chunks into {args.index} "
        f"(model {encoder.name})"
    )
    return 0


def format_answer(answer) -> str:
    lines = [answer.answer, ""]
    if answer.notice:
        lines[1:1] = [f"（{answer.notice}）", ""]
    if answer.citations:
        lines.append("来源：" if answer.found else "可能相关的段落（未找到答案）：")
    for c in answer.citations:
        section = "".join(f" · {part}" for part in (c.section, c.location) if part)
        excerpt = c.text.replace("\n", " ")
        excerpt = excerpt if len(excerpt) <= 160 else excerpt[:160] + "…"
        lines.append(f"[{c.n}] {c.source}{section} (score {c.score:.3f})\n    {excerpt}")
    return "\n".join(lines)


def configure_ask(p: argparse.ArgumentParser) -> None:
    add_common(p)
    p.add_argument("question")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--id", default=None, help="id to put in the JSON record")
    p.add_argument(
        "--history",
        action="append",
        metavar="QUESTION",
        help="an earlier question of the conversation (repeatable, oldest first)",
    )


def cmd_ask(args: argparse.Namespace) -> int:
    check_question(args.question)  # before the slow part
    answer = answerer_for(open_assistant(args), args.llm).ask(args.question, args.history or ())
    if args.json:
        print(json.dumps(answer.to_record(args.id), ensure_ascii=False))
    else:
        print(format_answer(answer))
    return 0


def configure_chat(p: argparse.ArgumentParser) -> None:
    add_common(p)


def cmd_chat(args: argparse.Namespace) -> int:
    """An interactive conversation: each question is read with the ones before it."""
    answerer = answerer_for(open_assistant(args), args.llm)
    history: list[str] = []
    print("输入问题，回车提问；空行或 Ctrl-D 结束。")
    while True:
        try:
            question = input("问：").strip()
        except (EOFError, KeyboardInterrupt):
            print()
            return 0
        if not question:
            return 0
        try:
            answer = answerer.ask(question, history)
        except QuestionError as exc:
            print(exc)
            continue
        if answer.query != question:
            print(f"（结合上文理解为：{answer.query}）")
        print(format_answer(answer), "\n", sep="")
        history.append(question)
