"""
Sans-I/O interpretation of the OpenAI/Lockchat chat-completions wire format.

`ChunkParser` turns the data of SSE events (or a whole non-streamed ``chat.completion`` body)
into tokens, and remembers the metadata the stream carried. It never awaits.
"""

from __future__ import annotations

import json
import json.scanner
import os
import re
from collections.abc import Callable
from typing import Any, Final

from ._exceptions import APIStreamError, LockchatError, ModelNotFoundError, ProtocolError

__all__ = ["ChunkParser", "error_from_payload", "model_missing_error"]


# typeshed describes make_scanner oddly (as taking itself); it takes a JSONDecoder.
_scan_once: Final[Callable[[str, int], tuple[Any, int]]] = json.scanner.make_scanner(
    json.JSONDecoder()  # type: ignore[arg-type]
)


def _stdlib_loads(data: bytes) -> Any:
    # Decode explicitly: json.loads(bytes) would guess UTF-16/32 from NUL patterns, but SSE
    # data is UTF-8 by definition.
    text = data.decode("utf-8", "replace")
    # json.loads() is this scanner wrapped in three Python layers and two regex matches for
    # surrounding whitespace; call it directly and let json.loads() handle anything unusual
    # (whitespace, a BOM, errors), so results and errors are exactly json.loads()'s.
    try:
        value, end = _scan_once(text, 0)
    except (StopIteration, ValueError):
        return json.loads(text)
    if end != len(text):
        return json.loads(text)
    return value


_loads: Callable[[bytes], Any]
if os.environ.get("LOCKCHAT_NO_ORJSON"):  # pragma: no cover - benchmarks compare both
    _loads = _stdlib_loads
else:
    try:  # pragma: no cover - which branch runs depends on the environment
        import orjson

        _loads = orjson.loads  # parses UTF-8 bytes directly
    except ImportError:  # pragma: no cover
        _loads = _stdlib_loads

DONE: Final = b"[DONE]"

# Lockchat's own error line, e.g. "The model: `gpt-4` does not exist", for any model name.
_MODEL_MISSING: Final = re.compile(r"The model:?\s*`?([^`\s]*)`?\s+does not exist")

_SNIPPET: Final = 120


def _snippet(text: str) -> str:
    return repr(text if len(text) <= _SNIPPET else text[:_SNIPPET] + "...")


def model_missing_error(text: str, *, partial_text: str = "") -> ModelNotFoundError | None:
    """
    Return a `ModelNotFoundError` if *text* is Lockchat's "model does not exist" message.
    """
    if "does not exist" not in text:
        return None
    match = _MODEL_MISSING.search(text)
    if match is None:
        return None
    model = match.group(1)
    return ModelNotFoundError(
        f"the server says the model {model!r} does not exist: {_snippet(text)}",
        model=model,
        partial_text=partial_text,
    )


def error_from_payload(payload: Any, *, partial_text: str = "") -> LockchatError:
    """
    Build the typed error for an ``{"error": ...}`` object sent inside a 200 response.
    """
    error = payload.get("error") if isinstance(payload, dict) else payload
    if isinstance(error, dict):
        message = str(error.get("message") or error.get("type") or error)
    else:
        message = str(error)
    missing = model_missing_error(message, partial_text=partial_text)
    if missing is not None:
        return missing
    return APIStreamError(
        f"the server sent an error inside the stream: {_snippet(message)}",
        body=payload,
        partial_text=partial_text,
    )


