"""
The ``lockchat`` command: stream a completion to stdout, chat interactively, or serve.

Exit codes: 0 success, 2 usage error, 3 connection or timeout, 4 HTTP status error,
5 stream interrupted, 6 other protocol/server error, 130 interrupted by Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any, Final, TextIO

import anyio

from ._client import Lockchat
from ._exceptions import (
    APIConnectionError,
    APIStatusError,
    LockchatError,
    StreamInterrupted,
    UsageError,
)

__all__ = ["main"]

EXIT_OK: Final = 0
EXIT_USAGE: Final = 2
EXIT_CONNECTION: Final = 3
EXIT_STATUS: Final = 4
EXIT_INTERRUPTED: Final = 5
EXIT_PROTOCOL: Final = 6
EXIT_CTRL_C: Final = 130

_LOCAL_TOKEN_DELAY: Final = 0.03  # so that streaming from the bundled server is visible


def _chat_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lockchat",
        description="Stream a chat completion from Lockchat or any OpenAI-compatible server.",
        epilog="Run 'lockchat serve --help' to start the bundled local server.",
    )
    parser.add_argument("prompt", nargs="?", help="the message; read from stdin when omitted")
    parser.add_argument("-m", "--model", default="gpt-3.5-turbo", help="model name")
    parser.add_argument("-t", "--temperature", type=float, default=0.7)
    parser.add_argument("-s", "--system", help="a system message to send first")
    parser.add_argument(
        "--base-url",
        default=os.environ.get("LOCKCHAT_BASE_URL"),
        help=f"server root (env LOCKCHAT_BASE_URL; default {Lockchat.url})",
    )
    parser.add_argument(
        "--api-key", default=os.environ.get("LOCKCHAT_API_KEY"), help="env LOCKCHAT_API_KEY"
    )
    parser.add_argument("--max-retries", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per read")
    parser.add_argument("--json", action="store_true", help="print one JSON object per chunk")
    parser.add_argument(
        "--local", action="store_true", help="start the bundled server in-process and use it"
    )
    parser.add_argument(
        "--chat", action="store_true", help="interactive chat that keeps the conversation"
    )
    return parser


def _serve_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lockchat serve", description="Run the bundled Lockchat-compatible server."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--token-delay", type=float, default=0.0, help="seconds between tokens")
    parser.add_argument("--api-key", help="require this bearer token")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """
    Entry point of the ``lockchat`` console script; returns the exit code.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        if args[:1] == ["serve"]:
            options = _serve_parser().parse_args(args[1:])
            return anyio.run(_serve, options)
        options = _chat_parser().parse_args(args)
        return anyio.run(_run, options)
    except (KeyboardInterrupt, asyncio.CancelledError):
        # Ctrl-C. Python 3.11+ raises KeyboardInterrupt out of the event loop; on 3.10 the
        # runner cancels the main task instead, and out here, with no loop left, that
        # CancelledError can only mean Ctrl-C. Leave the terminal clean: no traceback.
        print(file=sys.stderr)
        return EXIT_CTRL_C
    except SystemExit as exc:  # argparse
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE


async def _serve(options: argparse.Namespace) -> int:
    from .testing import LockchatServer

    server = LockchatServer(
        host=options.host,
        port=options.port,
        token_delay=options.token_delay,
        api_key=options.api_key,
    )
    try:
        async with server:
            print(f"Lockchat-compatible server listening on {server.base_url}", flush=True)
            print("Press Ctrl-C to stop.", flush=True)
            await anyio.sleep_forever()
    except OSError as exc:
        return _fail(f"cannot listen on {options.host}:{options.port}: {exc}", EXIT_USAGE)
    return EXIT_OK  # pragma: no cover - sleep_forever only ends by Ctrl-C


@asynccontextmanager
async def _base_url(options: argparse.Namespace) -> AsyncIterator[str | None]:
    if not options.local:
        yield options.base_url
        return
    from .testing import serve

    async with serve(token_delay=_LOCAL_TOKEN_DELAY) as base_url:
        yield base_url


