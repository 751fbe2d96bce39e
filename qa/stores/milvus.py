"""The Milvus store: passages, BM25 and dense vectors in one Milvus collection.

Chosen by ``--store`` / ``QA_STORE_URI``:

    milvus://HOST:19530/COLLECTION     a Milvus standalone or cluster (token: $MILVUS_TOKEN)
    milvus+https://HOST:443/COLLECTION the same over TLS (Zilliz Cloud and the like)
    path/to/file.db[/COLLECTION]       Milvus Lite, embedded, one local file

The collection holds per passage: ``pk`` (the content-hash id), the passage fields, ``body``
(heading path + text, analysed by Milvus's jieba tokenizer with our user dictionary and stop
words), ``sparse`` (filled by a BM25 ``Function`` from ``body``) and ``dense`` (our encoder's
vector). ``hybrid`` ranks both sides, either with Milvus's ``hybrid_search`` and a
``WeightedRanker`` or, by default, by fusing the two candidate lists here with exactly the
embedded path's min-max fusion. The manifest stays in the local index folder; a rebuild goes
into a new collection, which the manifest then names (the old one is dropped after the swap).
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..fusion import minmax, top_k
from ..records import Chunk
from .base import DamagedIndex, IndexMismatch, faiss_id, indexed_text, verified

log = logging.getLogger(__name__)

URI_ENV, TOKEN_ENV = "QA_STORE_URI", "MILVUS_TOKEN"
DEFAULT_COLLECTION = "qa_passages"
MAX_TEXT = 65_535  # VARCHAR limit, in bytes
_FIELDS = [
    "pk",
    "chunk_id",
    "source",
    "title",
    "section",
    "start",
    "end_",
    "text",
    "page",
    "page_end",
    "location",
    "date",
]
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,200}$")


@dataclass(frozen=True)
class Target:
    """Where a Milvus store lives: the client ``uri`` and the base collection name."""

    uri: str
    collection: str
    token: str = ""

    @property
    def lite(self) -> bool:
        return self.uri.endswith(".db")


def is_milvus_uri(text: str | None) -> bool:
    return text is not None and (
        text.startswith(("milvus://", "milvus+"))
        or ".db" in Path(text).name
        or Path(text).parent.name.endswith(".db")
    )


def parse_uri(text: str) -> Target:
    """``milvus://HOST:PORT/COLLECTION``, ``milvus+https://…`` or ``file.db[/COLLECTION]``."""
    token = os.environ.get(TOKEN_ENV, "")
    if text.startswith(("milvus://", "milvus+")):
        scheme, rest = text.split("://", 1)
        host, _, collection = rest.partition("/")
        http = scheme.split("+", 1)[1] if "+" in scheme else "http"
        target = Target(f"{http}://{host}", collection or DEFAULT_COLLECTION, token)
    else:
        path = Path(text)
        if path.suffix != ".db" and path.parent.suffix == ".db":
            target = Target(str(path.parent.resolve()), path.name, token)
        else:
            target = Target(str(path.resolve()), DEFAULT_COLLECTION, token)
    if not _NAME.match(target.collection):
        raise ValueError(f"bad Milvus collection name {target.collection!r}: letters, digits, _")
    return target


def analyzer(userdict: Path | None, stopwords: Iterable[str]) -> dict:
    """Milvus analyzer params: jieba (search mode) with our dictionary words and stop words.
    Custom ``dict``/``mode`` need Milvus ≥ 2.5.11 (Lite 2.5+ accepts them)."""
    words = ["_default_"]
    if userdict and Path(userdict).exists():
        words += [
            line.split()[0]
            for line in Path(userdict).read_text("utf-8").splitlines()
            if line.strip()
        ]
    return {
        "tokenizer": {"type": "jieba", "dict": words, "mode": "search", "hmm": True},
        "filter": ["lowercase", {"type": "stop", "stop_words": sorted(stopwords)}],
    }


def _client(target: Target):
    from pymilvus import MilvusClient

    return (
        MilvusClient(target.uri, token=target.token) if target.token else MilvusClient(target.uri)
    )


def _quote(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)  # a Milvus string literal


def _chunk(row: dict) -> Chunk:
    chunk = Chunk(
        row["chunk_id"],
        row["source"],
        row["title"],
        tuple(json.loads(row["section"])),
        int(row["start"]),
        int(row["end_"]),
        row["text"],
        int(row["page"]) if row.get("page", -1) >= 0 else None,  # -1: no page
        int(row["page_end"]) if row.get("page_end", -1) >= 0 else None,
        row.get("location", ""),
        row.get("date", ""),
    )
    if faiss_id(chunk.id) != int(row["pk"]):
        raise DamagedIndex(f"索引已损坏：Milvus 中的段落 {row['pk']} 与它的编号不符")
    return verified(chunk)


