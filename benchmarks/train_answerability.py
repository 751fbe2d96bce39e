"""Fit the answerability model on generated rows; report on the other split.

    python benchmarks/answerability_data.py   # writes benchmarks/out/answerability_rows.jsonl
    python benchmarks/train_answerability.py [ROWS ...] [--write]

Fits two logistic regressions (scikit-learn) on the ``fit`` split (even articles): the
candidate ranker on every candidate row, then the confidence model on the candidate each
question would get. Picks the threshold that minimises 10 × wrong answers + refusals of
answerable questions on that split, and prints question-level figures and a calibration table
for the ``report`` split (odd articles; none of its paragraphs were seen in fitting).
``--write`` stores the weights in ``qa/data/answerability.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import zlib
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qa.answerability import (  # noqa: E402
    FEATURES,
    WRONG_COST,
    Model,
    best_threshold,
    confidence_features,
    grounded,
)
from qa.grounding import HARD_GAPS  # noqa: E402

MODEL_FILE = ROOT / "qa" / "data" / "answerability.json"


def load(
    paths: list[Path], drop: tuple[str, ...] = (), hard: tuple[str, ...] = HARD_GAPS
) -> list[dict]:
    """Rows with ``x`` in the order of ``FEATURES`` (matched by the names stored with each
    row), the features in ``drop`` set to 0, and ``hard`` recomputed: the candidate has a gap
    of one of the kinds in ``hard`` (which rule out an answer)."""
    rows = [json.loads(line) for p in paths for line in p.read_text("utf-8").splitlines() if line]
    for r in rows:
        named = dict(zip(r.get("features", FEATURES), r["x"]))
        if "grounded" not in named:  # rows written before that feature: derive it
            named["grounded"] = grounded(named)
        r["x"] = [0.0 if f in drop else named[f] for f in FEATURES]
        r["hard"] = any(named.get(f"gap_{kind}", 0.0) for kind in hard)
    return rows


def picks(rows: list[dict], model: Model, label: str = "label") -> list[dict]:
    """Per question: the candidate the engine would pick, its confidence features, whether it
    is right by ``label`` (``label``: the sentence holds a gold answer; ``in_passage``: the
    cited passage does), whether its sentence holds one, and the model's confidence (``p``)."""
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for r in rows:
        groups[(r["set"], r["kind"], r["question"])].append(r)
    out = []
    for (name, _, _), rs in groups.items():
        x = np.array([r["x"] for r in rs])
        where = np.array([r.get("passage", i) for i, r in enumerate(rs)])
        scores = model.rank(x)
        usable = [i for i, r in enumerate(rs) if not r["hard"]]
        pick = {"set": name, "kind": rs[0]["kind"], "answerable": rs[0]["answerable"]}
        if usable:
            best = max(usable, key=lambda i: scores[i])
            pick |= {
                "z": confidence_features(x, scores, best, where),
                "correct": bool(rs[best].get(label, rs[best]["label"])),
                "sentence": bool(rs[best]["label"]),
                "p": model.confidence(x, scores, best, where),
            }
        else:
            pick |= {"z": None, "correct": False, "sentence": False, "p": 0.0}
        out.append(pick)
    return out


FOLDS = 5


def fold_of(row: dict) -> int:
    """A question's fold (all its candidate rows together), stable across runs."""
    return zlib.crc32(f"{row['set']}|{row['kind']}|{row['question']}".encode()) % FOLDS


def fit_model(rows: list[dict], kinds: tuple[str, ...], label: str, C: float) -> Model:
    """The ranker on every candidate row, then the confidence model on the candidate each
    question (of ``kinds``) gets; threshold 0.5 until one is chosen."""
    from sklearn.linear_model import LogisticRegression

    ranker = LogisticRegression(C=C, max_iter=2000)
    ranker.fit(np.array([r["x"] for r in rows]), np.array([r["label"] for r in rows]))
    zeros = np.zeros(len(FEATURES) + 6)
    model = Model(ranker.coef_[0], float(ranker.intercept_[0]), zeros, 0.0, 0.5)
    chosen = [q for q in picks(rows, model, label) if q["z"] is not None and q["kind"] in kinds]
    judge = LogisticRegression(C=C, max_iter=2000)
    judge.fit(np.array([q["z"] for q in chosen]), np.array([q["correct"] for q in chosen]))
    return Model(
        ranker.coef_[0], float(ranker.intercept_[0]), judge.coef_[0], float(judge.intercept_[0]),
        0.5,
    )  # fmt: skip


def report(qs: list[dict], threshold: float) -> dict:
    answered = [q for q in qs if q["p"] >= threshold]
    neg = [q for q in qs if not q["answerable"]]
    pos = [q for q in qs if q["answerable"]]
    return {
        "questions": len(qs),
        "answerable": len(pos),
        "unanswerable refused": np.mean([q["p"] < threshold for q in neg]) if neg else None,
        "false refusals": np.mean([q["p"] < threshold for q in pos]) if pos else None,
        "answer accuracy (answerable)": np.mean([q["p"] >= threshold and q["correct"] for q in pos])
        if pos
        else None,
        "wrong among answered": np.mean([not q["correct"] for q in answered]) if answered else None,
        "sentence holds gold (answerable)": np.mean(
            [q["p"] >= threshold and q["sentence"] for q in pos]
        )
        if pos
        else None,
        "cost (10×wrong + refusals)": float(
            WRONG_COST * sum(not q["correct"] for q in answered)
            + sum(q["p"] < threshold for q in pos)
        ),
    }


