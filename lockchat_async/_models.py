"""
Request-side values: message validation and the request body.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ._exceptions import ArgumentTypeError, InvalidArgumentError

__all__ = ["Message", "build_body", "validate_messages"]

Message = Mapping[str, Any]


def validate_messages(messages: Iterable[Message]) -> list[dict[str, Any]]:
    """
    Check *messages* before any request is made and return them as a list of plain dicts.

    Each message needs a string ``role`` and a string ``content``; other keys (``name``, ...)
    pass through untouched.
    """
    if isinstance(messages, (str, bytes, Mapping)) or not isinstance(messages, Iterable):
        raise ArgumentTypeError(
            "expected messages to be a list of {'role': str, 'content': str} mappings, "
            f"received {type(messages).__name__}"
        )
    result: list[dict[str, Any]] = []
    for index, message in enumerate(messages):
        if not isinstance(message, Mapping):
            raise ArgumentTypeError(
                f"expected messages[{index}] to be a mapping with 'role' and 'content', "
                f"received {type(message).__name__}"
            )
        for key in ("role", "content"):
            if key not in message:
                raise InvalidArgumentError(
                    f"expected messages[{index}] to have a {key!r} key, "
                    f"received keys {sorted(map(str, message))}"
                )
            value = message[key]
            if not isinstance(value, str):
                raise ArgumentTypeError(
                    f"expected messages[{index}][{key!r}] to be a str, "
                    f"received {type(value).__name__}"
                )
        if not message["role"]:
            raise InvalidArgumentError(f"expected messages[{index}]['role'] to be non-empty")
        result.append(dict(message))
    if not result:
        raise InvalidArgumentError("expected at least one message, received an empty list")
    return result


def build_body(
    model: str,
    messages: list[dict[str, Any]],
    *,
    stream: bool,
    temperature: float,
    params: Mapping[str, Any],
) -> dict[str, Any]:
    """
    The JSON body of ``POST /v1/chat/completions``, with extra OpenAI params passed through.
    """
    if not isinstance(model, str):
        raise ArgumentTypeError(f"expected model to be a str, received {type(model).__name__}")
    if not model:
        raise InvalidArgumentError("expected model to be a non-empty str, received ''")
    body: dict[str, Any] = {
        "temperature": float(temperature),
        "messages": messages,
        "model": model,
        "stream": stream,
    }
    for key in ("model", "messages", "stream"):
        if key in params:
            raise InvalidArgumentError(
                f"expected {key!r} as an argument of its own, received it in **params"
            )
    body.update(params)
    return body
