"""
One benchmark measurement in its own process; prints one JSON line.

    python -m benchmarks.client CLIENT MODE URL

CLIENT is floor | httpx-sse | openai | lockchat | lockchat-stream. MODE is ``bulk``,
``per-event`` (100,000 tokens), ``concurrency`` (500 x 200 tokens) or ``ttft`` (time to first
token, median of 200 short streams). CPU is this process's user+sys time around the
streaming loop only (imports and start-up excluded); every run checks the text it received.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import statistics
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx

from benchmarks.server import expected_text

MESSAGES = [{"role": "user", "content": "bench"}]
BODY_HEADERS = {"content-type": "application/json"}
LIMITS = httpx.Limits(max_connections=1000, max_keepalive_connections=1000)
TIMEOUT = httpx.Timeout(60.0)

Streamer = Callable[[str], AsyncIterator[str]]


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _body(model: str) -> bytes:
    payload = {"model": model, "messages": MESSAGES, "stream": True, "temperature": 0.7}
    return json.dumps(payload).encode()


async def make_streamer(name: str, url: str) -> tuple[Streamer, Callable[[], Awaitable[None]]]:
    """
    Return ``(stream(model) -> async iterator of text pieces, aclose)`` for one client.
    """
    if name == "floor":
        http = httpx.AsyncClient(limits=LIMITS, timeout=TIMEOUT)

        async def floor(model: str) -> AsyncIterator[str]:
            # Raw bytes, no parsing: the cost of reading the stream with httpx at all.
            async with http.stream(
                "POST", url + "/v1/chat/completions", content=_body(model), headers=BODY_HEADERS
            ) as response:
                async for chunk in response.aiter_raw():
                    yield chunk  # type: ignore[misc]  # bytes, counted by the caller

        return floor, http.aclose
    if name == "httpx-sse":
        from httpx_sse import aconnect_sse

        http = httpx.AsyncClient(limits=LIMITS, timeout=TIMEOUT)

        async def sse(model: str) -> AsyncIterator[str]:
            async with aconnect_sse(
                http,
                "POST",
                url + "/v1/chat/completions",
                content=_body(model),
                headers=BODY_HEADERS,
            ) as source:
                async for event in source.aiter_sse():
                    if event.data == "[DONE]":
                        break
                    chunk = json.loads(event.data)
                    content = chunk["choices"][0]["delta"].get("content")
                    if content:
                        yield content

        return sse, http.aclose
    if name == "openai":
        from openai import AsyncOpenAI, AsyncStream

        # openai brings its own HTTP stack (an httpx fork) with its own pool defaults, which
        # allow 1,000 connections: used as a user would, AsyncOpenAI(...) with no http_client.
        client = AsyncOpenAI(base_url=url + "/v1", api_key="bench", max_retries=0, timeout=60.0)

        async def openai_stream(model: str) -> AsyncIterator[str]:
            stream = await client.chat.completions.create(
                model=model,
                messages=[{"role": "user", "content": "bench"}],
                stream=True,
            )
            assert isinstance(stream, AsyncStream)
            async for chunk in stream:
                if chunk.choices and chunk.choices[0].delta.content:
                    yield chunk.choices[0].delta.content

        return openai_stream, client.close
    if name in ("lockchat", "lockchat-stream"):
        from lockchat_async import Lockchat

        lockchat = Lockchat(base_url=url, timeout=TIMEOUT)
        if name == "lockchat":
            return (lambda model: lockchat.create_completion(model, MESSAGES)), lockchat.aclose

        async def via_stream(model: str) -> AsyncIterator[str]:
            async with lockchat.stream(model, MESSAGES) as completion:
                async for token in completion:
                    yield token

        return via_stream, lockchat.aclose
    raise SystemExit(f"unknown client {name!r}")


async def _consume(stream: Streamer, model: str, tokens: int, floor: bool) -> None:
    if floor:
        size = 0
        async for chunk in stream(model):
            size += len(chunk)
        if size < tokens * 80:
            raise SystemExit(f"floor read only {size} bytes")
        return
    parts = [piece async for piece in stream(model)]
    if "".join(parts) != expected_text(tokens):
        raise SystemExit(f"wrong text for {model}")


async def run(name: str, mode: str, url: str) -> dict[str, Any]:
    stream, aclose = await make_streamer(name, url)
    floor = name == "floor"
    # Warm up: connections, imports, caches.
    await _consume(stream, "per-event-200", 200, floor)
    result: dict[str, Any] = {"client": name, "mode": mode}
    if mode in ("bulk", "per-event"):
        tokens = 100_000
        cpu, wall = _cpu(), time.perf_counter()
        await _consume(stream, f"{mode}-{tokens}", tokens, floor)
        result["cpu"], result["wall"], result["tokens"] = (
            _cpu() - cpu,
            time.perf_counter() - wall,
            tokens,
        )
    elif mode == "concurrency":
        streams, tokens = 500, 200
        cpu, wall = _cpu(), time.perf_counter()
        outcomes = await asyncio.gather(
            *[_consume(stream, f"per-event-{tokens}", tokens, floor) for _ in range(streams)],
            return_exceptions=True,
        )
        result["cpu"], result["wall"] = _cpu() - cpu, time.perf_counter() - wall
        result["tokens"] = streams * tokens
        result["failures"] = sum(1 for o in outcomes if isinstance(o, BaseException))
    elif mode == "ttft":
        samples = []
        for _ in range(200):
            started = time.perf_counter()
            iterator = stream("per-event-5").__aiter__()
            await iterator.__anext__()
            samples.append(time.perf_counter() - started)
            async for _ in iterator:
                pass
        result["ttft"] = statistics.median(samples)
    else:
        raise SystemExit(f"unknown mode {mode!r}")
    await aclose()
    result["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result["orjson"] = _has_orjson()
    return result


def _has_orjson() -> bool:
    try:
        import orjson  # noqa: F401
    except ImportError:
        return False
    return os.environ.get("LOCKCHAT_NO_ORJSON") is None


def main() -> None:
    name, mode, url = sys.argv[1:4]
    print(json.dumps(asyncio.run(run(name, mode, url))))


if __name__ == "__main__":
    main()
