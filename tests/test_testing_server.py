"""Integration tests: the client against the bundled server over real loopback sockets."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest

import lockchat_async as lc
from lockchat_async import Lockchat
from lockchat_async.testing import LockchatServer, Scenario, echo_reply, serve, tokenize

pytestmark = pytest.mark.anyio

MESSAGES = [{"role": "user", "content": "héllo wörld, how are you?"}]
REPLY = "You said: héllo wörld, how are you?"


class Sleeps(list[float]):
    async def __call__(self, delay: float) -> None:
        self.append(delay)


@pytest.fixture
async def server() -> AsyncIterator[LockchatServer]:
    async with LockchatServer() as running:
        yield running


async def stream(
    server: LockchatServer, **options: object
) -> tuple[list[str], lc.CompletionStream, Sleeps]:
    sleeps = Sleeps()
    async with Lockchat(base_url=server.base_url, sleep=sleeps, **options) as client:  # type: ignore[arg-type]
        async with client.stream("gpt-4", MESSAGES) as completion:
            tokens = [token async for token in completion]
    return tokens, completion, sleeps


async def test_normal_stream(server: LockchatServer) -> None:
    """A normal answer streams the echo reply word by word with metadata."""
    tokens, completion, _ = await stream(server)
    assert tokens == tokenize(REPLY) and "".join(tokens) == REPLY
    assert (completion.finish_reason, completion.model, completion.attempts) == ("stop", "gpt-4", 1)
    assert completion.id == "chatcmpl-lockchat-1"
    assert server.requests[0]["stream"] is True and server.requests[0]["temperature"] == 0.7


@pytest.mark.parametrize(
    "scenario",
    [
        pytest.param(Scenario(split_utf8=True), id="split-utf8"),
        pytest.param(Scenario(crlf=True), id="crlf"),
        pytest.param(Scenario(keepalive=True), id="keepalive-comments"),
        pytest.param(Scenario(done=False), id="no-done-but-finish"),
        pytest.param(Scenario(json_body=True), id="json-body"),
        pytest.param(Scenario(crlf=True, keepalive=True, split_utf8=True), id="all-awkward"),
    ],
)
async def test_awkward_but_valid_streams(server: LockchatServer, scenario: Scenario) -> None:
    """Awkward but valid framings give exactly the reply."""
    server.script(scenario)
    tokens, completion, _ = await stream(server)
    assert "".join(tokens) == REPLY and completion.attempts == 1


async def test_usage_only_chunk(server: LockchatServer) -> None:
    """A usage-only chunk (choices: []) is recorded, not an error."""
    server.script(Scenario(usage=True))
    tokens, completion, _ = await stream(server)
    assert "".join(tokens) == REPLY
    assert completion.usage is not None and completion.usage["completion_tokens"] == len(tokens)


BEFORE_FIRST_TOKEN = [
    pytest.param(Scenario(status=503), lc.InternalServerError, id="503"),
    pytest.param(Scenario(status=429, retry_after=2), lc.RateLimitError, id="429-retry-after"),
    pytest.param(Scenario(model_missing=True), lc.ModelNotFoundError, id="model-missing"),
    pytest.param(Scenario(error_after=0), lc.APIStreamError, id="error-frame-first"),
    pytest.param(Scenario(disconnect_after=0), lc.APIConnectionError, id="disconnect-before-token"),
    pytest.param(Scenario(empty_body=True), lc.ProtocolError, id="empty-body"),
    pytest.param(
        Scenario(done=False, finish=False, reply=""), lc.ProtocolError, id="end-before-token"
    ),
]


@pytest.mark.parametrize(("scenario", "error"), BEFORE_FIRST_TOKEN)
async def test_faults_before_first_token_are_retried(
    server: LockchatServer, scenario: Scenario, error: type[Exception]
) -> None:
    """Retries on: the fault twice, then the full reply once, with the backoff requested."""
    server.script(scenario, times=2)
    tokens, completion, sleeps = await stream(server)
    assert "".join(tokens) == REPLY
    assert completion.attempts == 3 == len(server.requests)
    if scenario.retry_after is not None:
        assert sleeps == [scenario.retry_after] * 2
    else:  # exponential from 0.5 s, minus up to 25% jitter
        assert 0.375 <= sleeps[0] <= 0.5 and 0.75 <= sleeps[1] <= 1.0


@pytest.mark.parametrize(("scenario", "error"), BEFORE_FIRST_TOKEN)
async def test_faults_before_first_token_without_retries(
    server: LockchatServer, scenario: Scenario, error: type[Exception]
) -> None:
    """Retries off: the exact typed error at once, nothing yielded, one request."""
    server.script(scenario)
    with pytest.raises(error) as info:
        await stream(server, max_retries=0)
    assert type(info.value) is error
    assert info.value.partial_text == ""  # type: ignore[attr-defined]
    assert len(server.requests) == 1


async def test_slow_first_token_within_timeout(server: LockchatServer) -> None:
    """A slow first token within the read timeout is just slow: one attempt, full reply."""
    server.script(Scenario(first_token_delay=0.05))
    tokens, completion, sleeps = await stream(server, timeout=5.0)
    assert "".join(tokens) == REPLY and completion.attempts == 1 and sleeps == []


async def test_model_missing_n_times_then_success(server: LockchatServer) -> None:
    """Lockchat's model line twice, then success: three attempts, two backoffs."""
    server.script(Scenario(model_missing=True), times=2)
    tokens, completion, sleeps = await stream(server)
    assert "".join(tokens) == REPLY and completion.attempts == 3 and len(sleeps) == 2


