"""The import contracts in setup.cfg (``[importlinter]``) hold; ``lint-imports`` is the check CI runs.

The contracts: the pure core imports neither Faust nor SQLAlchemy nor the rest of the
app; inside ``flameback_app`` each layer (Faust layer, app, worker and feeds, broker,
Kafka layer and storage, settings, core) imports only the layers below it; models, pure
table values, storage, the worker's services, feeds and the dashboard never import the
Faust app or the agents; no import cycles between the modules or subpackages of a package. The second test shows the tool reports
a contract the tree does break, so a green first test is not the tool seeing nothing.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")

BROKEN_ON_PURPOSE = """
[importlinter]
root_packages =
    flameback_app
    models

[importlinter:contract:models-offline]
name = models never import flameback_app (false: training reads CSVs through flameback_app.core.offline)
type = forbidden
source_modules =
    models.train
forbidden_modules =
    flameback_app.core.offline
"""


def lint_imports(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", *args], cwd=REPO, capture_output=True, text=True, timeout=300, check=False
    )


def test_the_import_contracts_hold() -> None:
    done = lint_imports()
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "Contracts: 4 kept, 0 broken." in done.stdout


def test_a_broken_contract_is_reported(tmp_path: Path) -> None:
    config = tmp_path / "broken.ini"
    config.write_text(BROKEN_ON_PURPOSE)
    done = lint_imports("--config", str(config))
    assert done.returncode == 1
    assert "models.train is not allowed to import flameback_app.core.offline" in done.stdout
