"""Figures for ``qa eval --llm``: how the model's sentences fared under the checker."""

from __future__ import annotations

from collections.abc import Sequence

from .answerers.llm import LLMTrace
from .metrics import latency_stats, rate


def llm_summary(traces: Sequence[LLMTrace]) -> dict:
    """Per run: questions the gate kept from the model, and over the model's replies the
    citation precision (claims with a valid [n] that the check found supported), the share
    of claims removed (unsupported or uncited), the fallback and refusal rates, and the
    model call's latency in seconds."""
    called = [t for t in traces if t.called]
    claims = [c for t in called for c in t.checks if c.claim]
    cited = [c for c in claims if c.citations]
    times = latency_stats([t.seconds for t in called])
    return {
        "questions": len(traces),
        "gated": sum(t.outcome == "gated" for t in traces),
        "called": len(called),
        "claims": len(claims),
        "cited_claims": len(cited),
        "citation_precision": rate([c.supported for c in cited]),
        "removed": rate([not c.supported for c in claims]),
        "fallback_rate": rate([t.outcome.startswith("fallback") for t in called]),
        "refusal_rate": rate([t.outcome == "refused" for t in called]),
        "llm_latency_p50": times["p50"],
        "llm_latency_p95": times["p95"],
        "reasons": {
            why: sum(c.reason == why for c in claims)
            for why in ("no_citation", "missing", "low_support")
        },
    }


def format_llm_table(s: dict) -> str:
    def pct(v):
        return "n/a" if v is None else f"{v:.1%}"

    def ms(v):
        return "n/a" if v is None else f"{v * 1000:.0f} ms"

    rows = [
        ("questions kept from the model by the gate", str(s["gated"]), str(s["questions"])),
        (
            "citation precision (cited claims supported)",
            pct(s["citation_precision"]),
            str(s["cited_claims"]),
        ),
        ("claims removed (unsupported or uncited)", pct(s["removed"]), str(s["claims"])),
        ("fallback to the extract", pct(s["fallback_rate"]), str(s["called"])),
        ("model refusals", pct(s["refusal_rate"]), str(s["called"])),
        ("model reply and checks, p50", ms(s["llm_latency_p50"]), str(s["called"])),
        ("model reply and checks, p95", ms(s["llm_latency_p95"]), str(s["called"])),
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    lines = [f"{a:<{widths[0]}}  {b:>{widths[1]}}  {c:>{widths[2]}}" for a, b, c in rows]
    why = ", ".join(f"{k} {v}" for k, v in s["reasons"].items())
    return "\n".join(["LLM mode", "-" * len(lines[0]), *lines, f"removed because: {why}"])
