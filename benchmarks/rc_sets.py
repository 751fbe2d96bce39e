"""Reading-comprehension sets (SQuAD format) as folders of documents, one paragraph a file.

    CMRC 2018 trial  (Cui et al., EMNLP 2019; CC BY-SA 4.0, by HFL), simplified Chinese
    DRCD dev         (Shao et al., arXiv:1806.00920; CC BY-SA 3.0, by Delta Electronics),
                     traditional Chinese

``materialize(name, folder)`` writes ``<paragraph id>.md`` files (``# article title`` then the
paragraph) and returns the questions as ``Item`` records; the article index lets callers split
by article, so no paragraph is on both sides of a split.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

SHARED = Path(__file__).resolve().parent.parent.parent / "shared"
SETS = {
    "cmrc": SHARED / "benchmarks" / "cmrc2018" / "cmrc2018_trial.json",
    "drcd": SHARED / "benchmarks" / "drcd" / "DRCD_dev.json",
}


@dataclass(frozen=True)
class Item:
    question: str
    source: str  # the paragraph's file name
    answers: tuple[str, ...]
    article: int  # index of the article in the data set
    context: str  # the paragraph text


def materialize(name: str, folder: Path, max_articles: int | None = None) -> list[Item]:
    data = json.loads(SETS[name].read_text("utf-8"))["data"][:max_articles]
    folder.mkdir(parents=True, exist_ok=True)
    items = []
    for a, article in enumerate(data):
        for p in article["paragraphs"]:
            path = folder / f"{p['id']}.md"
            text = f"# {article['title']}\n\n{p['context']}\n"
            if not path.exists() or path.read_text("utf-8") != text:
                path.write_text(text, "utf-8")
            for q in p["qas"]:
                question = q["question"].strip()
                if question:
                    golds = tuple(dict.fromkeys(x["text"] for x in q["answers"]))
                    items.append(Item(question, path.name, golds, a, p["context"]))
    return items
