"""
Drop-in compatibility with the seed gpt4free ``Lockchat`` provider, built on the async core.

The seed's examples run with only the import changed::

    from lockchat_async.compat import Lockchat

    for token in Lockchat.create_completion(model="gpt-4", messages=messages, stream=True):
        print(token, end="")

The synchronous entry points (`Lockchat.create_completion`, `Lockchat._create_completion`,
the module-level `_create_completion`) drive the async client on a private event loop, step
by step; inside a running event loop they refuse with a clear error instead of deadlocking.
`Lockchat.create_async_generator` follows g4f's async provider contract.

The server is ``Lockchat.url`` unless a ``base_url=`` keyword or the ``LOCKCHAT_BASE_URL``
environment variable says otherwise.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncGenerator, Generator, Mapping, Sequence
from typing import Any, ClassVar

import httpx

from ._client import NOT_GIVEN, CompletionStream
from ._client import Lockchat as _AsyncLockchat
from ._exceptions import UsageError

__all__ = ["Lockchat", "_create_completion"]

_CLIENT_OPTIONS = (
    "api_key",
    "timeout",
    "max_retries",
    "headers",
    "deadline",
    "max_event_bytes",
    "sleep",
)


class Lockchat:
    """
    The seed provider's interface: static ``create_completion`` and g4f's async contract.

    .. versionadded:: 0.1.0
    """

    url: ClassVar[str] = _AsyncLockchat.url
    model: ClassVar[list[str]] = list(_AsyncLockchat.models)
    models: ClassVar[tuple[str, ...]] = _AsyncLockchat.models
    supports_stream: ClassVar[bool] = True
    supports_gpt_35_turbo: ClassVar[bool] = True
    supports_gpt_4: ClassVar[bool] = True
    needs_auth: ClassVar[bool] = False
    working: ClassVar[bool] = True

    @staticmethod
    def create_completion(
        model: str, messages: Sequence[Mapping[str, Any]], stream: bool, **kwargs: Any
    ) -> Generator[str, None, None]:
        """
        Yield tokens synchronously (seed 000). ``temperature`` defaults to 0.7.
        """
        return _sync_tokens(model, messages, stream, kwargs)

    @staticmethod
    def _create_completion(
        model: str, messages: Sequence[Mapping[str, Any]], stream: bool, **kwargs: Any
    ) -> Generator[str, None, None]:
        """
        The older provider entry point (seed 001); same as `create_completion`.
        """
        return _sync_tokens(model, messages, stream, kwargs)

    @classmethod
    async def create_async_generator(
        cls,
        model: str,
        messages: Sequence[Mapping[str, Any]],
        proxy: str | None = None,
        **kwargs: Any,
    ) -> AsyncGenerator[str, None]:
        """
        g4f's async provider contract: an async generator of tokens.
        """
        stream = bool(kwargs.pop("stream", True))
        http_client = httpx.AsyncClient(proxy=proxy) if proxy else None
        client = _client(kwargs, http_client=http_client, base=cls.url)
        try:
            async with client:
                async for token in client.create_completion(model, messages, stream, **kwargs):
                    yield token
        finally:
            if http_client is not None:
                await http_client.aclose()


def _create_completion(
    model: str, messages: Sequence[Mapping[str, Any]], stream: bool, **kwargs: Any
) -> Generator[str, None, None]:
    """
    Module-level form of the seed 001 entry point.
    """
    return _sync_tokens(model, messages, stream, kwargs)


def _client(
    kwargs: dict[str, Any], *, http_client: httpx.AsyncClient | None, base: str
) -> _AsyncLockchat:
    base_url = kwargs.pop("base_url", None) or os.environ.get("LOCKCHAT_BASE_URL") or base
    options = {name: kwargs.pop(name) for name in _CLIENT_OPTIONS if name in kwargs}
    return _AsyncLockchat(base_url=base_url, http_client=http_client, **options)


def _refuse_inside_event_loop() -> None:
    running = False
    try:
        asyncio.get_running_loop()
        running = True
    except RuntimeError:
        trio = sys.modules.get("trio")
        if trio is not None:
            try:
                trio.lowlevel.current_task()
                running = True
            except RuntimeError:
                pass
    if running:
        raise UsageError(
            "expected to be called from synchronous code, but an event loop is running in this "
            "thread; use the async API instead: "
            "`async for token in lockchat_async.Lockchat().create_completion(model, messages)`"
        )


def _sync_tokens(
    model: str, messages: Sequence[Mapping[str, Any]], stream: bool, kwargs: dict[str, Any]
) -> Generator[str, None, None]:
    _refuse_inside_event_loop()
    kwargs = dict(kwargs)
    client = _client(kwargs, http_client=None, base=Lockchat.url)
    temperature = float(kwargs.pop("temperature", 0.7))
    # _open validates now, so a bad call fails at the call rather than at the first next().
    completion = client._open(model, messages, temperature, NOT_GIVEN, kwargs, buffered=not stream)
    return _drive(client, completion)


def _drive(client: _AsyncLockchat, completion: CompletionStream) -> Generator[str, None, None]:
    loop = asyncio.new_event_loop()
    tokens = completion.__aiter__()
    try:
        while True:
            try:
                token = loop.run_until_complete(tokens.__anext__())
            except StopAsyncIteration:
                return
            yield token
    finally:
        # Runs on exhaustion, on error and on close() (e.g. ``break`` in a for loop).
        loop.run_until_complete(completion.aclose())
        loop.run_until_complete(client.aclose())
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
