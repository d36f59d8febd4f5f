"""
The client: one shared ``httpx.AsyncClient``, streams with a bounded retry loop.

I/O lives here and only here; parsing is delegated to the sans-I/O `SSEDecoder` and
`ChunkParser`.
"""

from __future__ import annotations

import json
import logging
import math
import zlib
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Iterable, Mapping
from types import TracebackType
from typing import Any, ClassVar, Final

import anyio
import httpx

from ._chunks import ChunkParser, error_from_payload, model_missing_error
from ._exceptions import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    LockchatError,
    ProtocolError,
    StreamInterrupted,
    UsageError,
    _status_error_class,
)
from ._models import Message, build_body, validate_messages
from ._retry import backoff_delay, retry_after_seconds
from ._sse import SSEDecoder

__all__ = [
    "DEFAULT_LIMITS",
    "DEFAULT_MAX_EVENT_BYTES",
    "DEFAULT_MAX_RETRIES",
    "DEFAULT_TIMEOUT",
    "CompletionStream",
    "Lockchat",
]

logger = logging.getLogger("lockchat_async")

#: Connect quickly or fail; between two reads of a stream allow a slow model a minute.
DEFAULT_TIMEOUT: Final = httpx.Timeout(60.0, connect=10.0)
#: Enough connections for 1,000 concurrent streams on one client (httpx's default is 100).
DEFAULT_LIMITS: Final = httpx.Limits(max_connections=1000, max_keepalive_connections=100)
DEFAULT_MAX_RETRIES: Final = 2
#: Bound on one SSE line/event, and on a whole JSON body: far above any real chunk.
DEFAULT_MAX_EVENT_BYTES: Final = 1 << 20
#: The seed provider's user agent, kept so servers that expect Lockchat's app still accept us.
DEFAULT_USER_AGENT: Final = "ChatX/39 CFNetwork/1408.0.4 Darwin/22.5.0"

_INFLATE_STEP: Final = 64 * 1024
_ERROR_BODY_LIMIT: Final = 64 * 1024
_DRAIN_GRACE: Final = 1.0
_DRAIN_LIMIT: Final = 64 * 1024

SleepFn = Callable[[float], Awaitable[None]]


class _NotGiven:
    """
    Sentinel for "argument not given", because ``None`` is a meaningful value (no timeout).
    """

    def __repr__(self) -> str:
        return "NOT_GIVEN"

    def __bool__(self) -> bool:
        return False


NOT_GIVEN: Final = _NotGiven()


