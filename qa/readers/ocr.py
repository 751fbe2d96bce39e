"""Read page images with OCR (rapidocr: its wheel ships the Chinese PP-OCR models, so it
works offline), in reading order, with a per-page progress bar and a cache by file hash
so that re-indexing a scanned PDF does not read it again."""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections import deque
from dataclasses import dataclass
from functools import cache
from importlib.util import find_spec
from pathlib import Path

from .layout import Line, merge_segments, reading_order

log = logging.getLogger(__name__)

# Tuned with benchmarks/ocr_settings.py on the scanned corpus (README "Readers"):
OCR_DPI = 150  # render scale for image-only pages (scans are usually 150–300 dpi)
DET_SIDE = 960  # the detector sees the page with its longer side at most this (px; 0: as
# rendered). rapidocr's own ("min", 736) only enlarges, so an A4 page at 150 dpi was detected
# at 1248×1760: 4 s of 22. 736 is faster still but loses small print (80 % of 8 pt text).
UNCLIP = 1.6  # how far a detected line's box grows around its text (rapidocr's); 2.0 makes
# recognition 13 % cheaper but loses small print (99.71 against 99.94 % of 8 pt text) and
# moves the box heights that headings are found by
THREADS = 1  # onnxruntime threads per call: two threads wait for each other on a busy machine
REC_BATCH = 1  # lines per recognition call: batches pad every line to the widest (slower)
WORKERS = 2  # pages read at once, THREADS each: the 2 cores without threads waiting on each other
ARENA = False  # onnxruntime's CPU memory arena (rapidocr's default; on: no measurable gain)
MIN_SCORE = 0.5  # boxes the recogniser is less sure of are dropped
CACHE_VERSION = 3  # the cache holds raw boxes: layout changes need no new OCR


@dataclass(frozen=True)
class OcrSettings:
    """How pages are read: the defaults above; other values for the benchmark
    (``benchmarks/ocr_settings.py``). ``dpi``, ``det_side`` and ``unclip`` change what is
    read, so the cache is keyed by them; the others only change the speed."""

    dpi: int = OCR_DPI
    det_side: int = DET_SIDE
    unclip: float = UNCLIP
    threads: int = THREADS
    rec_batch: int = REC_BATCH
    workers: int = WORKERS
    arena: bool = ARENA

    def cache_params(self) -> dict:
        return {"dpi": self.dpi, "det_side": self.det_side, "unclip": self.unclip}


DEFAULT = OcrSettings()


def cache_dir() -> Path:
    """Where OCR results are kept: ``$QA_OCR_CACHE``, else ``~/.cache/cixi-qa/ocr``."""
    return Path(os.environ.get("QA_OCR_CACHE") or Path.home() / ".cache" / "cixi-qa" / "ocr")


def available() -> bool:
    return find_spec("rapidocr") is not None and find_spec("onnxruntime") is not None


@cache  # one engine per settings used: the defaults (others in benchmarks)
def _engine(settings: OcrSettings = DEFAULT):
    """rapidocr with the PP-OCR detector and recogniser its wheel ships (no classifier)."""
    from rapidocr import RapidOCR

    params = {
        "Global.log_level": "warning",
        "Global.use_cls": False,  # scans are upright; the classifier flipped good lines
        "EngineConfig.onnxruntime.intra_op_num_threads": min(settings.threads, os.cpu_count() or 1),
        "EngineConfig.onnxruntime.inter_op_num_threads": 1,
        "EngineConfig.onnxruntime.enable_cpu_mem_arena": settings.arena,
        "Det.unclip_ratio": settings.unclip,
        "Rec.rec_batch_num": settings.rec_batch,
    }
    if settings.det_side:  # rapidocr's default ("min", 736) leaves an A4 page at full size
        params |= {"Det.limit_type": "max", "Det.limit_side_len": settings.det_side}
    return RapidOCR(params=params)


