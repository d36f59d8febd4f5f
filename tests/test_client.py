"""Tests of the client: streaming, errors, bounded retries and resource release (mocked HTTP)."""

from __future__ import annotations

import contextlib
import gzip
import json
import logging
from collections.abc import Iterator
from typing import Any

import anyio
import httpx
import pytest
import respx
from helpers import ChunkStream, bytewise, chunk_data, sse_body, sse_response

import lockchat_async as lc
from lockchat_async import Lockchat

pytestmark = pytest.mark.anyio

BASE = "http://lockchat.test"
URL = BASE + "/v1/chat/completions"
MESSAGES = [{"role": "user", "content": "Hello, how are you?"}]


class Sleeps(list[float]):
    """An injected sleep that records the delays instead of waiting."""

    async def __call__(self, delay: float) -> None:
        self.append(delay)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def router() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False) as mock:
        yield mock


@pytest.fixture
def client(sleeps: Sleeps) -> Lockchat:
    return Lockchat(base_url=BASE, sleep=sleeps)


def route(router: respx.MockRouter, *responses: httpx.Response | Exception) -> respx.Route:
    return router.post(URL).mock(side_effect=list(responses))


async def collect(client: Lockchat, **kwargs: Any) -> list[str]:
    return [token async for token in client.create_completion("gpt-4", MESSAGES, **kwargs)]


# --- streaming ----------------------------------------------------------------------------------


async def test_streams_tokens_and_sends_the_seed_payload(
    router: respx.MockRouter, client: Lockchat
) -> None:
    """Tokens stream in order; the body has the seed's four fields plus passed-through params."""
    r = route(router, sse_response(sse_body(["I am", " doing", " well"]))[0])
    async with client:
        assert await collect(client, temperature=0.2, max_tokens=10) == ["I am", " doing", " well"]
    request = r.calls.last.request
    assert json.loads(request.content) == {
        "temperature": 0.2,
        "messages": MESSAGES,
        "model": "gpt-4",
        "stream": True,
        "max_tokens": 10,
    }
    assert request.headers["user-agent"] == "ChatX/39 CFNetwork/1408.0.4 Darwin/22.5.0"
    assert request.headers["accept"] == "text/event-stream"
    assert "authorization" not in request.headers


async def test_byte_by_byte_body_gives_the_same_tokens(
    router: respx.MockRouter, client: Lockchat
) -> None:
    """A body split into single bytes (UTF-8 split too) yields exactly the same tokens."""
    route(router, sse_response(bytewise(sse_body(["héllo", " wörld", " 😀"])))[0])
    assert await collect(client) == ["héllo", " wörld", " 😀"]


async def test_crlf_comments_and_usage_only_chunks(
    router: respx.MockRouter, client: Lockchat
) -> None:
    """CRLF line ends, ': ping' comments and usage-only chunks are normal traffic."""
    body = (
        b": ping\r\n\r\n"
        + chunk_data("a").replace(b"\n", b"\r\n")
        + b": ping\r\n\r\n"
        + chunk_data(None, finish="stop")
        + b'data: {"choices": [], "usage": {"total_tokens": 7}}\n\ndata: [DONE]\n\n'
    )
    route(router, sse_response(body)[0])
    async with client.stream("gpt-4", MESSAGES) as s:
        assert [t async for t in s] == ["a"]
    assert s.usage == {"total_tokens": 7}


@pytest.mark.parametrize(
    "base_url",
    [
        pytest.param("http://h.test", id="host"),
        pytest.param("http://h.test/", id="host-slash"),
        pytest.param("http://h.test/v1", id="openai-style"),
        pytest.param("http://h.test/v1/", id="openai-style-slash"),
    ],
)
async def test_base_url_styles(router: respx.MockRouter, base_url: str) -> None:
    """Both Lockchat-style and OpenAI-style (/v1) base URLs reach /v1/chat/completions."""
    r = router.post("http://h.test/v1/chat/completions").mock(
        return_value=sse_response(sse_body(["x"]))[0]
    )
    async with Lockchat(base_url=base_url) as client:
        assert await collect(client) == ["x"]
    assert r.called


