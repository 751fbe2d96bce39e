"""Scale benchmark: synthetic corpora of 10k / 100k / 1M passages on the embedded store and
Milvus Lite. Prints one Markdown table per store, and the HNSW recall@100 against exact.

    nice -n 10 python benchmarks/scale.py --sizes 10000 100000 [--real-up-to 10000] [--milvus]

Passages are real Chinese sentences (the bundled corpus and the CMRC 2018 trial paragraphs)
recombined at random into 150-400 characters. Vectors come from the default encoder for
sizes up to ``--real-up-to``; above it they are random unit vectors (queries: a stored vector
plus noise), which the output says. Queries are sentences of the corpus, so BM25 has work
to do. "answer" is ``Assistant.ask``: retrieval plus the answer checks, query embedding
excluded (the vectors are precomputed) so the figure is the store's and engine's own.
"""

from __future__ import annotations

import argparse
import glob
import json
import re
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qa.chunking import chunk_id  # noqa: E402
from qa.records import Chunk  # noqa: E402

CMRC = ROOT.parent / "shared" / "benchmarks" / "cmrc2018" / "cmrc2018_trial.json"
SENTENCE = re.compile(r"[^。！？!?\n]+[。！？!?]?")


def sentences(corpus_glob: str) -> list[str]:
    texts = [Path(p).read_text("utf-8") for p in sorted(glob.glob(corpus_glob))]
    if CMRC.exists():
        data = json.loads(CMRC.read_text("utf-8"))["data"]
        texts += [p["context"] for a in data for p in a["paragraphs"]]
    out = [s.strip() for t in texts for s in SENTENCE.findall(t)]
    return [s for s in out if 8 <= len(s) <= 200 and not s.startswith("#")]


def passages(pool: list[str], n: int, rng: np.random.Generator) -> list[Chunk]:
    chunks, seen = [], set()
    while len(chunks) < n:
        target, parts, size = int(rng.integers(150, 400)), [], 0
        while size < target:
            s = pool[int(rng.integers(len(pool)))]
            parts.append(s)
            size += len(s)
        text = "".join(parts)
        i = len(chunks)
        source, section = f"synthetic-{i // 40:05d}.md", (f"第{i % 40 + 1}节",)
        cid = chunk_id(source, section, text)
        if cid in seen:
            continue
        seen.add(cid)
        chunks.append(Chunk(cid, source, f"合成文档{i // 40}", section, 0, len(text), text))
    return chunks


def unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def disk_mb(path: Path) -> float:
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    return sum(p.stat().st_size for p in files) / 2**20


def timed(fn, items: Sequence) -> tuple[float, float]:
    times = []
    for item in items:
        start = time.perf_counter()
        fn(item)
        times.append(1000 * (time.perf_counter() - start))
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, int(0.95 * len(times)))]


