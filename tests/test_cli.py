"""Tests of the ``lockchat`` command line, in-process and as a real subprocess."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator

import pytest

from lockchat_async._cli import (
    EXIT_CONNECTION,
    EXIT_CTRL_C,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_PROTOCOL,
    EXIT_STATUS,
    EXIT_USAGE,
    main,
)
from lockchat_async.testing import LockchatServer, Scenario, serve_in_thread


@pytest.fixture
def server() -> Iterator[LockchatServer]:
    with serve_in_thread() as running:
        yield running


def run(server: LockchatServer, *args: str) -> int:
    return main(["--base-url", server.base_url, "--max-retries", "0", *args])


def test_streams_prompt_to_stdout(
    server: LockchatServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """The prompt's reply is printed, with --model, --temperature and --system sent along."""
    code = run(
        server, "--model", "gpt-4", "--temperature", "0.1", "--system", "be nice", "Hi there"
    )
    assert code == EXIT_OK
    assert capsys.readouterr().out == "You said: Hi there\n"
    assert server.requests[0]["model"] == "gpt-4" and server.requests[0]["temperature"] == 0.1
    assert server.requests[0]["messages"][0] == {"role": "system", "content": "be nice"}


def test_json_output(server: LockchatServer, capsys: pytest.CaptureFixture[str]) -> None:
    """--json prints one JSON object per chunk and a final summary."""
    assert run(server, "--json", "a b") == EXIT_OK
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["token"] for line in lines[:-1]] == ["You", " said:", " a", " b"]
    assert lines[-1]["done"] is True and lines[-1]["text"] == "You said: a b"
    assert lines[-1]["finish_reason"] == "stop"


def test_prompt_from_stdin(
    server: LockchatServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """With no prompt argument, the prompt is read from stdin."""
    import io

    monkeypatch.setattr(sys, "stdin", io.StringIO("from stdin\n"))
    assert run(server) == EXIT_OK
    assert capsys.readouterr().out == "You said: from stdin\n"


def test_empty_prompt_is_usage_error(
    server: LockchatServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """An empty prompt is a usage error with a one-line message."""
    import io

    monkeypatch.setattr(sys, "stdin", io.StringIO("  \n"))
    assert run(server) == EXIT_USAGE
    assert capsys.readouterr().err.startswith("lockchat: error: no prompt")


@pytest.mark.parametrize(
    ("scenario", "code", "message"),
    [
        pytest.param(Scenario(status=500), EXIT_STATUS, "InternalServerError", id="status"),
        pytest.param(
            Scenario(disconnect_after=2), EXIT_INTERRUPTED, "StreamInterrupted", id="interrupted"
        ),
        pytest.param(Scenario(malformed_after=0), EXIT_PROTOCOL, "ProtocolError", id="protocol"),
    ],
)
def test_error_exit_codes(
    server: LockchatServer,
    capsys: pytest.CaptureFixture[str],
    scenario: Scenario,
    code: int,
    message: str,
) -> None:
    """Errors print one line to stderr, no traceback, and exit with distinct codes."""
    server.script(scenario)
    assert run(server, "a b c") == code
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and "Traceback" not in err


def test_connection_refused_exit_code(capsys: pytest.CaptureFixture[str]) -> None:
    """An unreachable server exits with the connection code."""
    with serve_in_thread() as running:
        url = running.base_url
    assert main(["--base-url", url, "--max-retries", "0", "hi"]) == EXIT_CONNECTION
    assert "APIConnectionError" in capsys.readouterr().err


def test_default_host_gone_gives_a_hint(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without --base-url, a connection failure hints at --local; stdout stays empty."""
    with serve_in_thread() as running:
        url = running.base_url  # a loopback port that is closed once the block ends
    monkeypatch.setattr("lockchat_async._cli.Lockchat.url", url)
    assert main(["--max-retries", "0", "hi"]) == EXIT_CONNECTION
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "hint:" in captured.err and "--local" in captured.err


def test_argparse_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    """Bad flags are usage errors (exit 2)."""
    assert main(["--temperature", "hot", "hi"]) == EXIT_USAGE
    assert main(["--max-retries", "-1", "hi"]) == EXIT_USAGE
    assert main(["serve", "--port", "x"]) == EXIT_USAGE


def test_interactive_chat_keeps_history(
    server: LockchatServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """--chat sends the whole conversation each turn and ends on an empty line."""
    answers = iter(["first", "second", ""])
    monkeypatch.setattr("builtins.input", lambda prompt="": next(answers))
    assert run(server, "--chat") == EXIT_OK
    assert capsys.readouterr().out == "You said: first\nYou said: second\n"
    assert [m["content"] for m in server.requests[1]["messages"]] == [
        "first",
        "You said: first",
        "second",
    ]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("LOCKCHAT_BASE_URL", None)
    return env


def test_readme_main_command_subprocess() -> None:
    """`lockchat --local "Hello, how are you?"` streams a reply from the bundled server."""
    result = subprocess.run(
        [sys.executable, "-m", "lockchat_async", "--local", "Hello, how are you?"],
        capture_output=True,
        text=True,
        timeout=60,
        env=_env(),
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "You said: Hello, how are you?\n"


def test_serve_subprocess_and_ctrl_c() -> None:
    """`lockchat serve` answers requests and exits 130 on Ctrl-C, with no traceback."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "lockchat_async", "serve", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert "listening on http://127.0.0.1:" in line
        url = line.rsplit(" ", 1)[1].strip()
        client = subprocess.run(
            [sys.executable, "-m", "lockchat_async", "--base-url", url, "ping"],
            capture_output=True,
            text=True,
            timeout=60,
            env=_env(),
            check=False,
        )
        assert client.stdout == "You said: ping\n"
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == EXIT_CTRL_C
        assert "Traceback" not in err
    finally:
        proc.kill()
        proc.wait()