async def test_default_base_url_is_the_seed_host() -> None:
    """Lockchat() defaults to the seed provider's URL and keeps its class attributes."""
    client = Lockchat()
    assert client.base_url == Lockchat.url == "http://supertest.lockchat.app"
    assert (Lockchat.supports_stream, Lockchat.supports_gpt_35_turbo, Lockchat.supports_gpt_4) == (
        True,
        True,
        True,
    )
    assert Lockchat.needs_auth is False
    assert Lockchat.models == ("gpt-4", "gpt-3.5-turbo")
    await client.aclose()


async def test_stream_exposes_metadata(router: respx.MockRouter, client: Lockchat) -> None:
    """stream() exposes text, finish_reason, model, id and attempts."""
    route(router, sse_response(sse_body(["a", "b"]))[0])
    async with client.stream("gpt-4", MESSAGES) as s:
        tokens = [t async for t in s]
    assert tokens == ["a", "b"]
    assert (s.text, s.finish_reason, s.model, s.id, s.attempts) == (
        "ab",
        "stop",
        "gpt-4",
        "chatcmpl-1",
        1,
    )
    assert s.usage is None
    assert "attempts=1" in repr(s)


async def test_stream_false_yields_whole_text_once(
    router: respx.MockRouter, client: Lockchat
) -> None:
    """create_completion(stream=False) asks for JSON and yields the whole text once."""
    completion = {
        "id": "c",
        "model": "gpt-4",
        "choices": [
            {"message": {"role": "assistant", "content": "Whole."}, "finish_reason": "stop"}
        ],
    }
    r = route(router, httpx.Response(200, json=completion))
    assert await collect(client, stream=False) == ["Whole."]
    assert json.loads(r.calls.last.request.content)["stream"] is False


async def test_complete_returns_text(router: respx.MockRouter, client: Lockchat) -> None:
    """complete() returns the whole text, from a JSON or an SSE answer alike."""
    completion = {"choices": [{"message": {"content": "JSON text"}, "finish_reason": "stop"}]}
    route(router, httpx.Response(200, json=completion), sse_response(sse_body(["SSE", " text"]))[0])
    assert await client.complete("gpt-3.5-turbo", MESSAGES, temperature=0.2) == "JSON text"
    assert await client.complete("gpt-3.5-turbo", MESSAGES) == "SSE text"


async def test_server_ignoring_stream_flag_is_handled(
    router: respx.MockRouter, client: Lockchat
) -> None:
    """A full chat.completion JSON body in answer to stream=True yields its content."""
    completion = {"choices": [{"message": {"content": "All at once"}, "finish_reason": "stop"}]}
    route(router, httpx.Response(200, json=completion))
    assert await collect(client) == ["All at once"]


async def test_finish_reason_without_done_is_complete(
    router: respx.MockRouter, client: Lockchat
) -> None:
    """A stream with a finish_reason but no [DONE] (some servers) ends normally."""
    route(router, sse_response(sse_body(["a"], done=False))[0])
    assert await collect(client) == ["a"]


async def test_failure_after_done_is_not_an_error(
    router: respx.MockRouter, client: Lockchat
) -> None:
    """A connection reset after [DONE] (while draining the body) does not spoil the answer."""
    response, stream = sse_response(sse_body(["a", "b"]), error=httpx.ReadError("reset"))
    route(router, response)
    assert await collect(client) == ["a", "b"]
    assert stream.closed


async def test_gzip_body_is_inflated(router: respx.MockRouter, client: Lockchat) -> None:
    """A server that compresses anyway is inflated in bounded steps."""
    body = gzip.compress(sse_body(["z", "ip"]))
    stream = ChunkStream([body[:10], body[10:]])
    route(
        router,
        httpx.Response(
            200,
            headers={"content-type": "text/event-stream", "content-encoding": "gzip"},
            stream=stream,
        ),
    )
    assert await collect(client) == ["z", "ip"]


