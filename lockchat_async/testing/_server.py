"""
A Lockchat/OpenAI-compatible chat-completions server for demos and tests.

It is a real HTTP/1.1 server on a real loopback socket, written directly on anyio sockets so
that it controls every byte it writes and when: scripted faults can split a UTF-8 character
across writes, drop the connection without the chunked terminator, or stall forever.
"""

from __future__ import annotations

import json
import logging
import re
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Final

import anyio
import anyio.abc
import anyio.from_thread
import anyio.lowlevel

__all__ = ["LockchatServer", "Scenario", "echo_reply", "serve", "serve_in_thread", "tokenize"]

logger = logging.getLogger("lockchat_async.testing")

_MAX_HEAD: Final = 64 * 1024
_MAX_BODY: Final = 16 * 1024 * 1024
_ENDLESS_LIMIT: Final = 64 * 1024 * 1024  # an "endless" line still stops by itself
_CREATED: Final = 1_700_000_000  # fixed, so replies are byte-for-byte deterministic
_TOKEN_RE: Final = re.compile(r"\s*\S+|\s+$")
_REASONS: Final = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    408: "Request Timeout",
    409: "Conflict",
    413: "Payload Too Large",
    422: "Unprocessable Entity",
    425: "Too Early",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


def echo_reply(messages: Sequence[dict[str, Any]]) -> str:
    """
    The default reply: ``"You said: "`` followed by the last user message.
    """
    last = next((m.get("content") for m in reversed(messages) if m.get("role") == "user"), None)
    return f"You said: {last}" if isinstance(last, str) and last else "Hello! Send me a message."


def tokenize(text: str) -> list[str]:
    """
    Split a reply into the tokens the server streams: words with their leading whitespace.
    """
    return _TOKEN_RE.findall(text) or ([text] if text else [])


@dataclass(frozen=True, slots=True)
class Scenario:
    """
    How the server answers one chat-completions request. The defaults are a normal answer;
    each field scripts one fault, and fields combine.

    Args:
        status: Answer with this HTTP status and an OpenAI-style JSON error body.
        retry_after: With ``status``, send ``Retry-After`` (seconds).
        model_missing: Send Lockchat's line ``The model: `<model>` does not exist`` instead.
        error_after: Send an ``{"error": ...}`` frame after this many tokens.
        disconnect_after: Drop the connection after this many tokens, with no terminator.
        stall_after: Stop sending after this many tokens and hang until the client leaves.
        malformed_after: Send an event whose JSON is broken after this many tokens.
        endless_after: After this many tokens, start a line that never ends.
        done: Send ``data: [DONE]`` at the end.
        finish: Send the final chunk with ``finish_reason``.
        first_token_delay: Seconds to wait before the first token.
        token_delay: Seconds to wait before each later token.
        split_utf8: Write each event in two writes, split inside a multi-byte character.
        crlf: Use CRLF line endings.
        keepalive: Send a ``: ping`` comment before every event.
        usage: Send a usage-only chunk (``choices: []``) before ``[DONE]``.
        json_body: Ignore ``stream`` and answer a whole ``chat.completion`` JSON body.
        empty_body: Answer 200 ``text/event-stream`` with an empty body.
        reply: The reply text, instead of the server's reply function.

    .. versionadded:: 0.1.0
    """

    status: int = 200
    retry_after: float | None = None
    model_missing: bool = False
    error_after: int | None = None
    disconnect_after: int | None = None
    stall_after: int | None = None
    malformed_after: int | None = None
    endless_after: int | None = None
    done: bool = True
    finish: bool = True
    first_token_delay: float = 0.0
    token_delay: float = 0.0
    split_utf8: bool = False
    crlf: bool = False
    keepalive: bool = False
    usage: bool = False
    json_body: bool = False
    empty_body: bool = False
    reply: str | None = None


@dataclass(frozen=True, slots=True)
class _Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class _Disconnect(Exception):
    """
    The scenario drops the connection here.
    """


