"""Scale benchmark: synthetic corpora of 10k / 100k / 1M passages on the embedded store and
Milvus Lite. Prints one Markdown table per store, and the IVF recall@100 against exact.

    nice -n 10 python benchmarks/scale.py --sizes 10000 100000 [--real-up-to 10000] [--milvus]

Passages are real Chinese sentences (the bundled corpus and the CMRC 2018 trial paragraphs)
recombined at random into 150-400 characters. Vectors come from the default encoder for
sizes up to ``--real-up-to``; above it (``--vectors sentences``, the default) each passage's
vector is the normalised mean of the encoder's vectors of its sentences (each distinct
sentence embedded once; queries embedded by the encoder), or (``--vectors random``) random
unit vectors (queries: a stored vector plus noise), the hard case for an approximate index
since random vectors have no clusters. The output says which. Queries are sentences of the
corpus, so BM25 has work to do. "answer" is ``Assistant.ask``: retrieval plus the answer
checks, query embedding excluded (the vectors are precomputed) so the figure is the store's
and engine's own.
"""

from __future__ import annotations

import argparse
import gc
import glob
import itertools
import json
import re
import shutil
import statistics
import subprocess
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


def passages(
    pool: list[str], n: int, rng: np.random.Generator, pool_vectors: np.ndarray | None = None
) -> tuple[list[Chunk], np.ndarray | None]:
    """``n`` passages of random sentences; with ``pool_vectors`` (one vector a sentence)
    also each passage's vector: the normalised mean of its sentences' vectors."""
    chunks, seen = [], set()
    vectors = None if pool_vectors is None else np.zeros((n, pool_vectors.shape[1]), np.float32)
    while len(chunks) < n:
        target, parts, size = int(rng.integers(150, 400)), [], 0
        while size < target:
            parts.append(int(rng.integers(len(pool))))
            size += len(pool[parts[-1]])
        text = "".join(pool[j] for j in parts)
        i = len(chunks)
        source, section = f"synthetic-{i // 40:05d}.md", (f"第{i % 40 + 1}节",)
        cid = chunk_id(source, section, text)
        if cid in seen:
            continue
        seen.add(cid)
        chunks.append(Chunk(cid, source, f"合成文档{i // 40}", section, 0, len(text), text))
        if vectors is not None:
            vectors[i] = pool_vectors[parts].sum(axis=0)
    return chunks, None if vectors is None else unit(vectors)


def pool_vectors(pool: list[str], encoder, cache: Path) -> np.ndarray:
    """The encoder's vector of every pool sentence, cached in ``cache`` (an .npz)."""
    if cache.exists():
        saved = np.load(cache)
        if saved["n"] == len(pool) and str(saved["model"]) == encoder.name:
            return saved["vectors"]
    start = time.perf_counter()
    vectors = encoder.encode_passages(pool, progress=True)
    print(f"{len(pool)} sentences embedded ({encoder.name}), {time.perf_counter() - start:.0f}s")
    np.savez(cache, vectors=vectors, n=len(pool), model=encoder.name)
    return vectors


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


class SentenceTokens:
    """BM25 tokens of a synthetic passage as its sentences' tokens, each distinct sentence
    tokenised once (the passages recombine a few thousand sentences): the index is the
    same up to words jieba would join across a sentence end, and jieba's time on every
    passage is measured on a sample and reported as an estimate instead."""

    def __init__(self, tokenizer):
        self.tokenizer, self.cache = tokenizer, {}

    def key(self) -> str:
        return self.tokenizer.key()

    def tokens(self, text: str) -> list[str]:
        out = []
        for piece in SENTENCE.findall(text):
            if piece not in self.cache:
                self.cache[piece] = self.tokenizer.tokens(piece)
            out += self.cache[piece]
        return out


def peak_and_current_mb() -> tuple[float, float]:
    fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines())
    return int(fields["VmHWM"].split()[0]) / 1024, int(fields["VmRSS"].split()[0]) / 1024