async def test_unknown_encoding_is_a_protocol_error(
    router: respx.MockRouter, client: Lockchat
) -> None:
    """An encoding we did not ask for and cannot decode is a clear ProtocolError."""
    route(
        router,
        httpx.Response(
            200,
            headers={"content-type": "text/event-stream", "content-encoding": "br"},
            stream=ChunkStream([b"x"]),
        ),
    )
    with pytest.raises(lc.ProtocolError, match="Content-Encoding"):
        await collect(client)


async def test_corrupt_gzip_is_a_protocol_error(router: respx.MockRouter, client: Lockchat) -> None:
    """A body that claims gzip but is not raises ProtocolError."""
    route(
        router,
        httpx.Response(
            200,
            headers={"content-type": "text/event-stream", "content-encoding": "gzip"},
            stream=ChunkStream([b"not gzip at all"]),
        ),
    )
    with pytest.raises(lc.ProtocolError, match="valid gzip"):
        await collect(client)


# --- headers, secrets, validation ------------------------------------------------------------


async def test_api_key_and_headers(router: respx.MockRouter) -> None:
    """The api key goes out as Bearer; extra headers merge over the default user agent."""
    r = route(router, sse_response(sse_body(["x"]))[0])
    async with Lockchat(
        base_url=BASE, api_key="sk-secret-123", headers={"User-Agent": "mine", "X-Team": "a"}
    ) as client:
        await collect(client)
    headers = r.calls.last.request.headers
    assert headers["authorization"] == "Bearer sk-secret-123"
    assert headers["user-agent"] == "mine"
    assert headers["x-team"] == "a"


async def test_api_key_never_in_repr_or_errors(router: respx.MockRouter, sleeps: Sleeps) -> None:
    """The api key appears in no repr and no exception message."""
    route(
        router,
        httpx.Response(401, json={"error": {"message": "bad key"}}),
        httpx.ConnectError("refused"),
    )
    client = Lockchat(base_url=BASE, api_key="sk-secret-123", sleep=sleeps, max_retries=0)
    assert "sk-secret" not in repr(client)
    assert "***" in repr(client)
    for expected in (lc.AuthenticationError, lc.APIConnectionError):
        with pytest.raises(expected) as info:
            await collect(client)
        assert "sk-secret" not in str(info.value)
        assert "sk-secret" not in repr(info.value)
    assert "sk-secret" not in repr(vars(client))
    await client.aclose()


async def test_invalid_messages_raise_before_any_request(
    router: respx.MockRouter, client: Lockchat
) -> None:
    """Bad messages raise at call time, before any HTTP request."""
    r = route(router, sse_response(sse_body(["x"]))[0])
    with pytest.raises(TypeError, match=r"messages\[0\]"):
        client.stream("gpt-4", ["hello"])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="at least one"):
        client.stream("gpt-4", [])
    assert not r.called


@pytest.mark.parametrize(
    "kwargs",
    [
        pytest.param({"max_retries": -1}, id="negative-retries"),
        pytest.param({"max_event_bytes": 0}, id="zero-event-bytes"),
        pytest.param({"base_url": "ftp://x"}, id="ftp"),
        pytest.param({"base_url": "http://[::1"}, id="invalid-url"),
        pytest.param({"deadline": 0}, id="zero-deadline"),
    ],
)
async def test_bad_constructor_arguments(kwargs: dict[str, Any]) -> None:
    """Bad options are UsageErrors saying what was expected."""
    with pytest.raises(lc.UsageError, match="expected"):
        Lockchat(**kwargs)


async def test_closed_client_is_a_usage_error(client: Lockchat) -> None:
    """Calling a closed client raises UsageError instead of an httpx RuntimeError."""
    await client.aclose()
    assert client.is_closed
    with pytest.raises(lc.UsageError, match="aclose"):
        await collect(client)