class MilvusChunks(Mapping):
    """id -> passage, read from the collection on demand and verified."""

    def __init__(self, store: MilvusStore):
        self.store = store

    def __getitem__(self, fid: int) -> Chunk:
        rows = self.store.client.get(self.store.collection, ids=[int(fid)], output_fields=_FIELDS)
        if not rows:
            raise KeyError(fid)
        return _chunk(rows[0])

    def __len__(self) -> int:
        return self.store.count()

    def __iter__(self) -> Iterator[int]:
        for rows in self.store.batches(["pk"]):
            yield from (int(r["pk"]) for r in rows)

    def values(self) -> Iterator[Chunk]:  # type: ignore[override]
        for rows in self.store.batches(_FIELDS):
            yield from (_chunk(r) for r in rows)

    def many(self, fids: list[int]) -> list[Chunk]:
        found: dict[int, Chunk] = {}
        for i in range(0, len(fids), 1000):
            part = [int(f) for f in fids[i : i + 1000]]
            for row in self.store.client.get(
                self.store.collection, ids=part, output_fields=_FIELDS
            ):
                found[int(row["pk"])] = _chunk(row)
        missing = [f for f in fids if f not in found]
        if missing:
            raise KeyError(missing[0])
        return [found[f] for f in fids]

    def fids_of(self, source: str) -> list[int]:
        rows = self.store.client.query(
            self.store.collection, filter=f"source == {_quote(source)}", output_fields=["pk"]
        )
        return [int(r["pk"]) for r in rows]

    def sources(self) -> list[str]:
        seen: dict[str, None] = {}
        for rows in self.store.batches(["source"]):
            seen.update(dict.fromkeys(r["source"] for r in rows))
        return list(seen)


class MilvusTerms:
    """Document frequencies from Milvus's BM25 side, for answer scoring (``idf``): a term's
    documents are those its sparse search matches (counted up to ``cap``), cached."""

    def __init__(self, store: MilvusStore, cap: int = 16_384):
        self.store, self.cap = store, cap
        self._df: dict[str, int] = {}
        self.tokenizer = None  # set by the retriever, as for BM25Index
        self.n_docs = store.count()

    def df(self, term: str) -> int:
        if term not in self._df:
            hits = self.store.client.search(
                self.store.collection,
                data=[term],
                anns_field="sparse",
                limit=self.cap,
                output_fields=["pk"],
            )
            self._df[term] = len(hits[0]) if hits else 0
        return self._df[term]

    document_frequency = df

    def idf(self, term: str) -> float:
        df = self.df(term)
        return float(np.log(1.0 + (self.n_docs - df + 0.5) / (df + 0.5)))


