"""
The exception tree. Everything the SDK raises on purpose derives from `LockchatError`::

    LockchatError
    ├── APIConnectionError          could not talk to the server (DNS, refused, reset, ...)
    │   └── APITimeoutError         connect/read/pool timeout, or the call's total deadline
    ├── APIStatusError              the server answered with an HTTP error status
    │   ├── BadRequestError         400, 422
    │   ├── AuthenticationError     401, 403
    │   ├── NotFoundError           404
    │   ├── RateLimitError          429
    │   └── InternalServerError     >= 500
    ├── ModelNotFoundError          Lockchat's in-stream "The model: `...` does not exist"
    ├── APIStreamError              an error frame inside a 200 stream
    ├── StreamInterrupted           the stream failed after tokens were already yielded
    ├── ProtocolError               the body is not a well-formed chat-completions stream
    └── UsageError                  the SDK was called wrongly (bad arguments, closed client)
        ├── InvalidArgumentError    (also a ValueError)
        └── ArgumentTypeError       (also a TypeError)

Every error carries ``partial_text``: the text already yielded to the caller when it was raised
(``""`` when nothing was), so nothing streamed is ever lost.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx

__all__ = [
    "APIConnectionError",
    "APIStatusError",
    "APIStreamError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "InternalServerError",
    "ArgumentTypeError",
    "InvalidArgumentError",
    "LockchatError",
    "ModelNotFoundError",
    "NotFoundError",
    "ProtocolError",
    "RateLimitError",
    "StreamInterrupted",
    "UsageError",
]


class LockchatError(Exception):
    """
    Base of every error raised by lockchat_async.

    Args:
        message: What was expected and what arrived.
        partial_text: Text already yielded to the caller before the failure.

    .. versionadded:: 0.1.0
    """

    #: Whether the retry loop may try again, provided nothing was yielded yet.
    retryable: bool = False

    def __init__(self, message: str, *, partial_text: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.partial_text = partial_text


class APIConnectionError(LockchatError):
    """
    The request could not reach the server, or the connection broke.
    """

    retryable = True

    def __init__(
        self,
        message: str,
        *,
        request: httpx.Request | None = None,
        partial_text: str = "",
    ) -> None:
        super().__init__(message, partial_text=partial_text)
        self.request = request


class APITimeoutError(APIConnectionError):
    """
    A connect, read or pool timeout fired, or the call's total ``deadline`` passed.
    """


class APIStatusError(LockchatError):
    """
    The server answered with an HTTP error status.

    Args:
        message: Human-readable summary, including the server's own error message.
        response: The (closed) response; its body was read, bounded, into ``body``.
        body: The decoded JSON error body, or the body text when it was not JSON.
    """

    def __init__(self, message: str, *, response: httpx.Response, body: Any) -> None:
        super().__init__(message)
        self.response = response
        self.status_code: int = response.status_code
        self.body = body
        self.retryable = self.status_code in _RETRYABLE_STATUS or self.status_code >= 500


_RETRYABLE_STATUS = frozenset({408, 409, 425, 429})


class BadRequestError(APIStatusError):
    """
    400 or 422: the server rejected the request as malformed.
    """


class AuthenticationError(APIStatusError):
    """
    401 or 403: missing, wrong or insufficient credentials.
    """


class NotFoundError(APIStatusError):
    """
    404: wrong ``base_url`` or path.
    """


class RateLimitError(APIStatusError):
    """
    429: slow down; retried with the server's ``Retry-After`` when it sends one.
    """


class InternalServerError(APIStatusError):
    """
    A 5xx status: the server failed.
    """


class ModelNotFoundError(LockchatError):
    """
    The server said the model does not exist (Lockchat sends this line intermittently for gpt-4).
    """

    retryable = True

    def __init__(self, message: str, *, model: str, partial_text: str = "") -> None:
        super().__init__(message, partial_text=partial_text)
        self.model = model


class APIStreamError(LockchatError):
    """
    An ``{"error": ...}`` frame (or an ``event: error``) arrived inside a 200 stream.
    """

    retryable = True

    def __init__(self, message: str, *, body: Any = None, partial_text: str = "") -> None:
        super().__init__(message, partial_text=partial_text)
        self.body = body


class StreamInterrupted(LockchatError):
    """
    The stream failed after tokens had been yielded; ``partial_text`` holds all of them.

    The original failure is chained as ``__cause__``. It is never retried, because a retry
    would yield the beginning of the answer a second time.
    """


class ProtocolError(LockchatError):
    """
    The body was not a well-formed chat-completions stream (bad JSON, oversized event, ...).
    """

    def __init__(self, message: str, *, retryable: bool = False, partial_text: str = "") -> None:
        super().__init__(message, partial_text=partial_text)
        self.retryable = retryable


class UsageError(LockchatError):
    """
    The SDK was used wrongly: invalid arguments, or a client used after ``aclose()``.
    """


class InvalidArgumentError(UsageError, ValueError):
    """
    An argument has the right type but a wrong value (empty messages, a missing ``role``).
    """


class ArgumentTypeError(UsageError, TypeError):
    """
    An argument, such as ``messages`` or one of its entries, has the wrong type.
    """


_STATUS_CLASSES: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    422: BadRequestError,
    401: AuthenticationError,
    403: AuthenticationError,
    404: NotFoundError,
    429: RateLimitError,
}


def _status_error_class(status_code: int) -> type[APIStatusError]:
    """
    Return the `APIStatusError` subclass for an HTTP status code.
    """
    if status_code >= 500:
        return InternalServerError
    return _STATUS_CLASSES.get(status_code, APIStatusError)
