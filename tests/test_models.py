"""Tests of request validation and the request body."""

from __future__ import annotations

from typing import Any

import pytest

from lockchat_async import ArgumentTypeError, InvalidArgumentError, UsageError
from lockchat_async._models import build_body, validate_messages


def test_valid_messages_are_copied() -> None:
    """Valid messages come back as plain dicts, extra keys kept."""
    messages = ({"role": "user", "content": "hi", "name": "bob"},)
    assert validate_messages(messages) == [{"role": "user", "content": "hi", "name": "bob"}]


@pytest.mark.parametrize(
    ("messages", "error", "match"),
    [
        pytest.param("hello", TypeError, "list of", id="str"),
        pytest.param({"role": "user", "content": "x"}, TypeError, "list of", id="single-dict"),
        pytest.param(None, TypeError, "received NoneType", id="none"),
        pytest.param([], ValueError, "at least one message", id="empty"),
        pytest.param([("user", "hi")], TypeError, r"messages\[0\] to be a mapping", id="tuple"),
        pytest.param(
            [{"role": "user"}],
            ValueError,
            r"messages\[0\] to have a 'content' key",
            id="no-content",
        ),
        pytest.param(
            [{"role": "user", "content": "a"}, {"content": "b"}],
            ValueError,
            r"messages\[1\] to have a 'role'",
            id="second-no-role",
        ),
        pytest.param(
            [{"role": "user", "content": 5}],
            TypeError,
            r"messages\[0\]\['content'\] to be a str, received int",
            id="content-int",
        ),
        pytest.param(
            [{"role": None, "content": "x"}], TypeError, r"\['role'\] to be a str", id="role-none"
        ),
        pytest.param([{"role": "", "content": "x"}], ValueError, "non-empty", id="role-empty"),
    ],
)
def test_invalid_messages(messages: Any, error: type[Exception], match: str) -> None:
    """A bad message raises ValueError/TypeError (and UsageError) saying which and why."""
    with pytest.raises(error, match=match) as info:
        validate_messages(messages)
    assert isinstance(info.value, UsageError)


def test_build_body_passes_params_through() -> None:
    """Extra OpenAI params land in the JSON body next to the seed's four fields."""
    body = build_body(
        "gpt-4",
        [{"role": "user", "content": "x"}],
        stream=True,
        temperature=0.2,
        params={"max_tokens": 5, "stop": ["\n"]},
    )
    assert body == {
        "temperature": 0.2,
        "messages": [{"role": "user", "content": "x"}],
        "model": "gpt-4",
        "stream": True,
        "max_tokens": 5,
        "stop": ["\n"],
    }


@pytest.mark.parametrize(
    ("model", "params", "error"),
    [
        pytest.param(4, {}, ArgumentTypeError, id="model-int"),
        pytest.param("", {}, InvalidArgumentError, id="model-empty"),
        pytest.param("m", {"stream": False}, InvalidArgumentError, id="stream-in-params"),
    ],
)
def test_build_body_rejects_bad_arguments(
    model: Any, params: dict[str, Any], error: type[Exception]
) -> None:
    """A bad model or a reserved key in params is a usage error."""
    with pytest.raises(error):
        build_body(
            model, [{"role": "user", "content": "x"}], stream=True, temperature=0.7, params=params
        )
