"""
Run every benchmark in one go and write ``benchmarks/results.md``.

    python -m benchmarks [--repeats 5] [--quick]

Starts the fast SSE server in its own process, then runs each client in its own process for
each mode, interleaving clients within a repeat so that machine noise hits them alike. The
reported numbers are medians over the repeats; ratios compare medians from the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Final

HERE: Final = Path(__file__).resolve().parent
CLIENTS: Final = ("floor", "httpx-sse", "openai", "lockchat", "lockchat-stream")
MODES: Final = ("per-event", "bulk", "concurrency", "ttft")
NO_ORJSON: Final = "lockchat (no orjson)"


def _server_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def _run_client(name: str, mode: str, url: str) -> dict[str, Any]:
    env = dict(os.environ)
    client = name
    if name == NO_ORJSON:
        env["LOCKCHAT_NO_ORJSON"] = "1"
        client = "lockchat"
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.client", client, mode, url],
        capture_output=True,
        text=True,
        check=True,
        env=env,
        cwd=HERE.parent,
        timeout=600,
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    result["client"] = name
    return result


def _clients_for(mode: str, quick: bool) -> list[str]:
    names = list(CLIENTS)
    if mode == "bulk":
        names.append(NO_ORJSON)
    if quick or mode in ("concurrency", "ttft"):
        names.remove("lockchat-stream")
    return names


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="fewer clients and repeats")
    parser.add_argument("--out", type=Path, default=HERE / "results.md")
    options = parser.parse_args()
    repeats = 1 if options.quick else options.repeats
    server = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.server", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
        cwd=HERE.parent,
    )
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline().split()[1])
        url = f"http://127.0.0.1:{port}"
        samples: dict[tuple[str, str], list[dict[str, Any]]] = {}
        server_cpu: dict[tuple[str, str], list[float]] = {}
        for repeat in range(repeats):
            for mode in MODES:
                for name in _clients_for(mode, options.quick):
                    before = _server_cpu(server.pid)
                    result = _run_client(name, mode, url)
                    server_cpu.setdefault((name, mode), []).append(_server_cpu(server.pid) - before)
                    samples.setdefault((name, mode), []).append(result)
                    print(f"[{repeat + 1}/{repeats}] {mode:11} {name:22} {_brief(result)}")
    finally:
        server.terminate()
        server.wait()
    report = _report(samples, server_cpu, repeats)
    options.out.write_text(report)
    print()
    print(report)


def _brief(result: dict[str, Any]) -> str:
    if "ttft" in result:
        return f"ttft={result['ttft'] * 1e3:.3f} ms"
    return f"cpu={result['cpu']:.3f} s rss={result['rss_mb']:.0f} MB"


def _median(values: list[float]) -> float:
    return statistics.median(values)


def _report(
    samples: dict[tuple[str, str], list[dict[str, Any]]],
    server_cpu: dict[tuple[str, str], list[float]],
    repeats: int,
) -> str:
    def med(name: str, mode: str, key: str) -> float:
        return _median([s[key] for s in samples[(name, mode)]])

    lines = [
        "# Benchmark results",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, {platform.system()} "
        f"{platform.release()}, Python {platform.python_version()}. "
        f"Run on {time.strftime('%Y-%m-%d')}, median of {repeats} repeat(s).",
        "",
        "CPU is the client process's user+sys time per token around its streaming loop.",
        "Ratios are to the same run's medians.",
        "",
    ]
    for mode, title, tokens in (
        ("per-event", "per-event framing (each event its own HTTP chunk), 100,000 tokens", 100_000),
        ("bulk", "bulk framing (64 KiB chunks, many events per read), 100,000 tokens", 100_000),
        ("concurrency", "concurrency: 500 streams x 200 tokens on one client", 100_000),
    ):
        names = [n for n in CLIENTS + (NO_ORJSON,) if (n, mode) in samples]
        floor = med("floor", mode, "cpu")
        sse = med("httpx-sse", mode, "cpu")
        lines += [
            f"## {title}",
            "",
            "| client | CPU µs/token | x floor | x httpx-sse | wall s | peak RSS MB | server CPU |",
            "|---|---|---|---|---|---|---|",
        ]
        for name in names:
            cpu = med(name, mode, "cpu")
            extra = ""
            if mode == "concurrency":
                extra = f" ({sum(s['failures'] for s in samples[(name, mode)])} failures)"
            lines.append(
                f"| {name}{extra} | {cpu / tokens * 1e6:.2f} | {cpu / floor:.2f} | "
                f"{cpu / sse:.2f} | {med(name, mode, 'wall'):.3f} | "
                f"{med(name, mode, 'rss_mb'):.0f} | "
                f"{_median(server_cpu[(name, mode)]) / max(cpu, 1e-9):.0%} of client |"
            )
        lines.append("")
    floor_ttft = med("floor", "ttft", "ttft")
    lines += [
        "## time to first token (median of 200 short streams per run)",
        "",
        "| client | TTFT ms | x floor |",
        "|---|---|---|",
    ]
    for name in CLIENTS:
        if (name, "ttft") in samples:
            ttft = med(name, "ttft", "ttft")
            lines.append(f"| {name} | {ttft * 1e3:.3f} | {ttft / floor_ttft:.2f} |")
    lines.append("")
    lines += _targets(med)
    return "\n".join(lines) + "\n"


def _targets(med: Any) -> list[str]:
    def check(ok: bool) -> str:
        return "met" if ok else "**not met**"

    per_event = med("lockchat", "per-event", "cpu") / med("floor", "per-event", "cpu")
    bulk = med("lockchat", "bulk", "cpu") / med("httpx-sse", "bulk", "cpu")
    bulk_plain = med(NO_ORJSON, "bulk", "cpu") / med("httpx-sse", "bulk", "cpu")
    conc = med("lockchat", "concurrency", "cpu") / med("floor", "concurrency", "cpu")
    rss = med("lockchat", "concurrency", "rss_mb") - med("floor", "concurrency", "rss_mb")
    ttft = med("lockchat", "ttft", "ttft") / med("floor", "ttft", "ttft")
    return [
        "## targets",
        "",
        "| target | measured | |",
        "|---|---|---|",
        f"| per-event <= 1.25x floor | {per_event:.2f}x | {check(per_event <= 1.25)} |",
        f"| bulk <= 0.5x httpx-sse (orjson) | {bulk:.2f}x | {check(bulk <= 0.5)} |",
        f"| bulk <= 0.8x httpx-sse (stdlib json) | {bulk_plain:.2f}x | "
        f"{check(bulk_plain <= 0.8)} |",
        f"| concurrency <= 1.25x floor CPU | {conc:.2f}x | {check(conc <= 1.25)} |",
        f"| concurrency peak RSS within 15 MB of floor | {rss:+.1f} MB | {check(rss <= 15)} |",
        f"| time to first token within 10% of floor | {ttft:.2f}x | {check(ttft <= 1.10)} |",
    ]


if __name__ == "__main__":
    main()
