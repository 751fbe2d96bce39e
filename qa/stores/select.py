"""Which store: the embedded one (default) or Milvus (``--store`` / ``$QA_STORE_URI``).

``new_store``, ``save``, ``load`` and ``read_manifest`` dispatch on it, so indexing and the
assistant do not know which store they use. A Milvus index folder holds only the manifest,
which names the live collection; saving a rebuilt one swaps the manifest atomically and then
drops the collection it replaced.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from pathlib import Path

from . import faiss as embedded
from .base import IndexMismatch

log = logging.getLogger(__name__)

URI_ENV = "QA_STORE_URI"


def store_uri() -> str | None:
    """The Milvus URI asked for, or None for the embedded store."""
    return os.environ.get(URI_ENV) or None


def new_store(dim: int, manifest: dict | None = None):
    """An empty store of the configured kind."""
    uri = store_uri()
    if not uri:
        return embedded.KnowledgeBase(dim=dim, manifest=dict(manifest or {}))
    from .milvus import MilvusStore, parse_uri

    return MilvusStore(parse_uri(uri), dim, manifest)


def read_manifest(folder: str | Path) -> dict | None:
    return embedded.read_manifest(folder)


def _is_milvus(kb) -> bool:
    return type(kb).__name__ == "MilvusStore"


def save(kb, folder: str | Path) -> None:
    """Write ``kb`` (its manifest only, for Milvus) to ``folder`` atomically."""
    if not _is_milvus(kb):
        embedded.save(kb, folder)
        return
    folder = Path(folder)
    before = (read_manifest(folder) or {}).get("store", {})
    manifest = kb.manifest | {
        "format": embedded.FORMAT,
        "dim": kb.dim,
        "count": kb.count(),
        "store": {"kind": "milvus", "uri": kb.target.uri, "collection": kb.collection},
    }
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.tmp-", dir=folder.parent))
    try:
        text = json.dumps(manifest, ensure_ascii=False, indent=2)
        (tmp / embedded.MANIFEST).write_text(text, "utf-8")
        embedded.carry_over(folder, tmp)  # the document store stays a local folder
        embedded.swap_in(tmp, folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    kb.manifest = manifest
    old = before.get("collection")
    if old and old != kb.collection and before.get("uri") == kb.target.uri:
        log.info("dropping replaced Milvus collection %s", old)
        kb.client.drop_collection(old)


def load(folder: str | Path):
    """The store an index folder describes; ``IndexMismatch`` when it is not the kind (or
    the Milvus location) asked for now, so the caller rebuilds."""
    manifest = read_manifest(folder) or {}
    store = manifest.get("store")
    uri = store_uri()
    if not store:
        if uri:
            raise IndexMismatch(f"{folder} 的索引是内嵌的，这次要求 Milvus {uri}")
        return embedded.load(folder)
    from .base import damaged
    from .milvus import MilvusStore, parse_uri

    target = parse_uri(uri) if uri else None
    if target is None or target.uri != store["uri"]:
        raise IndexMismatch(f"{folder} 的索引在 Milvus {store['uri']}，这次要求的不是它")
    kb = MilvusStore(target, manifest["dim"], manifest, collection=store["collection"])
    if kb.count() != manifest.get("count"):
        raise damaged(
            folder,
            f"Milvus 集合 {kb.collection} 有 {kb.count()} 个段落，清单记的是 "
            f"{manifest.get('count')} 个",
        )
    return kb
