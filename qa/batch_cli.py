"""The ``batch`` and ``eval`` commands."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .answerers import LLMTrace, answerer_for
from .batch import CHUNK, partial_path, run_batch, run_eval
from .cli_support import add_common, open_assistant
from .feedback import is_unjudged_feedback
from .llm_eval import format_llm_table, llm_summary
from .metrics import has_gold, judge, misses, parse_gold, summarize
from .report import format_table, write_report
from .tabular import check_output, read_table


def cmd_batch(args: argparse.Namespace) -> int:
    # Read the questions first: a bad file fails before the model and index load.
    check_output(args.output)
    read_table(args.input)
    answerer = answerer_for(open_assistant(args), args.llm)
    try:
        stats = run_batch(
            answerer, args.input, args.output, resume=args.resume, chunk_size=args.chunk_size
        )
    except KeyboardInterrupt:
        xlsx = args.output.suffix.lower() == ".xlsx"
        print(
            f"\ninterrupted: the answers so far are in "
            f"{partial_path(args.output) if xlsx else args.output}; "
            "run the same command with --resume to continue",
            file=sys.stderr,
        )
        return 130
    print(
        f"wrote {stats.resumed + stats.written} answers to {args.output} "
        f"({stats.written} this run, {stats.asked} distinct questions asked, "
        f"{stats.errors} errors; {stats.rate:.1f} questions/s)",
        file=sys.stderr,
    )
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    table = read_table(args.input)
    rows = [row for row in table.rows if not is_unjudged_feedback(row.fields)]
    if len(rows) < len(table.rows):
        print(f"left out {len(table.rows) - len(rows)} feedback rows marked wrong (no gold)")
        table.rows = rows
    if not any(has_gold(row.fields) for row in table.rows):
        raise ValueError(f"{args.input} 没有标准答案：需要 answers（可选 evidence、answerable）")
    golds = [parse_gold(row.fields) for row in table.rows]
    report = args.output or Path(f"{args.input.stem}-report.html")
    if report.suffix.lower() not in (".html", ".htm", ".md"):
        raise ValueError(f"报告格式 {report.suffix} 不支持：请用 .html 或 .md")
    trace: list[LLMTrace] = []
    answerer = answerer_for(open_assistant(args), args.llm, trace)
    records, latencies = run_eval(answerer, table.rows)
    judgements = [judge(g, r) for g, r in zip(golds, records)]
    summary = summarize(judgements, latencies)
    print(format_table(summary))
    if any(t.called or t.outcome for t in trace):
        print("\n" + format_llm_table(llm_summary(trace)))
    write_report(report, summary, misses(golds, records, judgements), latencies, args.input.name)
    print(f"report: {report}")
    return 0


def configure_batch(p: argparse.ArgumentParser) -> None:
    p.description = "Answer every question of IN into OUT (.jsonl, .csv or .xlsx, by extension)."
    add_common(p)
    p.add_argument("input", type=Path, metavar="IN", help="questions: .txt, .jsonl, .csv, .xlsx")
    p.add_argument("-o", "--output", type=Path, required=True, metavar="OUT")
    p.add_argument("--resume", action="store_true", help="keep OUT's answers, answer the rest")
    p.add_argument("--chunk-size", type=int, default=CHUNK, help="questions embedded together")


def configure_eval(p: argparse.ArgumentParser) -> None:
    p.description = "Score answers against gold data (answers, evidence, answerable)."
    add_common(p)
    p.add_argument("input", type=Path, metavar="IN", help="questions with gold answers")
    p.add_argument(
        "-o",
        "--output",
        type=Path,
        metavar="REPORT",
        help="report .html or .md (default: <IN name>-report.html in the current folder)",
    )