def bench_embedded(
    chunks, vectors, folder: Path, subjects_up_to: int, sentence_tokens_above: int
) -> dict:
    """Build and save the index as ``qa index`` does (vocabulary, BM25, subjects), then load
    and query it in a fresh process (``child``), so its RAM is the loaded index's alone."""
    from qa.retrieval import lexical_index
    from qa.stores import KnowledgeBase, indexed_text, save
    from qa.subjects import ensure_subjects
    from qa.text import Tokenizer
    from qa.vocabulary import VOCABULARY_FILE, load_vocabulary, vocabulary_key, write_vocabulary

    n, dim = len(chunks), vectors.shape[1]
    tokenizer, parts = Tokenizer(), {}
    start = time.perf_counter()
    kb = KnowledgeBase(dim=dim)
    for i in range(0, n, 50_000):
        kb.add(chunks[i : i + 50_000], vectors[i : i + 50_000])
    del vectors, chunks[:]  # the store holds them now
    mark = time.perf_counter()
    terms = load_vocabulary(kb, tokenizer, None)
    tokenizer.add_words(terms)
    parts["vocabulary_s"] = time.perf_counter() - mark
    mark = time.perf_counter()
    if n > sentence_tokens_above:  # measure jieba's rate on a sample, then reuse sentences
        sample = [indexed_text(c) for c in itertools.islice(kb.chunks.values(), 2000)]
        rate = time.perf_counter()
        for text in sample:
            tokenizer.tokens(text)
        parts["tokenise_estimate_s"] = (time.perf_counter() - rate) / len(sample) * n
        mark = time.perf_counter()
        kb.lexical = lexical_index(kb, SentenceTokens(tokenizer))
    else:
        kb.lexical = lexical_index(kb, tokenizer)
    parts["bm25_s"] = time.perf_counter() - mark
    print(f"  bm25 {parts['bm25_s']:.0f}s, peak RSS {peak_and_current_mb()[0]:.0f} MB", flush=True)
    mark = time.perf_counter()
    save(kb, folder)
    write_vocabulary(folder / VOCABULARY_FILE, vocabulary_key(kb), terms)
    parts["save_s"] = time.perf_counter() - mark  # SQLite, faiss (IVF built here), checksums
    mark = time.perf_counter()
    if n <= subjects_up_to:
        ensure_subjects(kb, tokenizer, folder)
    parts["subjects_s"] = time.perf_counter() - mark
    build = time.perf_counter() - start
    build_peak = peak_and_current_mb()[0]
    del kb
    gc.collect()
    out = subprocess.run(
        [sys.executable, __file__, "--child", str(folder)], capture_output=True, text=True
    )
    if out.returncode:
        raise RuntimeError(out.stderr[-3000:])
    measured = json.loads(out.stdout.strip().splitlines()[-1])
    return dict(
        passages=n,
        build_s=build,
        **parts,
        build_peak_rss_mb=build_peak,
        disk_mb=disk_mb(folder),
        **measured,
    )


