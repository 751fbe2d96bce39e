"""Evaluation reports: a text table for the terminal, and an HTML or Markdown file with the
metric table, a chart and the list of misses."""

from __future__ import annotations

import base64
import html
import io
import logging
from collections.abc import Sequence
from pathlib import Path

log = logging.getLogger(__name__)

# key in the summary, label, key of the count it is over, unit
METRICS = (
    ("hit@1", "hit@1 (evidence in citation 1)", "with_evidence", "rate"),
    ("hit@5", "hit@5 (evidence in citations 1-5)", "with_evidence", "rate"),
    ("mrr@10", "MRR@10 (evidence)", "with_evidence", "score"),
    ("answer_accuracy", "answer accuracy", "answerable", "rate"),
    ("refusal_accuracy", "refusal accuracy (unanswerable)", "unanswerable", "rate"),
    ("false_refusals", "false refusals (answerable)", "answerable", "rate"),
    ("short_answer_em", "short_answer exact match", "answerable", "rate"),
    ("short_answer_f1", "short_answer F1 (CMRC chars)", "answerable", "rate"),
    ("latency_p50", "latency p50", "timed", "ms"),
    ("latency_p95", "latency p95", "timed", "ms"),
)
MISS_CHARS = 400  # of a cited passage shown in a report


def table_rows(summary: dict) -> list[tuple[str, str, str]]:
    """``(label, value, n)`` text for each metric; "n/a" where nothing was counted."""
    rows = []
    for key, label, count, unit in METRICS:
        value = summary.get(key)
        if value is None:
            text = "n/a"
        elif unit == "ms":
            text = f"{value * 1000:.1f} ms"
        elif unit == "rate":
            text = f"{value:.1%}"
        else:
            text = f"{value:.3f}"
        rows.append((label, text, str(summary.get(count, ""))))
    return rows


def format_table(summary: dict) -> str:
    """The metric table as fixed-width text."""
    rows = [("metric", "value", "n"), *table_rows(summary)]
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    lines = [f"{a:<{widths[0]}}  {b:>{widths[1]}}  {c:>{widths[2]}}" for a, b, c in rows]
    lines.insert(1, "-" * len(lines[0]))
    lines.append(f"{summary.get('questions', 0)} questions, {summary.get('errors', 0)} errors")
    return "\n".join(lines)


def chart_png(summary: dict, latencies: Sequence[float | None] = ()) -> bytes:
    """A PNG: the rate metrics as bars, and a histogram of latencies (if any)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    times = [t * 1000 for t in latencies if t is not None]
    fig = Figure(figsize=(9, 3.6), dpi=100, layout="constrained")
    axes = fig.subplots(1, 2 if times else 1, squeeze=False)[0]
    bars = [(k, summary.get(k)) for k, _, _, unit in METRICS if unit != "ms"]
    names = [k for k, v in bars if v is not None]
    values = [v for _, v in bars if v is not None]
    ax = axes[0]
    colors = ["#e45756" if k == "false_refusals" else "#4c78a8" for k in names]  # lower is better
    ax.barh(names[::-1], values[::-1], color=colors[::-1])
    for y, v in enumerate(values[::-1]):
        inside = v > 0.85
        ax.text(
            v,
            y,
            f" {v:.2f} " if inside else f" {v:.2f}",
            va="center",
            ha="right" if inside else "left",
            color="white" if inside else "black",
        )
    ax.set_xlim(0, 1)
    ax.set_title("metrics")
    if times:
        axes[1].hist(times, bins=min(30, max(5, len(times) // 5)), color="#f58518")
        axes[1].set_xlabel("latency (ms)")
        axes[1].set_ylabel("questions")
        axes[1].set_title("latency per question")
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def _short(text: object, limit: int = MISS_CHARS) -> str:
    text = " ".join(str(text or "").split())
    return text if len(text) <= limit else text[:limit] + "…"


def render_html(summary: dict, misses: list[dict], png: bytes, title: str) -> str:
    """A self-contained HTML page (the chart inlined as base64)."""
    e = html.escape
    metric_rows = "".join(
        f"<tr><td>{e(a)}</td><td class=num>{e(b)}</td><td class=num>{e(c)}</td></tr>"
        for a, b, c in table_rows(summary)
    )
    miss_rows = "".join(
        "<tr>"
        f"<td>{e(str(m['id']))}</td><td>{e(m['why'])}</td><td>{e(str(m['question']))}</td>"
        f"<td>{e(m['expected'])}"
        + (f"<div class=ev>证据：{e(_short(m['evidence']))}</div>" if m.get("evidence") else "")
        + f"</td><td>{e(m['got'])}</td>"
        f"<td><div class=src>{e(m['passage_source'])}</div>{e(_short(m['passage']))}</td>"
        "</tr>"
        for m in misses
    )
    img = base64.b64encode(png).decode("ascii")
    return f"""<!doctype html>