class ChunkParser:
    """
    Accumulates the state of one completion while turning event data into tokens.

    Args:
        model: The model that was asked for, used in error messages.
    """

    __slots__ = (
        "_seen_metadata",
        "done",
        "finish_reason",
        "id",
        "model",
        "parts",
        "requested_model",
        "usage",
    )

    def __init__(self, *, model: str) -> None:
        self.requested_model = model
        self.parts: list[str] = []
        self.done = False
        self.finish_reason: str | None = None
        self.model: str | None = None
        self.id: str | None = None
        self.usage: dict[str, Any] | None = None
        self._seen_metadata = False  # id and model are taken from the first chunk with choices

    @property
    def text(self) -> str:
        return "".join(self.parts)

    def feed(self, data: bytes) -> str | None:
        """
        Interpret the data of one ``message`` event and return its token, if it has one.

        Raises:
            APIStreamError: for an ``{"error": ...}`` frame.
            ModelNotFoundError: for Lockchat's "model does not exist" line.
            ProtocolError: for data that is not a JSON object.
        """
        try:
            chunk = _loads(data)
        except ValueError:  # orjson.JSONDecodeError is a ValueError too
            if data == DONE:
                self.done = True
                return None
            chunk = self._loads_fallback(data)
        # Hot path: a content chunk after the first, with nothing else to record. Plain
        # subscripts; any other shape (first chunk, finish, usage, odd or malformed) takes
        # the full path below, so the result is the same either way.
        try:
            choice = chunk["choices"][0]
            content = choice["delta"]["content"]
            finish = choice["finish_reason"]
        except (KeyError, IndexError, TypeError):
            pass
        else:
            # The subscripts only succeed on dicts, so chunk is one here.
            if (
                type(content) is str
                and finish is None
                and self._seen_metadata
                and "usage" not in chunk
            ):
                if content:
                    self.parts.append(content)
                    return content
                return None
        return self._full(chunk, data)

    def _full(self, chunk: Any, data: bytes) -> str | None:
        if type(chunk) is not dict:
            raise self._not_json(data)
        choices = chunk.get("choices")
        if choices:
            if not self._seen_metadata:
                self._seen_metadata = True
                self.id = chunk.get("id")
                self.model = chunk.get("model")
            try:
                choice = choices[0]
                delta = choice.get("delta")
                finish = choice.get("finish_reason")
                content = delta.get("content") if delta else None
            except (AttributeError, KeyError, IndexError, TypeError):
                raise self._bad_shape(data) from None
            if finish:
                self.finish_reason = finish
            if "usage" in chunk and chunk["usage"]:
                self.usage = chunk["usage"]
            if content:
                if type(content) is not str:
                    raise self._bad_shape(data)
                self.parts.append(content)
                return content
            return None
        self._other(chunk, data)
        return None

    def _other(self, chunk: dict[str, Any], data: bytes) -> None:
        # Rare chunks, kept off the hot path: errors, usage-only chunks (choices == []),
        # and metadata-only chunks.
        if "error" in chunk and chunk["error"]:
            raise error_from_payload(chunk, partial_text=self.text)
        if (
            "choices" in chunk
            and chunk["choices"] is not None
            and not isinstance(chunk["choices"], list)
        ):
            raise self._bad_shape(data)
        if chunk.get("usage"):
            self.usage = chunk["usage"]
        if self.id is None:
            self.id = chunk.get("id")
            self.model = chunk.get("model")
            self._seen_metadata = self.id is not None

    def feed_completion(self, body: Any) -> str:
        """
        Interpret a whole non-streamed ``chat.completion`` body and return its text.
        """
        if not isinstance(body, dict):
            raise ProtocolError(
                f"expected a JSON object chat.completion, received {_snippet(json.dumps(body))}"
            )
        if body.get("error"):
            raise error_from_payload(body)
        try:
            choice = body["choices"][0]
            content = choice["message"].get("content") or ""
        except (KeyError, IndexError, TypeError, AttributeError):
            raise ProtocolError(
                "expected a chat.completion with choices[0].message.content, "
                f"received {_snippet(json.dumps(body))}"
            ) from None
        if not isinstance(content, str):
            raise ProtocolError(f"expected message content to be a string, received {content!r}")
        self.id = body.get("id")
        self.model = body.get("model")
        self.usage = body.get("usage")
        self.finish_reason = choice.get("finish_reason")
        self.done = True
        if content:
            self.parts.append(content)
        return content

    def _loads_fallback(self, data: bytes) -> Any:
        # orjson is stricter than the standard library (invalid UTF-8, NaN, integers beyond
        # 64 bits); the result must not depend on whether the speed-up is installed.
        try:
            return _stdlib_loads(data)
        except ValueError:
            raise self._not_json(data) from None

    def _not_json(self, data: bytes) -> LockchatError:
        text = data.decode("utf-8", "replace")
        missing = model_missing_error(text, partial_text=self.text)
        if missing is not None:
            return missing
        return ProtocolError(
            "expected a JSON chat.completion.chunk or [DONE] as event data, "
            f"received {_snippet(text)}",
            partial_text=self.text,
        )

    def _bad_shape(self, data: bytes) -> ProtocolError:
        return ProtocolError(
            "expected choices[0].delta.content to be a string or null, "
            f"received {_snippet(data.decode('utf-8', 'replace'))}",
            partial_text=self.text,
        )
