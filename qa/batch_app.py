"""The 批量问答 tab of the browser app: upload a question file, download the answers.

``build_batch_tab(get_assistant)`` builds the tab's contents inside an enclosing
``gr.Blocks``/``gr.Tab``; ``answer_file`` is its handler, usable without a browser.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable
from html import escape
from pathlib import Path

import gradio as gr

from .assistant import MAX_QUESTION_CHARS, Assistant
from .batch import run_batch
from .tabular import INPUT_SUFFIXES

log = logging.getLogger(__name__)

MAX_FILE_MB = 10
SHOWN_ERRORS = 5


def output_suffix(input_path: Path) -> str:
    """Answers come back in the input's format; a .txt file's as .csv (opens in Excel)."""
    suffix = input_path.suffix.lower()
    return ".csv" if suffix == ".txt" else suffix


def answer_file(
    path: str | Path | None,
    assistant: Assistant,
    progress: Callable | None = None,
    out_dir: str | Path | None = None,
) -> tuple[str | None, str]:
    """Answer an uploaded question file: ``(answers file or None, message for the user)``.

    ``progress`` is called like ``gr.Progress``: ``progress((done, total), desc=..., unit=...)``.
    """
    if not path:
        return None, "请先上传问题文件（.txt / .jsonl / .csv / .xlsx）。"
    path = Path(path)
    if path.suffix.lower() not in INPUT_SUFFIXES:
        return None, f"未处理：不支持的文件 {path.name}：请上传 .txt、.jsonl、.csv 或 .xlsx。"
    try:
        size = path.stat().st_size
    except OSError:
        return None, "未处理：文件不存在或无法读取，请重新上传。"
    if size > MAX_FILE_MB * 1024 * 1024:
        return None, f"未处理：文件太大（{size / 1024 / 1024:.1f} MB，上限 {MAX_FILE_MB} MB）。"
    if size == 0:
        return None, "未处理：文件是空的。"
    out_dir = Path(out_dir or tempfile.mkdtemp(prefix="qa-batch-"))
    out = out_dir / f"{path.stem}-answers{output_suffix(path)}"

    def report(done: int, total: int) -> None:
        if progress:
            progress((done, total), desc="正在回答", unit="题")

    try:
        stats = run_batch(assistant, path, out, progress=False, on_progress=report)
    except (ValueError, OSError) as exc:
        log.info("batch upload %s refused: %s", path.name, exc)
        return None, f"未处理：{escape(str(exc))}"
    lines = [
        f"已处理 {stats.written} 个问题（用时 {stats.seconds:.1f} 秒），"
        f"下载 **{out.name}** 查看答案与出处。"
    ]
    if stats.errors:
        lines.append(f"注意：{stats.errors} 行无法回答，原因写在 error 列：")
        shown = stats.first_errors[:SHOWN_ERRORS]
        lines += [f"- {escape(str(ident))}：{escape(message)}" for ident, message in shown]
    return str(out), "\n".join(lines)


def build_batch_tab(get_assistant: Callable[[], Assistant]) -> None:
    """The tab's components and event, inside the caller's ``gr.Tab`` context."""
    gr.Markdown(
        "上传问题文件，一次回答多个问题，答案连同出处可下载为同样格式的文件。\n\n"
        "- **.txt**：每行一个问题（答案下载为 .csv）\n"
        "- **.csv / .xlsx**：第一行是列名，问题在 `question` 或 `问题` 列；"
        "`id` 列可选，其他列原样保留\n"
        '- **.jsonl**：每行一个 JSON 对象，如 `{"id": 1, "question": "…"}`\n\n'
        f"每个问题不超过 {MAX_QUESTION_CHARS} 字；空白、过长或无法解码的行不会中断处理，"
        "而是在答案文件的 error 列说明原因；重复的问题只回答一次。"
    )
    upload = gr.File(
        label=f"问题文件（≤ {MAX_FILE_MB} MB）",
        file_types=list(INPUT_SUFFIXES),
        type="filepath",
    )
    start = gr.Button("开始批量问答", variant="primary")
    status = gr.Markdown()
    download = gr.File(label="下载答案", interactive=False)

    def run(path: str | None, progress=gr.Progress()) -> tuple[str | None, str]:
        return answer_file(path, get_assistant(), progress)

    start.click(
        run,
        inputs=upload,
        outputs=[download, status],
        concurrency_limit=1,  # one batch at a time: it keeps the CPU busy
        concurrency_id="batch",
        api_visibility="private",
    )
