"""
Pure helpers of the bounded retry loop: which delay to wait before the next attempt.

The loop itself lives in ``_client.py``; keeping the arithmetic here makes it testable
without I/O and without sleeping.
"""

from __future__ import annotations

import email.utils
import math
import random
import time
from collections.abc import Callable, Mapping
from typing import Final

__all__ = ["backoff_delay", "retry_after_seconds"]

INITIAL_DELAY: Final = 0.5
MAX_DELAY: Final = 8.0
#: The longest server-requested wait we honour; longer requests are clamped to this.
MAX_RETRY_AFTER: Final = 60.0


def retry_after_seconds(
    headers: Mapping[str, str], *, now: Callable[[], float] = time.time
) -> float | None:
    """
    Return the wait the server asked for (``retry-after-ms`` or ``Retry-After``), if any.

    ``Retry-After`` may be delta-seconds or an HTTP date. Unparseable or negative values are
    ignored rather than trusted.
    """
    raw_ms = headers.get("retry-after-ms")
    if raw_ms is not None:
        try:
            ms = float(raw_ms)
        except ValueError:
            ms = math.nan
        if math.isfinite(ms) and ms >= 0:
            return ms / 1000.0
    raw = headers.get("retry-after")
    if raw is None:
        return None
    raw = raw.strip()
    try:
        seconds = float(raw)
    except ValueError:
        parsed = email.utils.parsedate_tz(raw)
        if parsed is None:
            return None
        seconds = email.utils.mktime_tz(parsed) - now()
    if not math.isfinite(seconds):
        return None
    return max(seconds, 0.0)


def backoff_delay(
    retry_number: int,
    *,
    retry_after: float | None = None,
    rng: Callable[[], float] = random.random,
) -> float:
    """
    Seconds to wait before retry number *retry_number* (1 for the first retry).

    The server's ``Retry-After`` wins, clamped to `MAX_RETRY_AFTER`. Otherwise exponential
    backoff from `INITIAL_DELAY`, capped at `MAX_DELAY`, with up to 25% jitter taken off so
    many clients that failed together do not retry together.
    """
    if retry_after is not None:
        return min(retry_after, MAX_RETRY_AFTER)
    base = min(INITIAL_DELAY * 2.0 ** (retry_number - 1), MAX_DELAY)
    return base * (1.0 - 0.25 * rng())