class TableEncoder:
    """Query vectors looked up from a table (precomputed); passages are never embedded."""

    def __init__(self, dim: int, table: dict[str, np.ndarray], name: str):
        self.dim, self.table, self.name = dim, table, name

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return np.stack([self.table[t] for t in texts])

    def encode_passages(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        raise RuntimeError("the scale benchmark does not embed passages here")


def make_queries(chunks, vectors, n, encoder, rng):
    picks = rng.choice(len(chunks), size=n, replace=False)
    queries = []
    for i in picks:
        parts = SENTENCE.findall(chunks[i].text)
        queries.append(max(parts, key=len)[:60] if parts else chunks[i].text[:40])
    if encoder is not None:
        qvec = encoder.encode_queries(queries)
    else:
        # a stored vector moved by noise of norm ~0.3 (cosine ~0.95 to it)
        noise = rng.normal(size=(n, vectors.shape[1])).astype(np.float32) * 0.3
        noise /= np.sqrt(vectors.shape[1])
        qvec = unit(vectors[picks] + noise)
    return queries, qvec


def bench_embedded(chunks, vectors, queries, qvec, folder: Path, tokenizer) -> dict:
    from qa.assistant import Assistant
    from qa.retrieval import Retriever, lexical_index
    from qa.stores import KnowledgeBase, load, save
    from qa.stores.faiss import is_hnsw

    start = time.perf_counter()
    kb = KnowledgeBase(dim=vectors.shape[1])
    for i in range(0, len(chunks), 50_000):
        kb.add(chunks[i : i + 50_000], vectors[i : i + 50_000])
    kb.lexical = lexical_index(kb, tokenizer)
    save(kb, folder)
    build = time.perf_counter() - start
    del kb
    before = rss_mb()
    start = time.perf_counter()
    kb = load(folder)
    encoder = TableEncoder(vectors.shape[1], dict(zip(queries, qvec)), "table")
    retriever = Retriever(kb, encoder, tokenizer)
    load_s = time.perf_counter() - start
    ram = rss_mb() - before
    assistant = Assistant(kb, encoder, tokenizer)
    lexical = timed(lambda q: np.argpartition(-retriever.bm25.scores(q), 100)[:100], queries)
    dense = timed(lambda v: kb.search_ids(v[None], 100), qvec)
    hybrid = timed(lambda q: retriever.search(q, 5), queries)
    answer = timed(lambda q: assistant.ask(q), queries)
    return dict(
        store="embedded (" + ("hnsw" if is_hnsw(kb.index) else "flat") + ")",
        passages=len(chunks),
        build_s=build,
        disk_mb=disk_mb(folder),
        ram_after_load_mb=ram,
        load_s=load_s,
        lexical_p50_ms=lexical[0],
        lexical_p95_ms=lexical[1],
        dense_p50_ms=dense[0],
        dense_p95_ms=dense[1],
        hybrid_p50_ms=hybrid[0],
        hybrid_p95_ms=hybrid[1],
        answer_p50_ms=answer[0],
        answer_p95_ms=answer[1],
    )


def bench_milvus(chunks, vectors, queries, qvec, path: Path, tokenizer) -> dict:
    from qa.assistant import Assistant
    from qa.retrieval import Retriever
    from qa.stores.milvus import MilvusStore, parse_uri

    start = time.perf_counter()
    kb = MilvusStore(parse_uri(str(path)), vectors.shape[1], {})
    for i in range(0, len(chunks), 5000):
        kb.add(chunks[i : i + 5000], vectors[i : i + 5000])
    kb.client.flush(kb.collection)
    build = time.perf_counter() - start
    encoder = TableEncoder(vectors.shape[1], dict(zip(queries, qvec)), "table")
    start = time.perf_counter()
    kb = MilvusStore(parse_uri(str(path)), vectors.shape[1], {}, collection=kb.collection)
    retriever = Retriever(kb, encoder, tokenizer)
    load_s = time.perf_counter() - start
    assistant = Assistant(kb, encoder, tokenizer)
    lexical = timed(
        lambda q: kb.client.search(kb.collection, data=[q], anns_field="sparse", limit=100),
        queries,
    )
    dense = timed(lambda v: kb.search_ids(v[None], 100), qvec)
    hybrid = timed(lambda q: retriever.search(q, 5), queries)
    answer = timed(lambda q: assistant.ask(q), queries)
    return dict(
        store="Milvus Lite",
        passages=len(chunks),
        build_s=build,
        disk_mb=disk_mb(path),
        ram_after_load_mb=float("nan"),  # in the Milvus Lite server process
        load_s=load_s,
        lexical_p50_ms=lexical[0],
        lexical_p95_ms=lexical[1],
        dense_p50_ms=dense[0],
        dense_p95_ms=dense[1],
        hybrid_p50_ms=hybrid[0],
        hybrid_p95_ms=hybrid[1],
        answer_p50_ms=answer[0],
        answer_p95_ms=answer[1],
    )


def hnsw_recall(vectors: np.ndarray, qvec: np.ndarray, k: int = 100) -> dict:
    """recall@k of the store's HNSW settings against exact search, and both latencies."""
    import faiss

    from qa.stores.faiss import new_index

    exact, approx = new_index(vectors.shape[1]), new_index(vectors.shape[1], hnsw=True)
    ids = np.arange(len(vectors), dtype=np.int64)
    exact.add_with_ids(vectors, ids)
    start = time.perf_counter()
    approx.add_with_ids(vectors, ids)
    build = time.perf_counter() - start
    _, want = exact.search(qvec, k)
    _, got = approx.search(qvec, k)
    recall = np.mean([len(set(g) & set(w)) / k for g, w in zip(got, want)])
    flat_ms = timed(lambda v: exact.search(v[None], k), qvec)
    hnsw_ms = timed(lambda v: approx.search(v[None], k), qvec)
    ef = faiss.downcast_index(approx.index).hnsw.efSearch
    return dict(
        passages=len(vectors),
        hnsw_build_s=build,
        recall_at_100=float(recall),
        ef_search=ef,
        flat_p50_ms=flat_ms[0],
        flat_p95_ms=flat_ms[1],
        hnsw_p50_ms=hnsw_ms[0],
        hnsw_p95_ms=hnsw_ms[1],
    )


def table(rows: list[dict]) -> str:
    keys = list(rows[0])

    def fmt(v) -> str:
        if isinstance(v, float):
            return f"{v:.3f}" if v < 10 else f"{v:.1f}"
        return str(v)

    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    return "\n".join(lines + ["| " + " | ".join(fmt(r[k]) for k in keys) + " |" for r in rows])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--real-up-to", type=int, default=10_000, help="real vectors up to N")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--milvus", action="store_true", help="also Milvus Lite")
    parser.add_argument("--milvus-max", type=int, default=100_000)
    parser.add_argument("--corpus", default=str(ROOT / "data" / "corpus" / "*"))
    parser.add_argument("--dim", type=int, default=384)
    args = parser.parse_args()

    from qa.text import Tokenizer

    tokenizer = Tokenizer()
    pool = sentences(args.corpus)
    print(f"{len(pool)} distinct source sentences\n")
    embedded_rows, milvus_rows, recall_rows = [], [], []
    encoder = None
    for n in args.sizes:
        rng = np.random.default_rng(n)
        chunks = passages(pool, n, rng)
        if n <= args.real_up_to:
            from embeddings import load_encoder
            from qa.stores import indexed_text

            encoder = encoder or load_encoder()
            start = time.perf_counter()
            vectors = encoder.encode_passages([indexed_text(c) for c in chunks], progress=True)
            print(f"{n}: real vectors ({encoder.name}), {time.perf_counter() - start:.0f}s")
            queries, qvec = make_queries(chunks, vectors, args.queries, encoder, rng)
        else:
            vectors = unit(rng.normal(size=(n, args.dim)).astype(np.float32))
            print(f"{n}: RANDOM unit vectors (queries: stored vectors + noise)")
            queries, qvec = make_queries(chunks, vectors, args.queries, None, rng)
        tmp = Path(tempfile.mkdtemp(prefix="qa-scale-"))
        try:
            embedded_rows.append(
                bench_embedded(chunks, vectors, queries, qvec, tmp / "idx", tokenizer)
            )
            print(table(embedded_rows[-1:]), flush=True)
            recall_rows.append(hnsw_recall(vectors, qvec))
            print(table(recall_rows[-1:]), flush=True)
            if args.milvus and n <= args.milvus_max:
                milvus_rows.append(
                    bench_milvus(chunks, vectors, queries, qvec, tmp / "kb.db", tokenizer)
                )
                print(table(milvus_rows[-1:]), flush=True)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    print("\n## Embedded store\n\n" + table(embedded_rows))
    print("\n## HNSW (M=32, efSearch as in qa.stores.faiss) vs exact, recall@100\n")
    print(table(recall_rows))
    if milvus_rows:
        print("\n## Milvus Lite\n\n" + table(milvus_rows))


if __name__ == "__main__":
    main()
