"""Read page images with OCR (rapidocr: its wheel ships the Chinese PP-OCR models, so it
works offline), in reading order, with a per-page progress bar and a cache by file hash
so that re-indexing a scanned PDF does not read it again."""

from __future__ import annotations

import hashlib
import json
import logging
import os
from functools import lru_cache
from importlib.util import find_spec
from pathlib import Path

from .layout import Line, merge_segments, reading_order

log = logging.getLogger(__name__)

OCR_DPI = 150  # render scale for image-only pages (scans are usually 150–300 dpi)
MIN_SCORE = 0.5  # boxes the recogniser is less sure of are dropped
CACHE_VERSION = 2  # the cache holds raw boxes: layout changes need no new OCR


def cache_dir() -> Path:
    """Where OCR results are kept: ``$QA_OCR_CACHE``, else ``~/.cache/cixi-qa/ocr``."""
    return Path(os.environ.get("QA_OCR_CACHE") or Path.home() / ".cache" / "cixi-qa" / "ocr")


def available() -> bool:
    return find_spec("rapidocr") is not None and find_spec("onnxruntime") is not None


@lru_cache(maxsize=1)
def _engine():
    from rapidocr import RapidOCR

    threads = min(2, os.cpu_count() or 1)
    return RapidOCR(
        params={
            "Global.log_level": "warning",
            "Global.use_cls": False,  # scans are upright; the classifier flipped good lines
            "EngineConfig.onnxruntime.intra_op_num_threads": threads,
            "EngineConfig.onnxruntime.inter_op_num_threads": 1,
        }
    )


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


def ocr_image(image) -> list[Line]:
    """The text boxes of an RGB image (a numpy array), in pixel coordinates."""
    result = _engine()(image[:, :, ::-1].copy())  # the engine expects BGR
    if result.boxes is None or result.txts is None:
        return []
    return boxes_to_lines(result.boxes.tolist(), result.txts, result.scores)


def _cache_path(key: str) -> Path:
    return cache_dir() / f"{key}.json"


def _load_cache(key: str) -> dict[str, list]:
    try:
        data = json.loads(_cache_path(key).read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    if data.get("version") != CACHE_VERSION or data.get("dpi") != OCR_DPI:
        return {}
    return data.get("pages", {})


def _save_cache(key: str, pages: dict[str, list]) -> None:
    path = _cache_path(key)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp-{os.getpid()}")
        data = {"version": CACHE_VERSION, "dpi": OCR_DPI, "pages": pages}
        tmp.write_text(json.dumps(data, ensure_ascii=False), "utf-8")
        tmp.replace(path)
    except OSError as exc:  # a cache that cannot be written only costs time
        log.warning("OCR cache not written: %s", exc)


def file_key(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def ocr_pages(pdf, numbers: list[int], key: str, progress: bool = False) -> dict[int, list[Line]]:
    """OCR the 1-based pages ``numbers`` of an open pypdfium2 document: lines in reading
    order, in PDF points. Pages already in the cache for ``key`` (the file's hash) are not read."""
    from tqdm import tqdm

    cached = _load_cache(key)
    out: dict[int, list[Line]] = {}
    todo = [n for n in numbers if str(n) not in cached]
    scale = OCR_DPI / 72
    bar = tqdm(total=len(todo), desc="OCR", unit="页", disable=not progress or not todo)
    for n in numbers:
        if str(n) not in cached:
            image = pdf[n - 1].render(scale=scale).to_numpy()
            if image.ndim == 2 or image.shape[2] == 1:
                image = image.reshape(image.shape[0], image.shape[1], 1).repeat(3, axis=2)
            lines = ocr_image(image[:, :, :3])
            cached[str(n)] = [[ln.text, ln.x0, ln.y0, ln.x1, ln.y1, ln.size] for ln in lines]
            _save_cache(key, cached)
            bar.update(1)
        boxes = [
            Line(t, x0 / scale, y0 / scale, x1 / scale, y1 / scale, s / scale)
            for t, x0, y0, x1, y1, s in cached[str(n)]
        ]
        out[n] = merge_segments(reading_order(boxes))
    bar.close()
    return out
