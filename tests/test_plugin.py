"""Tests of the ``lockchat_server`` pytest fixture that users get with the package."""

from __future__ import annotations

import pytest

from lockchat_async import Lockchat
from lockchat_async.testing import LockchatServer, Scenario


@pytest.mark.anyio
async def test_fixture_in_async_test(lockchat_server: LockchatServer) -> None:
    """The fixture works in async tests of either backend, and faults can be scripted."""
    lockchat_server.script(Scenario(status=503))
    async with Lockchat(base_url=lockchat_server.base_url, sleep=_no_sleep) as client:
        assert await client.complete("gpt-4", [{"role": "user", "content": "x"}]) == "You said: x"
    assert len(lockchat_server.requests) == 2


def test_fixture_in_sync_test(lockchat_server: LockchatServer) -> None:
    """The fixture is synchronous, so sync code under test can use it too."""
    import httpx

    response = httpx.get(lockchat_server.base_url + "/v1/models")
    assert response.status_code == 200


async def _no_sleep(_: float) -> None:
    return None
