"""The operator's CLI: ``faust -A flameback_app <command>``.

Each command is a thin shell: it parses options (click, via Faust), reads the
settings, and calls the module that does the work. Errors a user can fix end the
command with one clear line and a non-zero exit code.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any

import click
from faust.cli import AppCommand, argument, option

from flameback_app.app import app, settings


def user_errors(fun: Callable[..., Any]) -> Callable[..., Any]:
    """Turn the errors a user can act on into a one-line ``Error: ...`` and exit code 1."""

    @wraps(fun)
    async def wrapper(self: AppCommand, *args: Any, **kwargs: Any) -> Any:
        try:
            return await fun(self, *args, **kwargs)
        except (ValueError, OSError, RuntimeError) as exc:
            raise click.ClickException(str(exc)) from exc

    return wrapper


@app.command(
    argument("file", type=click.Path(path_type=Path)),
    option("--out", "out", type=click.Path(path_type=Path), required=True, help="Output CSV path."),
    option("--progress/--no-progress", default=True, help="Progress bar on stderr."),
)
@user_errors
async def features(self: AppCommand, file: Path, out: Path, progress: bool) -> None:
    """Compute every indicator offline for a tick CSV (same engine as the live worker)."""
    from flameback_app.offline import write_features_csv

    count = write_features_csv(file, out, progress=progress)
    click.echo(f"wrote {count} rows to {out}", err=True)


@app.command(
    argument("file", type=click.Path(path_type=Path)),
    option("--out", "out", type=click.Path(path_type=Path), default=None,
           help="Artifacts root (default: FLAMEBACK_MODELS_DIR)."),
    option("--report", "report", type=click.Path(path_type=Path), default=None,
           help="Also write the walk-forward report JSON here."),
    option("--folds", type=int, default=5, show_default=True, help="Walk-forward folds."),
    option("--embargo", type=int, default=5, show_default=True, help="Ticks embargoed after each test fold."),
    option("--cost-bp", type=float, default=2.0, show_default=True, help="Strategy cost per position change."),
)
@user_errors
async def train(self: AppCommand, file: Path, out: Path | None, report: Path | None,
                folds: int, embargo: int, cost_bp: float) -> None:
    """Walk-forward evaluate, then fit and save the four models (a new artifact version)."""
    from models.train import run_train_command

    run_train_command(file, out or settings.models_dir, report=report, folds=folds, embargo=embargo,
                      cost_bp=cost_bp)


@app.command(
    argument("file", type=click.Path(path_type=Path)),
    option("--models", "models_dir", type=click.Path(path_type=Path), default=None,
           help="A version directory or the artifacts root (newest valid version)."),
    option("--out", "out", type=click.Path(path_type=Path), required=True, help="Per-row predictions CSV."),
    option("--report", "report", type=click.Path(path_type=Path), required=True, help="Metrics JSON."),
    option("--cost-bp", type=float, default=2.0, show_default=True, help="Strategy cost per position change."),
)
@user_errors
async def evaluate(self: AppCommand, file: Path, models_dir: Path | None, out: Path, report: Path,
                   cost_bp: float) -> None:
    """Run saved models and the rules on new data; write per-row predictions and a report."""
    from models.evaluate import run_evaluate_command

    run_evaluate_command(file, models_dir or settings.models_dir, out=out, report=report, cost_bp=cost_bp)
