"""
pytest plugin (entry point ``lockchat_async``): the ``lockchat_server`` fixture.

The server runs on its own event loop in a background thread, so the fixture is synchronous
and works with pytest-asyncio, anyio's plugin, trio or plain synchronous tests alike.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ._server import LockchatServer, serve_in_thread

__all__ = ["lockchat_server"]


@pytest.fixture
def lockchat_server() -> Iterator[LockchatServer]:
    """
    A running bundled Lockchat server; point a client at ``lockchat_server.base_url`` and
    script faults with ``lockchat_server.script(Scenario(...))``.
    """
    with serve_in_thread() as server:
        yield server
