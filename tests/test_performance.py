"""Regression check of decoding speed: a ratio to a naive decoder timed in the same run.

Never an absolute time (machines differ), and generous enough not to depend on timing luck:
the measured ratio is about 0.5 with orjson (installed with the dev extras) and 0.85 with the
standard library's json, the bound is 1.0 ("never slower than the straightforward way").
The real measurements live in benchmarks/.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import pytest
from coverage import Coverage

from lockchat_async import SSEDecoder
from lockchat_async._chunks import ChunkParser


def _events(count: int) -> list[bytes]:
    head = '{"id":"c","object":"chat.completion.chunk","created":1,"model":"gpt-4","choices":'
    delta = '[{{"index":0,"delta":{{"content":" w{}"}},"finish_reason":null}}]}}'
    return [f"data: {head}{delta.format(i)}\n\n".encode() for i in range(count)]


def naive_tokens(chunks: list[bytes]) -> list[str]:
    """What a straightforward client does: decode, split lines, json.loads each data line."""
    buffer, tokens = "", []
    for chunk in chunks:
        buffer += chunk.decode("utf-8")
        *lines, buffer = buffer.split("\n")
        for line in lines:
            if line.startswith("data: ") and line != "data: [DONE]":
                content = json.loads(line[6:])["choices"][0]["delta"].get("content")
                if content:
                    tokens.append(content)
    return tokens


def our_tokens(chunks: list[bytes]) -> list[str]:
    """The client's hot path: fast single-event path, general path, chunk parser."""
    decoder, parser = SSEDecoder(max_event_bytes=1 << 20), ChunkParser(model="m")
    tokens = []
    for chunk in chunks:
        single = decoder.feed_single(chunk)
        datas = [single] if single is not None else [e[1] for e in decoder.feed_raw(chunk)]
        for data in datas:
            token = parser.feed(data)
            if token is not None:
                tokens.append(token)
    return tokens


def _cpu(function: Callable[[list[bytes]], list[str]], chunks: list[bytes]) -> float:
    started = time.process_time()
    function(chunks)
    return time.process_time() - started


def _ratio(chunks: list[bytes]) -> float:
    # Measure untraced code: coverage's tracer (on in the test command) would distort it.
    coverage = Coverage.current()
    if coverage is not None:
        coverage.stop()
    try:
        # Interleaved rounds, best of each: both sides see the same machine noise.
        ours, naive = float("inf"), float("inf")
        for _ in range(9):
            ours = min(ours, _cpu(our_tokens, chunks))
            naive = min(naive, _cpu(naive_tokens, chunks))
    finally:
        if coverage is not None:
            coverage.start()
    return ours / naive


@pytest.mark.parametrize(
    "framing", [pytest.param("per-event", id="per-event"), pytest.param("bulk", id="bulk")]
)
def test_decoding_is_not_slower_than_naive(framing: str) -> None:
    """Our decoder+parser is at most as costly as a naive line-splitting decoder."""
    events = _events(20_000)
    if framing == "bulk":
        body = b"".join(events)
        chunks = [body[i : i + 65536] for i in range(0, len(body), 65536)]
    else:
        chunks = events
    assert our_tokens(chunks) == naive_tokens(chunks)  # same answer first
    ratio = _ratio(chunks)
    assert ratio < 1.0, f"{framing}: {ratio:.2f}x the naive decoder's CPU time"
