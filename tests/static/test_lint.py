"""ruff, with the security (S) and private-access (SLF) rules of pyproject.toml, over the whole tree; the suite runs it.

Also: every noqa and type-ignore comment left in the code says on its line why
(``noqa: CODE - reason``), so a suppression is a decision, not a habit; and the tree is as
``ruff format`` writes it, any line the formatter is told to leave alone saying why too.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
RUFF = Path(sys.executable).with_name("ruff")
PACKAGES = ("flameback_app", "agents", "tables", "models", "dashboard", "bench", "tests")
SUPPRESSION = re.compile(r"#\s*(noqa|type:\s*ignore)\b(?P<rest>.*)$")
JUSTIFIED = re.compile(r"^(:\s*[A-Z0-9, ]+|\[[-a-z, ]+\])\s*(-|#)\s*\S")
FORMATTER_OPT_OUT = re.compile(r"#\s*fmt:\s*(skip|off)\b(?P<rest>.*)$")


def ruff(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(RUFF), "check", "--no-cache", *args], cwd=cwd, capture_output=True, text=True, timeout=300, check=False
    )


def test_ruff_passes_with_the_security_and_private_access_rules() -> None:
    done = ruff(".")
    assert done.returncode == 0, done.stdout[-4000:]


def test_ruff_flags_a_shell_call_and_a_private_access(tmp_path: Path) -> None:
    """The same configuration on a sample that breaks both rule sets: the first test is not ruff seeing nothing."""
    sample = tmp_path / "flameback_app" / "sample.py"
    sample.parent.mkdir()
    sample.write_text(
        "import subprocess\n\n\ndef run(cmd: str, obj: object) -> object:\n"
        "    subprocess.call(cmd, shell=True)\n    return obj._secret\n"
    )
    done = ruff("--config", str(REPO / "pyproject.toml"), "--output-format", "concise", str(sample))
    assert done.returncode == 1
    assert "S602" in done.stdout and "SLF001" in done.stdout


def test_every_suppression_says_why() -> None:
    unexplained = []
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            for number, line in enumerate(path.read_text().splitlines(), 1):
                found = SUPPRESSION.search(line)
                opt_out = FORMATTER_OPT_OUT.search(line)
                if (found and not JUSTIFIED.match(found.group("rest"))) or (
                    opt_out and not re.match(r"^\s*#\s*\S", opt_out.group("rest"))
                ):
                    unexplained.append(f"{path.relative_to(REPO)}:{number}: {line.strip()}")
    assert unexplained == []


def test_the_tree_is_as_ruff_format_writes_it() -> None:
    done = subprocess.run(
        [str(RUFF), "format", "--check", "--no-cache", "."],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-4000:]
