"""
Quickstart: stream a completion inside an async application.

Runs against the bundled local server, or against LOCKCHAT_BASE_URL when it is set:

    python examples/quickstart.py
"""

from __future__ import annotations

import os

import anyio

from lockchat_async import Lockchat, LockchatError
from lockchat_async.testing import serve

MESSAGES = [{"role": "user", "content": "Hello, how are you?"}]


async def chat(base_url: str) -> None:
    async with Lockchat(base_url=base_url) as client:
        # 1. Token by token.
        async for token in client.create_completion("gpt-4", MESSAGES):
            print(token, end="", flush=True)
        print()

        # 2. The whole text at once.
        text = await client.complete("gpt-3.5-turbo", MESSAGES, temperature=0.2)
        print(text)

        # 3. A stream as a resource, with the metadata the server sent.
        async with client.stream("gpt-4", MESSAGES, max_tokens=50) as completion:
            async for token in completion:
                print(token, end="", flush=True)
        print(f"\n[finish_reason={completion.finish_reason} attempts={completion.attempts}]")


async def main() -> None:
    try:
        if url := os.environ.get("LOCKCHAT_BASE_URL"):
            await chat(url)
        else:
            async with serve() as base_url:
                await chat(base_url)
    except LockchatError as exc:
        print(f"error: {exc}")


if __name__ == "__main__":
    anyio.run(main)
