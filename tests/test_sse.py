"""Tests of the sans-I/O SSE decoder against the WHATWG event stream interpretation."""

from __future__ import annotations

import time

import pytest

from lockchat_async import ProtocolError, ServerSentEvent, SSEDecoder


def decode_chunks(chunks: list[bytes], **kwargs: int) -> list[ServerSentEvent]:
    decoder = SSEDecoder(**kwargs)
    events: list[ServerSentEvent] = []
    for chunk in chunks:
        events.extend(decoder.feed(chunk))
    events.extend(decoder.close())
    return events


def all_chunkings(body: bytes) -> list[list[bytes]]:
    """The whole body, every split into two, every split into three nearby, one byte at a time."""
    result = [[body], [body[i : i + 1] for i in range(len(body))]]
    for i in range(len(body) + 1):
        result.append([body[:i], body[i:]])
        for j in range(i, min(i + 4, len(body) + 1)):
            result.append([body[:i], body[i:j], body[j:]])
    return result


def decode(body: bytes) -> list[ServerSentEvent]:
    """Decode *body* under every chunking and check they all agree."""
    expected = decode_chunks([body])
    for chunks in all_chunkings(body):
        assert decode_chunks(chunks) == expected, chunks
    return expected


CASES = [
    pytest.param(b"data: a\n\n", [ServerSentEvent(data="a")], id="lf"),
    pytest.param(b"data: a\r\n\r\n", [ServerSentEvent(data="a")], id="crlf"),
    pytest.param(b"data: a\r\r", [ServerSentEvent(data="a")], id="lone-cr"),
    pytest.param(
        b"data: a\r\n\rdata: b\n\r\n",
        [ServerSentEvent(data="a"), ServerSentEvent(data="b")],
        id="mixed-endings",
    ),
    pytest.param(b"data: a\r\r\n", [ServerSentEvent(data="a")], id="cr-then-crlf"),
    pytest.param(
        b"data: YHOO\ndata: +2\ndata: 10\n\n",
        [ServerSentEvent(data="YHOO\n+2\n10")],
        id="spec-multiline",
    ),
    pytest.param(
        b": test stream\n\ndata: first event\nid: 1\n\n"
        b"data:second event\nid\n\ndata:  third event\n\n",
        [
            ServerSentEvent(data="first event", id="1"),
            ServerSentEvent(data="second event", id=""),
            ServerSentEvent(data=" third event", id=""),
        ],
        id="spec-ids-and-spaces",
    ),
    pytest.param(
        b"data\n\ndata\ndata\n\ndata:\n",
        [ServerSentEvent(data=""), ServerSentEvent(data="\n")],
        id="spec-empty-data",
    ),
    pytest.param(
        b"data:test\n\ndata: test\n\n", [ServerSentEvent(data="test")] * 2, id="spec-one-space"
    ),
    pytest.param(
        b"event: add\ndata: 1\n\ndata: 2\n\n",
        [ServerSentEvent(event="add", data="1"), ServerSentEvent(data="2")],
        id="event-type-resets",
    ),
    pytest.param(
        b"event: add\n\ndata: 2\n\n", [ServerSentEvent(data="2")], id="event-without-data-resets"
    ),
    pytest.param(
        b"id: 1\n\ndata: x\n\n", [ServerSentEvent(data="x", id="1")], id="id-sticky-without-data"
    ),
    pytest.param(
        b"id: 1\ndata: x\n\nid: a\x00b\ndata: y\n\n",
        [ServerSentEvent(data="x", id="1"), ServerSentEvent(data="y", id="1")],
        id="id-with-nul-ignored",
    ),
    pytest.param(
        b"id: 1\ndata: x\n\nid\ndata: y\n\n",
        [ServerSentEvent(data="x", id="1"), ServerSentEvent(data="y")],
        id="id-reset-by-empty",
    ),
    pytest.param(
        b"retry: 1500\ndata: x\n\ndata: y\n\n",
        [ServerSentEvent(data="x", retry=1500), ServerSentEvent(data="y")],
        id="retry-digits",
    ),
    pytest.param(
        b"retry: 15a\ndata: x\n\nretry: \xd9\xa1\ndata: y\n\n"
        b"retry:\ndata: z\n\nretry: -1\ndata: w\n\n",
        [ServerSentEvent(data=d) for d in "xyzw"],
        id="retry-only-ascii-digits",
    ),
    pytest.param(
        b"data:a\xe2\x80\xa8b\x0bc\x0cd\n\n",
        [ServerSentEvent(data="a\u2028b\x0bc\x0cd")],
        id="no-unicode-line-breaks",
    ),
    pytest.param(b"\xef\xbb\xbfdata: a\n\n", [ServerSentEvent(data="a")], id="bom"),
    pytest.param(b"\xef\xbb\xbf\xef\xbb\xbfdata: a\n\n", [], id="only-one-bom"),
    pytest.param(
        b"data: \xef\xbb\xbfa\n\n", [ServerSentEvent(data="\ufeffa")], id="bom-inside-kept"
    ),
    pytest.param(
        b"data: \xf0\x9f\x98\x80 \xc3\xa9\n\n",
        [ServerSentEvent(data="\U0001f600 \u00e9")],
        id="utf8-multibyte",
    ),
    pytest.param(
        b"data: a\xffb\xe2\x82\n\n",
        [ServerSentEvent(data="a\ufffdb\ufffd")],
        id="utf8-invalid-replaced",
    ),
    pytest.param(b":comment\n: ping\n\ndata: a\n\n", [ServerSentEvent(data="a")], id="comments"),
    pytest.param(
        b"foo: bar\ndata: a\nfoo\n\n", [ServerSentEvent(data="a")], id="unknown-fields-ignored"
    ),
    pytest.param(b"DATA: a\n\nData: b\n\n", [], id="field-names-case-sensitive"),
    pytest.param(b"data: a\n\ndata: b", [ServerSentEvent(data="a")], id="trailing-block-discarded"),
    pytest.param(b"data: a\n", [], id="no-blank-line-no-event"),
    pytest.param(b"data: a:b: c\n\n", [ServerSentEvent(data="a:b: c")], id="colons-in-value"),
    pytest.param(b"data:\ttab\n\n", [ServerSentEvent(data="\ttab")], id="tab-not-stripped"),
    pytest.param(b"data: a \n\n", [ServerSentEvent(data="a ")], id="trailing-space-kept"),
    pytest.param(b"\n\n\n", [], id="blank-lines-only"),
    pytest.param(b"", [], id="empty"),
]


