from __future__ import annotations

from typing import Any

import pytest

pytest_plugins = ["lockchat_async.testing._plugin"]


@pytest.fixture(
    params=[
        pytest.param("asyncio", id="asyncio"),
        pytest.param("trio", id="trio"),
    ]
)
def anyio_backend(request: pytest.FixtureRequest) -> Any:
    """Run every ``@pytest.mark.anyio`` test on asyncio and on trio."""
    return request.param
