"""Cold and warm start of ``python app.py``: seconds from launching the process to the first
answer from its ``/ask`` API, first with no index (a fresh clone: the index is built), then
again with the index it left (a later start). 127.0.0.1 only; the server is stopped after.

    python benchmarks/cold_start.py [--port 7874] [--model NAME] [--no-export-cache]

``--no-export-cache`` also empties the ONNX export cache first (a machine that never ran the
app); by default the cache is kept, as it is on any machine after the first run.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
QUESTION = "慈溪有几家国家级单项冠军企业？"


# one SSL context for the client (gradio_client builds one per request otherwise, even for http)
CONTEXT = ssl.create_default_context()


def listening(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.2)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def first_answer(env: dict, port: int, timeout: float = 300) -> tuple[float, str]:
    from gradio_client import Client

    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "app.py")],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}/"
        while time.perf_counter() - start < timeout:
            if proc.poll() is not None:
                raise RuntimeError(f"app.py exited with {proc.returncode}")
            if not listening(port):  # a cheap probe: a Client per try would compete for CPU
                time.sleep(0.05)
                continue
            try:
                client = Client(url, verbose=False, ssl_verify=CONTEXT)  # type: ignore[arg-type]
                answer = client.predict(QUESTION, api_name="/ask")
                seconds = time.perf_counter() - start
                client.close()  # its open stream would hold up the server's shutdown
                return seconds, str(answer)[:80]
            except Exception:  # not up yet
                time.sleep(0.1)
        raise TimeoutError("no answer")
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=7874)
    parser.add_argument("--model", default=None)
    parser.add_argument("--no-export-cache", action="store_true")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="qa-cold-"))
    env = os.environ | {
        "QA_INDEX_DIR": str(tmp / "index"),
        "GRADIO_SERVER_NAME": "127.0.0.1",
        "GRADIO_SERVER_PORT": str(args.port),
    }
    if args.model:
        env["QA_MODEL"] = args.model
    if args.no_export_cache:
        env["QA_CACHE_DIR"] = str(tmp / "cache")
    try:
        for label in ("cold (index built)", "warm (index loaded)"):
            seconds, answer = first_answer(env, args.port)
            print(f"{label}: {seconds:.1f}s to the first answer: {answer}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