def calibration(qs: list[dict], bins: int = 5) -> list[tuple[str, int, float, float]]:
    edges = np.linspace(0, 1, bins + 1)
    rows = []
    for lo, hi in zip(edges[:-1], edges[1:]):
        sel = [q for q in qs if lo <= q["p"] < hi or (hi == 1 and q["p"] == 1)]
        if sel:
            rows.append(
                (f"{lo:.1f}–{hi:.1f}", len(sel), float(np.mean([q["p"] for q in sel])),
                 float(np.mean([q["correct"] for q in sel])))
            )  # fmt: skip
    return rows


def fmt(key: str, value: object) -> str:
    return f"{key} {value:.3f}" if isinstance(value, float) else f"{key} {value}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rows", nargs="*", type=Path)
    parser.add_argument("--write", action="store_true", help="store the fitted model")
    parser.add_argument(
        "--label",
        choices=("in_passage", "label"),
        default="in_passage",
        help="what the confidence model predicts: the cited passage holds the answer "
        "(in_passage) or the quoted sentence does (label)",
    )
    parser.add_argument("--C", type=float, default=1.0, help="inverse regularisation strength")
    parser.add_argument("--drop", nargs="*", default=[], help="features to zero (an ablation)")
    parser.add_argument(
        "--soft", nargs="*", default=[], help="gap kinds to treat as soft (an ablation)"
    )
    parser.add_argument(
        "--hard", nargs="*", default=[], help="soft gap kinds to treat as hard (an ablation)"
    )
    parser.add_argument(
        "--confidence-on",
        choices=("real", "all"),
        default="real",
        help="questions the confidence model and threshold are fitted on: real ones (the set's "
        "own questions, answerable or held out) or all (with the perturbed ones too)",
    )
    args = parser.parse_args()
    hard = tuple(k for k in HARD_GAPS if k not in args.soft) + tuple(args.hard)
    rows = load(
        args.rows or [ROOT / "benchmarks" / "out" / "answerability_rows.jsonl"],
        tuple(args.drop),
        hard,
    )
    fit = [r for r in rows if r["split"] == "fit"]
    held = [r for r in rows if r["split"] == "report"]
    kinds = (
        ("original", "heldout")
        if args.confidence_on == "real"
        else ("original", "heldout", "perturbed")
    )
    model = fit_model(fit, kinds, args.label, args.C)
    fit_q = [q for q in picks(fit, model, args.label) if q["kind"] in kinds]
    # the threshold is chosen on out-of-fold confidences: each fit question scored by a model
    # fitted without it (in-sample scores are overconfident, and the cost curve is flat
    # enough that they moved the threshold between refits)
    unseen = []
    for k in range(FOLDS):
        rest = [r for r in fit if fold_of(r) != k]
        held_fold = [r for r in fit if fold_of(r) == k]
        unseen += picks(held_fold, fit_model(rest, kinds, args.label, args.C), args.label)
    unseen = [q for q in unseen if q["kind"] in kinds]
    threshold = best_threshold(
        np.array([q["p"] for q in unseen]),
        np.array([q["correct"] for q in unseen]),
        np.array([q["answerable"] for q in unseen]),
    )
    print(
        f"rows: fit {len(fit)}, report {len(held)}; threshold {threshold:.3f} "
        f"(chosen on the fit split's {FOLDS}-fold out-of-fold confidences)"
    )
    print("rank weights:", {f: round(float(w), 2) for f, w in zip(FEATURES, model.rank_weights)})
    held_q = picks(held, model, args.label)
    for name, qs in (("fit (in-sample)", fit_q), ("report (held out)", held_q)):
        print(f"\n{name}")
        for kind in sorted({q["set"] for q in qs}):
            for mix, wanted in (("real", ("original", "heldout")), ("all", None)):
                sel = [
                    q for q in qs if q["set"] == kind and (wanted is None or q["kind"] in wanted)
                ]
                figures = report(sel, threshold)
                print(f"  {kind} [{mix}]: " + ", ".join(fmt(k, v) for k, v in figures.items()))
        real = [q for q in qs if q["kind"] in ("original", "heldout")]
        for mix, sel in (("real questions", real), ("with the perturbed ones", qs)):
            print(f"  calibration on {mix} (p bin, n, mean p, share correct):")
            for row in calibration(sel):
                print(f"    {row[0]}  n={row[1]:4d}  p={row[2]:.2f}  correct={row[3]:.2f}")
    if args.write:
        MODEL_FILE.write_text(
            json.dumps(
                {
                    "features": list(FEATURES),
                    "rank": {
                        "weights": [round(float(w), 6) for w in model.rank_weights],
                        "bias": round(model.rank_bias, 6),
                    },
                    "confidence": {
                        "weights": [round(float(w), 6) for w in model.confidence_weights],
                        "bias": round(model.confidence_bias, 6),
                    },
                    "threshold": round(threshold, 6),
                    "fitted_on": f"train_answerability.py --label {args.label}, split=fit",
                },
                indent=1,
            )
            + "\n",
            "utf-8",
        )
        print(f"\nwrote {MODEL_FILE.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
