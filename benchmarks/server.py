"""
A fast chat-completions SSE server for benchmarks: every body is built before the first
request, so serving one is a single ``transport.write`` and the server is never the
bottleneck (the runner checks its CPU time against the client's).

The request's ``model`` names the body: ``"<framing>-<tokens>"``, e.g. ``"per-event-100000"``.
``bulk`` packs many events per HTTP chunk (64 KiB), ``per-event`` gives each event its own
HTTP chunk, as LLM servers flush them.

    python -m benchmarks.server --port 0     # prints "PORT <n>" when ready
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
from typing import Final

BULK_CHUNK: Final = 64 * 1024
CONFIGS: Final = (
    ("bulk", 100_000),
    ("per-event", 100_000),
    ("per-event", 200),
    ("per-event", 5),
)
_MODEL_RE: Final = re.compile(rb'"model"\s*:\s*"([^"]+)"')


def token(index: int) -> str:
    """
    The benchmark's deterministic token number *index* (with some non-ASCII text).
    """
    return f" w{index % 97}é" if index % 10 == 0 else f" w{index % 97}"


def expected_text(tokens: int) -> str:
    return "".join(token(i) for i in range(tokens))


def events(tokens: int) -> list[bytes]:
    head = '{"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1700000000,'
    head += '"model":"gpt-4","choices":[{"index":0,"delta":'
    out = [f'data: {head}{{"role":"assistant","content":""}},"finish_reason":null}}]}}\n\n']
    for i in range(tokens):
        content = json.dumps({"content": token(i)}, ensure_ascii=False)
        out.append(f'data: {head}{content},"finish_reason":null}}]}}\n\n')
    out.append(f'data: {head}{{}},"finish_reason":"stop"}}]}}\n\n')
    out.append("data: [DONE]\n\n")
    return [event.encode() for event in out]


def _chunked(pieces: list[bytes]) -> bytes:
    return b"".join(b"%x\r\n%b\r\n" % (len(p), p) for p in pieces) + b"0\r\n\r\n"


def build_bodies() -> dict[bytes, bytes]:
    head = (
        b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
        b"cache-control: no-cache\r\ntransfer-encoding: chunked\r\n\r\n"
    )
    bodies = {}
    for framing, tokens in CONFIGS:
        evs = events(tokens)
        if framing == "bulk":
            raw = b"".join(evs)
            pieces = [raw[i : i + BULK_CHUNK] for i in range(0, len(raw), BULK_CHUNK)]
        else:
            pieces = evs
        bodies[f"{framing}-{tokens}".encode()] = head + _chunked(pieces)
    return bodies


class _Protocol(asyncio.Protocol):
    def __init__(self, bodies: dict[bytes, bytes]) -> None:
        self.bodies = bodies
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            head_end = self.buffer.find(b"\r\n\r\n")
            if head_end < 0:
                return
            head = self.buffer[:head_end].lower()
            match = re.search(rb"content-length:\s*(\d+)", head)
            length = int(match.group(1)) if match else 0
            end = head_end + 4 + length
            if len(self.buffer) < end:
                return
            body, self.buffer = self.buffer[head_end + 4 : end], self.buffer[end:]
            model = _MODEL_RE.search(body)
            reply = self.bodies.get(model.group(1) if model else b"")
            assert self.transport is not None
            if reply is None:
                self.transport.write(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n")
            else:
                self.transport.write(reply)


async def _main(port: int) -> None:
    bodies = build_bodies()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: _Protocol(bodies), "127.0.0.1", port, backlog=4096)
    print(f"PORT {server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    asyncio.run(_main(parser.parse_args().port))


if __name__ == "__main__":
    main()
