"""What the checker did with each kind of parrot sentence, over the seed dev set.

    python tests/scripted_llm.py --port 8765 &
    python benchmarks/parrot_breakdown.py --llm http://127.0.0.1:8765/v1

The scripted server's parrot reply holds, per question, a true sentence (passage 1's first
sentence, cited [1]), the same with its first number changed (when it has one) and passage
2's first sentence cited as [1]. A sentence counts as shown when every piece the checker
split it into was found supported. Uses the default index (``index/``) as it is.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qa import Assistant  # noqa: E402
from qa.answerers import LLMAnswerer  # noqa: E402
from qa.assistant import NOT_FOUND  # noqa: E402
from qa.indexing import DEFAULT_INDEX  # noqa: E402
from qa.llm_client import LLMClient, LLMConfig  # noqa: E402
from qa.prompt import build_messages  # noqa: E402
from qa.verify import strip_markers  # noqa: E402
from tests.scripted_llm import parrot_reply  # noqa: E402

DEV = ROOT.parent / "shared" / "eval" / "seed_qa_dev.jsonl"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--llm", required=True, help="the scripted server's base URL")
    parser.add_argument("--questions", type=Path, default=DEV)
    args = parser.parse_args()
    assistant = Assistant.open(DEFAULT_INDEX, corpus=None)
    trace: list = []
    answerer = LLMAnswerer(assistant, LLMClient(LLMConfig(base_url=args.llm)), trace=trace)
    kinds: dict[str, list[bool]] = {}
    for line in args.questions.read_text(encoding="utf-8").splitlines():
        question = json.loads(line)["question"]
        base = answerer.extractive.ask(question)
        answerer.ask(question)
        if not trace[-1].called:
            continue
        messages = build_messages(base.question, base.citations, (), NOT_FOUND)
        parts = parrot_reply(messages).split("[1]。")[:-1]
        has_number = any(c.isdigit() for c in parts[0])
        labels = ["true"] + ["invented number"] * has_number
        labels += ["wrong passage"] * (len(parts) - len(labels))
        for part, label in zip(parts, labels):
            pieces = [
                c
                for c in trace[-1].checks
                if c.claim and strip_markers(c.text).rstrip("。") in part + "。"
            ]
            kinds.setdefault(label, []).append(bool(pieces) and all(c.supported for c in pieces))
    print("| parrot sentence | n | shown |\n|---|---|---|")
    for label, shown in kinds.items():
        print(f"| {label} | {len(shown)} | {sum(shown)} |")


if __name__ == "__main__":
    main()
