"""``faust -A flameback_app models ACTION``: which model version is live, and changing it by hand.

- ``list``: every version in FLAMEBACK_MODELS_DIR, newest first, the champion marked
  ``*``, with its training span, walk-forward accuracy and the last decision about it;
- ``promote VERSION``: make a version the champion (it must verify first);
- ``rollback``: bring back the champion promoted before the current one.

Running workers follow the champion on their next training check (every few
seconds). Each promotion and rollback is recorded in ``model_decisions`` before it
takes effect: if the database cannot take the record, nothing changes. Errors a user
can fix are one line (``Error: ...``) and exit code 1.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from flameback_app.settings import Settings
from flameback_app.storage import db, schema
from models.decisions import Decision, manual
from models.registry import MANIFEST, champion, champion_history, list_versions, load_version, promote, rollback


def run_models_command(settings: Settings, action: str, version: str | None) -> None:
    if action == "list":
        _list(settings)
        return
    if action == "promote":
        if not version:
            raise click.UsageError("promote needs a VERSION (see `models list`)")
        _promote(settings, version)
        return
    if version:
        raise click.UsageError(f"{action} takes no VERSION")
    _rollback(settings)


def _list(settings: Settings) -> None:
    models_dir, live = settings.models_dir, champion(settings.models_dir)
    versions = list_versions(models_dir)
    if not versions:
        click.echo(f"no model versions in {models_dir} (train one with `faust -A flameback_app train FILE`)")
        return
    last = _last_decisions(settings)
    click.echo(f"  {'version':<27} {'trained through':<16} {'wf acc':>7}  last decision")
    for path in versions:
        mark = "*" if path.name == live else " "
        end, accuracy = _summary(path)
        decision = last.get(path.name)
        said = f"{decision['action']} {decision['decided_at']:%Y-%m-%d %H:%M}" if decision else "-"
        click.echo(f"{mark} {path.name:<27} {end:<16} {accuracy:>7}  {said}")
    click.echo(f"live (champion): {live or 'none promoted yet — a worker promotes the newest valid version'}")


def _summary(path: Path) -> tuple[str, str]:
    """(end of the training span, mean walk-forward accuracy of the four models) from the manifest, or dashes."""
    try:
        manifest = json.loads((path / MANIFEST).read_text())
        end = str(manifest["training_span"]["end"])[:10]
        pooled = manifest["metrics"]["walk_forward_pooled"].values()
        accuracy = f"{sum(m['accuracy'] for m in pooled) / len(pooled):.4f}"
    except (OSError, ValueError, KeyError, TypeError, ZeroDivisionError):
        return "-", "-"
    return end, accuracy


def _last_decisions(settings: Settings) -> dict[str, dict[str, Any]]:
    """The newest decision per version; {} (and one line saying why) if the database cannot be read."""
    try:
        rows = db.recent_decisions(_engine(settings, upgrade=False), limit=1000)
    except (SQLAlchemyError, schema.SchemaError) as exc:
        click.echo(f"(decisions not shown: {' '.join(str(getattr(exc, 'orig', exc)).split())[:200]})", err=True)
        return {}
    last: dict[str, dict[str, Any]] = {}
    for row in rows:
        last.setdefault(row["version"], row)
    return last


def _promote(settings: Settings, version: str) -> None:
    models_dir = settings.models_dir
    before = champion(models_dir)
    if version == before:
        click.echo(f"{version} is already the champion")
        return
    if version not in {path.name for path in list_versions(models_dir)}:
        raise RuntimeError(f"no model version {version!r} in {models_dir} (see `models list`)")
    load_version(models_dir / version, extra_trusted=settings.model_trusted_types)  # refuse what would not load
    _record(settings, manual(version, before, "manual", "promoted by hand (`models promote`)"))
    promote(models_dir, version)
    click.echo(f"promoted {version} (champion before: {before or 'none'}); running workers switch to it within seconds")


def _rollback(settings: Settings) -> None:
    models_dir = settings.models_dir
    history = champion_history(models_dir)
    if len(history) >= 2:  # verify what comes back before anything changes
        load_version(models_dir / history[-2], extra_trusted=settings.model_trusted_types)
        _record(
            settings,
            manual(history[-2], history[-1], "rollback", f"rolled back from {history[-1]} by hand (`models rollback`)"),
        )
    demoted, restored = rollback(models_dir)  # raises the one-line reason when there is nothing to roll back to
    click.echo(f"rolled back: {restored} is the champion again ({demoted} demoted, kept on disk)")


def _record(settings: Settings, decision: Decision, outcome: str = "nothing was changed") -> None:
    try:
        db.record_decision(_engine(settings, upgrade=True), decision.row())
    except SQLAlchemyError as exc:
        raise RuntimeError(
            f"cannot record the decision in the database "
            f"({' '.join(str(getattr(exc, 'orig', exc)).split())[:200]}); {outcome}"
        ) from None


def _engine(settings: Settings, *, upgrade: bool) -> Engine:
    """The database engine, its schema brought to head first when about to write (as a worker would at start)."""
    engine = db.make_engine(settings.db_url)
    if upgrade:
        schema.prepare(engine, settings.db_auto_upgrade)
    return engine


def say_if_not_live(path: Path) -> None:
    """After a plain ``train``: say when the new version is not what workers run (a champion exists)."""
    live = champion(path.parent)
    if live is not None and live != path.name:
        click.echo(
            f"{path.name} is saved but not live: the champion is {live} (`models promote {path.name}` "
            "makes it live; `train --challenge` lets it compete)",
            err=True,
        )


def run_challenge_command(
    settings: Settings,
    file: Path,
    models_dir: Path,
    *,
    until: str | None,
    folds: int,
    embargo: int,
    cost_bp: float,
    calibration: str,
    periods_per_year: float,
) -> Decision:
    """``train FILE --challenge``: the scheduled retrain's protocol on a file's history, decision recorded and shown."""
    from models.champion import ChallengeSettings, challenge
    from models.registry import load_latest
    from models.train import history_until, load_feature_frame

    trusted = settings.model_trusted_types
    frame = history_until(load_feature_frame(file, periods_per_year=periods_per_year), until)
    rules = ChallengeSettings(
        metric=settings.champion_metric,
        margin=settings.champion_margin,
        block_fraction=settings.challenge_block,
        embargo=embargo,
        folds=folds,
        cost_bp=cost_bp,
        calibration=calibration,
        periods_per_year=periods_per_year,
        extra_trusted=trusted,
        sample_rows=settings.drift_sample_rows,
        user_models=settings.user_model_entries,
    )
    decision = challenge(
        frame,
        models_dir,
        load_latest(models_dir, extra_trusted=trusted),
        rules,
        progress=lambda msg: click.echo(msg, err=True),
    )
    try:
        _record(settings, decision, outcome=f"the decision stands ({decision.action})")
    except RuntimeError as exc:  # the version and the promotion are on disk already; say the record is missing
        click.echo(f"warning: {exc}", err=True)
    click.echo(decision.line())
    return decision
