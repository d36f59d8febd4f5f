"""The README's code runs as written: the quickstart, and the fixture example in a user's suite."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def _python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_quickstart_runs_as_written(tmp_path: Path) -> None:
    """The quickstart block streams from the bundled server and prints the reply."""
    quickstart = next(block for block in _python_blocks() if "anyio.run(main)" in block)
    script = tmp_path / "quickstart.py"
    script.write_text(quickstart)
    result = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("You said: Hello, how are you?\n")


def test_fixture_example_passes_in_a_users_suite(tmp_path: Path) -> None:
    """The lockchat_server example is a passing test in a project that only installed us."""
    example = next(block for block in _python_blocks() if "def test_" in block)
    (tmp_path / "test_users_app.py").write_text(example)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert " passed" in result.stdout and "failed" not in result.stdout
