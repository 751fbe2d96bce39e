"""Build, refresh and open the index of a folder of documents."""

from __future__ import annotations

import hashlib
import logging
from importlib import metadata
from pathlib import Path

from embeddings import Encoder

from . import docstore
from .chunking import ChunkParams, chunk_document
from .docstore import DocStore
from .errors import CorpusNotFound
from .readers import ReadOptions, read_document, supported_suffixes
from .records import Document
from .resources import BUNDLED_CORPUS, default_index_dir
from .retrieval import indexed_text, lexical_index
from .store import IndexMismatch, KnowledgeBase, corpus_fingerprint, load, read_manifest, save
from .stores import new_store
from .stores.checkpoint import checkpoint_path, discard, embed_passages
from .vocabulary import VOCABULARY_FILE, load_vocabulary, vocabulary_key, write_vocabulary

log = logging.getLogger(__name__)

DEFAULT_CORPUS = BUNDLED_CORPUS
DEFAULT_INDEX = default_index_dir()


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "unknown"


def corpus_files(folder: str | Path) -> list[Path]:
    """Supported, visible files below ``folder``, sorted by path."""
    return sorted(docstore.corpus_files(folder, supported_suffixes()).values())


def file_hashes(paths: list[Path]) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()[:16] for p in paths}


def document_files(corpus: str | Path | None, index_dir: str | Path) -> dict[str, Path]:
    """{name: file} of what the index holds: corpus + stored uploads − removals."""
    return DocStore(index_dir).files(corpus, supported_suffixes())


def files_fingerprint(files: dict[str, Path]) -> str:
    """Fingerprint of {name: content} of the knowledge base's files: changes when any
    document is added, removed, restored or edited."""
    return corpus_fingerprint(
        {name: hashlib.sha256(p.read_bytes()).hexdigest()[:16] for name, p in files.items()}
    )


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
    if reused and previous is not None:
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


# Bump when reading, repairing or chunking turns the same files into other passages (a
# reader's fix, dates taken from file names): an index built before is then re-read at its
# next open, its unchanged passages keeping their vectors (content-hash ids).
READING_VERSION = 3


def new_manifest(encoder: Encoder, params: ChunkParams, corpus: Path | None) -> dict:
    return {
        "reading": READING_VERSION,
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
    return manifest is not None and (
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
    on_read=None,
    tokenizer=None,
) -> KnowledgeBase:
    """Index every readable document of the knowledge base (``corpus`` + the uploads stored
    in ``index_dir`` − removals, see ``qa/docstore.py``) into ``index_dir`` and return it.

    An existing compatible index lends the vectors of unchanged chunks, so a refresh
    embeds only what changed. Unreadable files are skipped and reported via ``on_skip``
    (path, reason); each document read is passed to ``on_read``.
    With a ``tokenizer`` the corpus vocabulary is added to it and the BM25 index is built
    too and saved with the index (the embedded store).
    """
    corpus, index_dir = Path(corpus), Path(index_dir)
    if not corpus.is_dir():
        raise CorpusNotFound(f"找不到文档文件夹：{corpus}")
    with DocStore(index_dir).lock(required=False):  # not while the app or `qa kb` changes it
        return _build_index(
            corpus, index_dir, encoder, params, progress, on_skip, on_read, tokenizer
        )


def _build_index(
    corpus: Path,
    index_dir: Path,
    encoder: Encoder,
    params: ChunkParams,
    progress: bool,
    on_skip,
    on_read,
    tokenizer,
) -> KnowledgeBase:
    previous = None
    if compatible(read_manifest(index_dir), encoder, params):
        try:
            previous = load(index_dir)
        except IndexMismatch as exc:
            log.warning("%s; rebuilding", exc)
    docs, hashes, files = [], {}, document_files(corpus, index_dir)
    for name, path in files.items():
        try:
            docs.append(read_document(path, name, ReadOptions(progress=progress)))
            hashes[name] = file_hashes([path])[path.name]
            if on_read:
                on_read(docs[-1])
        except (ValueError, OSError) as exc:
            log.warning("skipped %s: %s", name, exc)
            if on_skip:
                on_skip(path.with_name(name), str(exc))  # an upload's blob: its own name
    kb = new_store(encoder.dim, new_manifest(encoder, params, corpus))
    checkpoint = checkpoint_path(index_dir)
    add_documents(kb, docs, encoder, params, hashes, previous, progress, checkpoint)
    kb.manifest["corpus_fingerprint"] = files_fingerprint(files)
    terms = None
    if tokenizer is not None and isinstance(kb, KnowledgeBase):
        # The vocabulary is learned by the tokenizer as it is (fresh, as in a later start) and
        # cached with the index, so a later start adds the same words and its tokenizer
        # matches the saved BM25 (``Tokenizer.key``).
        terms = load_vocabulary(kb, tokenizer, None)
        tokenizer.add_words(terms)
        kb.lexical = lexical_index(kb, tokenizer)
    save(kb, index_dir)
    if terms is not None:
        write_vocabulary(index_dir / VOCABULARY_FILE, vocabulary_key(kb), terms)
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
    (model, dimension, chunking), stale (``corpus`` or the stored uploads changed
    since) or read by older readers (``READING_VERSION``). With ``corpus`` None the index
    is taken as it is, and a mismatch raises ``IndexMismatch``."""
    manifest = read_manifest(index_dir)
    if corpus is None:
        if manifest is None:
            raise IndexMismatch(f"{index_dir} 中没有索引：请先运行 `python -m qa index`")
        if not compatible(manifest, encoder, params):
            raise IndexMismatch(
                f"{index_dir} 的索引是用模型 {manifest.get('model')!r}、分段 "
                f"{manifest.get('chunking')} 建立的，"
                f"这次要求 {encoder.name!r}、{params.to_json()}："
                "请用 `python -m qa index --model ...` 重建"
            )
        return load(index_dir)
    fresh = (
        manifest is not None
        and compatible(manifest, encoder, params)
        and manifest.get("reading") == READING_VERSION  # else: read with today's readers
        and (
            manifest.get("corpus_fingerprint")
            == files_fingerprint(document_files(corpus, index_dir))
        )
    )
    if fresh:
        try:
            return load(index_dir)
        except IndexMismatch as exc:
            log.warning("%s; rebuilding", exc)
    return build_index(corpus, index_dir, encoder, params, progress, tokenizer=tokenizer)
