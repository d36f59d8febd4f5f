"""Client exits that only asyncio has (asyncio.timeout, wait_for, asyncgen finalization).

Run by pytest-asyncio in strict mode; the rest of the client's tests run on asyncio and trio
through anyio in tests/test_client.py.
"""

from __future__ import annotations

import asyncio
import gc
import sys
from collections.abc import Iterator

import pytest
import respx
from helpers import sse_body, sse_response

from lockchat_async import Lockchat

BASE = "http://lockchat.test"
URL = BASE + "/v1/chat/completions"
MESSAGES = [{"role": "user", "content": "Hello, how are you?"}]


@pytest.fixture
def router() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False) as mock:
        yield mock


def hanging_stream(router: respx.MockRouter) -> object:
    response, stream = sse_response(sse_body(["a", "b"], done=False, finish=False), hang=True)
    router.post(URL).mock(return_value=response)
    return stream


async def collect(client: Lockchat) -> list[str]:
    return [token async for token in client.create_completion("gpt-4", MESSAGES)]


@pytest.mark.asyncio
@pytest.mark.skipif(sys.version_info < (3, 11), reason="asyncio.timeout is Python 3.11+")
async def test_asyncio_timeout_closes_response(router: respx.MockRouter) -> None:
    """asyncio.timeout around a hanging stream raises TimeoutError and closes the response."""
    stream = hanging_stream(router)
    async with Lockchat(base_url=BASE) as client:
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.05):  # type: ignore[attr-defined,unused-ignore]
                await collect(client)
    assert stream.closed  # type: ignore[attr-defined]


@pytest.mark.asyncio
async def test_asyncio_wait_for_closes_response(router: respx.MockRouter) -> None:
    """asyncio.wait_for cancelling a stream's task closes its response."""
    stream = hanging_stream(router)
    async with Lockchat(base_url=BASE) as client:
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(collect(client), timeout=0.05)
    assert stream.closed  # type: ignore[attr-defined]


@pytest.mark.asyncio
async def test_bare_break_is_closed_by_the_event_loop(router: respx.MockRouter) -> None:
    """A bare `break` (no aclosing) still closes the response, via asyncio's asyncgen hooks."""
    stream = hanging_stream(router)
    async with Lockchat(base_url=BASE) as client:
        async for _token in client.create_completion("gpt-4", MESSAGES):
            break
        gc.collect()
        for _ in range(10):  # the loop schedules aclose() of the abandoned generator
            await asyncio.sleep(0)
            if stream.closed:  # type: ignore[attr-defined]
                break
    assert stream.closed  # type: ignore[attr-defined]