class MilvusStore:
    """The ``Store`` protocol over one Milvus collection, plus ``hybrid`` search."""

    def __init__(
        self,
        target: Target,
        dim: int,
        manifest: dict | None = None,
        collection: str | None = None,
        ranker: str = "client",
    ):
        self.target, self.dim = target, dim
        self.manifest = dict(manifest or {})
        self.collection = collection or f"{target.collection}_{time.time_ns() // 1000:x}"
        self.ranker = ranker  # "client": our min-max fusion; "weighted": Milvus WeightedRanker
        self.client = _client(target)
        self.chunks = MilvusChunks(self)
        self.lexical: MilvusTerms | None = None
        if not self.client.has_collection(self.collection):
            if collection:  # named by a manifest, yet gone
                raise IndexMismatch(f"Milvus {target.uri} 中没有集合 {collection}")
            self._create()
        else:
            self.client.load_collection(self.collection)
        self.lexical = MilvusTerms(self)

    def _create(self) -> None:
        from pymilvus import DataType, Function, FunctionType

        from ..text import STOPWORDS

        schema = self.client.create_schema(auto_id=False)
        schema.add_field("pk", DataType.INT64, is_primary=True)
        schema.add_field("chunk_id", DataType.VARCHAR, max_length=32)
        schema.add_field("source", DataType.VARCHAR, max_length=2048)
        schema.add_field("title", DataType.VARCHAR, max_length=2048)
        schema.add_field("section", DataType.VARCHAR, max_length=8192)
        schema.add_field("start", DataType.INT64)
        schema.add_field("end_", DataType.INT64)
        schema.add_field("text", DataType.VARCHAR, max_length=MAX_TEXT)
        schema.add_field("page", DataType.INT64)
        schema.add_field("page_end", DataType.INT64)
        schema.add_field("location", DataType.VARCHAR, max_length=512)
        schema.add_field("date", DataType.VARCHAR, max_length=32)
        schema.add_field(
            "body",
            DataType.VARCHAR,
            max_length=MAX_TEXT,
            enable_analyzer=True,
            analyzer_params=analyzer(None, STOPWORDS),  # jieba's own dictionary: see README
        )
        schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
        schema.add_field("dense", DataType.FLOAT_VECTOR, dim=self.dim)
        schema.add_function(
            Function(
                name="body_bm25",
                function_type=FunctionType.BM25,
                input_field_names=["body"],
                output_field_names=["sparse"],
            )
        )
        index = self.client.prepare_index_params()
        index.add_index(
            "dense",
            index_type="FLAT" if self.target.lite else "HNSW",
            metric_type="IP",
            params={} if self.target.lite else {"M": 32, "efConstruction": 200},
        )
        index.add_index(
            "sparse",
            index_type="SPARSE_INVERTED_INDEX",
            metric_type="BM25",
            params={"bm25_k1": 1.2, "bm25_b": 0.75},
        )
        self.client.create_collection(self.collection, schema=schema, index_params=index)

    # --- the Store protocol -------------------------------------------------------

    def count(self) -> int:
        rows = self.client.query(self.collection, filter="", output_fields=["count(*)"])
        return int(rows[0]["count(*)"])

    def __len__(self) -> int:
        return self.count()

    @property
    def sources(self) -> list[str]:
        return self.chunks.sources()

    def batches(self, fields: list[str], size: int = 2000) -> Iterator[list[dict]]:
        iterator = self.client.query_iterator(
            self.collection, batch_size=size, filter="", output_fields=fields
        )
        try:
            while rows := iterator.next():
                yield rows
        finally:
            iterator.close()

    def add(self, chunks: list[Chunk], vectors: np.ndarray, batch: int = 1000) -> None:
        fids = [faiss_id(c.id) for c in chunks]
        present: set[int] = set()
        for i in range(0, len(fids), 1000):
            rows = self.client.get(self.collection, ids=fids[i : i + 1000], output_fields=["pk"])
            present.update(int(r["pk"]) for r in rows)
        rows, seen = [], set()
        for chunk, fid, vector in zip(chunks, fids, np.asarray(vectors, dtype=np.float32)):
            if fid in present or fid in seen:
                continue
            seen.add(fid)
            rows.append(
                {
                    "pk": fid,
                    "chunk_id": chunk.id,
                    "source": chunk.source,
                    "title": chunk.title,
                    "section": json.dumps(list(chunk.section), ensure_ascii=False),
                    "start": chunk.start,
                    "end_": chunk.end,
                    "text": chunk.text,
                    "page": -1 if chunk.page is None else chunk.page,
                    "page_end": -1 if chunk.page_end is None else chunk.page_end,
                    "location": chunk.location,
                    "date": chunk.date,
                    "body": indexed_text(chunk),
                    "dense": vector.tolist(),
                }
            )
        for i in range(0, len(rows), batch):
            self.client.insert(self.collection, rows[i : i + batch])
        if rows:
            self.lexical = MilvusTerms(self)

    def remove_source(self, source: str) -> int:
        fids = self.chunks.fids_of(source)
        if fids:
            self.client.delete(self.collection, ids=fids)
            self.lexical = MilvusTerms(self)
        return len(fids)

    def vectors_of(self, chunks: list[Chunk]) -> np.ndarray:
        if not chunks:
            return np.zeros((0, self.dim), dtype=np.float32)
        fids = [faiss_id(c.id) for c in chunks]
        got = {}
        for i in range(0, len(fids), 1000):
            for row in self.client.get(
                self.collection, ids=fids[i : i + 1000], output_fields=["dense"]
            ):
                got[int(row["pk"])] = np.asarray(row["dense"], dtype=np.float32)
        return np.stack([got[f] for f in fids])

    def search_ids(
        self, queries: np.ndarray, k: int, expr: str = ""
    ) -> tuple[np.ndarray, list[list[int]]]:
        if len(queries) == 0 or k <= 0:
            return np.zeros((len(queries), 0), dtype=np.float32), [[] for _ in queries]
        hits = self.client.search(
            self.collection,
            data=[q.tolist() for q in queries],
            filter=expr,
            anns_field="dense",
            limit=min(k, 16_384),
            search_params={"metric_type": "IP"},
        )
        rows = [[int(h["pk"]) for h in row] for row in hits]
        width = min((len(r) for r in rows), default=0)
        scores = np.array([[h["distance"] for h in row[:width]] for row in hits], np.float32)
        return scores.reshape(len(rows), width), [r[:width] for r in rows]

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, list[list[Chunk]]]:
        scores, rows = self.search_ids(queries, k)
        flat = [i for row in rows for i in row]
        found = dict(zip(flat, self.chunks.many(flat)))
        return scores, [[found[i] for i in row] for row in rows]

    # --- hybrid ------------------------------------------------------------------------

    def hybrid(
        self,
        texts: Sequence[str],
        vectors: np.ndarray,
        k: int,
        lexical_weight: float,
        candidates: int = 100,
        sources: Collection[str] | None = None,
    ) -> list[list[tuple[Chunk, float, float]]]:
        """Top ``k`` (passage, fused score, dense score) per query, best first; ``sources``
        (document names) keeps only those documents' passages (``None``: all)."""
        if not len(texts) or self.count() == 0 or (sources is not None and not sources):
            return [[] for _ in texts]
        expr = "" if sources is None else f"source in [{', '.join(map(_quote, sorted(sources)))}]"
        if self.ranker == "weighted":
            rows = self._weighted(texts, vectors, k, lexical_weight, candidates, expr)
        else:
            rows = self._client_fused(texts, vectors, k, lexical_weight, candidates, expr)
        flat = [fid for row in rows for fid, _, _ in row]
        found = dict(zip(flat, self.chunks.many(flat)))
        return [[(found[fid], score, dense) for fid, score, dense in row] for row in rows]

    def _weighted(
        self, texts, vectors, k, weight, candidates, expr=""
    ) -> list[list[tuple[int, float, float]]]:
        from pymilvus import AnnSearchRequest, WeightedRanker

        dense_scores, dense_ids = self.search_ids(vectors, candidates, expr)
        out = []
        for text, vector, d_scores, d_ids in zip(texts, vectors, dense_scores, dense_ids):
            floor = float(d_scores.min()) if d_scores.size else 0.0
            dense_of = dict(zip(d_ids, d_scores.tolist()))
            reqs = [
                AnnSearchRequest(
                    data=[text], anns_field="sparse", param={}, limit=candidates, expr=expr
                ),
                AnnSearchRequest(
                    data=[vector.tolist()],
                    anns_field="dense",
                    param={"metric_type": "IP"},
                    limit=candidates,
                    expr=expr,
                ),
            ]
            hits = self.client.hybrid_search(
                self.collection, reqs, WeightedRanker(weight, 1.0 - weight), limit=k
            )
            out.append(
                [
                    (int(h["pk"]), float(h["distance"]), dense_of.get(int(h["pk"]), floor))
                    for h in hits[0]
                ]
            )
        return out

    def _client_fused(
        self, texts, vectors, k, weight, candidates, expr=""
    ) -> list[list[tuple[int, float, float]]]:
        """The embedded path's fusion over the union of both candidate lists: BM25 min-max
        over passages (unmatched ones score 0), dense min-max with the lowest dense
        candidate's score for the others."""
        sparse = self.client.search(
            self.collection, data=list(texts), filter=expr, anns_field="sparse", limit=candidates
        )
        dense_scores, dense_ids = self.search_ids(vectors, candidates, expr)
        out = []
        for lex_row, d_scores, d_ids in zip(sparse, dense_scores, dense_ids):
            lex = {int(h["pk"]): abs(float(h["distance"])) for h in lex_row}  # Lite: negated
            ids = list(dict.fromkeys([*d_ids, *lex]))
            floor = float(d_scores.min()) if d_scores.size else 0.0
            dense_of = dict(zip(d_ids, d_scores.tolist()))
            lexical = np.array([0.0, *(lex.get(i, 0.0) for i in ids)], np.float32)
            dense = np.array([floor, *(dense_of.get(i, floor) for i in ids)], np.float32)
            fused = (weight * minmax(lexical) + (1 - weight) * minmax(dense))[1:]  # [0]: the rest
            out.append([(ids[j], float(fused[j]), float(dense[j + 1])) for j in top_k(fused, k)])
        return out

    def copy(self) -> MilvusStore:
        """A new collection holding the same passages and vectors, to change aside (a copy
        of every row: costly for a large collection; the saved change drops the old one)."""
        out = MilvusStore(self.target, self.dim, json.loads(json.dumps(self.manifest)))
        out.ranker = self.ranker
        for rows in self.batches([*_FIELDS, "dense"]):
            vectors = np.array([r["dense"] for r in rows], dtype=np.float32)
            out.add([_chunk(r) for r in rows], vectors)
        return out

    def drop(self) -> None:
        self.client.drop_collection(self.collection)
