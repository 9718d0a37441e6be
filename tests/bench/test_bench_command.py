"""``python -m bench`` (the README's benchmark command) prints one table row per figure."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_the_bench_command_prints_every_suite_in_one_table() -> None:
    """A smoke run of the fast suites: each row has a figure, a same-run baseline and a ratio."""
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--only", "indicators,inference"],
        check=False,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    table = done.stdout.split("\nsuite", 1)[1].splitlines()[1:]
    suites = {line.split()[0] for line in table}
    assert suites == {"indicators", "inference"}, done.stdout
    inference = next(line for line in table if line.startswith("inference"))
    assert "rows/s" in inference and inference.rstrip().endswith("x"), inference
