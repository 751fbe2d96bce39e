"""Files shipped inside the package (the bundled corpus, the answerability model), found
with ``importlib.resources`` so they work from a checkout and from an installed wheel."""

from __future__ import annotations

import os
from importlib.resources import files
from pathlib import Path

DATA = Path(str(files("qa") / "data"))
BUNDLED_CORPUS = DATA / "corpus"

_CHECKOUT = Path(__file__).resolve().parent.parent


def default_index_dir() -> Path:
    """``index/`` beside the code in a checkout; the user's cache folder once installed
    (never inside site-packages)."""
    if (_CHECKOUT / "pyproject.toml").is_file() and (_CHECKOUT / "app.py").is_file():
        return _CHECKOUT / "index"
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "cixi-qa" / "index"
