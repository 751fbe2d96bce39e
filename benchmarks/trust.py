"""Trust benchmark: refusals, false refusals, accuracy and short answers, two rules side by side.

    python benchmarks/trust.py [--model e5-small-onnx] [--out benchmarks/results-trust.md]

Rules: ``coverage`` (the earlier one: one threshold on term coverage) and ``calibrated``
(grounding + the fitted answerability model). Data, each asked under both rules in one run:
- the seed dev and trust dev sets over the bundled corpus, the odd-id half (never fitted on)
  and all questions (the even-id half was in the answerability fit: in-sample);
- CMRC 2018 trial and DRCD dev (first 120 articles), *report split only* (odd articles, never
  used in fitting): articles with ``article % 10 == 9`` are left out of the index, so their
  questions must be refused; the other odd articles' questions must be answered.
Prints Markdown tables; ``answer ⊇ gold`` is the share of answerable questions whose shown
answer contains a gold span, short-answer EM/F1 are CMRC's character-level figures.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from answerability_data import open_set  # noqa: E402
from rc_sets import Item  # noqa: E402

from embeddings import load_encoder  # noqa: E402
from qa import Assistant  # noqa: E402
from qa.indexing import DEFAULT_CORPUS, open_index  # noqa: E402
from qa.metrics import char_f1, exact_match, judge, parse_gold, summarize  # noqa: E402

SHARED = ROOT.parent / "shared" / "eval"
RULES = ("coverage", "calibrated")


def fmt(v) -> str:
    return "–" if v is None else f"{v:.3f}" if isinstance(v, float) else str(v)


def table(rows: list[dict]) -> str:
    keys = list(rows[0])
    out = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    return "\n".join(out + ["| " + " | ".join(fmt(r[k]) for k in keys) + " |" for r in rows])


def timed(assistant: Assistant, questions: list[str]) -> tuple[list, list[float]]:
    answers, seconds = [], []
    for q in questions:
        t0 = time.perf_counter()
        answers.append(assistant.ask(q))
        seconds.append(time.perf_counter() - t0)
    return answers, seconds


def odd_id(row: dict) -> bool:
    """Questions with an odd id number are the report half: the answerability model was
    fitted on the even ones (``answerability_data.py``'s bundled set)."""
    return int("".join(ch for ch in row["id"] if ch.isdigit()) or 0) % 2 == 1


def bench_eval_files(assistant: Assistant) -> str:
    rows = []
    for name in ("seed_qa_dev", "trust_dev"):
        golds = [json.loads(x) for x in (SHARED / f"{name}.jsonl").read_text("utf-8").splitlines()]
        for rule in RULES:
            assistant.settings = replace(assistant.settings, rule=rule)
            answers, seconds = timed(assistant, [g["question"] for g in golds])
            js = [judge(parse_gold(g), a.to_record(g.get("id"))) for g, a in zip(golds, answers)]
            for half, keep in (("odd ids (not fitted)", odd_id), ("all (even ids fitted)", None)):
                sel = [i for i, g in enumerate(golds) if keep is None or keep(g)]
                s = summarize([js[i] for i in sel], [seconds[i] for i in sel])
                rows.append(
                    {
                        "set": name,
                        "questions": f"{half}: {s['questions']}",
                        "rule": rule,
                        "unanswerable refused": s["refusal_accuracy"],
                        "false refusals": s["false_refusals"],
                        "answer accuracy": s["answer_accuracy"],
                        "short EM": s["short_answer_em"],
                        "short F1": s["short_answer_f1"],
                        "p50 ms": float(np.median([seconds[i] for i in sel]) * 1000),
                    }
                )
    return table(rows)


def bench_rc(name: str, encoder) -> str:
    assistant, items = open_set(name, encoder)
    report = [i for i in items if i.article % 2 == 1]
    held = [i.article % 10 == 9 for i in report]
    rows = []
    for rule in RULES:
        assistant.settings = replace(assistant.settings, rule=rule)
        answers, seconds = timed(assistant, [i.question for i in report])
        rows.append(rc_row(name, rule, report, held, answers, seconds))
    return table(rows)


def rc_row(name: str, rule: str, items: list[Item], held: list[bool], answers, seconds) -> dict:
    indexed = [(i, a) for i, a, h in zip(items, answers, held) if not h]
    out = [a for a, h in zip(answers, held) if h]
    first = [bool(a.citations) and a.citations[0].source == i.source for i, a in indexed]
    shown = [a.found and any(g in a.answer for g in i.answers) for i, a in indexed]
    shorts = [a.short_answer if a.found else "" for _, a in indexed]
    return {
        "set": name,
        "rule": rule,
        "indexed q": len(indexed),
        "held-out q": len(out),
        "recall@1": float(np.mean(first)),
        "answer ⊇ gold": float(np.mean(shown)),
        "false refusals": float(np.mean([not a.found for _, a in indexed])),
        "held-out refused": float(np.mean([not a.found for a in out])) if out else None,
        "short EM": float(
            np.mean(
                [max(exact_match(s, g) for g in i.answers) for s, (i, _) in zip(shorts, indexed)]
            )
        ),
        "short F1": float(
            np.mean([max(char_f1(s, g) for g in i.answers) for s, (i, _) in zip(shorts, indexed)])
        ),
        "p50 ms": float(np.median(seconds) * 1000),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="encoder (default: the default)")
    parser.add_argument("--sets", nargs="*", default=["cmrc", "drcd"])
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    encoder = load_encoder(args.model)
    parts = [
        f"## Trust benchmark: model `{encoder.name}`, rules {', '.join(RULES)}\n\n"
        f"Machine: {platform.machine()}, Python {platform.python_version()}, "
        f"command `python benchmarks/trust.py`"
    ]
    print(parts[-1], flush=True)
    kb = open_index(DEFAULT_CORPUS, ROOT / "benchmarks" / "out" / "dev-index", encoder)
    parts.append(
        "### Seed dev and trust dev (bundled corpus)\n\n" + bench_eval_files(Assistant(kb, encoder))
    )
    print(parts[-1], flush=True)
    for name in args.sets:
        parts.append(
            f"### {name} report split (held-out articles left out of the index)\n\n"
            + bench_rc(name, encoder)
        )
        print(parts[-1], flush=True)
    if args.out:
        args.out.write_text("\n\n".join(parts) + "\n", "utf-8")


if __name__ == "__main__":
    main()
