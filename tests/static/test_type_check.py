"""mypy, strict, over everything outside the Faust layer, and models/ but for training, the registry and the champion (the ``[mypy]`` section of setup.cfg lists the files); the suite runs it.

The second test feeds mypy a module with an untyped function under the same strict
settings, so a green first test is not mypy checking nothing.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
MYPY = Path(sys.executable).with_name("mypy")


def run_mypy(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(MYPY), *args], cwd=cwd, capture_output=True, text=True, timeout=600, check=False)


def test_the_listed_packages_type_check_strictly() -> None:
    done = run_mypy()
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert done.stdout.startswith("Success: no issues found in ")


def test_an_untyped_function_fails_the_strict_check(tmp_path: Path) -> None:
    (tmp_path / "loose.py").write_text("def passthrough(value):\n    return value\n")
    done = run_mypy(
        "--config-file", str(REPO / "setup.cfg"), "--cache-dir", str(tmp_path / "cache"), str(tmp_path / "loose.py")
    )
    assert done.returncode == 1
    assert "Function is missing a type annotation" in done.stdout
