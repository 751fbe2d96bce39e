"""A local HTTP server that speaks the chat-completions protocol with scripted replies.

Tests queue ``Script``s (text, status, delay, raw body); each request takes the next one
(or the default), answered as SSE when the request asks to stream. ``parrot_reply`` makes
replies from the prompt itself, for ``qa eval --llm`` runs that check the checker.

Run standalone: ``python tests/scripted_llm.py --port 8765`` (parrot replies).
"""

from __future__ import annotations

import argparse
import json
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Script:
    text: str = ""
    status: int = 200
    delay: float = 0.0  # seconds before the reply starts
    raw: bytes | None = None  # sent as the body instead (malformed replies)
    headers: dict = field(default_factory=dict)
    chunk_chars: int = 4  # characters per SSE chunk
    chunk_delay: float = 0.0  # seconds between SSE chunks


def _passages(messages: list[dict]) -> list[dict]:
    user = next((m["content"] for m in messages if m.get("role") == "user"), "")
    block = re.search(r"<passages>\n(.*?)\n</passages>", user, re.S)
    rows = []
    for line in block.group(1).splitlines() if block else []:
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            pass
    return rows


def _first_sentence(text: str) -> str:
    m = re.match(r"[^。！？\n]{4,}[。！？]", text)
    return (m.group() if m else text[:60]).strip()


def parrot_reply(messages: list[dict]) -> str:
    """Three sentences with a known truth: passage 1's first sentence cited [1] (true); the
    same with its first number changed (false: an invented figure); passage 2's first
    sentence cited as [1] (false: the wrong passage)."""
    rows = _passages(messages)
    if not rows:
        return "资料中没有找到能回答这个问题的内容。"
    first = _first_sentence(rows[0]["text"]).rstrip("。！？")
    parts = [f"{first}[1]。"]
    number = re.search(r"\d+", first)
    if number:
        changed = str(int(number.group()) + 7)
        parts.append(f"{first[: number.start()]}{changed}{first[number.end() :]}[1]。")
    if len(rows) > 1:
        parts.append(_first_sentence(rows[1]["text"]).rstrip("。！？") + "[1]。")
    return "".join(parts)


class ScriptedLLM:
    """``with ScriptedLLM() as llm: llm.url`` — the server runs in a thread on a free port."""

    def __init__(
        self, default: Callable[[list[dict]], str] | Script | None = None, chunk_delay: float = 0
    ):
        self.scripts: deque[Script] = deque()
        self.default = default
        self.chunk_delay = chunk_delay  # for replies made by ``default``
        self.requests: list[dict] = []  # {"path", "headers", "body"}
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def do_GET(self):
                server.requests.append(
                    {"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()}}
                )
                body = {"object": "list", "data": [{"id": "scripted", "object": "model"}]}
                self._send(200, json.dumps(body).encode(), "application/json")

            def do_POST(self):
                length = int(self.headers.get("content-length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                server.requests.append(
                    {
                        "path": self.path,
                        "headers": {k.lower(): v for k, v in self.headers.items()},
                        "body": body,
                    }
                )
                script = server.next_script(body.get("messages") or [])
                if script.delay:
                    time.sleep(script.delay)
                if script.status != 200:
                    error = {"error": {"message": "scripted error", "type": "scripted"}}
                    self._send(
                        script.status,
                        json.dumps(error).encode(),
                        "application/json",
                        script.headers,
                    )
                elif script.raw is not None:
                    kind = "text/event-stream" if body.get("stream") else "application/json"
                    self._send(200, script.raw, kind, script.headers)
                elif body.get("stream"):
                    self._stream(script)
                else:
                    self._send(
                        200,
                        json.dumps(completion(script.text)).encode(),
                        "application/json",
                        script.headers,
                    )

            def _send(self, status, data, kind, headers=None):
                self.send_response(status)
                self.send_header("content-type", kind)
                self.send_header("content-length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def _stream(self, script: Script):
                self.send_response(200)
                self.send_header("content-type", "text/event-stream")
                self.send_header("connection", "close")
                self.end_headers()
                text, n = script.text, max(1, script.chunk_chars)
                for i in range(0, len(text), n):
                    self.wfile.write(
                        b"data: " + json.dumps(chunk(text[i : i + n])).encode() + b"\n\n"
                    )
                    self.wfile.flush()
                    time.sleep(script.chunk_delay)
                self.wfile.write(b"data: " + json.dumps(chunk("", "stop")).encode() + b"\n\n")
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()
                self.close_connection = True

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def next_script(self, messages: list[dict]) -> Script:
        if self.scripts:
            return self.scripts.popleft()
        if callable(self.default):
            return Script(self.default(messages), chunk_delay=self.chunk_delay)
        return self.default or Script("资料中没有找到能回答这个问题的内容。")

    def queue(self, *scripts: Script | str) -> None:
        self.scripts.extend(Script(s) if isinstance(s, str) else s for s in scripts)

    @property
    def calls(self) -> list[dict]:
        return [r for r in self.requests if r["path"].endswith("/chat/completions")]

    def __enter__(self) -> ScriptedLLM:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def completion(text: str) -> dict:
    return {
        "id": "chatcmpl-scripted",
        "object": "chat.completion",
        "created": 0,
        "model": "scripted",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
        ],
        "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
    }


def chunk(text: str, finish: str | None = None) -> dict:
    delta = {"content": text} if text else {}
    return {
        "id": "chatcmpl-scripted",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": "scripted",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()
    llm = ScriptedLLM(parrot_reply)
    llm.httpd.server_close()
    handler = llm.httpd.RequestHandlerClass
    httpd = ThreadingHTTPServer(("127.0.0.1", args.port), handler)
    print(f"scripted chat-completions server on http://127.0.0.1:{args.port}/v1", flush=True)
    httpd.serve_forever()


if __name__ == "__main__":
    main()
