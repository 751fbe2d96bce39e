"""Compare OCR settings on the scanned corpus: seconds a page by stage, and the characters right.

    nice -n 10 python benchmarks/ocr_settings.py [--work build/readers] [--only NAME]
        [--settings TEXT ...] [--body-pt 8 --work build/small8] [--out F]

Every page of the scanned corpus (``benchmarks/render_corpus.py``: the text PDF rasterised
at 150 dpi) is read once with each setting, the settings taking turns two pages at a time,
so that the other jobs on a shared machine weigh on all of them alike: compare the ratios.
Wall seconds a page by stage: render (PDFium), det and rec (the detector's and recogniser's
calls, summed over pages, so they overlap when two pages are read at once), other (the rest:
resizing, cropping the lines, rendering overlapped), layout (reading order, lines joined);
``cpu_s_per_page`` is the process's CPU time, less sensitive to the other jobs than wall
time. ``chars_right_%`` is the readers benchmark's ``char_fidelity`` (the source's characters
found, in order, in the text read) and ``headings`` the heading lines found (from box
heights, which that share ignores), both from each setting's own OCR cache. Models: only
those the rapidocr wheel ships.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks import render_corpus  # noqa: E402
from benchmarks.readers import fidelity  # noqa: E402
from benchmarks.run import table  # noqa: E402
from qa.indexing import DEFAULT_CORPUS  # noqa: E402
from qa.readers import ReadOptions, ocr, read_folder  # noqa: E402
from qa.readers.ocr import OcrSettings  # noqa: E402

BEFORE = OcrSettings(det_side=0, unclip=1.6, threads=2, rec_batch=6, workers=1, arena=False)
SETTINGS = {
    "before: rapidocr's sizes, 2 threads": BEFORE,
    "det 960": replace(BEFORE, det_side=960),
    "det 960, 1 thread, batch 1": replace(BEFORE, det_side=960, threads=1, rec_batch=1),
    "det 960, 2 pages × 1 thread, batch 1": replace(
        BEFORE, det_side=960, threads=1, rec_batch=1, workers=2
    ),
    "det 960, 1 thread, batch 1, unclip 2": replace(
        BEFORE, det_side=960, threads=1, rec_batch=1, unclip=2.0
    ),
    "det 960, unclip 2, 2 pages × 1 thread": replace(
        BEFORE, det_side=960, threads=1, rec_batch=1, unclip=2.0, workers=2
    ),
    "det 736, unclip 2, 1 thread, batch 1": replace(
        BEFORE, det_side=736, threads=1, rec_batch=1, unclip=2.0
    ),
    "det 736, unclip 2, 1 thread, batch 1, arena": replace(
        BEFORE, det_side=736, threads=1, rec_batch=1, unclip=2.0, arena=True
    ),
    "det 736, unclip 2, 2 pages × 1 thread": replace(
        BEFORE, det_side=736, threads=1, rec_batch=1, unclip=2.0, workers=2
    ),
    "120 dpi, unclip 2, 1 thread, batch 1": replace(
        BEFORE, dpi=120, det_side=0, threads=1, rec_batch=1, unclip=2.0
    ),
}
STAGES = ("render", "det", "rec", "other")


def load() -> str:
    return ", ".join(f"{x:.1f}" for x in os.getloadavg())


def headings(folder: Path, options: ReadOptions) -> int:
    """Heading lines found (from box heights: the characters-right share ignores ``#``)."""
    docs = read_folder(folder, options=options)
    return sum(line.startswith("#") for d in docs for line in d.text.splitlines())


class Timed:
    """A model call that adds its wall seconds to ``seconds[stage]``."""

    def __init__(self, inner, seconds: dict, stage: str):
        self.inner, self.seconds, self.stage = inner, seconds, stage

    def __call__(self, *args):
        t0 = time.perf_counter()
        try:
            return self.inner(*args)
        finally:
            self.seconds[self.stage] += time.perf_counter() - t0

    def __getattr__(self, name):
        return getattr(self.inner, name)


def read_group(pdf, numbers: list[int], settings: OcrSettings, sums: dict) -> dict[str, list]:
    """Read pages ``numbers`` as ``ocr_pages`` does; add wall and CPU seconds to ``sums``."""
    wall, cpu = time.perf_counter(), time.process_time()
    found = {}
    for n, lines in ocr.read_pages(pdf, numbers, settings):
        found[str(n)] = [[ln.text, ln.x0, ln.y0, ln.x1, ln.y1, ln.size] for ln in lines]
    sums["wall"] += time.perf_counter() - wall
    sums["cpu"] += time.process_time() - cpu
    t0 = time.perf_counter()
    for n in numbers:
        ocr.render(pdf[n - 1], settings.dpi)
    sums["render"] += time.perf_counter() - t0
    t0 = time.perf_counter()
    for boxes in found.values():
        ocr.page_lines(boxes, settings.dpi)
    sums["layout"] += time.perf_counter() - t0
    return found


def compare(scans: list[Path], settings: dict[str, OcrSettings], caches: Path) -> list[dict]:
    import pypdfium2 as pdfium

    names = list(settings)
    sums = {name: dict.fromkeys([*STAGES, "layout", "wall", "cpu"], 0.0) for name in names}
    pages = 0
    for name, s in settings.items():  # load the models, then time their calls
        engine = ocr._engine(s)
        engine._load_det_model(), engine._load_rec_model()
        engine.text_det = Timed(engine.text_det, sums[name], "det")
        engine.text_rec = Timed(engine.text_rec, sums[name], "rec")
    for path in scans:
        data = path.read_bytes()
        pdf = pdfium.PdfDocument(data)
        found: dict[str, dict[str, list]] = {name: {} for name in names}
        numbers = list(range(1, len(pdf) + 1))
        for group in [numbers[i : i + 2] for i in range(0, len(numbers), 2)]:
            for name in names:  # the settings take turns, two pages each
                found[name] |= read_group(pdf, group, settings[name], sums[name])
            pages += len(group)
            so_far = ", ".join(f"{sums[n]['wall'] / pages:.1f}" for n in names)
            print(f"{path.name} p{group[-1]}: s/page {so_far}; load {load()}", file=sys.stderr)
        pdf.close()
        for i, name in enumerate(names):  # each setting's own cache, read back for fidelity
            os.environ["QA_OCR_CACHE"] = str(caches / str(i))
            ocr._save_cache(ocr.file_key(data), found[name], settings[name])
    rows = []
    base = sums[names[0]]["wall"]
    for i, name in enumerate(names):
        s, t = settings[name], sums[name]
        t["other"] = t["wall"] - t["render"] - (t["det"] + t["rec"]) / s.workers
        os.environ["QA_OCR_CACHE"] = str(caches / str(i))
        rows.append(
            {
                "setting": name,
                "dpi": s.dpi,
                "det_side": s.det_side or "–",
                "unclip": s.unclip,
                "threads": s.threads,
                "batch": s.rec_batch,
                "pages_at_once": s.workers,
            }  # fmt: skip
            | {f"{stage}_s": t[stage] / pages for stage in [*STAGES, "layout"]}
            | {
                "wall_s_per_page": t["wall"] / pages,
                "cpu_s_per_page": t["cpu"] / pages,
                "pages_per_s": pages / t["wall"],
                "speedup": base / t["wall"],
                "chars_right_%": 100 * fidelity(scans[0].parent, ReadOptions(ocr_settings=s)),
                "headings": headings(scans[0].parent, ReadOptions(ocr_settings=s)),
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--work", type=Path, help="keep the rendered corpus here and reuse it")
    parser.add_argument("--only", help="only the scanned documents whose name contains this")
    parser.add_argument(
        "--settings",
        action="append",
        help="only the settings whose name contains this (repeatable; the first is the baseline)",
    )
    parser.add_argument(
        "--body-pt", type=float, help="render the body text this size (small print)"
    )
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    if args.body_pt:
        render_corpus.BODY_PT = args.body_pt
    chosen = {
        k: v for k, v in SETTINGS.items() if not args.settings or any(w in k for w in args.settings)
    }
    settings: dict[str, OcrSettings] = {}  # one row a setting: the defaults are marked
    for name, s in chosen.items():
        if s not in settings.values():
            settings[name + (" (defaults)" if s == ocr.DEFAULT else "")] = s
    if ocr.DEFAULT not in settings.values():
        settings["defaults"] = ocr.DEFAULT
    with tempfile.TemporaryDirectory() as tmp:
        formats = (args.work or Path(tmp)) / "formats"
        if not (formats / "scan.pdf").is_dir():
            render_corpus.render_all(DEFAULT_CORPUS, formats)
        scans = sorted((formats / "scan.pdf").glob("*.pdf"))
        if args.only:
            folder = Path(tmp) / "scans"
            folder.mkdir()
            for path in scans:
                if args.only in path.name:
                    (folder / path.name).symlink_to(path.resolve())
            scans = sorted(folder.glob("*.pdf"))
        before = f"{time.strftime('%H:%M UTC', time.gmtime())}, load average {load()}"
        rows = compare(scans, settings, Path(tmp) / "caches")
        after = f"{time.strftime('%H:%M UTC', time.gmtime())}, load average {load()}"
    pages = "the scanned corpus" if not args.only else ", ".join(p.name for p in scans)
    stems = {p.stem for p in scans}
    source = [d for d in read_folder(DEFAULT_CORPUS) if Path(d.source).stem in stems]
    marked = sum(line.startswith("#") for d in source for line in d.text.splitlines())
    report = "\n\n".join(
        [
            f"### OCR settings on {pages} (seconds a page; {before} → {after})",
            table(rows),
            f"Heading lines in the source documents: {marked}.",
        ]
    )
    print(report)
    if args.out:
        args.out.write_text(report + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
