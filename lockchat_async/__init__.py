"""
lockchat_async: an async streaming client for Lockchat and any OpenAI-compatible server.

The public API is exactly what ``__all__`` lists; everything else is private.
"""

from __future__ import annotations

from ._client import (
    DEFAULT_LIMITS,
    DEFAULT_MAX_EVENT_BYTES,
    DEFAULT_MAX_RETRIES,
    DEFAULT_TIMEOUT,
    CompletionStream,
    Lockchat,
)
from ._exceptions import (
    APIConnectionError,
    APIStatusError,
    APIStreamError,
    APITimeoutError,
    ArgumentTypeError,
    AuthenticationError,
    BadRequestError,
    InternalServerError,
    InvalidArgumentError,
    LockchatError,
    ModelNotFoundError,
    NotFoundError,
    ProtocolError,
    RateLimitError,
    StreamInterrupted,
    UsageError,
)
from ._sse import ServerSentEvent, SSEDecoder

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_LIMITS",
    "DEFAULT_MAX_EVENT_BYTES",
    "DEFAULT_MAX_RETRIES",
    "DEFAULT_TIMEOUT",
    "APIConnectionError",
    "APIStatusError",
    "APIStreamError",
    "APITimeoutError",
    "ArgumentTypeError",
    "AuthenticationError",
    "BadRequestError",
    "CompletionStream",
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
]

# Present public classes as members of the package (as httpx does), so tracebacks and reprs
# show `lockchat_async.RateLimitError`, not the private module that defines it.
for _name in __all__:
    _value = globals()[_name]
    if isinstance(_value, type):
        _value.__module__ = __name__
del _name, _value
