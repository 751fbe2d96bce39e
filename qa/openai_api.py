"""Our answers as an OpenAI-compatible model: ``POST /v1/chat/completions`` (streaming SSE
and not) and ``GET /v1/models``, a FastAPI router served next to the Gradio app.

The last user message is the question, earlier user messages the conversation. It answers
as the app does (extractive, in the app's micro-batches with ``/ask``, or the checked model
answer when one is configured); the text carries ``[n]`` and a short list of the cited
sources, and the response has the full citations in the extra field ``citations`` and the
record (mode, notice, confidence, sentences) in ``qa``. Questions have the app's length
limit; a busy server is a 429 with the app's busy message. Keys: with ``QA_API_KEYS`` set
(comma-separated), callers must send one as ``Authorization: Bearer …``; when answering
spends an operator's model key, the endpoint stays closed until ``QA_API_KEYS`` is set.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import os
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence

from starlette.requests import Request  # at module level: FastAPI reads the annotation

from .answerers import Answerer, with_sentences
from .answerers.llm import join_sentences
from .assistant import QuestionError, check_question
from .errors import Busy
from .microbatch import BUSY_MESSAGE, MicroBatcher
from .records import Answer, Sentence

log = logging.getLogger(__name__)

MODEL_ID = "cixi-qa"
MAX_MESSAGES = 50
MAX_HISTORY = 10  # earlier questions passed on
CONCURRENCY = 2  # answers at once when not micro-batched (the model's); more wait…
WAIT_SECONDS = 30.0  # …this long, then get 429
MESSAGES = {
    "no_question": "最后一条消息应是用户的问题（role 为 user 的文本）。",
    "too_many": f"消息太多（最多 {MAX_MESSAGES} 条）。",
    "bad_body": "请求体应是 JSON 对象，含 messages 列表。",
    "key": "需要有效的 API 密钥（Authorization: Bearer …）。",
    "closed": "该服务使用运营方的语言模型密钥，需先设置 QA_API_KEYS 才能通过 API 调用。",
    "busy": BUSY_MESSAGE,
    "failed": "回答失败，请稍后再试。",
}


def api_keys_from_env(environ: Mapping[str, str] = os.environ) -> tuple[str, ...]:
    return tuple(k.strip() for k in (environ.get("QA_API_KEYS") or "").split(",") if k.strip())


def _text(content: object) -> str:
    """A message's text: a string, or a list of parts ({"type": "text", "text": …})."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text") or "" for p in content if isinstance(p, dict))
    return ""


def parse_messages(messages: object) -> tuple[str, list[str]]:
    """(question, earlier questions) from a chat-completions ``messages`` list; raises
    ``QuestionError`` with a message for the caller."""
    if not isinstance(messages, list) or not messages:
        raise QuestionError(MESSAGES["bad_body"])
    if len(messages) > MAX_MESSAGES:
        raise QuestionError(MESSAGES["too_many"])
    users = [m for m in messages if isinstance(m, dict) and m.get("role") == "user"]
    last = messages[-1]
    if not isinstance(last, dict) or last.get("role") != "user":
        raise QuestionError(MESSAGES["no_question"])
    question = check_question(_text(last.get("content")))
    earlier = [_text(m.get("content")).strip() for m in users[:-1]]
    earlier = [q for q in earlier if q and len(q) <= 500][-MAX_HISTORY:]
    return question, earlier


def sources_text(answer: Answer) -> str:
    """The cited sources as plain lines for chat clients that ignore ``citations``."""
    cited = {n for s in answer.sentences for n in s.citations if s.supported}
    lines = []
    for c in answer.citations:
        if c.n in cited:
            where = " · ".join(p for p in (c.title, c.section, c.location) if p)
            lines.append(f"[{c.n}] {where}（{c.source}）")
    return "\n\n来源：\n" + "\n".join(lines) if lines and answer.found else ""


