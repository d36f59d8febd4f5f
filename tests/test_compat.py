"""Tests of the seed-compatible provider built on the async core."""

from __future__ import annotations

from collections.abc import Iterator

import anyio
import anyio.lowlevel
import pytest

from lockchat_async import APIConnectionError, UsageError
from lockchat_async.compat import Lockchat, _create_completion
from lockchat_async.testing import LockchatServer, Scenario, serve_in_thread

MESSAGES = [{"role": "user", "content": "Hello, how are you?"}]


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[LockchatServer]:
    with serve_in_thread() as running:
        monkeypatch.setenv("LOCKCHAT_BASE_URL", running.base_url)
        yield running


def test_seed_000_static_generator(server: LockchatServer) -> None:
    """Seed 000: Lockchat.create_completion(model=, messages=, stream=) yields tokens."""
    tokens = list(Lockchat.create_completion(model="gpt-3.5-turbo", messages=MESSAGES, stream=True))
    assert "".join(tokens) == "You said: Hello, how are you?" and len(tokens) > 1
    assert server.requests[0]["temperature"] == 0.7


def test_seed_001_entry_points(server: LockchatServer) -> None:
    """Seed 001: _create_completion as function and static method; stream=False yields once."""
    assert "".join(
        _create_completion(model="gpt-4", messages=MESSAGES, stream=True, temperature=0.3)
    )
    assert server.requests[0]["temperature"] == 0.3
    assert list(Lockchat._create_completion(model="gpt-4", messages=MESSAGES, stream=False)) == [
        "You said: Hello, how are you?"
    ]


def test_seed_attributes() -> None:
    """The seed's class attributes are kept."""
    assert Lockchat.url == "http://supertest.lockchat.app"
    assert Lockchat.supports_stream and Lockchat.supports_gpt_35_turbo and Lockchat.supports_gpt_4
    assert Lockchat.model == ["gpt-4", "gpt-3.5-turbo"]


def test_base_url_keyword_and_retry_loop(
    server: LockchatServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """base_url= wins over the environment; the model line is retried by the bounded loop."""
    monkeypatch.delenv("LOCKCHAT_BASE_URL")
    server.script(Scenario(model_missing=True))
    tokens = Lockchat.create_completion(
        "gpt-4", MESSAGES, True, base_url=server.base_url, max_retries=1, sleep=_no_sleep
    )
    assert "".join(tokens) == "You said: Hello, how are you?"
    assert len(server.requests) == 2


def test_break_closes_cleanly(server: LockchatServer) -> None:
    """Breaking out of the sync generator closes its loop and connection."""
    for _token in Lockchat.create_completion("gpt-4", MESSAGES, True):
        break
    assert "".join(Lockchat.create_completion("gpt-4", MESSAGES, True))


def test_bad_messages_fail_at_call() -> None:
    """Invalid messages raise at the call, before iteration."""
    with pytest.raises(TypeError):
        Lockchat.create_completion("gpt-4", "hello", True)  # type: ignore[arg-type]


@pytest.mark.anyio
async def test_inside_event_loop_refuses(server: LockchatServer) -> None:
    """Inside a running loop, the sync API refuses and points to the async API."""
    with pytest.raises(UsageError, match="async for token"):
        Lockchat.create_completion("gpt-4", MESSAGES, True)


@pytest.mark.anyio
async def test_g4f_async_contract(server: LockchatServer) -> None:
    """create_async_generator(model, messages, proxy=None, **kwargs) yields tokens."""
    tokens = [t async for t in Lockchat.create_async_generator("gpt-4", MESSAGES, proxy=None)]
    assert "".join(tokens) == "You said: Hello, how are you?"
    # The proxy is really used: nothing listens on port 9, so the connection is refused.
    proxied = Lockchat.create_async_generator(
        "gpt-4", MESSAGES, proxy="http://127.0.0.1:9", base_url=server.base_url, max_retries=0
    )
    with pytest.raises(APIConnectionError):
        async for _ in proxied:
            pass
    await anyio.lowlevel.checkpoint()


async def _no_sleep(_: float) -> None:
    return None
