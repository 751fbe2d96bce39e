"""Gradio imported without regenerating its components' type stubs (qa/gradio_import.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from qa.gradio_import import skip_stub_regeneration

ROOT = Path(__file__).resolve().parent.parent


def test_the_app_imports_gradio_without_its_stub_regeneration():
    code = (
        "import app, gradio.component_meta as meta, gradio as gr\n"
        "print(meta.create_or_modify_pyi.__name__, isinstance(app.demo, gr.Blocks))"
    )
    env = os.environ | {"QA_MODEL": "fake", "PYTHONIOENCODING": "utf-8"}
    run = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=180
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.split() == ["_no_stub", "True"]


def test_too_late_once_gradio_is_imported():
    import gradio  # noqa: F401

    assert skip_stub_regeneration() is False