def content_of(answer: Answer) -> str:
    """The reply's text: the answer, any notice after it (so a stream can send the answer's
    sentences first), then the cited sources."""
    notice = f"\n\n（{answer.notice}）" if answer.notice else ""
    return answer.answer + notice + sources_text(answer)


def extra_fields(answer: Answer) -> dict:
    record = answer.to_record()
    return {
        "citations": record["citations"],
        "qa": {k: record[k] for k in ("found", "mode", "notice", "confidence", "sentences")}
        | {"query": answer.query, "reason": answer.reason},
    }


def _error(status: int, message: str, kind: str = "invalid_request_error"):
    from fastapi.responses import JSONResponse

    body = {"error": {"message": message, "type": kind, "param": None, "code": None}}
    return JSONResponse(body, status_code=status)


def build_router(
    get_answerer: Callable[[], Answerer],
    api_keys: Sequence[str] = (),
    spends_key: bool = False,
    model_id: str = MODEL_ID,
    get_batcher: Callable[[], MicroBatcher] | None = None,
):
    """The router; ``get_answerer()`` is called per request (the app opens it lazily). With
    ``get_batcher`` (the app's micro-batcher, extractive answers) questions are answered in
    its batches, as ``/ask``'s are, and a full batcher is a 429 with its busy message;
    without it, ``CONCURRENCY`` answers at once."""
    from fastapi import APIRouter, Header
    from fastapi.responses import StreamingResponse
    from starlette.concurrency import run_in_threadpool

    router = APIRouter()
    slots = threading.BoundedSemaphore(CONCURRENCY)

    def refused(authorization: str | None):
        if not api_keys:
            return _error(401, MESSAGES["closed"], "authentication_error") if spends_key else None
        given = (authorization or "").removeprefix("Bearer ").strip()
        if not any(hmac.compare_digest(given.encode(), k.encode()) for k in api_keys):
            return _error(401, MESSAGES["key"], "authentication_error")
        return None

    @router.get("/v1/models")
    def models(authorization: str | None = Header(None)):
        problem = refused(authorization)
        if problem:
            return problem
        return {
            "object": "list",
            "data": [{"id": model_id, "object": "model", "created": 0, "owned_by": "cixi-qa"}],
        }

    @router.post("/v1/chat/completions")
    async def chat_completions(request: Request, authorization: str | None = Header(None)):
        problem = refused(authorization)
        if problem:
            return problem
        try:  # read here, not by FastAPI: a body that is no JSON gets our message, not a 422
            body = json.loads(await request.body())
        except (ValueError, UnicodeDecodeError):
            body = None
        if not isinstance(body, dict):
            return _error(400, MESSAGES["bad_body"])
        try:
            question, earlier = parse_messages(body.get("messages"))
        except QuestionError as exc:
            return _error(400, str(exc))
        cid, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())
        base = {"id": cid, "created": created, "model": model_id}
        if body.get("stream"):
            events: AsyncIterator[str] | Iterator[str]
            if get_batcher is not None:
                events = _batched_events(get_batcher, question, earlier, Chunks(base))
            else:
                events = _events(get_answerer, question, earlier, Chunks(base), slots)
            return StreamingResponse(events, media_type="text/event-stream")
        try:
            if get_batcher is not None:
                answer = await _batched(get_batcher, question, earlier)
            else:
                answer = await run_in_threadpool(_limited, get_answerer, question, earlier, slots)
        except Busy as exc:
            return _error(429, str(exc), "rate_limit_error")
        except Exception:
            log.exception("answering %r failed", question)
            return _error(500, MESSAGES["failed"], "server_error")
        message = {"role": "assistant", "content": content_of(answer)}
        choice = {"index": 0, "message": message, "finish_reason": "stop"}
        usage = {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
        return (
            base
            | {"object": "chat.completion", "choices": [choice], "usage": usage}
            | (extra_fields(answer))
        )

    return router


async def _batched(
    get_batcher: Callable[[], MicroBatcher], question: str, earlier: list[str]
) -> Answer:
    """The answer from the micro-batcher, with its sentences (as the extractive answerer
    gives it); raises ``Busy``."""
    batcher = await asyncio.to_thread(get_batcher)  # may reload a changed index
    return with_sentences(await batcher.ask_async(question, earlier))


def _limited(
    get_answerer: Callable[[], Answerer],
    question: str,
    earlier: list[str],
    slots: threading.BoundedSemaphore,
) -> Answer:
    """The answerer's answer once one of ``slots`` is free; ``Busy`` after ``WAIT_SECONDS``."""
    if not slots.acquire(timeout=WAIT_SECONDS):
        raise Busy(MESSAGES["busy"])
    try:
        return get_answerer().ask(question, earlier)
    finally:
        slots.release()


class Chunks:
    """The SSE chunks of one streamed reply: the role first, each checked sentence as it
    passes, then the rest of the final text with ``citations`` and ``qa``; ``DONE`` ends."""

    def __init__(self, base: dict):
        self.base, self.sent = base, ""

    def chunk(self, delta: dict, finish: str | None = None, **extra) -> str:
        choice = {"index": 0, "delta": delta, "finish_reason": finish}
        return _sse(self.base | {"object": "chat.completion.chunk", "choices": [choice]} | extra)

    def start(self) -> str:
        return self.chunk({"role": "assistant", "content": ""})

    def item(self, item: Sentence | Answer) -> str:
        if isinstance(item, Sentence):
            grown = join_sentences([self.sent, item.text]) if self.sent else item.text
            delta, self.sent = grown[len(self.sent) :], grown
            return self.chunk({"content": delta})
        content = content_of(item)
        rest = content[len(self.sent) :] if content.startswith(self.sent) else "\n\n" + content
        return self.chunk({"content": rest} if rest else {}, "stop", **extra_fields(item))

    def stop(self, message: str) -> str:
        return self.chunk({"content": message}, "stop")


DONE = "data: [DONE]\n\n"


def _sse(data: dict) -> str:
    return f"data: {json.dumps(data, ensure_ascii=False)}\n\n"


def _events(
    get_answerer: Callable[[], Answerer],
    question: str,
    earlier: list[str],
    chunks: Chunks,
    slots: threading.BoundedSemaphore,
) -> Iterator[str]:
    """The reply's chunks from the answerer's stream, once one of ``slots`` is free."""
    yield chunks.start()
    if not slots.acquire(timeout=WAIT_SECONDS):
        yield chunks.stop(MESSAGES["busy"])
        yield DONE
        return
    try:
        for item in get_answerer().stream(question, earlier):
            yield chunks.item(item)
    except Exception:
        log.exception("answering %r failed", question)
        yield chunks.stop(MESSAGES["failed"])
    finally:
        slots.release()
    yield DONE


async def _batched_events(
    get_batcher: Callable[[], MicroBatcher], question: str, earlier: list[str], chunks: Chunks
) -> AsyncIterator[str]:
    """The reply's chunks for an answer from the micro-batcher: as the extractive
    answerer's stream gives them (its sentences, then the answer)."""
    yield chunks.start()
    try:
        answer = await _batched(get_batcher, question, earlier)
    except Busy as exc:
        yield chunks.stop(str(exc))
        yield DONE
        return
    except Exception:
        log.exception("answering %r failed", question)
        yield chunks.stop(MESSAGES["failed"])
        yield DONE
        return
    for sentence in answer.sentences:
        yield chunks.item(sentence)
    yield chunks.item(answer)
    yield DONE


def openai_routes(
    get_answerer: Callable[[], Answerer],
    spends_key: bool = False,
    get_batcher: Callable[[], MicroBatcher] | None = None,
) -> list:
    """The endpoint's routes, for ``demo.launch(app_kwargs={"routes": …})``; keys from
    ``QA_API_KEYS``."""
    router = build_router(get_answerer, api_keys_from_env(), spends_key, get_batcher=get_batcher)
    return list(router.routes)