def child(folder: Path) -> None:
    """Load the index in ``folder`` (this process does nothing else first), report RAM and
    load time, then time the queries saved beside it and the IVF recall against exact."""
    from qa.assistant import Assistant
    from qa.stores import load
    from qa.stores.faiss import is_exact, kind
    from qa.subjects import ensure_subjects, learn_subjects, load_subjects, subjects_key
    from qa.text import Tokenizer

    work = folder.parent
    queries = json.loads((work / "queries.json").read_text("utf-8"))
    qvec = np.load(work / "qvec.npy")
    _, rss_before = peak_and_current_mb()
    start = time.perf_counter()
    kb = load(folder)
    encoder = TableEncoder(kb.dim, dict(zip(queries, qvec)), "table")
    assistant = Assistant(kb, encoder, Tokenizer(), index_dir=folder)  # as Assistant.open
    cached = load_subjects(folder, subjects_key(kb, assistant.tokenizer))
    if cached:
        assistant._snapshot.subjects.update(ensure_subjects(kb, assistant.tokenizer, folder))
    load_s = time.perf_counter() - start
    peak, rss = peak_and_current_mb()
    row = dict(
        store=f"embedded ({kind(kb.index)})",
        load_s=load_s,
        rss_after_load_mb=rss,
        peak_rss_load_mb=peak,
        rss_import_mb=rss_before,
        subjects="cached for all" if cached else "",
    )
    retriever = assistant.retriever
    if not cached:  # learn those the questions reach, as the index build would have stored
        sources = {p.chunk.source for q in queries for p in retriever.search(q, 5)}
        mark = time.perf_counter()
        assistant._snapshot.subjects.update(learn_subjects(kb, assistant.tokenizer, sources))
        per_doc = (time.perf_counter() - mark) / max(1, len(sources))
        row["subjects"] = f"{len(sources)} reached, {per_doc:.2f} s/doc"
    lexical = timed(lambda q: np.argpartition(-retriever.bm25.scores(q), 100)[:100], queries)
    dense = timed(lambda v: kb.search_ids(v[None], 100), qvec)
    hybrid = timed(lambda q: retriever.search(q, 5), queries)
    answer = timed(lambda q: assistant.ask(q), queries)
    for name, (p50, p95) in [
        ("lexical", lexical),
        ("dense", dense),
        ("hybrid", hybrid),
        ("answer", answer),
    ]:
        row[f"{name}_p50_ms"], row[f"{name}_p95_ms"] = p50, p95
    if not is_exact(kb.index):
        vectors = np.load(work / "vectors.npy", mmap_mode="r")
        want = exact_top(vectors, qvec, 100)
        got = [kb.search_ids(v[None], 100)[1][0] for v in qvec]
        ids = kb.ids()  # position -> id: the store's ids in the order they were added
        row["recall_at_100"] = float(
            np.mean([len(set(g) & set(ids[w].tolist())) / 100 for g, w in zip(got, want)])
        )
    print(json.dumps(row))


def exact_top(vectors: np.ndarray, qvec: np.ndarray, k: int, block: int = 100_000) -> np.ndarray:
    """Positions of the exact top ``k`` inner products per query, scanning ``block`` rows
    at a time (bounded memory; ``vectors`` may be memory-mapped)."""
    best_s = np.full((len(qvec), 0), -np.inf, np.float32)
    best_i = np.zeros((len(qvec), 0), np.int64)
    for at in range(0, len(vectors), block):
        s = qvec @ np.asarray(vectors[at : at + block]).T
        s_all = np.concatenate([best_s, s], axis=1)
        i_all = np.concatenate(
            [best_i, np.arange(at, at + s.shape[1])[None].repeat(len(qvec), 0)], 1
        )
        top = np.argpartition(-s_all, min(k, s_all.shape[1] - 1), axis=1)[:, :k]
        best_s = np.take_along_axis(s_all, top, 1)
        best_i = np.take_along_axis(i_all, top, 1)
    return best_i


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