def boxes_to_lines(boxes, texts, scores) -> list[Line]:
    """OCR boxes (four corner points each) as ``Line``s, in the engine's order."""
    lines = []
    for box, text, score in zip(boxes, texts, scores):
        if score < MIN_SCORE or not text.strip():
            continue
        xs, ys = [p[0] for p in box], [p[1] for p in box]
        x0, y0, x1, y1 = min(xs), min(ys), max(xs), max(ys)
        lines.append(Line(text.strip(), x0, y0, x1, y1, y1 - y0))
    return lines


def ocr_image(image, settings: OcrSettings = DEFAULT) -> list[Line]:
    """The text boxes of a BGR image (a numpy array, as PDFium renders), in pixels."""
    result = _engine(settings)(image)
    if result.boxes is None or result.txts is None:
        return []
    return boxes_to_lines(result.boxes.tolist(), result.txts, result.scores)


def render(page, dpi: int):
    """A pypdfium2 page as a 3-channel BGR array at ``dpi``: PDFium's own byte order, which
    is the engine's, so no copy is made."""
    image = page.render(scale=dpi / 72).to_numpy()
    if image.ndim == 2 or image.shape[2] == 1:
        image = image.reshape(image.shape[0], image.shape[1], 1).repeat(3, axis=2)
    return image[:, :, :3]


def _cache_path(key: str) -> Path:
    return cache_dir() / f"{key}.json"


def _load_cache(key: str, settings: OcrSettings) -> dict[str, list]:
    try:
        data = json.loads(_cache_path(key).read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    if data.get("version") != CACHE_VERSION or data.get("params") != settings.cache_params():
        return {}
    return data.get("pages", {})


def _save_cache(key: str, pages: dict[str, list], settings: OcrSettings) -> None:
    path = _cache_path(key)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp-{os.getpid()}")
        data = {"version": CACHE_VERSION, "params": settings.cache_params(), "pages": pages}
        tmp.write_text(json.dumps(data, ensure_ascii=False), "utf-8")
        tmp.replace(path)
    except OSError as exc:  # a cache that cannot be written only costs time
        log.warning("OCR cache not written: %s", exc)


def file_key(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_pages(pdf, numbers: list[int], settings: OcrSettings = DEFAULT):
    """``(page number, lines in pixels)`` for the 1-based pages ``numbers`` of an open
    pypdfium2 document, in order. PDFium renders here, one page at a time (it is not
    thread-safe); the engine reads ``settings.workers`` pages at once (onnxruntime and
    OpenCV release the GIL)."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(settings.workers) as pool:
        pending: deque = deque()
        for n in numbers:
            image = render(pdf[n - 1], settings.dpi)
            pending.append((n, pool.submit(ocr_image, image, settings)))
            if len(pending) >= settings.workers:
                done, future = pending.popleft()
                yield done, future.result()
        for done, future in pending:
            yield done, future.result()


def page_lines(boxes: list[list], dpi: int) -> list[Line]:
    """Cached pixel boxes ``[text, x0, y0, x1, y1, size]`` as lines in reading order, in
    PDF points."""
    scale = dpi / 72
    lines = [
        Line(t, x0 / scale, y0 / scale, x1 / scale, y1 / scale, s / scale)
        for t, x0, y0, x1, y1, s in boxes
    ]
    return merge_segments(reading_order(lines))


def ocr_pages(
    pdf, numbers: list[int], key: str, progress: bool = False, settings: OcrSettings = DEFAULT
) -> dict[int, list[Line]]:
    """OCR the 1-based pages ``numbers`` of an open pypdfium2 document: lines in reading
    order, in PDF points. Pages already in the cache for ``key`` (the file's hash) are not read."""
    from tqdm import tqdm

    cached = _load_cache(key, settings)
    todo = [n for n in numbers if str(n) not in cached]
    bar = tqdm(total=len(todo), desc="OCR", unit="页", disable=not progress or not todo)
    for n, lines in read_pages(pdf, todo, settings):
        cached[str(n)] = [[ln.text, ln.x0, ln.y0, ln.x1, ln.y1, ln.size] for ln in lines]
        _save_cache(key, cached, settings)
        bar.update(1)
    bar.close()
    return {n: page_lines(cached[str(n)], settings.dpi) for n in numbers}