@pytest.mark.parametrize(
    ("scenario", "cause"),
    [
        pytest.param(Scenario(error_after=2), lc.APIStreamError, id="error-frame"),
        pytest.param(Scenario(disconnect_after=2), lc.APIConnectionError, id="disconnect"),
        pytest.param(Scenario(done=False, finish=False), lc.ProtocolError, id="no-done-no-finish"),
        pytest.param(Scenario(malformed_after=2), lc.ProtocolError, id="malformed"),
    ],
)
async def test_faults_after_tokens_interrupt(
    server: LockchatServer, scenario: Scenario, cause: type[Exception]
) -> None:
    """Faults after tokens raise StreamInterrupted with exactly the yielded text."""
    server.script(scenario)
    got: list[str] = []
    async with Lockchat(base_url=server.base_url, sleep=Sleeps()) as client:
        with pytest.raises(lc.StreamInterrupted) as info:
            async for token in client.create_completion("gpt-4", MESSAGES):
                got.append(token)
    expected = tokenize(REPLY) if scenario.finish is False else tokenize(REPLY)[:2]
    assert got == expected
    assert info.value.partial_text == "".join(got)
    assert isinstance(info.value.__cause__, cause)
    assert len(server.requests) == 1


async def test_malformed_before_token_not_retried(server: LockchatServer) -> None:
    """Malformed JSON is a ProtocolError and is not retried."""
    server.script(Scenario(malformed_after=0))
    with pytest.raises(lc.ProtocolError, match="JSON"):
        await stream(server)
    assert len(server.requests) == 1


async def test_endless_line_is_bounded(server: LockchatServer) -> None:
    """An endless line stops at max_event_bytes with a ProtocolError."""
    server.script(Scenario(endless_after=1))
    with pytest.raises(lc.StreamInterrupted) as info:
        await stream(server, max_event_bytes=200_000)
    assert isinstance(info.value.__cause__, lc.ProtocolError)
    assert info.value.partial_text == "You"


async def test_stall_hits_read_timeout(server: LockchatServer) -> None:
    """A server that goes silent before the first token hits the read timeout, retried."""
    server.script(Scenario(stall_after=0), times=2)
    with pytest.raises(lc.APITimeoutError):
        await stream(server, timeout=0.05, max_retries=1)
    assert len(server.requests) == 2


async def test_status_errors_carry_server_message(server: LockchatServer) -> None:
    """A scripted 400 arrives as BadRequestError with the server's JSON message."""
    server.script(Scenario(status=400))
    with pytest.raises(lc.BadRequestError, match="Scripted error 400") as info:
        await stream(server)
    assert info.value.body["error"]["code"] == "scripted"


async def test_api_key_required() -> None:
    """With api_key set, the server answers 401 without the right bearer token."""
    async with LockchatServer(api_key="sk-test") as server:
        with pytest.raises(lc.AuthenticationError, match="Incorrect API key"):
            await stream(server)
        tokens, _, _ = await stream(server, api_key="sk-test")
        assert "".join(tokens) == REPLY
        assert server.request_headers[-1]["authorization"] == "Bearer sk-test"


async def test_non_streamed_json(server: LockchatServer) -> None:
    """stream=False gets a chat.completion JSON body."""
    async with Lockchat(base_url=server.base_url) as client:
        assert await client.complete("gpt-4", MESSAGES) == REPLY
    assert server.requests[0]["stream"] is False


async def test_models_and_unknown_paths(server: LockchatServer) -> None:
    """GET /v1/models lists the models; unknown paths and bad bodies get JSON errors."""
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        models = (await http.get("/v1/models")).json()
        assert [m["id"] for m in models["data"]] == ["gpt-4", "gpt-3.5-turbo"]
        missing = await http.get("/nope")
        assert missing.status_code == 404 and "error" in missing.json()
        assert (await http.get("/v1/chat/completions")).status_code == 405
        bad = await http.post("/v1/chat/completions", content=b"not json")
        assert bad.status_code == 400


async def test_keep_alive_reuses_connections(server: LockchatServer) -> None:
    """Sequential streams on one client reuse one connection (the body is drained after [DONE])."""
    async with Lockchat(base_url=server.base_url) as client:
        for _ in range(5):
            assert await client.complete("gpt-4", MESSAGES) == REPLY
            async for _token in client.create_completion("gpt-4", MESSAGES):
                pass
    assert len(server.requests) == 10
    assert server.connections_accepted == 1


async def test_serve_yields_base_url() -> None:
    """serve() runs the server in this event loop and yields its base URL."""
    async with serve(reply=lambda messages: "fixed reply") as base_url:
        assert base_url.startswith("http://127.0.0.1:")
        async with Lockchat(base_url=base_url) as client:
            assert await client.complete("gpt-4", MESSAGES) == "fixed reply"


def test_echo_reply_and_tokenize() -> None:
    """The default reply echoes the last user message; tokens keep their whitespace."""
    assert (
        echo_reply([{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}])
        == "You said: a"
    )
    assert echo_reply([]) == "Hello! Send me a message."
    assert tokenize("a  b c ") == ["a", "  b", " c", " "]
    assert json.dumps(tokenize("")) == "[]"
