"""Every example runs as written against the bundled server (the notebook in a real kernel)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
EXPECTED = {
    "quickstart.py": "You said: Hello, how are you?",
    "fanout.py": "50 answers, at most 10 in flight",
    "cancel_timeout.py": (
        "[deadline passed; partial_text='You said:']\n[read timeout: APITimeoutError]"
    ),
    "other_server.py": "You said: Name three prime numbers.",
    "seed_compat.py": "You said: What is the meaning of life?",
}


def test_every_example_is_tested() -> None:
    """No example is left out of this module."""
    assert {p.name for p in EXAMPLES.glob("*.py")} == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_runs(name: str) -> None:
    """The example exits 0 and prints what it promises."""
    env = {k: v for k, v in os.environ.items() if k not in ("LOCKCHAT_BASE_URL", "OPENAI_BASE_URL")}
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / name)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert EXPECTED[name] in result.stdout
    assert "error:" not in result.stdout and "Traceback" not in result.stderr


def test_notebook_runs_in_a_jupyter_kernel() -> None:
    """The notebook's top-level `async for` cells run in a real IPython kernel."""
    import nbclient
    import nbformat

    notebook = nbformat.read(EXAMPLES / "notebook.ipynb", as_version=4)
    nbclient.NotebookClient(notebook, timeout=120, kernel_name="python3").execute(cwd=str(EXAMPLES))
    outputs = [out for cell in notebook.cells if cell.cell_type == "code" for out in cell.outputs]
    texts = [
        out.get("text", "") + str(out.get("data", {}).get("text/plain", "")) for out in outputs
    ]
    assert any("You said: Hello from a notebook" in text for text in texts)
    assert not any(out.get("output_type") == "error" for out in outputs)
