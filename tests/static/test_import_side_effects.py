"""Importing anything outside the Faust layer builds nothing: no Faust app, no thread, no directory, no settings read.

Each check runs in a fresh interpreter (the test process itself has imported the app
elsewhere). The probe records what exists before and after importing every module
outside the Faust layer; the positive control imports the Faust layer with the same
probe and must be caught, so the probe cannot pass by seeing nothing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("flameback_app", "models", "tables", "dashboard", "bench")
# The Faust layer: modules that register agents, tables, commands, timers or views on the app.
FAUST_LAYER = (
    "flameback_app.faust_app",
    "flameback_app.cli.commands",
    "flameback_app.web.views",
    "flameback_app.tasks.upkeep",
    "flameback_app.tasks.schedules",
    "tables.definitions",
    "agents",
)
# Run by Alembic as scripts, and ``python -m`` entry points (bench.pipeline and bench.browser drive the test
# harness, which reads the settings at import as every entry point does): not library modules.
NOT_MODULES = (
    "flameback_app.storage.migrations",
    "dashboard.__main__",
    "bench.__main__",
    "bench.pipeline",
    "bench.browser",
)

PROBE = r"""
import gc, importlib, json, os, pkgutil, sys, threading
from pathlib import Path

import pydantic_settings

reads = []
original_init = pydantic_settings.BaseSettings.__init__
def recording_init(self, *args, **kwargs):
    reads.append(type(self).__name__)
    original_init(self, *args, **kwargs)
pydantic_settings.BaseSettings.__init__ = recording_init

data_dir = Path(os.environ["FLAMEBACK_DATA_DIR"])
threads_before = {t.ident for t in threading.enumerate()}
targets, skip = json.loads(sys.argv[1]), tuple(json.loads(sys.argv[2]))
imported = []
for package in targets:
    root = importlib.import_module(package)
    imported.append(package)
    if not hasattr(root, "__path__"):
        continue
    for info in pkgutil.walk_packages(root.__path__, prefix=package + "."):
        if info.name.startswith(skip):
            continue
        importlib.import_module(info.name)
        imported.append(info.name)

faust = sys.modules.get("faust")
apps = [o for o in gc.get_objects() if faust is not None and isinstance(o, faust.App)]
from concurrent.futures import ThreadPoolExecutor
pools = [o for o in gc.get_objects() if isinstance(o, ThreadPoolExecutor)]
print(json.dumps({
    "imported": imported,
    "faust_apps": len(apps),
    "thread_pools": len(pools),
    "new_threads": [t.name for t in threading.enumerate() if t.ident not in threads_before],
    "data_dir_exists": data_dir.exists(),
    "settings_reads": reads,
    "app_module_loaded": "flameback_app.faust_app" in sys.modules,
}))
"""


def probe(tmp_path: Path, targets: list[str], skip: tuple[str, ...]) -> dict:
    env = {**os.environ, "FLAMEBACK_DATA_DIR": str(tmp_path / "data"), "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(targets), json.dumps(list(skip))],
        check=False,
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_importing_every_module_outside_the_faust_layer_builds_nothing(tmp_path: Path) -> None:
    report = probe(tmp_path, list(PACKAGES), FAUST_LAYER + NOT_MODULES)
    assert len(report["imported"]) > 40, report["imported"]  # the walk really imported the tree
    assert "flameback_app.core.ta.engine" in report["imported"] and "models.train" in report["imported"]
    assert report["faust_apps"] == 0
    assert report["thread_pools"] == 0
    assert report["new_threads"] == []
    assert not report["data_dir_exists"]
    assert report["settings_reads"] == []
    assert not report["app_module_loaded"]


@pytest.mark.parametrize("faust_module", ["flameback_app.faust_app", "agents.indicators"])
def test_the_probe_sees_the_faust_layer_build_the_app(tmp_path: Path, faust_module: str) -> None:
    """Positive control: importing the Faust layer is caught by every check above."""
    report = probe(tmp_path, [faust_module], ())
    assert report["faust_apps"] == 1
    assert report["thread_pools"] >= 1
    assert report["data_dir_exists"]
    assert "Settings" in report["settings_reads"]
    assert report["app_module_loaded"]


def test_asking_the_package_for_app_builds_it_once(tmp_path: Path) -> None:
    """``faust -A flameback_app`` looks ``app`` up on the package: that, and only that, builds it."""
    code = (
        "import flameback_app, sys; assert 'flameback_app.faust_app' not in sys.modules; "
        "a = flameback_app.app; assert flameback_app.app is a is sys.modules['flameback_app.faust_app'].app; "
        "print(type(a).__name__, sys.modules['flameback_app.faust_app'].settings.app_id == a.conf.id)"
    )
    env = {**os.environ, "FLAMEBACK_DATA_DIR": str(tmp_path / "data"), "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-c", code], check=False, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split() == ["FlamebackApp", "True"]
