"""
Point the same client at any OpenAI-compatible server (llama.cpp, vLLM, Ollama, LiteLLM...).

    OPENAI_BASE_URL=http://localhost:11434/v1 OPENAI_API_KEY=... MODEL=llama3 \\
        python examples/other_server.py

OpenAI-style base URLs ending in /v1 work as they are. Without OPENAI_BASE_URL this example
starts the bundled server, with an API key required, to show the same code path.
"""

from __future__ import annotations

import os

import anyio

from lockchat_async import Lockchat
from lockchat_async.testing import serve

MESSAGES = [
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": "Name three prime numbers."},
]


async def run(base_url: str, api_key: str | None, model: str) -> None:
    async with Lockchat(base_url=base_url, api_key=api_key) as client:
        async with client.stream(
            model, MESSAGES, stream_options={"include_usage": True}
        ) as completion:
            async for token in completion:
                print(token, end="", flush=True)
        print(f"\n[model={completion.model} usage={completion.usage}]")


async def main() -> None:
    model = os.environ.get("MODEL", "gpt-3.5-turbo")
    if base_url := os.environ.get("OPENAI_BASE_URL"):
        await run(base_url, os.environ.get("OPENAI_API_KEY"), model)
        return
    async with serve(api_key="sk-local-demo") as local:
        await run(local + "/v1", "sk-local-demo", model)


if __name__ == "__main__":
    anyio.run(main)