async def _run(options: argparse.Namespace) -> int:
    if options.max_retries < 0:
        return _fail("--max-retries must be >= 0", EXIT_USAGE)
    messages: list[dict[str, Any]] = []
    if options.system:
        messages.append({"role": "system", "content": options.system})
    try:
        async with (
            _base_url(options) as base_url,
            Lockchat(
                base_url=base_url,
                api_key=options.api_key,
                max_retries=options.max_retries,
                timeout=options.timeout,
            ) as client,
        ):
            if options.chat:
                return await _chat(client, options, messages)
            prompt = options.prompt
            if prompt is None:
                prompt = await anyio.to_thread.run_sync(sys.stdin.read)
            if not prompt.strip():
                return _fail("no prompt given (as an argument or on stdin)", EXIT_USAGE)
            messages.append({"role": "user", "content": prompt.strip()})
            await _stream_reply(client, options, messages, sys.stdout)
            return EXIT_OK
    except APIConnectionError as exc:
        code = _fail_error(exc)
        if not options.local and not options.base_url:
            print(
                f"lockchat: hint: the default server {Lockchat.url} (the seed's public host) is "
                "gone; try --local, or --base-url / LOCKCHAT_BASE_URL for your own server",
                file=sys.stderr,
            )
        return code
    except LockchatError as exc:
        return _fail_error(exc)


async def _stream_reply(
    client: Lockchat, options: argparse.Namespace, messages: list[dict[str, Any]], out: TextIO
) -> str:
    async with client.stream(
        options.model, messages, temperature=options.temperature
    ) as completion:
        try:
            async for token in completion:
                if options.json:
                    out.write(json.dumps({"token": token}, ensure_ascii=False) + "\n")
                else:
                    out.write(token)
                out.flush()
        finally:
            if not options.json and completion.text:  # end the streamed line, if any
                out.write("\n")
                out.flush()
    if options.json:
        summary = {
            "done": True,
            "text": completion.text,
            "finish_reason": completion.finish_reason,
            "model": completion.model,
            "id": completion.id,
            "usage": completion.usage,
            "attempts": completion.attempts,
        }
        out.write(json.dumps(summary, ensure_ascii=False) + "\n")
        out.flush()
    return completion.text


async def _chat(
    client: Lockchat, options: argparse.Namespace, messages: list[dict[str, Any]]
) -> int:
    print("Interactive chat; an empty line or Ctrl-D ends it.", file=sys.stderr)
    if options.prompt:
        messages.append({"role": "user", "content": options.prompt})
        messages.append(
            {
                "role": "assistant",
                "content": await _stream_reply(client, options, messages, sys.stdout),
            }
        )
    while True:
        try:
            line = await anyio.to_thread.run_sync(input, "you> ")
        except EOFError:
            print(file=sys.stderr)
            return EXIT_OK
        if not line.strip():
            return EXIT_OK
        messages.append({"role": "user", "content": line})
        try:
            reply = await _stream_reply(client, options, messages, sys.stdout)
        except StreamInterrupted as exc:
            reply = exc.partial_text
            _fail_error(exc)
        messages.append({"role": "assistant", "content": reply})


def _fail(message: str, code: int) -> int:
    print(f"lockchat: error: {message}", file=sys.stderr)
    return code


def _fail_error(exc: LockchatError) -> int:
    if isinstance(exc, UsageError):
        code = EXIT_USAGE
    elif isinstance(exc, APIConnectionError):
        code = EXIT_CONNECTION
    elif isinstance(exc, APIStatusError):
        code = EXIT_STATUS
    elif isinstance(exc, StreamInterrupted):
        code = EXIT_INTERRUPTED
    else:
        code = EXIT_PROTOCOL
    return _fail(f"{type(exc).__name__}: {exc}", code)