# --- errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "error"),
    [
        pytest.param(400, lc.BadRequestError, id="400"),
        pytest.param(401, lc.AuthenticationError, id="401"),
        pytest.param(404, lc.NotFoundError, id="404"),
        pytest.param(422, lc.BadRequestError, id="422"),
    ],
)
async def test_status_errors_are_typed_and_not_retried(
    router: respx.MockRouter,
    client: Lockchat,
    sleeps: Sleeps,
    status: int,
    error: type[lc.APIStatusError],
) -> None:
    """4xx statuses raise their typed error at once, with the server's message and body."""
    body = {"error": {"message": "nope, said the server", "type": "invalid_request_error"}}
    r = route(router, httpx.Response(status, json=body))
    with pytest.raises(error, match="nope, said the server") as info:
        await collect(client)
    assert info.value.status_code == status
    assert info.value.body == body
    assert info.value.response.status_code == status
    assert r.call_count == 1 and sleeps == []


async def test_non_json_error_body(router: respx.MockRouter, client: Lockchat) -> None:
    """A plain-text error body is kept as text in the error."""
    route(router, httpx.Response(418, text="I'm a teapot"))
    with pytest.raises(lc.APIStatusError, match="418") as info:
        await collect(client)
    assert info.value.body == "I'm a teapot"


async def test_huge_error_body_is_truncated(router: respx.MockRouter, client: Lockchat) -> None:
    """An enormous error body is read only up to a bound."""
    stream = ChunkStream([b"x" * 65536] * 100)
    route(router, httpx.Response(400, stream=stream))
    with pytest.raises(lc.BadRequestError) as info:
        await collect(client)
    assert len(info.value.body) <= 65536
    assert stream.closed and stream.sent < 100


@pytest.mark.parametrize(
    ("body", "error", "match"),
    [
        pytest.param(
            b"data: {not json\n\n",
            lc.ProtocolError,
            "expected a JSON chat.completion.chunk",
            id="bad-json",
        ),
        pytest.param(
            b"data: [1,2]\n\n", lc.ProtocolError, "JSON chat.completion.chunk", id="json-array"
        ),
        pytest.param(
            b'event: error\ndata: {"error": {"message": "kaput"}}\n\n',
            lc.APIStreamError,
            "kaput",
            id="event-error",
        ),
        pytest.param(
            b"event: error\ndata: kaput plain\n\n",
            lc.APIStreamError,
            "kaput plain",
            id="event-error-text",
        ),
    ],
)
async def test_malformed_or_error_frames(
    router: respx.MockRouter, client: Lockchat, body: bytes, error: type[Exception], match: str
) -> None:
    """Malformed frames and error frames are never skipped silently."""
    route(router, *[sse_response(body)[0] for _ in range(3)])
    with pytest.raises(error, match=match):
        await collect(client)


async def test_protocol_errors_are_not_retried(
    router: respx.MockRouter, client: Lockchat, sleeps: Sleeps
) -> None:
    """Garbage is deterministic: a malformed stream is not retried."""
    r = route(router, sse_response(b"data: garbage\n\n")[0])
    with pytest.raises(lc.ProtocolError):
        await collect(client)
    assert r.call_count == 1


async def test_oversized_event_raises(router: respx.MockRouter, sleeps: Sleeps) -> None:
    """An event larger than max_event_bytes raises ProtocolError and closes the response."""
    response, stream = sse_response([b"data: " + b"x" * 100] * 1000)
    route(router, response)
    async with Lockchat(base_url=BASE, max_event_bytes=1000, sleep=sleeps) as client:
        with pytest.raises(lc.ProtocolError, match="max_event_bytes"):
            await collect(client)
    assert stream.closed and stream.sent < 20


async def test_oversized_json_body_raises(router: respx.MockRouter, sleeps: Sleeps) -> None:
    """A JSON body larger than max_event_bytes raises ProtocolError."""
    route(
        router,
        httpx.Response(
            200,
            headers={"content-type": "application/json"},
            stream=ChunkStream([b"{" + b" " * 5000]),
        ),
    )
    async with Lockchat(base_url=BASE, max_event_bytes=1000, sleep=sleeps) as client:
        with pytest.raises(lc.ProtocolError, match="at most 1000 bytes"):
            await collect(client)


async def test_bad_json_body_is_retried_then_raises(
    router: respx.MockRouter, client: Lockchat, sleeps: Sleeps
) -> None:
    """A truncated JSON body is treated like a broken transfer: retried, then ProtocolError."""
    r = route(
        router,
        *[httpx.Response(200, headers={"content-type": "application/json"}, content=b'{"choi')] * 3,
    )
    with pytest.raises(lc.ProtocolError, match="JSON chat.completion body"):
        await collect(client, stream=False)
    assert r.call_count == 3


