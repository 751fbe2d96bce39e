"""Command line: ``python -m qa index | ask | chat | batch | eval | kb`` (also the ``qa``
script).

``COMMANDS`` is the one table of commands: adding one is one entry (name, help, a function
that adds its arguments, the function that runs it and returns the exit code).
"""

from __future__ import annotations

import argparse
import errno
import logging
import os
import sys
from collections.abc import Callable
from typing import NamedTuple

from . import batch_cli, index_cli, kb_cli
from .errors import (
    CorpusNotFound,
    IndexMismatch,
    NeedsConfirmation,
    QAError,
    QuestionError,
    StorageError,
    UnreadableDocument,
    storage_error,
)

log = logging.getLogger(__name__)


class Command(NamedTuple):
    name: str
    help: str
    configure: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


COMMANDS = (
    Command("index", "build or refresh the index of a folder of documents",
            index_cli.configure_index, index_cli.cmd_index),
    Command("ask", "answer one question", index_cli.configure_ask, index_cli.cmd_ask),
    Command("chat", "ask questions one after another (follow-ups understood)",
            index_cli.configure_chat, index_cli.cmd_chat),
    Command("batch", "answer a question file (.txt, .jsonl, .csv, .xlsx)",
            batch_cli.configure_batch, batch_cli.cmd_batch),
    Command("eval", "answer a question file with gold answers and score it",
            batch_cli.configure_eval, batch_cli.cmd_eval),
    Command("kb", "manage the shared knowledge base (list, add, remove, …)",
            kb_cli.configure_kb, kb_cli.cmd_kb),
)  # fmt: skip

# Exit codes: 2 bad input (argparse's too), then one per kind of failure; 1 is unexpected.
EXIT_CODES: tuple[tuple[type[BaseException], int], ...] = (
    (QuestionError, 2),
    (CorpusNotFound, 3),
    (IndexMismatch, 4),
    (UnreadableDocument, 5),
    (StorageError, 6),
    (NeedsConfirmation, 7),
    (QAError, 2),
    (ValueError, 2),  # a bad question file or option value; the message says which
    (FileNotFoundError, 3),
)
STORAGE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EPERM, errno.EROFS}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m qa", description="Answer questions from Chinese documents, with citations."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    sub = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        p = sub.add_parser(command.name, help=command.help)
        command.configure(p)
        p.set_defaults(func=command.run)
    return parser


def exit_code(exc: BaseException) -> int:
    return next((code for kind, code in EXIT_CODES if isinstance(exc, kind)), 1)


def main(argv: list[str] | None = None) -> int:
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
        code = args.func(args)
        sys.stdout.flush()  # a closed pipe shows here, inside the handlers, not at exit
        return code
    except BrokenPipeError:  # stdout closed early (``| head``): stop quietly, as Unix tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, what the shell reports for a tool killed by the pipe
    except OSError as exc:
        if exc.errno in STORAGE_ERRNOS and not isinstance(exc, QAError):
            exc = storage_error(exc, exc.filename or "")
        return _fail(exc, args.verbose)
    except Exception as exc:  # one line, never a traceback (it is logged with -v)
        return _fail(exc, args.verbose)


def _fail(exc: BaseException, verbose: bool) -> int:
    code = exit_code(exc)
    if code == 1:
        hint = "" if verbose else "（加 -v 查看详情）"
        message = f"内部错误：{type(exc).__name__}: {exc}{hint}"
        if verbose:
            log.error("traceback", exc_info=exc)
    elif isinstance(exc, FileNotFoundError) and not isinstance(exc, QAError):
        message = f"找不到文件或文件夹：{exc.filename}"
    else:
        message = str(exc)
    print(f"错误：{message}", file=sys.stderr)
    return code
