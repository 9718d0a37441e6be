"""``models list | promote VERSION | rollback``: each change recorded, refusals in one line, nothing changed on error."""

from __future__ import annotations

import time
from pathlib import Path

import click
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from dashboard.model_decisions import decisions_table, recent
from flameback_app.cli.models_command import run_models_command
from flameback_app.settings import Settings
from flameback_app.storage import db
from models.columns import MODEL_COLUMNS
from models.features import ML_FEATURES
from models.registry import champion, promote, save_version


def _version(root: Path, seed: int) -> str:
    rng = np.random.default_rng(seed)
    x, y = rng.normal(size=(60, len(ML_FEATURES))), rng.integers(0, 2, 60)
    models = {
        m: Pipeline([("scale", StandardScaler()), ("model", LogisticRegression())]).fit(x, y) for m in MODEL_COLUMNS
    }
    return save_version(
        models, root, features=ML_FEATURES, span={"n": 60, "start": "2020-01-01", "end": "2020-03-01"}, metrics={}
    ).name


def test_promote_and_rollback_are_recorded_and_listed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    settings = Settings(models_dir=tmp_path / "models", db_url=f"sqlite:///{tmp_path / 'f.db'}")
    first = _version(settings.models_dir, 1)
    time.sleep(1.01)  # a later second: a distinct, later version name
    second = _version(settings.models_dir, 2)
    promote(settings.models_dir, first)
    run_models_command(settings, "promote", second)
    assert champion(settings.models_dir) == second
    run_models_command(settings, "rollback", None)
    assert champion(settings.models_dir) == first
    decisions = db.recent_decisions(db.make_engine(settings.db_url))
    assert [(d["action"], d["version"], d["champion"]) for d in decisions] == [
        ("rollback", first, second),
        ("manual", second, first),
    ]  # newest first
    capsys.readouterr()
    run_models_command(settings, "list", None)
    listed = capsys.readouterr().out.splitlines()
    assert any(line.startswith(f"* {first}") for line in listed) and f"live (champion): {first}" in listed
    assert any(line.startswith(f"  {second}") and "manual" in line for line in listed)
    shown = _text(decisions_table(recent(db.make_engine(settings.db_url))))  # the terminal's panel
    assert "ROLLBACK" in shown and "MANUAL" in shown and f"live: {first[4:8]} {first[9:13]} {first[17:21]}" in shown


def _text(component: object) -> str:
    """Every string inside a Dash component tree."""
    if isinstance(component, str):
        return component
    children = getattr(component, "children", None)
    children = children if isinstance(children, list) else [children] if children is not None else []
    return " ".join(_text(c) for c in children)


def test_refusals_change_nothing(tmp_path: Path) -> None:
    settings = Settings(models_dir=tmp_path / "models", db_url=f"sqlite:///{tmp_path / 'f.db'}")
    only = _version(settings.models_dir, 1)
    with pytest.raises(RuntimeError, match="nothing to roll back to: no version was promoted yet"):
        run_models_command(settings, "rollback", None)
    with pytest.raises(RuntimeError, match="no model version '../x'"):
        run_models_command(settings, "promote", "../x")
    with pytest.raises(click.UsageError):
        run_models_command(settings, "promote", None)
    (settings.models_dir / only / f"{MODEL_COLUMNS[0]}.skops").write_bytes(b"tampered")
    with pytest.raises(RuntimeError, match="sha256"):  # a version that would not load is not promoted
        run_models_command(settings, "promote", only)
    assert champion(settings.models_dir) is None
