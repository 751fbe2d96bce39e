"""IVF recall@100 against exact search on *topical* synthetic vectors at 1M passages.

    nice -n 10 python benchmarks/ivf_topical.py --passages 1000000

``scale.py``'s passages average random sentences, so their vectors have no clusters: the
worst case for a partitioned index. Here each synthetic document (40 passages) draws its
sentences from one source text (a CMRC trial paragraph or a bundled document), as a real
document is about one thing; a passage's vector is the normalised mean of its sentences'
vectors from the default encoder (cached as in ``scale.py``), a query is one sentence's
vector. IVF as ``qa.stores.faiss`` builds it (lists, training sample), one query at a time on
one thread, for several nprobe.
"""

from __future__ import annotations

import argparse
import glob
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import scale  # noqa: E402


def topics(pool: list[str], corpus_glob: str) -> list[np.ndarray]:
    """Sentence indices of each source text (those with three sentences or more)."""
    texts = [Path(p).read_text("utf-8") for p in sorted(glob.glob(corpus_glob))]
    data = json.loads(scale.CMRC.read_text("utf-8"))["data"]
    texts += [p["context"] for a in data for p in a["paragraphs"]]
    index_of = {s: i for i, s in enumerate(pool)}
    out = []
    for text in texts:
        found = {index_of.get(s.strip()) for s in scale.SENTENCE.findall(text)} - {None}
        if len(found) >= 3:
            out.append(np.array(sorted(found)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--passages", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--nprobe", type=int, nargs="+", default=[16, 32, 64, 128])
    parser.add_argument("--corpus", default=str(scale.ROOT.parent / "shared" / "corpus" / "*"))
    parser.add_argument(
        "--cache", type=Path, default=Path(scale.tempfile.gettempdir()) / "qa-scale-sentences.npz"
    )
    args = parser.parse_args()

    import faiss

    from embeddings import load_encoder
    from qa.stores.faiss import new_index, retyped

    pool = scale.sentences(args.corpus)
    sv = scale.pool_vectors(pool, load_encoder(), args.cache)
    groups = topics(pool, args.corpus)
    rng = np.random.default_rng(7)
    n = args.passages
    vectors = np.zeros((n, sv.shape[1]), np.float32)
    for d in range(0, n, 40):
        t = groups[int(rng.integers(len(groups)))]
        for i in range(d, min(n, d + 40)):
            vectors[i] = sv[t[rng.integers(len(t), size=int(rng.integers(4, 12)))]].sum(0)
    vectors = scale.unit(vectors)
    queries = np.ascontiguousarray(sv[rng.integers(len(sv), size=args.queries)])
    print(f"{n} passages, {len(groups)} topics, {len(pool)} sentences", flush=True)
    want = scale.exact_top(vectors, queries, 100)
    flat = new_index(sv.shape[1])
    flat.add_with_ids(vectors, np.arange(n, dtype=np.int64))
    del vectors
    start = time.perf_counter()
    ivf = retyped(flat, exact=False)
    print(f"IVF train + add {time.perf_counter() - start:.0f}s", flush=True)
    del flat
    faiss.omp_set_num_threads(1)
    print("| nprobe | recall@100 | p50 ms | p95 ms |\n|---|---|---|---|")
    for nprobe in args.nprobe:
        faiss.extract_index_ivf(ivf.index).nprobe = nprobe
        got = [ivf.search(q[None], 100)[1][0] for q in queries]
        p50, p95 = scale.timed(lambda q: ivf.search(q[None], 100), queries)
        recall = np.mean([len(set(g) & set(w)) / 100 for g, w in zip(got, want)])
        print(f"| {nprobe} | {recall:.3f} | {p50:.1f} | {p95:.1f} |", flush=True)


if __name__ == "__main__":
    main()
