"""The fact check alone on the calibration's generated sentence/passage pairs: the share of
each kind whose numbers, years and names pass ``missing_facts`` against the cited passage.

    python benchmarks/fact_binding.py [--verify OTHER/verify.py] [--cmrc-limit 120]

Pairs as ``benchmarks/support_calibration.py`` makes them (seed 0): tuned on the bundled
corpus, reported on CMRC 2018 trial paragraphs. No encoder is needed. ``--verify`` loads
``missing_facts`` from another copy of ``qa/verify.py`` (e.g. ``git show REV:qa/verify.py``),
to compare two versions of the check on the same pairs.
"""

from __future__ import annotations

import argparse
import importlib.util
import random
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.support_calibration import cmrc_documents, generate, passages_of  # noqa: E402
from qa import verify  # noqa: E402
from qa.indexing import DEFAULT_CORPUS  # noqa: E402
from qa.readers import read_folder  # noqa: E402


def load_verify(path: Path):
    spec = importlib.util.spec_from_file_location("other_verify", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["other_verify"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--verify", type=Path, help="another qa/verify.py to compare with")
    parser.add_argument("--cmrc-limit", type=int, default=120)
    args = parser.parse_args()
    other = load_verify(args.verify) if args.verify else None
    rng = random.Random(0)
    sets = [
        ("tune: bundled corpus", passages_of(read_folder(DEFAULT_CORPUS))),
        ("test: CMRC trial", passages_of(cmrc_documents(args.cmrc_limit))),
    ]
    for name, passages in sets:
        pairs = generate(passages, rng)
        rows: dict[tuple[str, bool], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
        for p in pairs:
            text = passages[p["passage"]][1]
            row = rows[(p["kind"], p["supported"])]
            row[0] += 1
            row[1] += bool(verify.facts(p["sentence"]))
            row[2] += not verify.missing_facts(p["sentence"], [text], verify.latin_and_titles)
            if other:
                row[3] += not other.missing_facts(p["sentence"], [text], other.latin_and_titles)
        head = "| kind | supported | n | with facts | facts pass |" + (" other |" if other else "")
        print(f"\n{name}\n\n{head}\n|" + "---|" * (6 if other else 5))
        for (kind, supported), (n, with_facts, ours, theirs) in rows.items():
            extra = f" {theirs / n:.3f} |" if other else ""
            print(f"| {kind} | {supported} | {n} | {with_facts} | {ours / n:.3f} |{extra}")


if __name__ == "__main__":
    main()
