"""
Fan-out: many concurrent completions on one client, at most LIMIT at a time.

One `Lockchat` shares one connection pool; a `CapacityLimiter` bounds concurrency.

    python examples/fanout.py
"""

from __future__ import annotations

import anyio

from lockchat_async import Lockchat
from lockchat_async.testing import serve

QUESTIONS = [f"Question number {n}" for n in range(50)]
LIMIT = 10


async def main() -> None:
    answers: dict[int, str] = {}
    limiter = anyio.CapacityLimiter(LIMIT)
    async with serve() as base_url, Lockchat(base_url=base_url) as client:

        async def ask(index: int, question: str) -> None:
            async with limiter:
                messages = [{"role": "user", "content": question}]
                answers[index] = await client.complete("gpt-3.5-turbo", messages)

        async with anyio.create_task_group() as tg:
            for index, question in enumerate(QUESTIONS):
                tg.start_soon(ask, index, question)

    for index in sorted(answers)[:3]:
        print(f"{index}: {answers[index]}")
    print(f"... {len(answers)} answers, at most {LIMIT} in flight")


if __name__ == "__main__":
    anyio.run(main)
