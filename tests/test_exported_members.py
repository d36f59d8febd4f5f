"""Pins the public surface: only what __all__ lists, and all of it importable."""

from __future__ import annotations

import lockchat_async

EXPECTED = {
    "APIConnectionError",
    "APIStatusError",
    "APIStreamError",
    "APITimeoutError",
    "ArgumentTypeError",
    "AuthenticationError",
    "BadRequestError",
    "CompletionStream",
    "DEFAULT_LIMITS",
    "DEFAULT_MAX_EVENT_BYTES",
    "DEFAULT_MAX_RETRIES",
    "DEFAULT_TIMEOUT",
    "InternalServerError",
    "InvalidArgumentError",
    "Lockchat",
    "LockchatError",
    "ModelNotFoundError",
    "NotFoundError",
    "ProtocolError",
    "RateLimitError",
    "SSEDecoder",
    "ServerSentEvent",
    "StreamInterrupted",
    "UsageError",
    "__version__",
}


def test_all_is_pinned() -> None:
    """__all__ is exactly the documented public API."""
    assert set(lockchat_async.__all__) == EXPECTED


def test_every_export_is_defined_and_public_module_is_lockchat_async() -> None:
    """Each exported name exists; classes present themselves as lockchat_async members."""
    for name in lockchat_async.__all__:
        value = getattr(lockchat_async, name)
        if isinstance(value, type):
            assert value.__module__ == "lockchat_async", name


def test_testing_surface_is_pinned() -> None:
    """The test-helper module's public surface is pinned too."""
    import lockchat_async.testing

    assert set(lockchat_async.testing.__all__) == {
        "LockchatServer",
        "Scenario",
        "echo_reply",
        "serve",
        "serve_in_thread",
        "tokenize",
    }
