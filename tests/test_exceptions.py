"""Tests of the exception tree."""

from __future__ import annotations

import httpx
import pytest

import lockchat_async as lc
from lockchat_async._exceptions import _status_error_class


@pytest.mark.parametrize(
    ("status", "cls", "retryable"),
    [
        pytest.param(400, lc.BadRequestError, False, id="400"),
        pytest.param(422, lc.BadRequestError, False, id="422"),
        pytest.param(401, lc.AuthenticationError, False, id="401"),
        pytest.param(403, lc.AuthenticationError, False, id="403"),
        pytest.param(404, lc.NotFoundError, False, id="404"),
        pytest.param(408, lc.APIStatusError, True, id="408"),
        pytest.param(409, lc.APIStatusError, True, id="409"),
        pytest.param(425, lc.APIStatusError, True, id="425"),
        pytest.param(429, lc.RateLimitError, True, id="429"),
        pytest.param(418, lc.APIStatusError, False, id="418"),
        pytest.param(500, lc.InternalServerError, True, id="500"),
        pytest.param(503, lc.InternalServerError, True, id="503"),
    ],
)
def test_status_classes(status: int, cls: type[lc.APIStatusError], retryable: bool) -> None:
    """Each status maps to its subclass and retryability, with status_code and body."""
    response = httpx.Response(status, request=httpx.Request("POST", "http://x/v1/chat/completions"))
    error = _status_error_class(status)("msg", response=response, body={"error": "x"})
    assert type(error) is cls
    assert error.status_code == status
    assert error.body == {"error": "x"}
    assert error.retryable is retryable


def test_tree() -> None:
    """Every public error derives from LockchatError along the documented branches."""
    assert issubclass(lc.APITimeoutError, lc.APIConnectionError)
    for cls in (
        lc.BadRequestError,
        lc.AuthenticationError,
        lc.NotFoundError,
        lc.RateLimitError,
        lc.InternalServerError,
    ):
        assert issubclass(cls, lc.APIStatusError)
    for cls in (
        lc.APIConnectionError,
        lc.APIStatusError,
        lc.ModelNotFoundError,
        lc.APIStreamError,
        lc.StreamInterrupted,
        lc.ProtocolError,
        lc.UsageError,
    ):
        assert issubclass(cls, lc.LockchatError)
    assert issubclass(lc.InvalidArgumentError, ValueError)
    assert issubclass(lc.ArgumentTypeError, TypeError)


def test_partial_text_defaults_to_empty() -> None:
    """Every error has partial_text, empty unless tokens were yielded."""
    assert lc.LockchatError("x").partial_text == ""
    assert lc.StreamInterrupted("x", partial_text="ab").partial_text == "ab"