def ivf_recall(vectors: np.ndarray, qvec: np.ndarray, k: int = 100) -> dict:
    """recall@k of the store's approximate index (IVF, as ``save`` builds it from
    ``LARGE_THRESHOLD`` passages on) against exact search, and both latencies, for a size
    the store still searches exactly."""
    from qa.stores.faiss import IVF_PROBE, new_index, retyped

    ids = np.arange(len(vectors), dtype=np.int64)
    exact = new_index(vectors.shape[1])
    exact.add_with_ids(np.ascontiguousarray(vectors), ids)
    start = time.perf_counter()
    approx = retyped(exact, exact=False)
    build = time.perf_counter() - start
    want = exact_top(vectors, qvec, k)
    got = [approx.search(v[None], k)[1][0] for v in qvec]
    recall = np.mean([len(set(g) & set(w)) / k for g, w in zip(got, want)])
    import faiss

    faiss.omp_set_num_threads(1)  # as the store searches a few queries
    flat_ms = timed(lambda v: exact.search(v[None], k), qvec)
    ivf_ms = timed(lambda v: approx.search(v[None], k), qvec)
    return dict(
        passages=len(vectors),
        ivf_build_s=build,
        recall_at_100=float(recall),
        nprobe=IVF_PROBE,
        flat_p50_ms=flat_ms[0],
        flat_p95_ms=flat_ms[1],
        ivf_p50_ms=ivf_ms[0],
        ivf_p95_ms=ivf_ms[1],
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
    parser.add_argument(
        "--subjects-up-to",
        type=int,
        default=200_000,
        help="learn every document's subject at build up to N passages; above, only the "
        "documents the questions reach (said in the output)",
    )
    parser.add_argument(
        "--sentence-tokens-above",
        type=int,
        default=10**9,
        help="above N passages build BM25 from per-sentence tokens and estimate jieba's "
        "time on every passage from a sample (said in the output)",
    )
    parser.add_argument("--vectors", choices=["sentences", "random"], default="sentences")
    parser.add_argument(
        "--cache", type=Path, default=Path(tempfile.gettempdir()) / "qa-scale-sentences.npz"
    )
    parser.add_argument("--corpus", default=str(ROOT.parent / "shared" / "corpus" / "*"))
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--keep", help="build the index in this folder and keep it")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(Path(args.child))

    from qa.stores.faiss import LARGE_THRESHOLD
    from qa.text import Tokenizer

    pool = sentences(args.corpus)
    print(f"{len(pool)} distinct source sentences\n")
    embedded_rows, milvus_rows, recall_rows = [], [], []
    encoder = None
    for n in args.sizes:
        rng = np.random.default_rng(n)
        if n > args.real_up_to and args.vectors == "sentences":
            from embeddings import load_encoder

            encoder = encoder or load_encoder()
            chunks, vectors = passages(pool, n, rng, pool_vectors(pool, encoder, args.cache))
            print(f"{n}: vectors = mean of the sentences' vectors ({encoder.name})", flush=True)
            queries, qvec = make_queries(chunks, vectors, args.queries, encoder, rng)
        elif n <= args.real_up_to:
            chunks, _ = passages(pool, n, rng)
            from embeddings import load_encoder
            from qa.stores import indexed_text

            encoder = encoder or load_encoder()
            start = time.perf_counter()
            vectors = encoder.encode_passages([indexed_text(c) for c in chunks], progress=True)
            print(f"{n}: real vectors ({encoder.name}), {time.perf_counter() - start:.0f}s")
            queries, qvec = make_queries(chunks, vectors, args.queries, encoder, rng)
        else:
            chunks, _ = passages(pool, n, rng)
            vectors = unit(rng.normal(size=(n, args.dim)).astype(np.float32))
            print(f"{n}: RANDOM unit vectors (queries: stored vectors + noise)", flush=True)
            queries, qvec = make_queries(chunks, vectors, args.queries, None, rng)
        work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="qa-scale-"))
        work.mkdir(parents=True, exist_ok=True)
        np.save(work / "vectors.npy", vectors)
        np.save(work / "qvec.npy", qvec)
        (work / "queries.json").write_text(json.dumps(queries, ensure_ascii=False), "utf-8")
        del vectors
        vectors = np.load(work / "vectors.npy", mmap_mode="r")
        try:
            if args.milvus and n <= args.milvus_max:
                milvus_rows.append(
                    bench_milvus(chunks, vectors, queries, qvec, work / "kb.db", Tokenizer())
                )
                print(table(milvus_rows[-1:]), flush=True)
            if n < LARGE_THRESHOLD:  # the store searches exactly: what would IVF give?
                recall_rows.append(ivf_recall(np.asarray(vectors), qvec))
                print(table(recall_rows[-1:]), flush=True)
            embedded_rows.append(
                bench_embedded(
                    chunks, vectors, work / "idx", args.subjects_up_to, args.sentence_tokens_above
                )
            )
            print(table(embedded_rows[-1:]), flush=True)
        finally:
            if not args.keep:
                shutil.rmtree(work, ignore_errors=True)
    print("\n## Embedded store (load and queries in a fresh process)\n\n" + table(embedded_rows))
    if recall_rows:
        print("\n## IVF (lists and nprobe as in qa.stores.faiss) vs exact, recall@100\n")
        print(table(recall_rows))
    if milvus_rows:
        print("\n## Milvus Lite\n\n" + table(milvus_rows))


if __name__ == "__main__":
    main()