<html lang="zh"><head><meta charset="utf-8"><title>{e(title)}</title>
<style>
body {{ font-family: system-ui, "PingFang SC", "Microsoft YaHei", sans-serif; margin: 2em; }}
table {{ border-collapse: collapse; margin: 1em 0; }}
td, th {{ border: 1px solid #ccc; padding: 4px 8px; vertical-align: top; text-align: left; }}
td.num {{ text-align: right; }}
.ev, .src {{ color: #666; font-size: 90%; }}
</style></head><body>
<h1>{e(title)}</h1>
<p>{summary.get("questions", 0)} questions, {summary.get("errors", 0)} errors.</p>
<table><tr><th>metric</th><th>value</th><th>n</th></tr>{metric_rows}</table>
<img alt="metrics chart" src="data:image/png;base64,{img}">
<h2>Misses ({len(misses)})</h2>
<table><tr><th>id</th><th>why</th><th>问题</th><th>期望</th><th>回答</th><th>引用段落</th></tr>
{miss_rows}</table>
</body></html>
"""


def render_markdown(summary: dict, misses: list[dict], image: str, title: str) -> str:
    """Markdown with the chart as a link to ``image`` (a PNG beside the report)."""

    def cell(text: object) -> str:
        return str(text).replace("|", "\\|")

    lines = [f"# {title}", "", "| metric | value | n |", "|---|---:|---:|"]
    lines += [f"| {cell(a)} | {b} | {c} |" for a, b, c in table_rows(summary)]
    lines += ["", f"![metrics chart]({image})", "", f"## Misses ({len(misses)})", ""]
    for i, m in enumerate(misses, 1):
        lines += [
            f"### {i}. {_short(m['id'])} — {m['why']}",
            "",
            f"- **问题**: {_short(m['question'])}",
            f"- **期望**: {_short(m['expected'])}",
        ]
        if m.get("evidence"):
            lines.append(f"- **证据**: {_short(m['evidence'])}")
        lines += [
            f"- **回答**: {_short(m['got'])}",
            f"- **引用段落** ({_short(m['passage_source'])}): {_short(m['passage'])}",
            "",
        ]
    return "\n".join(lines)


def write_report(
    path: str | Path,
    summary: dict,
    misses: list[dict],
    latencies: Sequence[float | None] = (),
    title: str = "QA evaluation",
) -> Path:
    """Write an HTML (self-contained) or Markdown report (plus ``<name>.png``) by extension."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".html", ".htm", ".md"):
        raise ValueError(f"报告格式 {suffix or path.name} 不支持：请用 .html 或 .md")
    png = chart_png(summary, latencies)
    if suffix == ".md":
        image = path.with_suffix(".png")
        image.write_bytes(png)
        path.write_text(render_markdown(summary, misses, image.name, title), encoding="utf-8")
    else:
        path.write_text(render_html(summary, misses, png, title), encoding="utf-8")
    log.info("report written to %s", path)
    return path
