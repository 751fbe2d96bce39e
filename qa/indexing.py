"""Build, refresh and open the index of a folder of documents."""

from __future__ import annotations

import hashlib
import logging
from importlib import metadata
from pathlib import Path

from embeddings import Encoder

from .chunking import ChunkParams, chunk_document
from .readers import read_document, supported_suffixes
from .records import Document
from .retrieval import indexed_text, lexical_index
from .store import IndexMismatch, KnowledgeBase, corpus_fingerprint, load, read_manifest, save
from .stores import new_store
from .stores.checkpoint import checkpoint_path, discard, embed_passages

log = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CORPUS = PROJECT_ROOT / "data" / "corpus"
DEFAULT_INDEX = PROJECT_ROOT / "index"


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "unknown"


def corpus_files(folder: str | Path) -> list[Path]:
    """Supported, visible files below ``folder``, sorted by path."""
    suffixes = set(supported_suffixes())
    return sorted(
        p
        for p in Path(folder).rglob("*")
        if p.is_file() and p.suffix.lower() in suffixes and not p.name.startswith(".")
    )


def file_hashes(paths: list[Path]) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()[:16] for p in paths}


def add_documents(
    kb: KnowledgeBase,
    documents: list[Document],
    encoder: Encoder,
    params: ChunkParams,
    hashes: dict[str, str],
    previous: KnowledgeBase | None = None,
    progress: bool = False,
    checkpoint: Path | None = None,
) -> int:
    """Chunk and embed ``documents`` into ``kb`` (replacing same-named ones); vectors of
    chunks ``previous`` already holds are reused, and so are those in the ``checkpoint`` file
    an interrupted run left (new vectors are added to it as they come). Returns the number
    of chunks added."""
    chunks = [c for doc in documents for c in chunk_document(doc, params)]
    for doc in documents:
        kb.remove_source(doc.source)
    known = {c.id for c in previous.chunks.values()} if previous else set()
    reused = [c for c in chunks if c.id in known]
    fresh = [c for c in chunks if c.id not in known]
    if reused:
        kb.add(reused, previous.vectors_of(reused))
    if fresh:
        texts = [indexed_text(c) for c in fresh]
        kb.add(fresh, embed_passages(encoder, [c.id for c in fresh], texts, checkpoint, progress))
    documents_map = dict(kb.manifest.get("documents", {}))
    documents_map.update({d.source: hashes[d.source] for d in documents})
    kb.manifest["documents"] = documents_map
    kb.manifest["fingerprint"] = corpus_fingerprint(documents_map)
    log.info("indexed %d chunks (%d embedded, %d reused)", len(chunks), len(fresh), len(reused))
    return len(chunks)


def remove_document(kb: KnowledgeBase, source: str) -> int:
    """Drop one document's chunks and vectors; returns how many chunks went."""
    removed = kb.remove_source(source)
    documents_map = dict(kb.manifest.get("documents", {}))
    documents_map.pop(source, None)
    kb.manifest["documents"] = documents_map
    kb.manifest["fingerprint"] = corpus_fingerprint(documents_map)
    return removed


def new_manifest(encoder: Encoder, params: ChunkParams, corpus: Path | None) -> dict:
    return {
        "model": encoder.name,
        "dim": encoder.dim,
        "chunking": params.to_json(),
        "corpus": str(corpus) if corpus else None,
        "documents": {},
        "fingerprint": corpus_fingerprint({}),
        "versions": {p: _version(p) for p in ("faiss-cpu", "jieba", "bm25s")},
    }


def compatible(manifest: dict | None, encoder: Encoder, params: ChunkParams) -> bool:
    """Same model, dimension and chunking: its vectors can be reused."""
    return bool(manifest) and (
        manifest.get("model") == encoder.name
        and manifest.get("dim") == encoder.dim
        and manifest.get("chunking") == params.to_json()
    )


def build_index(
    corpus: str | Path,
    index_dir: str | Path,
    encoder: Encoder,
    params: ChunkParams = ChunkParams(),
    progress: bool = False,
    on_skip=None,
    tokenizer=None,
) -> KnowledgeBase:
    """Index every readable document of ``corpus`` into ``index_dir`` and return it.

    An existing compatible index lends the vectors of unchanged chunks, so a refresh
    embeds only what changed. Unreadable files are skipped and reported via ``on_skip``.
    With a ``tokenizer`` the BM25 index is built too and saved with the index.
    """
    corpus, index_dir = Path(corpus), Path(index_dir)
    if not corpus.is_dir():
        raise FileNotFoundError(f"corpus folder not found: {corpus}")
    previous = None
    if compatible(read_manifest(index_dir), encoder, params):
        try:
            previous = load(index_dir)
        except IndexMismatch as exc:
            log.warning("%s; rebuilding", exc)
    docs, hashes, files = [], {}, corpus_files(corpus)
    for path in files:
        try:
            docs.append(read_document(path))
            hashes.update(file_hashes([path]))
        except (ValueError, OSError) as exc:
            log.warning("skipped %s: %s", path.name, exc)
            if on_skip:
                on_skip(path, str(exc))
    kb = new_store(encoder.dim, new_manifest(encoder, params, corpus))
    checkpoint = checkpoint_path(index_dir)
    add_documents(kb, docs, encoder, params, hashes, previous, progress, checkpoint)
    kb.manifest["corpus_fingerprint"] = corpus_fingerprint(file_hashes(files))
    if tokenizer is not None and isinstance(kb, KnowledgeBase):
        kb.lexical = lexical_index(kb, tokenizer)
    save(kb, index_dir)
    discard(checkpoint)
    return kb


def open_index(
    corpus: str | Path | None,
    index_dir: str | Path,
    encoder: Encoder,
    params: ChunkParams = ChunkParams(),
    progress: bool = False,
    tokenizer=None,
) -> KnowledgeBase:
    """The index in ``index_dir``, rebuilt first if it is missing, built differently
    (model, dimension, chunking) or stale (``corpus`` changed since). With ``corpus``
    None the index is taken as it is, and a mismatch raises ``IndexMismatch``."""
    manifest = read_manifest(index_dir)
    if corpus is None:
        if manifest is None:
            raise IndexMismatch(f"no index in {index_dir}: build it with `python -m qa index`")
        if not compatible(manifest, encoder, params):
            raise IndexMismatch(
                f"the index in {index_dir} was built with model {manifest.get('model')!r} and "
                f"chunking {manifest.get('chunking')}; asked for {encoder.name!r} and "
                f"{params.to_json()}. Rebuild it with `python -m qa index --model ...`."
            )
        return load(index_dir)
    files = corpus_files(corpus)
    fresh = compatible(manifest, encoder, params) and (
        manifest.get("corpus_fingerprint") == corpus_fingerprint(file_hashes(files))
    )
    if fresh:
        try:
            return load(index_dir)
        except IndexMismatch as exc:
            log.warning("%s; rebuilding", exc)
    return build_index(corpus, index_dir, encoder, params, progress, tokenizer=tokenizer)
