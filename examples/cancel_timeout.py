"""
Cancellation and timeouts of a slow stream: the connection is always released.

    python examples/cancel_timeout.py
"""

from __future__ import annotations

import anyio

from lockchat_async import APITimeoutError, Lockchat
from lockchat_async.testing import LockchatServer, Scenario

MESSAGES = [{"role": "user", "content": "Tell me a very long story, one word at a time"}]


async def main() -> None:
    async with (
        LockchatServer(token_delay=0.05) as server,
        Lockchat(base_url=server.base_url) as client,
    ):
        # 1. The caller gives up: a cancel scope around the loop. Partial text stays usable.
        async with client.stream("gpt-4", MESSAGES) as completion:
            with anyio.move_on_after(0.2):
                async for token in completion:
                    print(token, end="", flush=True)
        print(f"\n[cancelled after {completion.text!r}]")

        # 2. The SDK gives up: a total deadline for the whole completion, retries included.
        server.script(Scenario(stall_after=2))
        try:
            async for token in client.create_completion("gpt-4", MESSAGES, deadline=0.5):
                print(token, end="", flush=True)
        except APITimeoutError as exc:
            print(f"\n[deadline passed; partial_text={exc.partial_text!r}]")

        # 3. A per-read (idle) timeout: the server goes silent before the first token.
        server.script(Scenario(stall_after=0))
        async with Lockchat(base_url=server.base_url, timeout=0.2, max_retries=0) as strict:
            try:
                await strict.complete("gpt-4", MESSAGES)
            except APITimeoutError as exc:
                print(f"[read timeout: {type(exc).__name__}]")


if __name__ == "__main__":
    anyio.run(main)
