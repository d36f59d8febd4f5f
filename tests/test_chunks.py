"""Tests of the sans-I/O chat-completions chunk parser."""

from __future__ import annotations

import json
from typing import Any

import pytest

from lockchat_async import APIStreamError, ModelNotFoundError, ProtocolError, _chunks
from lockchat_async._chunks import ChunkParser, error_from_payload, model_missing_error


@pytest.fixture(
    autouse=True,
    params=[pytest.param("fast", id="orjson-if-installed"), pytest.param("stdlib", id="stdlib")],
)
def json_loader(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every parser test runs with the optional speed-up and with the stdlib fallback."""
    if request.param == "stdlib":
        monkeypatch.setattr(_chunks, "_loads", _chunks._stdlib_loads)


class StrParser(ChunkParser):
    """The parser takes UTF-8 bytes; these tests write their data as str for readability."""

    def feed(self, data: str | bytes) -> str | None:  # type: ignore[override]
        return super().feed(data.encode() if isinstance(data, str) else data)


def chunk(content: Any = None, *, finish: str | None = None, **extra: Any) -> str:
    delta = {} if content is None else {"content": content}
    return json.dumps(
        {"id": "c1", "model": "m", "choices": [{"delta": delta, "finish_reason": finish}], **extra}
    )


def test_tokens_and_metadata() -> None:
    """Content deltas become tokens; id, model, finish_reason and usage are kept."""
    parser = StrParser(model="gpt-4")
    assert (
        parser.feed(
            json.dumps({"choices": [{"delta": {"role": "assistant"}}], "id": "c1", "model": "m"})
        )
        is None
    )
    assert parser.feed(chunk("Hel")) == "Hel"
    assert parser.feed(chunk("lo")) == "lo"
    assert parser.feed(chunk(None, finish="stop")) is None
    assert parser.feed(json.dumps({"choices": [], "usage": {"total_tokens": 3}})) is None
    assert parser.feed("[DONE]") is None
    assert (parser.text, parser.id, parser.model, parser.finish_reason) == (
        "Hello",
        "c1",
        "m",
        "stop",
    )
    assert parser.usage == {"total_tokens": 3}
    assert parser.done


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(json.dumps({"choices": [{"delta": {"content": None}}]}), id="null-content"),
        pytest.param(json.dumps({"choices": [{"delta": {"content": ""}}]}), id="empty-content"),
        pytest.param(
            json.dumps({"choices": [{"delta": None, "finish_reason": None}]}), id="null-delta"
        ),
        pytest.param(json.dumps({"choices": []}), id="empty-choices"),
        pytest.param(json.dumps({"choices": None}), id="null-choices"),
        pytest.param(json.dumps({"object": "chat.completion.chunk"}), id="no-choices"),
    ],
)
def test_normal_chunks_without_tokens(data: str) -> None:
    """Role-only, null and usage-only chunks are normal and yield nothing."""
    assert StrParser(model="m").feed(data) is None


def test_usage_on_a_chunk_with_choices() -> None:
    """Usage sent together with the last delta is kept."""
    parser = StrParser(model="m")
    parser.feed(chunk("x", usage={"completion_tokens": 1}))
    assert parser.usage == {"completion_tokens": 1}


def test_error_frame_raises_api_stream_error() -> None:
    """An {"error": ...} frame raises APIStreamError carrying the body and partial text."""
    parser = StrParser(model="m")
    parser.feed(chunk("a"))
    with pytest.raises(APIStreamError, match="overloaded") as info:
        parser.feed(json.dumps({"error": {"message": "overloaded", "type": "server_error"}}))
    assert info.value.body == {"error": {"message": "overloaded", "type": "server_error"}}
    assert info.value.partial_text == "a"


@pytest.mark.parametrize(
    "data",
    [
        pytest.param("The model: `gpt-4` does not exist", id="bare-text"),
        pytest.param(
            json.dumps({"error": {"message": "The model: `gpt-4` does not exist"}}),
            id="error-frame",
        ),
        pytest.param(json.dumps({"error": "The model `gpt-4` does not exist"}), id="string-error"),
    ],
)
def test_lockchat_model_missing(data: str) -> None:
    """Lockchat's model-does-not-exist message raises ModelNotFoundError with the model."""
    with pytest.raises(ModelNotFoundError) as info:
        StrParser(model="gpt-4").feed(data)
    assert info.value.model == "gpt-4"


def test_model_missing_any_model_name() -> None:
    """The model-missing line is recognised for any model name."""
    error = model_missing_error("The model: `llama-3.1-8b` does not exist")
    assert error is not None and error.model == "llama-3.1-8b"
    assert model_missing_error("everything exists") is None
    assert model_missing_error("this does not exist") is None


@pytest.mark.parametrize(
    ("data", "match"),
    [
        pytest.param("not json", "expected a JSON chat.completion.chunk", id="not-json"),
        pytest.param("[1, 2]", "expected a JSON chat.completion.chunk", id="json-array"),
        pytest.param(
            '{"choices": [{"delta": {"content": 5}}]}',
            "delta.content to be a string",
            id="content-int",
        ),
        pytest.param('{"choices": [{"delta": "x"}]}', "delta.content", id="delta-str"),
        pytest.param('{"choices": {"a": 1}}', "delta.content", id="choices-dict"),
        pytest.param('{"choices": "abc"}', "delta.content", id="choices-str"),
        pytest.param('{"choices": 5}', "delta.content", id="choices-int"),
    ],
)
def test_malformed_data_raises_protocol_error(data: str, match: str) -> None:
    """Malformed event data is a ProtocolError that quotes what arrived."""
    with pytest.raises(ProtocolError, match=match):
        StrParser(model="m").feed(data)


def test_stdlib_fallback_gives_identical_results() -> None:
    """JSON the optional orjson rejects (huge ints, NaN) still parses like the stdlib."""
    parser = StrParser(model="m")
    data = (
        '{"choices": [{"delta": {"content": "x"}}], '
        '"seed": 123456789012345678901234567890, "x": NaN}'
    )
    assert parser.feed(data) == "x"


def test_feed_completion() -> None:
    """A whole chat.completion body yields its message content and metadata."""
    parser = StrParser(model="m")
    body = {
        "id": "c9",
        "model": "gpt-4",
        "choices": [{"message": {"role": "assistant", "content": "Hi!"}, "finish_reason": "stop"}],
        "usage": {"total_tokens": 5},
    }
    assert parser.feed_completion(body) == "Hi!"
    assert (parser.text, parser.id, parser.model, parser.finish_reason) == (
        "Hi!",
        "c9",
        "gpt-4",
        "stop",
    )
    assert parser.usage == {"total_tokens": 5}


@pytest.mark.parametrize(
    ("body", "error"),
    [
        pytest.param([1], ProtocolError, id="not-object"),
        pytest.param({"choices": []}, ProtocolError, id="no-choice"),
        pytest.param({"choices": [{"message": {"content": 3}}]}, ProtocolError, id="content-int"),
        pytest.param({"error": {"message": "boom"}}, APIStreamError, id="error-body"),
    ],
)
def test_feed_completion_errors(body: Any, error: type[Exception]) -> None:
    """A malformed or error chat.completion body raises a typed error."""
    with pytest.raises(error):
        StrParser(model="m").feed_completion(body)


def test_error_from_payload_without_message() -> None:
    """An error object without a message still produces a readable error."""
    assert "server_error" in str(error_from_payload({"error": {"type": "server_error"}}))


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b' {"a": 1} ', id="surrounding-whitespace"),
        pytest.param(b'{"a": 1}', id="plain"),
        pytest.param(b'{"a": "\\u00e9\xc3\xa9"}', id="escapes-and-utf8"),
        pytest.param(b"\xef\xbb\xbf{}", id="bom"),
        pytest.param(b'{"a": 1} x', id="extra-data"),
        pytest.param(b'{"a": ', id="truncated"),
        pytest.param(b"", id="empty"),
    ],
)
def test_stdlib_fast_loads_equals_json_loads(data: bytes) -> None:
    """The direct-scanner path returns and raises exactly what json.loads does."""
    text = data.decode("utf-8", "replace")
    try:
        expected: object = json.loads(text)
    except ValueError as exc:
        with pytest.raises(type(exc)):
            _chunks._stdlib_loads(data)
    else:
        assert _chunks._stdlib_loads(data) == expected
