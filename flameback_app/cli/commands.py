"""The operator's CLI: ``faust -A flameback_app <command>``.

Each command is a thin shell: it parses options (click, via Faust), reads the
settings, and calls the module that does the work. These commands run on a plain
asyncio loop (:class:`ToolCommand`), not inside a Faust worker service: an error a
user can fix ends the command with one line ``Error: ...`` and exit code 1, instead
of a worker traceback.
"""

from __future__ import annotations

import asyncio
import math
import sys
from pathlib import Path
from typing import Any, NoReturn

import click
from faust.cli import AppCommand, argument, option

from flameback_app.faust_app import app, settings

USER_ERRORS = (ValueError, OSError, RuntimeError)


class ToolCommand(AppCommand):
    """Run the command coroutine with ``asyncio.run``; user errors become one line and exit 1."""

    def __call__(self, *args: Any, **kwargs: Any) -> NoReturn:
        try:
            asyncio.run(self.execute(*self.args, *args, **{**self.kwargs, **kwargs}))
        except click.ClickException as exc:
            exc.show()
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(130)
        except USER_ERRORS as exc:
            click.echo(f"Error: {exc}", err=True)
            sys.exit(1)
        sys.exit(0)


def tool_command(*options: Any) -> Any:
    """``app.command`` with :class:`ToolCommand` as the base."""
    return app.command(*options, base=ToolCommand)


PACKING_OPTIONS = (
    option(
        "--pack",
        type=click.IntRange(1, 10_000),
        default=64,
        show_default=True,
        help="Most ticks of one symbol per Kafka message (1: one tick per message).",
    ),
    option(
        "--linger-ms",
        type=click.FloatRange(0),
        default=20.0,
        show_default=True,
        help="Longest a tick waits for others to share its message.",
    ),
)


def _tick_spacing(_ctx: click.Context, _param: click.Parameter, value: float | None) -> float:
    """``--periods-per-year``: the setting unless given; a positive finite number like the setting."""
    if value is None:
        return settings.periods_per_year
    if not (math.isfinite(value) and value > 0):
        raise click.BadParameter(f"must be a positive finite number of ticks per year, got {value!r}")
    return value


PERIODS_PER_YEAR_OPTION = option(
    "--periods-per-year",
    "periods_per_year",
    type=float,
    default=None,
    callback=_tick_spacing,
    help="Ticks per year of one symbol; annualises volatility_20 (default: FLAMEBACK_PERIODS_PER_YEAR).",
)


@tool_command(
    argument("file", type=click.Path(path_type=Path)),
    option("--out", "out", type=click.Path(path_type=Path), required=True, help="Output CSV path."),
    option("--progress/--no-progress", default=True, help="Progress bar on stderr."),
    PERIODS_PER_YEAR_OPTION,
)
async def features(self: AppCommand, file: Path, out: Path, progress: bool, periods_per_year: float) -> None:
    """Compute every indicator offline for a tick CSV (same engine as the live worker)."""
    from flameback_app.core.offline import write_features_csv

    count = write_features_csv(file, out, progress=progress, periods_per_year=periods_per_year)
    click.echo(f"wrote {count} rows to {out}", err=True)


@tool_command(
    argument("file", type=click.Path(path_type=Path)),
    option(
        "--out",
        "out",
        type=click.Path(path_type=Path),
        default=None,
        help="Artifacts root (default: FLAMEBACK_MODELS_DIR).",
    ),
    option(
        "--report",
        "report",
        type=click.Path(path_type=Path),
        default=None,
        help="Also write the walk-forward report JSON here.",
    ),
    option("--folds", type=int, default=5, show_default=True, help="Walk-forward folds."),
    option("--embargo", type=int, default=5, show_default=True, help="Ticks embargoed after each test fold."),
    option("--cost-bp", type=float, default=2.0, show_default=True, help="Strategy cost per position change."),
    option(
        "--calibration",
        type=click.Choice(["sigmoid", "isotonic", "none"]),
        default=None,
        help="Calibrate P(up) on the training side of each fold (default: FLAMEBACK_CALIBRATION, sigmoid).",
    ),
    option("--until", default=None, help="Use only ticks stamped before this date (ISO; replays a shorter history)."),
    option(
        "--challenge",
        is_flag=True,
        help="Train a challenger against the champion; it goes live only if it wins (decision recorded).",
    ),
    PERIODS_PER_YEAR_OPTION,
)
async def train(
    self: AppCommand,
    file: Path,
    out: Path | None,
    report: Path | None,
    folds: int,
    embargo: int,
    cost_bp: float,
    calibration: str | None,
    until: str | None,
    challenge: bool,
    periods_per_year: float,
) -> None:
    """Walk-forward evaluate, then fit and save the four models and FLAMEBACK_USER_MODELS (a new artifact version)."""
    from flameback_app.cli.models_command import run_challenge_command, say_if_not_live
    from models.train import run_train_command

    models_dir, calibration = out or settings.models_dir, calibration or settings.calibration
    if challenge:
        run_challenge_command(
            settings,
            file,
            models_dir,
            until=until,
            folds=folds,
            embargo=embargo,
            cost_bp=cost_bp,
            calibration=calibration,
            periods_per_year=periods_per_year,
        )
        return
    path = run_train_command(
        file,
        models_dir,
        report=report,
        folds=folds,
        embargo=embargo,
        cost_bp=cost_bp,
        periods_per_year=periods_per_year,
        extra_trusted=settings.extra_trusted_model_types,
        calibration=calibration,
        until=until,
        sample_rows=settings.drift_sample_rows,
        user_models=settings.user_model_entries,
    )
    say_if_not_live(path)