@pytest.mark.parametrize(("body", "expected"), CASES)
def test_spec_cases_under_every_chunking(body: bytes, expected: list[ServerSentEvent]) -> None:
    """Every spec case decodes to the expected events however the bytes are split."""
    assert decode(body) == expected


def test_crlf_split_across_chunks_is_one_line_break() -> None:
    """A CR ending one chunk and a LF starting the next make one line end, not two."""
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\r") == []
    assert decoder.feed(b"\ndata: b\r") == []
    assert decoder.feed(b"\n\r") == [ServerSentEvent(data="a\nb")]
    assert decoder.feed(b"\n") == []  # the LF after that CR is part of it: no extra blank line


def test_bom_split_across_chunks_is_stripped() -> None:
    """One leading BOM is stripped even when its three bytes arrive separately."""
    assert decode_chunks([b"\xef", b"\xbb", b"\xbfdata: a\n\n"]) == [ServerSentEvent(data="a")]


def test_last_event_id_and_retry_are_exposed() -> None:
    """The decoder exposes the last event ID and reconnection time for reconnects."""
    decoder = SSEDecoder()
    decoder.feed(b"id: 42\nretry: 3000\n\n")
    assert decoder.last_event_id == "42"
    assert decoder.retry == 3000


def test_close_discards_pending_and_rejects_more_input() -> None:
    """close() drops an unterminated block; feeding afterwards is a clear error."""
    decoder = SSEDecoder()
    decoder.feed(b"data: partial")
    assert decoder.has_pending
    assert decoder.close() == []
    assert not decoder.has_pending
    with pytest.raises(ProtocolError, match="after SSEDecoder.close"):
        decoder.feed(b"data: more\n\n")


def test_repr_skips_defaults() -> None:
    """The event repr shows only fields that differ from their defaults."""
    assert repr(ServerSentEvent(data="x")) == "ServerSentEvent(data='x')"
    assert repr(ServerSentEvent()) == "ServerSentEvent()"
    assert (
        repr(ServerSentEvent(event="e", data="d", id="1", retry=5))
        == "ServerSentEvent(event='e', data='d', id='1', retry=5)"
    )


