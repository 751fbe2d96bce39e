"""Chat with an OpenAI-compatible model (Ollama, vLLM, llama.cpp, DeepSeek, …).

The one place for the model's configuration, timeouts, retries and context budget. Only a
base URL turns this on (``--llm URL`` or ``QA_LLM_BASE_URL``); a key alone never does, and the
key is sent only to that URL: the official ``openai`` client is given ``base_url`` explicitly,
so it never falls back to ``OPENAI_BASE_URL`` or api.openai.com.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from .errors import LLMError

log = logging.getLogger(__name__)

DEFAULT_MODEL = "qwen2.5:7b-instruct"  # Ollama's name; vLLM serves what it was started with
NO_KEY = "unused"  # local servers take any key; the openai client insists on one


@dataclass(frozen=True)
class LLMConfig:
    base_url: str  # including /v1, e.g. http://127.0.0.1:11434/v1
    model: str = DEFAULT_MODEL
    api_key: str = ""
    timeout: float = 30.0  # seconds: connect, and between bytes of the reply
    total_timeout: float = 90.0  # seconds for a whole reply, however it trickles
    retries: int = 2  # further tries after 429 or 5xx
    backoff: float = 1.0  # seconds before the first retry, doubled each time
    max_backoff: float = 10.0  # a longer Retry-After is not waited for
    context_chars: int = 6000  # passage text sent to the model, all passages together
    max_tokens: int = 800  # of the reply
    temperature: float = 0.1
    stream: bool = True  # ask for SSE (sentences are shown as they are checked)

    @property
    def spends_key(self) -> bool:
        """Does answering spend an operator's key (so our endpoint must ask for keys)?"""
        return bool(self.api_key)


def config_from_env(
    url: str | None = None, environ: Mapping[str, str] = os.environ, **overrides
) -> LLMConfig | None:
    """The configuration for ``url`` (else ``QA_LLM_BASE_URL``), or None when neither is set:
    then answers stay extractive and nothing goes over the network."""
    base_url = (url or environ.get("QA_LLM_BASE_URL") or "").strip()
    if not base_url:
        return None
    if not base_url.startswith(("http://", "https://")):
        raise ValueError(f"语言模型地址 {base_url!r} 无效：应以 http:// 或 https:// 开头（含 /v1）")
    key = environ.get("QA_LLM_API_KEY") or environ.get("OPENAI_API_KEY") or ""
    model = environ.get("QA_LLM_MODEL") or DEFAULT_MODEL
    return LLMConfig(base_url=base_url.rstrip("/"), model=model, api_key=key, **overrides)


def _retry_after(exc: Exception) -> float | None:
    response = getattr(exc, "response", None)
    try:
        return float(response.headers.get("retry-after")) if response is not None else None
    except (TypeError, ValueError):
        return None


class LLMClient:
    """``stream(messages)`` yields the reply's text as it arrives; ``chat(messages)`` returns
    it whole. Every failure is an ``LLMError``; 429 and 5xx are retried with backoff."""

    def __init__(self, config: LLMConfig):
        self.config = config
        self._client = None

    @property
    def client(self):
        if self._client is None:
            import openai

            self._client = openai.OpenAI(
                base_url=self.config.base_url,  # explicit: never OPENAI_BASE_URL
                api_key=self.config.api_key or NO_KEY,
                timeout=self.config.timeout,
                max_retries=0,  # retries are ours, below
            )
        return self._client

    def _create(self, messages: Sequence[dict], stream: bool):
        """The request, retried on 429 and 5xx; openai's errors become ``LLMError``."""
        import openai

        cfg = self.config
        for attempt in range(cfg.retries + 1):
            try:
                return self.client.chat.completions.create(
                    model=cfg.model,
                    messages=list(messages),
                    stream=stream,
                    max_tokens=cfg.max_tokens,
                    temperature=cfg.temperature,
                )
            except (openai.RateLimitError, openai.InternalServerError) as exc:
                kind = "rate_limited" if isinstance(exc, openai.RateLimitError) else "server"
                wait = _retry_after(exc)
                wait = cfg.backoff * 2**attempt if wait is None else wait
                if attempt == cfg.retries or wait > cfg.max_backoff:
                    raise LLMError(kind, f"model server answered {exc.status_code}") from exc
                log.info("model server answered %s; retrying in %.1f s", exc.status_code, wait)
                time.sleep(wait)
            except openai.APIStatusError as exc:
                raise LLMError("server", f"model server answered {exc.status_code}") from exc
            except openai.APITimeoutError as exc:
                raise LLMError("timeout", "model server timed out") from exc
            except openai.APIConnectionError as exc:
                raise LLMError("unreachable", f"model server unreachable: {exc}") from exc
            except (openai.OpenAIError, ValueError, TypeError) as exc:
                raise LLMError("malformed", f"malformed reply: {exc}") from exc
        raise AssertionError("unreachable")

    def stream(self, messages: Sequence[dict]) -> Iterator[str]:
        """The reply's text, piece by piece; ``LLMError`` on failure, also midway."""
        import openai

        deadline = time.monotonic() + self.config.total_timeout
        chunks = self._create(messages, stream=True)
        empty = True
        try:
            for chunk in chunks:
                if time.monotonic() > deadline:
                    raise LLMError("timeout", "model reply took too long")
                if not getattr(chunk, "choices", None):
                    continue  # keep-alives, usage-only chunks
                delta = chunk.choices[0].delta
                text = getattr(delta, "content", None) if delta is not None else None
                if text is not None and not isinstance(text, str):
                    raise LLMError("malformed", "reply content is not text")
                if text:
                    empty = False
                    yield text
            if empty:
                raise LLMError("malformed", "the reply held no text")
        except openai.APITimeoutError as exc:
            raise LLMError("timeout", "model server timed out") from exc
        except openai.APIConnectionError as exc:
            raise LLMError("unreachable", f"model connection lost: {exc}") from exc
        except (openai.OpenAIError, ValueError, TypeError, AttributeError) as exc:
            raise LLMError("malformed", f"malformed reply: {exc}") from exc
        finally:
            close = getattr(chunks, "close", None)
            if close:
                close()

    def reply(self, messages: Sequence[dict]) -> Iterator[str]:
        """The reply's text in pieces: streamed, or whole as one piece (``config.stream``)."""
        if self.config.stream:
            yield from self.stream(messages)
        else:
            yield self.chat(messages)

    def chat(self, messages: Sequence[dict]) -> str:
        """The whole reply's text (no streaming)."""
        reply = self._create(messages, stream=False)
        try:
            text = reply.choices[0].message.content
        except (AttributeError, IndexError, TypeError) as exc:
            raise LLMError("malformed", "reply has no message") from exc
        if not isinstance(text, str) or not text.strip():
            raise LLMError("malformed", "the reply held no text")
        return text