@tool_command(
    argument("file", type=click.Path(path_type=Path)),
    option(
        "--models",
        "models_dir",
        type=click.Path(path_type=Path),
        default=None,
        help="A version directory or the artifacts root (newest valid version).",
    ),
    option("--out", "out", type=click.Path(path_type=Path), required=True, help="Per-row predictions CSV."),
    option("--report", "report", type=click.Path(path_type=Path), required=True, help="Metrics JSON."),
    option("--cost-bp", type=float, default=2.0, show_default=True, help="Strategy cost per position change."),
    PERIODS_PER_YEAR_OPTION,
)
async def evaluate(
    self: AppCommand,
    file: Path,
    models_dir: Path | None,
    out: Path,
    report: Path,
    cost_bp: float,
    periods_per_year: float,
) -> None:
    """Run saved models and the rules on new data; write per-row predictions and a report."""
    from models.evaluate import run_evaluate_command

    run_evaluate_command(
        file,
        models_dir or settings.models_dir,
        out=out,
        report=report,
        cost_bp=cost_bp,
        periods_per_year=periods_per_year,
        extra_trusted=settings.model_trusted_types,
    )


@tool_command(
    option("--detach", is_flag=True, help="Return once the broker accepts connections; leave it running."),
    option("--stop", "stop_detached", is_flag=True, help="Stop a broker started with --detach."),
    option("--ready-timeout", type=float, default=30.0, show_default=True),
)
async def broker(self: AppCommand, detach: bool, stop_detached: bool, ready_timeout: float) -> None:
    """Run the embedded Kafka-protocol broker (Tansu) on FLAMEBACK_BROKER's host:port."""
    from flameback_app.cli.broker_command import run_broker

    await run_broker(settings, detach=detach, stop_detached=stop_detached, ready_timeout=ready_timeout)


@tool_command(
    argument("file", type=click.Path(path_type=Path)),
    option("--rate", type=float, default=None, help="Ticks per second (default: as fast as possible)."),
    option("--max", "max_speed", is_flag=True, help="As fast as possible (the default without --rate)."),
    # Not --loop: `import faust` itself claims --loop/-L (event loop choice) from argv.
    option("--repeat", "loop_forever", is_flag=True, help="Replay forever; each pass continues the timestamps."),
    option("--symbols", default=None, help="Comma-separated symbols to send (default: all)."),
    *PACKING_OPTIONS,
    option("--progress/--no-progress", default=True, help="Progress bar on stderr."),
)
async def replay(
    self: AppCommand,
    file: Path,
    rate: float | None,
    max_speed: bool,
    loop_forever: bool,
    symbols: str | None,
    pack: int,
    linger_ms: float,
    progress: bool,
) -> None:
    """Replay a tick CSV (wide Bloomberg or long layout) onto futures-ticks, in time order."""
    from flameback_app.feeds import Pacing
    from flameback_app.feeds import replay as run_replay

    if rate is not None and (max_speed or rate <= 0):
        raise click.UsageError("use either --rate N (N > 0) or --max")
    wanted = {s.strip() for s in symbols.split(",") if s.strip()} if symbols else None
    pacing = Pacing(rate=None if max_speed else rate, pack=pack, linger_s=linger_ms / 1000)
    summary = await run_replay(settings, file, pacing, loop=loop_forever, symbols=wanted, progress=progress)
    click.echo(summary.line(), err=True)


@tool_command(
    option("--rate", type=float, default=50.0, show_default=True, help="Ticks per second."),
    option("--symbols", default=None, help="Comma-separated symbols (default: 14 well-known futures)."),
    option("--seed", type=int, default=7, show_default=True),
    option(
        "--step", "step_s", type=float, default=60.0, show_default=True, help="Market seconds between a symbol's ticks."
    ),
    option("--rounds", type=int, default=None, help="Stop after N ticks per symbol (default: run forever)."),
    *PACKING_OPTIONS,
    option("--progress/--no-progress", default=True, help="Progress bar on stderr."),
)
async def simulate(
    self: AppCommand,
    rate: float,
    symbols: str | None,
    seed: int,
    step_s: float,
    rounds: int | None,
    pack: int,
    linger_ms: float,
    progress: bool,
) -> None:
    """Send a synthetic live feed (seeded random walks with realistic daily volatility)."""
    from flameback_app.feeds import SIMULATED_SYMBOLS, Pacing
    from flameback_app.feeds import simulate as run_simulate

    if rate <= 0:
        raise click.UsageError("--rate must be above 0")
    names = [s.strip() for s in symbols.split(",") if s.strip()] if symbols else list(SIMULATED_SYMBOLS)
    pacing = Pacing(rate=rate, pack=pack, linger_s=linger_ms / 1000)
    summary = await run_simulate(
        settings, pacing, symbols=names, seed=seed, step_s=step_s, rounds=rounds, progress=progress
    )
    click.echo(summary.line(), err=True)


@tool_command(
    argument("action", type=click.Choice(["list", "promote", "rollback"])),
    argument("version", required=False),
)
async def models(self: AppCommand, action: str, version: str | None) -> None:
    """Model versions in FLAMEBACK_MODELS_DIR: list | promote VERSION | rollback (the live one is the champion)."""
    from flameback_app.cli.models_command import run_models_command

    run_models_command(settings, action, version)


@tool_command(
    argument("action", type=click.Choice(["upgrade", "current", "history", "revision"])),
    option("-m", "--message", default=None, help="revision: what the new revision changes."),
)
async def db(self: AppCommand, action: str, message: str | None) -> None:
    """Database schema (FLAMEBACK_DB_URL): upgrade | current | history | revision -m MSG (developers)."""
    from flameback_app.cli.db_command import run_db_command

    run_db_command(settings, action, message)