def test_event_is_frozen() -> None:
    """ServerSentEvent is an immutable value object."""
    event = ServerSentEvent(data="x")
    with pytest.raises(AttributeError):
        event.data = "y"  # type: ignore[misc]


@pytest.mark.parametrize(
    "chunks",
    [
        pytest.param([b"data: " + b"x" * 100], id="one-chunk"),
        pytest.param([b"data: "] + [b"x"] * 100, id="byte-by-byte"),
        pytest.param([b"data: " + b"x" * 100 + b"\n"], id="terminated-line"),
        pytest.param([b"data: " + b"x" * 40 + b"\n"] * 3, id="event-data-across-lines"),
        pytest.param([b"x" * 50, b"x" * 51 + b"\nmore"], id="pending-plus-line"),
    ],
)
def test_oversized_line_or_event_raises(chunks: list[bytes]) -> None:
    """A line or event beyond max_event_bytes raises ProtocolError naming the limit."""
    decoder = SSEDecoder(max_event_bytes=100)
    with pytest.raises(ProtocolError, match="at most 100 bytes"):
        for chunk in chunks:
            decoder.feed(chunk)
    assert not decoder.has_pending  # nothing kept after the error


def test_within_limit_is_fine() -> None:
    """Exactly at the limit decodes normally."""
    decoder = SSEDecoder(max_event_bytes=12)
    assert decoder.feed(b"data: 123456\n\n") == [ServerSentEvent(data="123456")]


def test_long_line_byte_by_byte_is_linear() -> None:
    """A 200 KB line fed one byte at a time decodes quickly (no quadratic re-scanning)."""
    line = b"data: " + b"y" * 200_000 + b"\n\n"
    decoder = SSEDecoder()
    started = time.process_time()
    events = []
    for i in range(len(line)):
        events.extend(decoder.feed(line[i : i + 1]))
    elapsed = time.process_time() - started
    assert events == [ServerSentEvent(data="y" * 200_000)]
    # Linear is ~0.1 s here; quadratic would take minutes. A generous bound, not a benchmark.
    assert elapsed < 10


def test_report_unknown_surfaces_ignored_lines() -> None:
    """With report_unknown, an unknown-field line comes out of feed_raw as type None."""
    decoder = SSEDecoder(report_unknown=True)
    raw = decoder.feed_raw(b"The model: `gpt-4` does not exist\ndata: a\n\n")
    assert raw == [
        (None, b"The model: `gpt-4` does not exist", "", None),
        ("message", b"a", "", None),
    ]
    assert SSEDecoder(report_unknown=True).feed(b"foo: bar\n\n") == []


@pytest.mark.parametrize(
    "chunks",
    [
        pytest.param([b"data: a\n\n", b"data: b\n\n"], id="plain"),
        pytest.param([b"retry: 5\n", b"data: a\n\n"], id="pending-retry"),
        pytest.param([b"event: x\n", b"data: a\n\n"], id="pending-event-type"),
        pytest.param([b"id: 7\n", b"data: a\n\n"], id="pending-id"),
        pytest.param([b"data: a\n", b"data: b\n\n"], id="pending-data"),
        pytest.param([b"data: a\r", b"data: b\n\n"], id="trailing-cr"),
        pytest.param([b"\xef\xbb\xbfdata: a\n\n"], id="first-line-bom"),
        pytest.param([b"data", b"data: b\n\n"], id="pending-line"),
        pytest.param([b"x\n\n", b"data: a\r\n\n"], id="cr-inside"),
    ],
)
def test_one_event_per_chunk_fast_path_matches_general_path(chunks: list[bytes]) -> None:
    """The one-event-per-chunk fast path gives what byte-by-byte decoding gives."""
    body = b"".join(chunks)
    assert decode_chunks(chunks) == decode_chunks(bytewise_chunks(body))


def bytewise_chunks(body: bytes) -> list[bytes]:
    return [body[i : i + 1] for i in range(len(body))]


def test_fast_path_respects_the_limit() -> None:
    """A whole oversized event in one chunk still raises."""
    with pytest.raises(ProtocolError):
        SSEDecoder(max_event_bytes=10).feed(b"data: " + b"x" * 20 + b"\n\n")