# --- retries ---------------------------------------------------------------------------------


async def test_retries_5xx_then_succeeds(
    router: respx.MockRouter, client: Lockchat, sleeps: Sleeps, caplog: pytest.LogCaptureFixture
) -> None:
    """A 503 is retried with backoff, logging one line per retry, never print."""
    r = route(router, httpx.Response(503), sse_response(sse_body(["ok"]))[0])
    with caplog.at_level(logging.INFO, logger="lockchat_async"):
        async with client.stream("gpt-4", MESSAGES) as s:
            assert [t async for t in s] == ["ok"]
    assert s.attempts == 2 and r.call_count == 2
    assert len(sleeps) == 1 and 0.375 <= sleeps[0] <= 0.5
    records = [rec for rec in caplog.records if rec.name == "lockchat_async"]
    assert len(records) == 1 and "InternalServerError" in records[0].getMessage()


async def test_retry_after_is_honoured(
    router: respx.MockRouter, client: Lockchat, sleeps: Sleeps
) -> None:
    """429 with Retry-After / retry-after-ms waits what the server asked."""
    route(
        router,
        httpx.Response(429, headers={"retry-after": "3"}),
        httpx.Response(429, headers={"retry-after-ms": "1500"}),
        sse_response(sse_body(["ok"]))[0],
    )
    assert await collect(client) == ["ok"]
    assert sleeps == [3.0, 1.5]


async def test_retry_after_is_capped(
    router: respx.MockRouter, client: Lockchat, sleeps: Sleeps
) -> None:
    """An absurd Retry-After is clamped to the cap."""
    route(
        router,
        httpx.Response(503, headers={"retry-after": "86400"}),
        sse_response(sse_body(["ok"]))[0],
    )
    assert await collect(client) == ["ok"]
    assert sleeps == [60.0]


async def test_retries_are_bounded(
    router: respx.MockRouter, client: Lockchat, sleeps: Sleeps
) -> None:
    """After max_retries the last error is raised; backoff grows between attempts."""
    r = route(router, *[httpx.Response(500)] * 5)
    with pytest.raises(lc.InternalServerError):
        await collect(client)
    assert r.call_count == 3
    assert len(sleeps) == 2 and 0.375 <= sleeps[0] <= 0.5 and 0.75 <= sleeps[1] <= 1.0


async def test_max_retries_zero(router: respx.MockRouter, sleeps: Sleeps) -> None:
    """max_retries=0 means exactly one attempt."""
    r = route(router, httpx.Response(503), sse_response(sse_body(["ok"]))[0])
    async with Lockchat(base_url=BASE, max_retries=0, sleep=sleeps) as client:
        with pytest.raises(lc.InternalServerError):
            await collect(client)
    assert r.call_count == 1 and sleeps == []


@pytest.mark.parametrize(
    "line",
    [
        pytest.param(b"The model: `gpt-4` does not exist\n\n", id="bare-line"),
        pytest.param(b"data: The model: `gpt-4` does not exist\n\n", id="data-line"),
        pytest.param(
            b'data: {"error": {"message": "The model: `gpt-4` does not exist"}}\n\n',
            id="error-frame",
        ),
    ],
)
async def test_lockchat_model_line_is_retried_by_a_loop(
    router: respx.MockRouter, client: Lockchat, sleeps: Sleeps, line: bytes
) -> None:
    """The seed's recursion is now a bounded loop: the model line twice, then success."""
    r = route(
        router, sse_response(line)[0], sse_response(line)[0], sse_response(sse_body(["fine"]))[0]
    )
    async with client.stream("gpt-4", MESSAGES) as s:
        assert [t async for t in s] == ["fine"]
    assert s.attempts == 3 and r.call_count == 3 and len(sleeps) == 2