class LockchatServer:
    """
    The bundled server. Use ``async with LockchatServer() as server`` (in your event loop) or
    `serve_in_thread` (from any code); ``server.base_url`` is where it listens.

    Args:
        reply: ``messages -> str``; defaults to `echo_reply`.
        token_delay: Seconds between tokens for normal answers (0 = as fast as possible).
        api_key: When set, requests must send ``Authorization: Bearer <api_key>``.
        host: Interface to bind; loopback by default.
        port: Port to bind; 0 picks a free one.

    .. versionadded:: 0.1.0
    """

    def __init__(
        self,
        *,
        reply: Callable[[Sequence[dict[str, Any]]], str] = echo_reply,
        token_delay: float = 0.0,
        api_key: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        scenarios: Sequence[Scenario] = (),
    ) -> None:
        self._reply = reply
        self._token_delay = token_delay
        self._api_key = api_key
        self._host = host
        self._port = port
        self._scenarios: deque[Scenario] = deque(scenarios)
        #: JSON bodies of the chat-completions requests received, in order.
        self.requests: list[dict[str, Any]] = []
        #: Headers of those requests, in order.
        self.request_headers: list[dict[str, str]] = []
        self._listener: anyio.abc.Listener[anyio.abc.SocketStream] | None = None
        self._task_group: anyio.abc.TaskGroup | None = None
        self._counter = 0
        self.port = 0
        #: Connections currently open, and accepted in all (for hygiene tests).
        self.open_connections = 0
        self.connections_accepted = 0

    @property
    def base_url(self) -> str:
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self.port}"

    def script(self, *scenarios: Scenario, times: int = 1) -> None:
        """
        Queue scenarios for the next requests, in order (each one used once, ``times`` times).
        Requests beyond the queue get a normal answer.
        """
        for _ in range(times):
            self._scenarios.extend(scenarios)

    def reset_script(self) -> None:
        """
        Drop scenarios not used yet, e.g. when a request they were meant for never arrived
        because the client gave up first.
        """
        self._scenarios.clear()

    async def __aenter__(self) -> LockchatServer:
        listener = await anyio.create_tcp_listener(local_host=self._host, local_port=self._port)
        self._listener = listener
        self.port = listener.extra(anyio.abc.SocketAttribute.local_port)
        task_group = anyio.create_task_group()
        await task_group.__aenter__()
        self._task_group = task_group
        task_group.start_soon(listener.serve, self._handle)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._task_group is not None and self._listener is not None
        self._task_group.cancel_scope.cancel()
        await self._task_group.__aexit__(None, None, None)
        await self._listener.aclose()

    async def serve_forever(self) -> None:
        """
        Serve until cancelled (used by ``lockchat serve``).
        """
        async with self:
            await anyio.sleep_forever()

    # --- HTTP ----------------------------------------------------------------------------------

    async def _handle(self, stream: anyio.abc.SocketStream) -> None:
        self.open_connections += 1
        self.connections_accepted += 1
        try:
            async with stream:
                buffer = bytearray()
                while True:
                    request = await _read_request(stream, buffer)
                    if request is None:
                        return
                    if not await self._respond(stream, request):
                        return
        except (anyio.BrokenResourceError, anyio.ClosedResourceError, _Disconnect, OSError):
            pass  # the client went away, or a scenario dropped the connection
        except anyio.EndOfStream:
            pass
        except Exception:  # a bug here must not take the whole server down
            logger.exception("lockchat test server: request handler failed")
        finally:
            self.open_connections -= 1

    async def _respond(self, stream: anyio.abc.SocketStream, request: _Request) -> bool:
        path = request.path.split("?", 1)[0].rstrip("/")
        if self._api_key is not None and request.headers.get("authorization") != (
            f"Bearer {self._api_key}"
        ):
            await _send_error(stream, 401, "Incorrect API key provided.", "invalid_api_key")
            return True
        if path in ("/v1/models", "/models") and request.method == "GET":
            models = [{"id": m, "object": "model", "owned_by": "lockchat"} for m in _MODELS]
            await _send_json(stream, 200, {"object": "list", "data": models})
            return True
        if path not in ("/v1/chat/completions", "/chat/completions"):
            await _send_error(stream, 404, f"Unknown path {request.path!r}.", "not_found")
            return True
        if request.method != "POST":
            await _send_error(stream, 405, "Use POST.", "method_not_allowed")
            return True
        try:
            body = json.loads(request.body)
            messages = body["messages"]
            model = body["model"]
            if not isinstance(messages, list) or not isinstance(model, str):
                raise TypeError
        except (ValueError, KeyError, TypeError):
            await _send_error(
                stream, 400, "Expected a JSON body with 'model' and 'messages'.", "invalid_request"
            )
            return True
        self.requests.append(body)
        self.request_headers.append(request.headers)
        scenario = self._scenarios.popleft() if self._scenarios else Scenario()
        self._counter += 1
        if scenario.status >= 400:
            headers = {}
            if scenario.retry_after is not None:
                headers["retry-after"] = f"{scenario.retry_after:g}"
            await _send_error(
                stream,
                scenario.status,
                f"Scripted error {scenario.status}.",
                "scripted",
                headers=headers,
            )
            return True
        text = scenario.reply if scenario.reply is not None else self._reply(messages)
        completion_id = f"chatcmpl-lockchat-{self._counter}"
        if scenario.json_body or not body.get("stream", False):
            if scenario.stall_after is not None:
                await _wait_for_disconnect(stream)
            await anyio.sleep(scenario.first_token_delay)
            await _send_json(stream, 200, _completion(completion_id, model, text))
            return True
        try:
            await self._stream(stream, scenario, completion_id, model, text, body)
        except _EndResponse:
            pass
        return True

    async def _stream(
        self,
        stream: anyio.abc.SocketStream,
        scenario: Scenario,
        completion_id: str,
        model: str,
        text: str,
        body: dict[str, Any],
    ) -> None:
        head = (
            "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream; charset=utf-8\r\n"
            "cache-control: no-cache\r\ntransfer-encoding: chunked\r\n\r\n"
        )
        await stream.send(head.encode())
        eol = b"\r\n" if scenario.crlf else b"\n"

        async def event(data: bytes) -> None:
            if scenario.keepalive:
                await _chunk(stream, b": ping" + eol + eol)
            payload = b"data: " + data + eol + eol
            if scenario.split_utf8:
                cut = _utf8_cut(payload)
                await _chunk(stream, payload[:cut])
                await anyio.lowlevel.checkpoint()
                await _chunk(stream, payload[cut:])
            else:
                await _chunk(stream, payload)

        def chunk_json(delta: dict[str, Any], finish: str | None = None) -> bytes:
            return _dumps(
                {
                    "id": completion_id,
                    "object": "chat.completion.chunk",
                    "created": _CREATED,
                    "model": model,
                    "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
                }
            )

        if scenario.empty_body:
            await stream.send(b"0\r\n\r\n")
            return
        if scenario.model_missing:
            await _chunk(stream, f"The model: `{model}` does not exist".encode() + eol + eol)
            await stream.send(b"0\r\n\r\n")
            return
        await event(chunk_json({"role": "assistant", "content": ""}))
        tokens = tokenize(text)
        delay = scenario.token_delay or self._token_delay
        for index, token in enumerate(tokens):
            await self._fault_point(stream, scenario, index, model, event)
            wait = scenario.first_token_delay if index == 0 else delay
            if wait:
                await anyio.sleep(wait)
            await event(chunk_json({"content": token}))
        await self._fault_point(stream, scenario, len(tokens), model, event)
        if scenario.finish:
            await event(chunk_json({}, "stop"))
        options = body.get("stream_options")
        if scenario.usage or (isinstance(options, dict) and options.get("include_usage")):
            prompt = sum(len(str(m.get("content", "")).split()) for m in body["messages"])
            usage = {
                "prompt_tokens": prompt,
                "completion_tokens": len(tokens),
                "total_tokens": prompt + len(tokens),
            }
            await event(
                _dumps(
                    {
                        "id": completion_id,
                        "object": "chat.completion.chunk",
                        "created": _CREATED,
                        "model": model,
                        "choices": [],
                        "usage": usage,
                    }
                )
            )
        if scenario.done:
            await event(b"[DONE]")
        await stream.send(b"0\r\n\r\n")

    async def _fault_point(
        self,
        stream: anyio.abc.SocketStream,
        scenario: Scenario,
        sent: int,
        model: str,
        event: Callable[[bytes], Any],
    ) -> None:
        if scenario.error_after == sent:
            await event(_dumps({"error": {"message": "Scripted stream error.", "type": "server"}}))
            await stream.send(b"0\r\n\r\n")
            raise _EndResponse
        if scenario.malformed_after == sent:
            await event(b'{"choices": [{"delta": {"content": "oops"')
            await stream.send(b"0\r\n\r\n")
            raise _EndResponse
        if scenario.disconnect_after == sent:
            raise _Disconnect
        if scenario.stall_after == sent:
            await _wait_for_disconnect(stream)
        if scenario.endless_after == sent:
            await _chunk(stream, b"data: ")
            piece = b"x" * 65536
            for _ in range(_ENDLESS_LIMIT // len(piece)):
                await _chunk(stream, piece)
            raise _Disconnect


class _EndResponse(Exception):
    """
    The scenario ended the response early (but cleanly).
    """


_MODELS: Final = ("gpt-4", "gpt-3.5-turbo")


def _dumps(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def _completion(completion_id: str, model: str, text: str) -> dict[str, Any]:
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": _CREATED,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 0, "completion_tokens": len(tokenize(text)), "total_tokens": 0},
    }


async def _wait_for_disconnect(stream: anyio.abc.SocketStream) -> None:
    # Go silent, but notice when the client gives up, so no handler is left behind.
    while True:
        await stream.receive()


def _utf8_cut(payload: bytes) -> int:
    # Cut inside the first multi-byte character if there is one, else in the middle.
    for index, byte in enumerate(payload):
        if byte >= 0xC0:
            return index + 1
    return max(1, len(payload) // 2)


async def _chunk(stream: anyio.abc.SocketStream, data: bytes) -> None:
    await stream.send(b"%x\r\n%b\r\n" % (len(data), data))


async def _send_json(
    stream: anyio.abc.SocketStream,
    status: int,
    payload: Any,
    *,
    headers: dict[str, str] | None = None,
) -> None:
    body = _dumps(payload)
    lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}"]
    lines.append("content-type: application/json")
    lines.append(f"content-length: {len(body)}")
    lines.extend(f"{name}: {value}" for name, value in (headers or {}).items())
    await stream.send(("\r\n".join(lines) + "\r\n\r\n").encode() + body)


async def _send_error(
    stream: anyio.abc.SocketStream,
    status: int,
    message: str,
    code: str,
    *,
    headers: dict[str, str] | None = None,
) -> None:
    payload = {"error": {"message": message, "type": "invalid_request_error", "code": code}}
    await _send_json(stream, status, payload, headers=headers)


async def _read_request(stream: anyio.abc.SocketStream, buffer: bytearray) -> _Request | None:
    while b"\r\n\r\n" not in buffer:
        if len(buffer) > _MAX_HEAD:
            raise _Disconnect
        try:
            buffer += await stream.receive()
        except (anyio.EndOfStream, anyio.BrokenResourceError):
            return None
    head, _, rest = bytes(buffer).partition(b"\r\n\r\n")
    request_line, *header_lines = head.decode("latin-1").split("\r\n")
    try:
        method, target, _version = request_line.split(" ", 2)
    except ValueError:
        raise _Disconnect from None
    headers: dict[str, str] = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0") or 0)
    if length > _MAX_BODY:
        raise _Disconnect
    while len(rest) < length:
        try:
            rest += await stream.receive()
        except (anyio.EndOfStream, anyio.BrokenResourceError):
            return None
    buffer[:] = rest[length:]
    return _Request(method, target, headers, rest[:length])


@asynccontextmanager
async def serve(
    *,
    reply: Callable[[Sequence[dict[str, Any]]], str] = echo_reply,
    token_delay: float = 0.0,
    api_key: str | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    scenarios: Sequence[Scenario] = (),
) -> AsyncIterator[str]:
    """
    Run the bundled server in the current event loop; yields its base URL.

    ``async with serve() as base_url:`` picks a free port and always shuts down on exit.

    .. versionadded:: 0.1.0
    """
    server = LockchatServer(
        reply=reply,
        token_delay=token_delay,
        api_key=api_key,
        host=host,
        port=port,
        scenarios=scenarios,
    )
    async with server:
        yield server.base_url


@contextmanager
def serve_in_thread(
    *,
    reply: Callable[[Sequence[dict[str, Any]]], str] = echo_reply,
    token_delay: float = 0.0,
    api_key: str | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    scenarios: Sequence[Scenario] = (),
    backend: str = "asyncio",
) -> Iterator[LockchatServer]:
    """
    Run the bundled server on its own event loop in a background thread.

    Works from synchronous code and from any async framework (this is what the pytest
    fixture uses). ``server.script(...)`` may be called from the caller's thread.

    .. versionadded:: 0.1.0
    """
    server = LockchatServer(
        reply=reply,
        token_delay=token_delay,
        api_key=api_key,
        host=host,
        port=port,
        scenarios=scenarios,
    )
    with (
        anyio.from_thread.start_blocking_portal(backend) as portal,
        portal.wrap_async_context_manager(server),
    ):
        yield server