class _Secret:
    """
    Holds the API key so that no repr, log line or traceback locals summary can show it.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "'***'"


def _chat_url(base_url: str) -> str:
    # Accept both the Lockchat style (host only) and the OpenAI style (".../v1").
    base = base_url.rstrip("/")
    if base.endswith("/v1"):
        return base + "/chat/completions"
    return base + "/v1/chat/completions"


class Lockchat:
    """
    Async client for Lockchat and any OpenAI-compatible chat-completions server.

    One instance owns one ``httpx.AsyncClient`` whose connections all calls share; close it
    with ``await client.aclose()`` or use ``async with Lockchat() as client``.

    Args:
        base_url: Server root, e.g. ``http://127.0.0.1:8000`` or ``http://host/v1``.
            Defaults to `Lockchat.url`.
        api_key: Sent as ``Authorization: Bearer ...``; never shown in reprs or errors.
        timeout: Seconds, or an ``httpx.Timeout``. The read timeout is per read, i.e. the
            longest silence allowed between two chunks. ``None`` disables timeouts.
        max_retries: Retries after the first attempt, only before the first token.
        headers: Extra headers, merged over the default user agent.
        http_client: Your own ``httpx.AsyncClient``; the SDK then never closes it.
        max_event_bytes: Bound on one SSE line or event and on a JSON body.
        deadline: Seconds for a whole completion, retries included; ``None`` for none.
        sleep: Awaitable used to wait between retries (inject one in tests).

    .. versionadded:: 0.1.0
    """

    url: ClassVar[str] = "http://supertest.lockchat.app"
    supports_stream: ClassVar[bool] = True
    supports_gpt_35_turbo: ClassVar[bool] = True
    supports_gpt_4: ClassVar[bool] = True
    needs_auth: ClassVar[bool] = False
    models: ClassVar[tuple[str, ...]] = ("gpt-4", "gpt-3.5-turbo")

    def __init__(
        self,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout: float | httpx.Timeout | None | _NotGiven = NOT_GIVEN,
        max_retries: int = DEFAULT_MAX_RETRIES,
        headers: Mapping[str, str] | None = None,
        http_client: httpx.AsyncClient | None = None,
        max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
        deadline: float | None = None,
        sleep: SleepFn | None = None,
    ) -> None:
        if not isinstance(max_retries, int) or max_retries < 0:
            raise UsageError(f"expected max_retries to be an int >= 0, received {max_retries!r}")
        if not isinstance(max_event_bytes, int) or max_event_bytes < 1:
            raise UsageError(
                f"expected max_event_bytes to be an int >= 1, received {max_event_bytes!r}"
            )
        _check_deadline(deadline)
        self.base_url = (base_url or self.url).rstrip("/")
        try:
            url = httpx.URL(_chat_url(self.base_url))
        except httpx.InvalidURL as exc:
            raise UsageError(
                f"expected base_url to be an http(s) URL, received {base_url!r}"
            ) from exc
        if url.scheme not in ("http", "https"):
            raise UsageError(f"expected base_url to be an http(s) URL, received {base_url!r}")
        self._url = url
        self._api_key = _Secret(api_key) if api_key else None
        self.max_retries = max_retries
        self.max_event_bytes = max_event_bytes
        self.deadline = deadline
        self._sleep: SleepFn = sleep if sleep is not None else anyio.sleep
        # httpx.Headers masks Authorization in its repr, so the key cannot leak from here.
        self._headers = httpx.Headers({"user-agent": DEFAULT_USER_AGENT})
        self._headers.update(headers or {})
        if self._api_key is not None:
            self._headers["authorization"] = f"Bearer {self._api_key.get()}"
        if http_client is None:
            resolved = DEFAULT_TIMEOUT if isinstance(timeout, _NotGiven) else timeout
            self._http = httpx.AsyncClient(timeout=resolved, limits=DEFAULT_LIMITS)
            self._owns_http = True
            self._timeout: Any = httpx.USE_CLIENT_DEFAULT
        else:
            self._http = http_client
            self._owns_http = False
            # "Not given" keeps the caller's own client timeouts; anything else overrides them.
            self._timeout = httpx.USE_CLIENT_DEFAULT if isinstance(timeout, _NotGiven) else timeout
        self._closed = False

    def __repr__(self) -> str:
        key = ", api_key='***'" if self._api_key is not None else ""
        return f"Lockchat(base_url={self.base_url!r}{key}, max_retries={self.max_retries})"

    async def __aenter__(self) -> Lockchat:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """
        Close the shared connection pool (unless it is a caller's ``http_client``).
        """
        self._closed = True
        if self._owns_http:
            await self._http.aclose()

    @property
    def is_closed(self) -> bool:
        return self._closed

    def stream(
        self,
        model: str,
        messages: Iterable[Message],
        *,
        temperature: float = 0.7,
        deadline: float | None | _NotGiven = NOT_GIVEN,
        **params: Any,
    ) -> CompletionStream:
        """
        Start a streamed completion; use as ``async with client.stream(...) as s``.

        Leaving the ``async with`` block closes the response whatever happened, and the
        `CompletionStream` keeps ``text``, ``finish_reason``, ``usage`` etc. afterwards.

        Args:
            model: Model name, e.g. ``"gpt-4"``.
            messages: ``[{"role": ..., "content": ...}, ...]``, validated before any I/O.
            temperature: Sampling temperature.
            deadline: Override the client's total deadline for this call.
            params: Extra OpenAI parameters (``max_tokens``, ``top_p``, ``stop``...).

        .. versionadded:: 0.1.0
        """
        return self._open(model, messages, temperature, deadline, params, buffered=False)

    def create_completion(
        self,
        model: str,
        messages: Iterable[Message],
        stream: bool = True,
        *,
        temperature: float = 0.7,
        deadline: float | None | _NotGiven = NOT_GIVEN,
        **params: Any,
    ) -> AsyncGenerator[str, None]:
        """
        Return an async generator of the reply's tokens; with ``stream=False`` it yields the
        whole text once. Arguments are validated here, before any I/O.

        The generator is the stream itself, with no wrapping layer and so no per-token cost.
        Closing it (by exhaustion, ``aclose()`` or cancellation) closes the response. For a
        deterministic close on ``break``, wrap it in ``contextlib.aclosing`` or use `stream`.

        .. versionadded:: 0.1.0
        """
        completion = self._open(model, messages, temperature, deadline, params, buffered=not stream)
        return completion.__aiter__()

    async def complete(
        self,
        model: str,
        messages: Iterable[Message],
        *,
        temperature: float = 0.7,
        deadline: float | None | _NotGiven = NOT_GIVEN,
        **params: Any,
    ) -> str:
        """
        Return the whole reply. Retries may happen at any point, since nothing was shown yet.

        .. versionadded:: 0.1.0
        """
        async with self._open(
            model, messages, temperature, deadline, params, buffered=True
        ) as completion:
            return await completion.read()

    def _open(
        self,
        model: str,
        messages: Iterable[Message],
        temperature: float,
        deadline: float | None | _NotGiven,
        params: Mapping[str, Any],
        *,
        buffered: bool,
    ) -> CompletionStream:
        if self._closed:
            raise UsageError("expected an open client, but aclose() was already called")
        body = build_body(
            model,
            validate_messages(messages),
            stream=not buffered,
            temperature=temperature,
            params=params,
        )
        if isinstance(deadline, _NotGiven):
            deadline = self.deadline
        _check_deadline(deadline)
        return CompletionStream(self, body, buffered=buffered, deadline=deadline)


def _check_deadline(deadline: float | None) -> None:
    if deadline is not None and not (isinstance(deadline, (int, float)) and deadline > 0):
        raise UsageError(f"expected deadline to be seconds > 0 or None, received {deadline!r}")


class CompletionStream:
    """
    One completion, async-iterable over its tokens, usable once.

    Get one from `Lockchat.stream`. ``text`` is everything received so far; ``attempts``
    counts HTTP requests made, retries included.

    .. versionadded:: 0.1.0
    """

    def __init__(
        self,
        client: Lockchat,
        body: dict[str, Any],
        *,
        buffered: bool,
        deadline: float | None,
    ) -> None:
        self._client = client
        self._body = body
        self._buffered = buffered
        self._deadline = deadline
        self._parser = ChunkParser(model=body["model"])
        self._iterator: AsyncGenerator[str, None] | None = None
        self.attempts = 0

    def __repr__(self) -> str:
        return (
            f"<CompletionStream model={self._body['model']!r} attempts={self.attempts} "
            f"finish_reason={self.finish_reason!r}>"
        )

    @property
    def text(self) -> str:
        """
        The text received so far (all of it once the stream is done).
        """
        return self._parser.text

    @property
    def finish_reason(self) -> str | None:
        return self._parser.finish_reason

    @property
    def model(self) -> str | None:
        """
        The model the server says answered (may differ from the one asked for).
        """
        return self._parser.model

    @property
    def id(self) -> str | None:
        return self._parser.id

    @property
    def usage(self) -> dict[str, Any] | None:
        """
        Token usage, when the server sent it (e.g. ``stream_options={"include_usage": True}``).
        """
        return self._parser.usage

    def __aiter__(self) -> AsyncGenerator[str, None]:
        if self._iterator is None:
            self._iterator = self._iterate()
        return self._iterator

    async def read(self) -> str:
        """
        Consume the rest of the stream and return the whole text.
        """
        async for _ in self:
            pass
        return self.text

    async def __aenter__(self) -> CompletionStream:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """
        Stop the stream and release its connection. Safe to call more than once.
        """
        if self._iterator is not None:
            await self._iterator.aclose()

    async def _iterate(self) -> AsyncGenerator[str, None]:
        client = self._client
        request = client._http.build_request(
            "POST",
            client._url,
            content=json.dumps(self._body, ensure_ascii=False).encode(),
            headers={
                **dict(client._headers.items()),
                "content-type": "application/json",
                "accept": "application/json" if self._buffered else "text/event-stream",
                # Compression only delays a token stream; we still inflate (bounded) if a
                # server compresses anyway.
                "accept-encoding": "gzip, deflate" if self._buffered else "identity",
            },
            timeout=client._timeout,
        )
        deadline_at = math.inf if self._deadline is None else anyio.current_time() + self._deadline
        yielded = False
        while True:
            self.attempts += 1
            if self.attempts > 1:
                self._parser = ChunkParser(model=self._body["model"])
            parser = self._parser
            response: httpx.Response | None = None
            chunks: AsyncIterator[bytes] | None = None
            whole = self._buffered  # yield the text once at the end instead of per token
            try:
                try:
                    response = await self._send(request, deadline_at)
                    if "json" in response.headers.get("content-type", ""):
                        # A server that ignored "stream": true and sent a chat.completion.
                        chunks = self._chunks(response, deadline_at)
                        raw = await _read_bounded(
                            response, chunks, client.max_event_bytes, truncate=False
                        )
                        parser.feed_completion(_parse_json(raw))
                        whole = True
                    else:
                        decoder = SSEDecoder(
                            max_event_bytes=client.max_event_bytes, report_unknown=True
                        )
                        chunks = self._chunks(response, deadline_at)
                        async for chunk in chunks:
                            # Per-token hot path: a chunk holding exactly one event. Same
                            # handling as in the loop below, minus a list and a tuple.
                            single = decoder.feed_single(chunk)
                            if single is not None:
                                token = parser.feed(single)
                                if token is not None and not whole:
                                    yielded = True
                                    yield token
                                elif parser.done:
                                    break
                                continue
                            for event, data, _, _ in decoder.feed_raw(chunk):
                                if event == "message":
                                    token = parser.feed(data)
                                    if token is not None and not whole:
                                        yielded = True
                                        yield token
                                    elif parser.done:
                                        break
                                else:
                                    _check_other_event(event, data, parser)
                            if parser.done:
                                break
                        decoder.close()
                        if parser.done:
                            await _drain(chunks)
                        elif parser.finish_reason is None:
                            raise self._ended_early(parser)
                except httpx.TimeoutException as exc:
                    raise APITimeoutError(
                        f"expected the server to answer within the timeout, but {_describe(exc)}",
                        request=_request_of(exc),
                    ) from exc
                except httpx.HTTPError as exc:
                    raise APIConnectionError(
                        f"expected a complete HTTP exchange with {client.base_url}, "
                        f"but {_describe(exc)}",
                        request=_request_of(exc),
                    ) from exc
                finally:
                    if response is not None:
                        with anyio.CancelScope(shield=True):
                            if chunks is not None:
                                await _aclose(chunks)
                            await response.aclose()
            except _DeadlineExceeded as exc:
                raise APITimeoutError(
                    f"expected the completion to finish within its deadline of {self._deadline} s "
                    f"({self.attempts} attempt(s)), but it did not",
                    partial_text=parser.text if yielded else "",
                ) from exc.__cause__
            except LockchatError as exc:
                if yielded:
                    raise StreamInterrupted(
                        f"the stream broke after {len(parser.parts)} token(s) had been yielded "
                        f"({type(exc).__name__}: {exc}); partial_text holds them",
                        partial_text=parser.text,
                    ) from exc
                exc.partial_text = ""
                delay = self._retry_delay(exc, deadline_at)
                if delay is None:
                    raise
                logger.info(
                    "lockchat_async: attempt %d of %d failed (%s: %s); retrying in %.2f s",
                    self.attempts,
                    client.max_retries + 1,
                    type(exc).__name__,
                    exc,
                    delay,
                )
            else:
                if self._buffered or (whole and parser.text):
                    yield parser.text
                return
            await client._sleep(delay)

    async def _send(self, request: httpx.Request, deadline_at: float) -> httpx.Response:
        client = self._client
        if client._closed:
            raise UsageError("expected an open client, but aclose() was already called")
        if deadline_at == math.inf:
            response = await client._http.send(request, stream=True)
        else:
            with anyio.CancelScope(deadline=deadline_at) as scope:
                response = await client._http.send(request, stream=True)
            if scope.cancelled_caught:
                raise _DeadlineExceeded
        if response.status_code >= 400:
            chunks = self._chunks(response, deadline_at)
            try:
                raw = await _read_bounded(response, chunks, _ERROR_BODY_LIMIT, truncate=True)
            finally:
                with anyio.CancelScope(shield=True):
                    await _aclose(chunks)
                    await response.aclose()
            raise _status_error(response, raw)
        return response

    def _chunks(self, response: httpx.Response, deadline_at: float) -> AsyncIterator[bytes]:
        # The caller closes what this returns (``_aclose`` in ``finally``) and each layer
        # closes the one below it, so no generator is left for the garbage collector.
        source: AsyncIterator[bytes]
        if response.is_stream_consumed:
            # httpx pre-reads (and already decodes) responses built from bytes, e.g. by
            # transports that are not network ones.
            source = _once(response.content)
        else:
            # The response's own byte stream rather than aiter_raw(): no extra generator
            # layer per chunk (which is per token when servers flush each event).
            stream = response.stream
            assert isinstance(stream, httpx.AsyncByteStream)
            source = stream.__aiter__()
            encoding = response.headers.get("content-encoding", "identity").strip().lower()
            if encoding not in ("", "identity"):
                source = _inflate(source, encoding)
        if deadline_at != math.inf:
            source = _until(source, deadline_at)
        return source

    def _retry_delay(self, exc: LockchatError, deadline_at: float) -> float | None:
        if not exc.retryable or self.attempts > self._client.max_retries:
            return None
        retry_after = (
            retry_after_seconds(exc.response.headers) if isinstance(exc, APIStatusError) else None
        )
        delay = backoff_delay(self.attempts, retry_after=retry_after)
        if anyio.current_time() + delay >= deadline_at:
            return None
        return delay

    def _ended_early(self, parser: ChunkParser) -> ProtocolError:
        got = f"after {len(parser.parts)} token(s)" if parser.parts else "before any token"
        return ProtocolError(
            f"expected the stream to end with data: [DONE] or a finish_reason, "
            f"but the body ended {got}",
            retryable=True,
        )


class _DeadlineExceeded(Exception):
    """
    Internal: the total deadline passed. Becomes `APITimeoutError` in the retry loop.
    """


def _check_other_event(event: str | None, raw: bytes, parser: ChunkParser) -> None:
    # Anything that is not a plain "message" event: bare lines with an unknown field name
    # (Lockchat's "The model: `gpt-4` does not exist"), and explicit "event: error" frames.
    data = raw.decode("utf-8", "replace")
    if event is None:
        missing = model_missing_error(data, partial_text=parser.text)
        if missing is not None:
            raise missing
    elif event == "error":
        try:
            payload: Any = json.loads(data)
        except ValueError:
            payload = data
        raise error_from_payload(payload, partial_text=parser.text)


async def _once(content: bytes) -> AsyncGenerator[bytes, None]:
    yield content


async def _aclose(iterator: AsyncIterator[bytes]) -> None:
    aclose = getattr(iterator, "aclose", None)
    if aclose is not None:
        await aclose()


async def _until(source: AsyncIterator[bytes], deadline_at: float) -> AsyncGenerator[bytes, None]:
    # Each read gets its own cancel scope; no scope is ever open across a ``yield``.
    try:
        while True:
            with anyio.CancelScope(deadline=deadline_at) as scope:
                try:
                    chunk = await source.__anext__()
                except StopAsyncIteration:
                    return
            if scope.cancelled_caught:
                raise _DeadlineExceeded
            yield chunk
    finally:
        await _aclose(source)


async def _drain(chunks: AsyncIterator[bytes]) -> None:
    # After [DONE] the body normally ends at once. Reading that end returns the connection
    # to the pool for reuse (closing mid-body would drop it); a server that keeps talking
    # gets a bounded grace period and byte budget, then the connection is simply closed.
    # The completion is already complete here, so a failure only costs the connection's
    # reuse; it is not an error of the completion.
    seen = 0
    with anyio.move_on_after(_DRAIN_GRACE):
        try:
            async for chunk in chunks:
                seen += len(chunk)
                if seen > _DRAIN_LIMIT:
                    break
        except (httpx.HTTPError, LockchatError, _DeadlineExceeded):
            pass


async def _inflate(source: AsyncIterator[bytes], encoding: str) -> AsyncGenerator[bytes, None]:
    # Inflate in bounded steps so a tiny compressed body cannot balloon in one call.
    if encoding == "gzip":
        wbits = 16 + zlib.MAX_WBITS
    elif encoding == "deflate":
        wbits = zlib.MAX_WBITS
    else:
        raise ProtocolError(
            f"expected Content-Encoding identity, gzip or deflate, received {encoding!r}"
        )
    inflater = zlib.decompressobj(wbits)
    try:
        async for raw in source:
            pending = raw
            while True:
                out = inflater.decompress(pending, _INFLATE_STEP)
                if not out:
                    break
                yield out
                pending = inflater.unconsumed_tail
    except zlib.error as exc:
        raise ProtocolError(
            f"expected a valid {encoding} body, but inflating failed: {exc}"
        ) from exc
    finally:
        await _aclose(source)


async def _read_bounded(
    response: httpx.Response, chunks: AsyncIterator[bytes], limit: int, *, truncate: bool
) -> bytes:
    parts: list[bytes] = []
    size = 0
    async for chunk in chunks:
        parts.append(chunk)
        size += len(chunk)
        if size > limit:
            if truncate:
                break
            raise ProtocolError(
                f"expected a JSON body of at most {limit} bytes (max_event_bytes), "
                f"received more from {response.request.url}"
            )
    return b"".join(parts)[:limit]


def _parse_json(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        text = raw[:120].decode("utf-8", "replace")
        raise ProtocolError(
            f"expected a JSON chat.completion body, received {text!r}", retryable=True
        ) from None


def _status_error(response: httpx.Response, raw: bytes) -> APIStatusError:
    text = raw.decode("utf-8", "replace")
    body: Any = text
    detail = text.strip()[:300]
    try:
        body = json.loads(text)
    except ValueError:
        pass
    else:
        error = body.get("error") if isinstance(body, dict) else None
        if isinstance(error, dict) and error.get("message"):
            detail = str(error["message"])
        elif isinstance(error, str):
            detail = error
    request = response.request
    message = (
        f"expected a 2xx response to {request.method} {request.url}, "
        f"received {response.status_code} {response.reason_phrase}"
    )
    if detail:
        message += f": {detail}"
    return _status_error_class(response.status_code)(message, response=response, body=body)


def _request_of(exc: httpx.HTTPError) -> httpx.Request | None:
    try:
        return exc.request
    except RuntimeError:
        return None


def _describe(exc: httpx.HTTPError) -> str:
    detail = str(exc) or "no detail"
    return f"{type(exc).__name__}: {detail}"