async def test_lockchat_model_line_exhausts_retries(
    router: respx.MockRouter, client: Lockchat
) -> None:
    """When the model line keeps coming, ModelNotFoundError names the model."""
    route(router, *[sse_response(b"The model: `gpt-4` does not exist\n")[0] for _ in range(3)])
    with pytest.raises(lc.ModelNotFoundError, match="gpt-4") as info:
        await collect(client)
    assert info.value.model == "gpt-4" and info.value.partial_text == ""


async def test_error_frame_before_first_token_is_retried(
    router: respx.MockRouter, client: Lockchat
) -> None:
    """An error frame before any token is retried."""
    route(
        router,
        sse_response(b'data: {"error": {"message": "busy"}}\n\n')[0],
        sse_response(sse_body(["ok"]))[0],
    )
    assert await collect(client) == ["ok"]


async def test_error_frame_after_tokens_is_stream_interrupted(
    router: respx.MockRouter, client: Lockchat
) -> None:
    """An error frame after tokens raises StreamInterrupted with the partial text, no retry."""
    body = (
        sse_body(["one", " two"], done=False, finish=False)
        + b'data: {"error": {"message": "boom"}}\n\n'
    )
    r = route(router, sse_response(body)[0], sse_response(sse_body(["one", " two", " three"]))[0])
    got: list[str] = []
    with pytest.raises(lc.StreamInterrupted) as info:
        async for token in client.create_completion("gpt-4", MESSAGES):
            got.append(token)
    assert got == ["one", " two"]
    assert info.value.partial_text == "one two"
    assert isinstance(info.value.__cause__, lc.APIStreamError)
    assert r.call_count == 1


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        pytest.param(httpx.ConnectError("refused"), lc.APIConnectionError, id="connect"),
        pytest.param(httpx.ConnectTimeout("slow"), lc.APITimeoutError, id="connect-timeout"),
        pytest.param(httpx.ReadTimeout("silent"), lc.APITimeoutError, id="read-timeout"),
        pytest.param(httpx.RemoteProtocolError("bad"), lc.APIConnectionError, id="remote-protocol"),
    ],
)
async def test_transport_errors_are_mapped_and_retried(
    router: respx.MockRouter,
    client: Lockchat,
    sleeps: Sleeps,
    exc: Exception,
    expected: type[Exception],
) -> None:
    """httpx errors never escape raw: they are mapped, chained and retried."""
    r = route(router, *[exc] * 3)
    with pytest.raises(expected) as info:
        await collect(client)
    assert info.value.__cause__ is exc
    assert not isinstance(info.value, httpx.HTTPError)
    assert r.call_count == 3 and len(sleeps) == 2


async def test_transport_error_then_success(router: respx.MockRouter, client: Lockchat) -> None:
    """A connection error followed by a good answer succeeds on the retry."""
    route(router, httpx.ConnectError("refused"), sse_response(sse_body(["ok"]))[0])
    assert await collect(client) == ["ok"]


async def test_read_error_mid_stream_is_stream_interrupted(
    router: respx.MockRouter, client: Lockchat
) -> None:
    """A connection drop after tokens raises StreamInterrupted; no token repeats."""
    response, stream = sse_response(
        sse_body(["a", "b"], done=False, finish=False), error=httpx.ReadError("reset")
    )
    r = route(router, response, sse_response(sse_body(["a", "b", "c"]))[0])
    got: list[str] = []
    with pytest.raises(lc.StreamInterrupted) as info:
        async for token in client.create_completion("gpt-4", MESSAGES):
            got.append(token)
    assert got == ["a", "b"] and info.value.partial_text == "ab"
    assert isinstance(info.value.__cause__, lc.APIConnectionError)
    assert stream.closed and r.call_count == 1


async def test_end_without_done_after_tokens_is_interrupted(
    router: respx.MockRouter, client: Lockchat
) -> None:
    """A clean end with no [DONE] nor finish_reason after tokens is no silent short answer."""
    route(router, sse_response(sse_body(["half"], done=False, finish=False))[0])
    with pytest.raises(lc.StreamInterrupted, match="before|ended") as info:
        await collect(client)
    assert info.value.partial_text == "half"


