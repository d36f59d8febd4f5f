"""Shared test helpers: SSE bodies and byte streams with awkward splits."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from typing import Any

import anyio
import httpx


def chunk_data(content: str | None = None, *, finish: str | None = None, **extra: Any) -> bytes:
    delta: dict[str, Any] = {} if content is None else {"content": content}
    payload = {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "model": "gpt-4",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        **extra,
    }
    return b"data: " + json.dumps(payload).encode() + b"\n\n"


def sse_body(tokens: Sequence[str], *, done: bool = True, finish: bool = True) -> bytes:
    """A well-formed chat-completions SSE body streaming *tokens*."""
    out = (
        b'data: {"id":"chatcmpl-1","model":"gpt-4","choices":[{"delta":{"role":"assistant"}}]}\n\n'
    )
    out += b"".join(chunk_data(token) for token in tokens)
    if finish:
        out += chunk_data(None, finish="stop")
    if done:
        out += b"data: [DONE]\n\n"
    return out


class ChunkStream(httpx.AsyncByteStream):
    """Yields the given chunks, then optionally raises or hangs; records aclose()."""

    def __init__(
        self,
        chunks: Sequence[bytes],
        *,
        error: Exception | None = None,
        hang: bool = False,
    ) -> None:
        self.chunks = list(chunks)
        self.error = error
        self.hang = hang
        self.closed = False
        self.sent = 0

    def __aiter__(self) -> AsyncIterator[bytes]:
        # A class-based iterator rather than an async generator, so that stopping early
        # leaves nothing for the garbage collector to finalize.
        return self

    async def __anext__(self) -> bytes:
        if self.sent < len(self.chunks):
            self.sent += 1
            return self.chunks[self.sent - 1]
        if self.error is not None:
            raise self.error
        if self.hang:
            await anyio.sleep_forever()
        raise StopAsyncIteration

    async def aclose(self) -> None:
        self.closed = True


def bytewise(body: bytes) -> list[bytes]:
    return [body[i : i + 1] for i in range(len(body))]


def sse_response(
    body: bytes | Sequence[bytes], **kwargs: Any
) -> tuple[httpx.Response, ChunkStream]:
    chunks = [body] if isinstance(body, bytes) else list(body)
    stream = ChunkStream(chunks, **kwargs)
    return httpx.Response(200, headers={"content-type": "text/event-stream"}, stream=stream), stream
