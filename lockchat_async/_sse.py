"""
Sans-I/O Server-Sent Events decoding, exact to the WHATWG HTML "event stream interpretation".

Nothing here awaits or touches the network: bytes go in through ``feed()``, events come out.
Lines are split on CRLF, LF and lone CR (also when a CR and its LF arrive in different chunks)
and nothing else, so U+2028, U+2029, VT and FF stay inside a line, unlike ``str.splitlines()``.
Decoding happens per complete line, which makes a multi-byte UTF-8 character or a BOM split
across chunks come out the same as if it had arrived whole.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Final

from ._exceptions import ProtocolError

__all__ = ["SSEDecoder", "ServerSentEvent"]

_BOM: Final = b"\xef\xbb\xbf"

# (event type, data as UTF-8 bytes, last event id, retry) -- the hot path builds these tuples
# instead of dataclass instances and leaves data undecoded (a JSON parser takes UTF-8 bytes);
# ``SSEDecoder.feed`` wraps them for the public API. An event type of ``None`` marks a line
# whose field name the spec says to ignore (see ``report_unknown``).
_RawEvent = tuple["str | None", bytes, str, "int | None"]


@dataclass(frozen=True, slots=True)
class ServerSentEvent:
    """
    One dispatched Server-Sent Event.

    Args:
        event: The event type; ``"message"`` when the stream named none.
        data: The data lines of the event joined with ``"\\n"``.
        id: The stream's last event ID when the event was dispatched (``""`` if never set).
        retry: The reconnection time in milliseconds, when this event's block set one.

    .. versionadded:: 0.1.0
    """

    event: str = "message"
    data: str = ""
    id: str = ""
    retry: int | None = None

    def __repr__(self) -> str:
        # Like httpx-sse: show only what differs from the defaults, so logs stay short.
        parts = []
        if self.event != "message":
            parts.append(f"event={self.event!r}")
        if self.data:
            parts.append(f"data={self.data!r}")
        if self.id:
            parts.append(f"id={self.id!r}")
        if self.retry is not None:
            parts.append(f"retry={self.retry!r}")
        return f"ServerSentEvent({', '.join(parts)})"


class SSEDecoder:
    """
    Incremental, sans-I/O decoder of a ``text/event-stream`` body.

    ``feed(chunk)`` returns the events that the chunk completed; ``close()`` ends the stream,
    discarding a trailing block that was never terminated by a blank line, as the spec says.
    The result never depends on how the bytes were split into chunks, and the cost is linear
    in the input even when a long line arrives one byte at a time.

    Args:
        max_event_bytes: Raise `ProtocolError` when one line or one event's data grows past
            this many bytes, so a hostile server cannot make memory grow without bound.
            ``None`` means unbounded.

    .. versionadded:: 0.1.0
    """

    __slots__ = (
        "_clean",
        "_closed",
        "_data",
        "_data_len",
        "_event",
        "_first_line",
        "_hot_limit",
        "_last_id",
        "_max",
        "_pending",
        "_pending_len",
        "_report_unknown",
        "_retry",
        "_retry_block",
        "_trailing_cr",
    )

    def __init__(self, *, max_event_bytes: int | None = None, report_unknown: bool = False) -> None:
        self._max = max_event_bytes
        self._hot_limit = sys.maxsize if max_event_bytes is None else max_event_bytes - 2
        # When true, lines with an unknown field name come out as raw events with type None;
        # the client uses that to spot Lockchat's bare "The model: ... does not exist" line.
        self._report_unknown = report_unknown
        self._pending: list[bytes] = []  # pieces of the line not yet terminated
        self._pending_len = 0
        # The last chunk ended in CR: a LF starting the next one belongs to that line break.
        self._trailing_cr = False
        self._first_line = True
        self._data: list[bytes] = []
        self._data_len = 0
        self._event = ""
        self._last_id = ""
        self._retry: int | None = None
        self._retry_block: int | None = None
        self._closed = False
        # True only when nothing is buffered (no partial line, block, CR or BOM check
        # pending), which is what the fast path in feed_raw needs. False is always safe.
        self._clean = False

    @property
    def last_event_id(self) -> str:
        """
        The stream's last event ID, to send back as ``Last-Event-ID`` when reconnecting.
        """
        return self._last_id

    @property
    def retry(self) -> int | None:
        """
        The reconnection time (ms) most recently set by the stream, if any.
        """
        return self._retry

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        """
        Decode one chunk of the body and return the events it completed.

        Args:
            chunk: The next bytes of the stream, split anywhere.
        """
        single = self.feed_single(chunk)
        if single is not None:
            return [ServerSentEvent("message", single.decode("utf-8", "replace"), self._last_id)]
        return [
            ServerSentEvent(event, data.decode("utf-8", "replace"), last_id, retry)
            for event, data, last_id, retry in self.feed_raw(chunk)
            if event is not None
        ]

    def close(self) -> list[ServerSentEvent]:
        """
        End the stream. A block with no terminating blank line is discarded, per the spec.
        """
        self._closed = True
        self._pending.clear()
        self._pending_len = 0
        self._data.clear()
        self._data_len = 0
        self._event = ""
        return []

    @property
    def has_pending(self) -> bool:
        """
        Whether bytes of an unfinished line or event are buffered.
        """
        return bool(self._pending or self._data or self._event)

    def feed_single(self, chunk: bytes) -> bytes | None:
        """
        The fast path: if *chunk* is exactly one whole ``data: ...`` event (what LLM servers
        flush per token) and nothing is buffered, return its data; otherwise return ``None``
        and consume nothing, so the caller feeds the chunk to `feed_raw`. Either way the
        result is exactly what the general path would give.
        """
        end = len(chunk) - 2
        if (
            self._clean
            and chunk.find(b"\n", 6) == end
            and chunk[-1:] == b"\n"
            and chunk.startswith(b"data: ")
            and b"\r" not in chunk
            and end <= self._hot_limit
        ):
            return chunk[6:end]
        return None

    def feed_raw(self, chunk: bytes) -> list[_RawEvent]:
        """
        Like `feed`, but return plain tuples ``(event, data, id, retry)`` with data as UTF-8
        bytes. This is the general path; callers that care about speed try `feed_single`
        first (it gives the same result for the chunks it accepts).
        """
        # The general path may leave state behind; it says at its end whether it did not.
        self._clean = False
        if self._closed:
            raise ProtocolError("expected no more input after SSEDecoder.close(), got a chunk")
        if self._trailing_cr:
            self._trailing_cr = False
            if chunk[:1] == b"\n":
                chunk = chunk[1:]
        if b"\r" in chunk:
            # Normalise CRLF and lone CR to LF. A CR at the very end may be the first half of a
            # CRLF whose LF is in the next chunk; it still ends the line now, and we remember
            # to drop that LF.
            self._trailing_cr = chunk[-1:] == b"\r"
            chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        limit = self._max
        if b"\n" not in chunk:
            if chunk:
                self._pending.append(chunk)
                self._pending_len += len(chunk)
                if limit is not None and self._pending_len > limit:
                    self._overflow(f"a line of more than {limit} bytes without a line break")
            return []
        lines = chunk.split(b"\n")
        tail = lines.pop()
        if self._pending:
            self._pending.append(lines[0])
            lines[0] = b"".join(self._pending)
            self._pending.clear()
            self._pending_len = 0
        if tail:
            self._pending.append(tail)
            self._pending_len = len(tail)
        if limit is not None and (len(chunk) > limit or len(lines[0]) > limit):
            for line in lines:
                if len(line) > limit:
                    self._overflow(f"a line of {len(line)} bytes, more than the limit of {limit}")
            if self._pending_len > limit:
                self._overflow(f"a line of more than {limit} bytes without a line break")
        if self._first_line:
            self._first_line = False
            if lines[0].startswith(_BOM):
                lines[0] = lines[0][3:]

        out: list[_RawEvent] = []
        data = self._data
        # Size of the event's data so far (the spec's buffer: each line plus a LF). Kept in
        # a local and checked at dispatch and at the end of the chunk: an oversized event
        # raises whichever way the bytes were chunked, and a chunk is in memory anyway.
        size = self._data_len
        for line in lines:
            if line.startswith(b"data: "):  # the common case first
                data.append(line[6:])
                size += len(line) - 5
            elif not line:
                # Blank line: dispatch. The last event ID is sticky across events.
                if data:
                    if limit is not None and size > limit:
                        self._overflow(f"an event with more than {limit} bytes of data")
                    text = data[0] if len(data) == 1 else b"\n".join(data)
                    data.clear()
                    size = 0
                    out.append((self._event or "message", text, self._last_id, self._retry_block))
                self._event = ""
                self._retry_block = None
            elif line.startswith(b"data:"):
                data.append(line[5:])
                size += len(line) - 4
            elif line == b"data":  # a field name with no colon at all: an empty data line
                data.append(b"")
                size += 1
            elif line[0] != 0x3A:  # not a ":" comment
                self._field(line, out)
        self._data_len = size
        if limit is not None and size > limit:
            self._overflow(f"an event with more than {limit} bytes of data")
        self._clean = not (
            self._pending or data or self._event or self._trailing_cr or self._closed
        ) and (self._retry_block is None)
        return out

    def _field(self, line: bytes, out: list[_RawEvent]) -> None:
        name, colon, value = line.partition(b":")
        if colon and value[:1] == b" ":
            value = value[1:]
        # "data" lines never get here: feed_raw's loop handles them.
        if name == b"event":
            self._event = value.decode("utf-8", "replace")
        elif name == b"id":
            if b"\0" not in value:
                self._last_id = value.decode("utf-8", "replace")
        elif name == b"retry":
            if value.isdigit():  # bytes.isdigit() is ASCII-only, as the spec requires
                self._retry = self._retry_block = int(value)
        elif self._report_unknown:
            out.append((None, line, self._last_id, None))

    def _overflow(self, what: str) -> None:
        # Drop what we buffered before raising, so memory stays bounded even if the caller
        # keeps the decoder around.
        self.close()
        raise ProtocolError(
            f"expected SSE lines and events of at most {self._max} bytes (max_event_bytes), "
            f"received {what}"
        )