async def test_empty_body_is_retried_then_raises(
    router: respx.MockRouter, client: Lockchat
) -> None:
    """An empty 200 body is retried, then a typed error; never an empty success."""
    r = route(router, *[sse_response(b"")[0] for _ in range(3)])
    with pytest.raises(lc.ProtocolError, match="before any token"):
        await collect(client)
    assert r.call_count == 3


async def test_buffered_mode_retries_mid_stream(router: respx.MockRouter, client: Lockchat) -> None:
    """complete() may retry after a mid-stream failure since nothing was shown yet."""
    route(
        router,
        sse_response(sse_body(["a"], done=False, finish=False), error=httpx.ReadError("reset"))[0],
        sse_response(sse_body(["a", "b"]))[0],
    )
    assert await client.complete("gpt-4", MESSAGES) == "ab"


# --- resource release ------------------------------------------------------------------------


async def test_break_with_aclosing_closes_response(
    router: respx.MockRouter, client: Lockchat
) -> None:
    """Breaking out of create_completion under aclosing() closes the response at once."""
    response, stream = sse_response(sse_body(["a", "b", "c"], done=False, finish=False), hang=True)
    route(router, response)
    async with contextlib.aclosing(client.create_completion("gpt-4", MESSAGES)) as tokens:
        async for _token in tokens:
            break
    assert stream.closed


async def test_break_inside_stream_context_closes_response(
    router: respx.MockRouter, client: Lockchat
) -> None:
    """Leaving `async with client.stream()` early closes the response deterministically."""
    response, stream = sse_response(sse_body(["a", "b"], done=False, finish=False), hang=True)
    route(router, response)
    async with client.stream("gpt-4", MESSAGES) as s:
        async for _token in s:
            break
    assert stream.closed
    assert s.text == "a"


async def test_cancellation_closes_response(router: respx.MockRouter, client: Lockchat) -> None:
    """Cancelling the consuming task mid-stream closes the response and is not swallowed."""
    response, stream = sse_response(sse_body(["a"], done=False, finish=False), hang=True)
    route(router, response)
    got: list[str] = []
    first = anyio.Event()

    async def consume() -> None:
        async with client.stream("gpt-4", MESSAGES) as s:
            async for token in s:
                got.append(token)
                first.set()

    async with anyio.create_task_group() as tg:
        tg.start_soon(consume)
        await first.wait()
        tg.cancel_scope.cancel()
    assert got == ["a"]
    assert stream.closed


async def test_timeout_scope_closes_response(router: respx.MockRouter, client: Lockchat) -> None:
    """A caller's move_on_after around a hanging stream closes the response."""
    response, stream = sse_response(sse_body(["a"], done=False, finish=False), hang=True)
    route(router, response)
    with anyio.move_on_after(0.05) as scope:
        await collect(client)
    assert scope.cancelled_caught and stream.closed


async def test_callers_http_client_is_not_closed(router: respx.MockRouter) -> None:
    """A caller's own httpx.AsyncClient is used and left open; our own one is closed."""
    route(router, sse_response(sse_body(["x"]))[0], sse_response(sse_body(["y"]))[0])
    mine = httpx.AsyncClient()
    async with Lockchat(base_url=BASE, http_client=mine) as client:
        assert await collect(client) == ["x"]
    assert not mine.is_closed
    await mine.aclose()
    owned = Lockchat(base_url=BASE)
    assert await collect(owned) == ["y"]
    await owned.aclose()
    assert owned._http.is_closed


async def test_callers_client_timeout_kept_unless_given() -> None:
    """With a caller's client, timeouts are the client's own unless timeout= is passed."""
    mine = httpx.AsyncClient(timeout=3.0)
    seen: list[Any] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.extensions["timeout"])
        return sse_response(sse_body(["x"]))[0]

    mine._transport = httpx.MockTransport(handler)
    async with Lockchat(base_url=BASE, http_client=mine) as client:
        await collect(client)
    async with Lockchat(base_url=BASE, http_client=mine, timeout=7.0) as client:
        await collect(client)
    assert seen[0]["read"] == 3.0 and seen[1]["read"] == 7.0
    await mine.aclose()
