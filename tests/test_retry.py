"""Tests of the pure retry-delay helpers."""

from __future__ import annotations

import email.utils

import pytest

from lockchat_async._retry import MAX_DELAY, MAX_RETRY_AFTER, backoff_delay, retry_after_seconds


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        pytest.param({}, None, id="none"),
        pytest.param({"retry-after": "3"}, 3.0, id="seconds"),
        pytest.param({"retry-after": " 1.5 "}, 1.5, id="fractional"),
        pytest.param({"retry-after-ms": "250"}, 0.25, id="ms"),
        pytest.param({"retry-after-ms": "250", "retry-after": "9"}, 0.25, id="ms-wins"),
        pytest.param({"retry-after-ms": "nope", "retry-after": "9"}, 9.0, id="bad-ms-falls-back"),
        pytest.param({"retry-after": "-5"}, 0.0, id="negative-clamped"),
        pytest.param({"retry-after": "soon"}, None, id="garbage"),
        pytest.param({"retry-after": "inf"}, None, id="infinite"),
        pytest.param({"retry-after": ""}, None, id="empty"),
    ],
)
def test_retry_after_seconds(headers: dict[str, str], expected: float | None) -> None:
    """Retry-After and retry-after-ms are parsed; nonsense is ignored."""
    assert retry_after_seconds(headers) == expected


def test_retry_after_http_date() -> None:
    """An HTTP-date Retry-After becomes seconds from now."""
    date = email.utils.formatdate(1_000_030, usegmt=True)
    assert retry_after_seconds({"retry-after": date}, now=lambda: 1_000_000.0) == 30.0


def test_backoff_grows_and_is_capped() -> None:
    """Backoff doubles from 0.5 s up to the cap; jitter takes off at most 25%."""
    assert [backoff_delay(n, rng=lambda: 0.0) for n in (1, 2, 3, 4, 5, 10)] == [0.5, 1, 2, 4, 8, 8]
    assert backoff_delay(1, rng=lambda: 1.0) == 0.375
    assert backoff_delay(50, rng=lambda: 0.5) <= MAX_DELAY


def test_backoff_honours_retry_after_with_cap() -> None:
    """The server's Retry-After wins over backoff, clamped to the cap."""
    assert backoff_delay(1, retry_after=7.0) == 7.0
    assert backoff_delay(1, retry_after=10_000.0) == MAX_RETRY_AFTER
