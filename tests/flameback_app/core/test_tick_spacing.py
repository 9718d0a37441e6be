"""Tick spacing (``FLAMEBACK_PERIODS_PER_YEAR``): one setting for the live engine, offline, training and evaluate.

Reads nothing but what it writes in a temporary directory. The live worker's code
path is exercised without a broker here (``SymbolState`` with a JSON save/restore per
batch, as the indicator agent does, and ``log_tick_spacing``, which the predict agent
calls on every model load); ``tests/e2e/test_pipeline.py`` runs a real worker on a
non-default spacing.
"""

from __future__ import annotations

import csv
import json
import logging
import math
import os
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError
from sklearn.preprocessing import StandardScaler

from dashboard.callbacks import models_note
from flameback_app.core.offline import OUTPUT_COLUMNS, iter_feature_rows, write_features_csv
from flameback_app.core.records import Tick
from flameback_app.core.ta import FEATURE_FIELDS, IndicatorState, step
from flameback_app.settings import Settings, load_settings
from models.evaluate import run_evaluate_command
from models.metrics import strategy_check
from models.registry import MANIFEST, log_tick_spacing, save_version, tick_spacing_check
from models.synthetic import indicator_frame, random_walk_prices
from models.train import train_and_save
from tables.symbol_state import SymbolState

MINUTE_BARS = 252.0 * 390  # 1-minute bars of a US equity session
REPO = Path(__file__).resolve().parents[3]
FAUST = Path(sys.executable).with_name("faust")


def walk(n: int, seed: int = 3) -> list[float]:
    rng = np.random.default_rng(seed)
    return [float(p) for p in 50.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, n)))]


def nan_equal(a: np.ndarray, b: np.ndarray) -> bool:
    return bool(np.array_equal(a, b, equal_nan=True))


# ---------------------------------------------------------------- engine


def test_volatility_scales_by_the_root_of_the_spacing_ratio_and_matches_talib(
    reference, run_engine, assert_close
) -> None:
    prices = walk(300)
    daily, minutes = run_engine(prices), run_engine(prices, periods_per_year=MINUTE_BARS)
    assert_close(minutes, reference(prices, periods_per_year=MINUTE_BARS))  # TA-Lib × √(252·390)
    for name in FEATURE_FIELDS:
        if name != "volatility_20":
            assert nan_equal(minutes[name], daily[name]), name  # the spacing touches nothing else
    valid = ~np.isnan(daily["volatility_20"])
    assert valid.sum() == 300 - 20 and (daily["volatility_20"][valid] > 0).all()
    ratio = minutes["volatility_20"][valid] / daily["volatility_20"][valid]
    assert np.allclose(ratio, math.sqrt(MINUTE_BARS / 252.0), rtol=4e-16, atol=0)  # a few ulp: two roundings


def test_a_restored_state_continues_on_the_current_spacing() -> None:
    """A worker restarted with another setting: the saved state takes it, and the tail equals one pass on it."""
    prices = walk(120)
    state = IndicatorState()  # saved by a worker on the default spacing
    for price in prices[:50]:
        state, _ = step(state, price)
    restored = IndicatorState.from_dict(json.loads(json.dumps(state.to_dict())), MINUTE_BARS)
    assert restored.periods_per_year == MINUTE_BARS
    assert IndicatorState.from_dict(state.to_dict()).periods_per_year == 252.0  # no override: the saved one
    one_pass = IndicatorState(MINUTE_BARS)
    for price in prices[:50]:
        one_pass, _ = step(one_pass, price)
    for price in prices[50:]:
        restored, got = step(restored, price)
        one_pass, want = step(one_pass, price)
        assert got == want


# ---------------------------------------------------------------- live and offline agree


def write_long(path: Path, n: int = 80) -> list[Tick]:
    start = datetime(2024, 3, 1, 14, 30)
    ticks = [
        Tick(symbol=symbol, price=price, timestamp=start + timedelta(minutes=i))
        for i in range(n)
        for symbol, price in (("ES1 Index", walk(n, 1)[i]), ("NQ1 Index", walk(n, 2)[i]))
    ]
    lines = ["symbol,price,timestamp", *(f"{t.symbol},{t.price!r},{t.timestamp.isoformat()}" for t in ticks)]
    path.write_text("\n".join(lines) + "\n")
    return ticks


def live_rows(ticks: list[Tick], periods_per_year: float, batch: int = 7, table: dict | None = None) -> list[dict]:
    """The indicator agent's path: a SymbolState per symbol, saved as JSON and restored with the setting per batch.

    ``table`` (symbol → saved value) is updated in place, as the worker's RocksDB table is.
    """
    table = {} if table is None else table
    rows = []
    for k in range(0, len(ticks), batch):
        states: dict[str, SymbolState] = {}
        for tick in ticks[k : k + batch]:
            if tick.symbol not in states:
                states[tick.symbol] = SymbolState.from_value(table.get(tick.symbol), periods_per_year)
            rows.append(states[tick.symbol].apply(tick).columns())
        table.update({s: json.loads(json.dumps(st.to_value())) for s, st in states.items()})
    return rows


def read_csv_rows(path: Path) -> list[dict]:
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        assert tuple(reader.fieldnames or ()) == OUTPUT_COLUMNS
        return [{c: (None if r[c] == "" else float(r[c])) for c in FEATURE_FIELDS} for r in reader]


def test_live_symbol_state_and_offline_features_agree_on_a_non_default_spacing(tmp_path: Path) -> None:
    ticks = write_long(tmp_path / "ticks.csv")
    live = live_rows(ticks, MINUTE_BARS)
    offline = list(iter_feature_rows(tmp_path / "ticks.csv", periods_per_year=MINUTE_BARS))
    assert len(live) == len(offline) == len(ticks)
    assert [{f: r[f] for f in FEATURE_FIELDS} for r in live] == [{f: r[f] for f in FEATURE_FIELDS} for r in offline]
    write_features_csv(tmp_path / "ticks.csv", tmp_path / "features.csv", progress=False, periods_per_year=MINUTE_BARS)
    assert read_csv_rows(tmp_path / "features.csv") == [{f: r[f] for f in FEATURE_FIELDS} for r in live]
    daily = live_rows(ticks, 252.0)
    differ = [a["volatility_20"] != b["volatility_20"] for a, b in zip(live, daily, strict=True) if b["volatility_20"]]
    assert differ and all(differ)  # the spacing reached every volatility value


def test_a_worker_restarted_on_another_spacing_applies_it_from_its_next_tick(tmp_path: Path) -> None:
    ticks = write_long(tmp_path / "ticks.csv")
    table: dict[str, dict] = {}
    head = live_rows(ticks[:70], 252.0, table=table)  # the worker before the restart: default spacing
    tail = live_rows(ticks[70:], MINUTE_BARS, table=table)  # restarted with FLAMEBACK_PERIODS_PER_YEAR=98280
    daily = list(iter_feature_rows(tmp_path / "ticks.csv"))
    minutes = list(iter_feature_rows(tmp_path / "ticks.csv", periods_per_year=MINUTE_BARS))
    assert head == [{k: r[k] for k in head[0]} for r in daily[:70]]
    assert tail == [{k: r[k] for k in tail[0]} for r in minutes[70:]]
    assert all(a["volatility_20"] != b["volatility_20"] for a, b in zip(daily[70:], minutes[70:], strict=True))


def run_features_cli(tmp_path: Path, *args: str, setting: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLAMEBACK_")}
    env.update({"PYTHONPATH": str(REPO), "FLAMEBACK_DATA_DIR": str(tmp_path / "state")})
    if setting is not None:
        env["FLAMEBACK_PERIODS_PER_YEAR"] = setting
    return subprocess.run(
        [str(FAUST), "-A", "flameback_app", "features", *args, "--no-progress"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_features_command_takes_the_setting_and_its_flag_overrides_it(tmp_path: Path) -> None:
    ticks = write_long(tmp_path / "ticks.csv", n=40)
    source, out = str(tmp_path / "ticks.csv"), tmp_path / "out.csv"
    result = run_features_cli(tmp_path, source, "--out", str(out), setting=repr(MINUTE_BARS))
    assert result.returncode == 0, result.stderr
    assert read_csv_rows(out) == [{f: r[f] for f in FEATURE_FIELDS} for r in live_rows(ticks, MINUTE_BARS)]
    result = run_features_cli(tmp_path, source, "--out", str(out), "--periods-per-year", "252", setting="1e6")
    assert result.returncode == 0, result.stderr
    assert read_csv_rows(out) == [{f: r[f] for f in FEATURE_FIELDS} for r in live_rows(ticks, 252.0)]
    result = run_features_cli(tmp_path, source, "--out", str(tmp_path / "no.csv"), "--periods-per-year", "-1")
    assert result.returncode == 2 and "must be a positive finite number of ticks per year" in result.stderr
    assert not (tmp_path / "no.csv").exists()


# ---------------------------------------------------------------- settings


@pytest.mark.parametrize("bad", [0, -252, float("inf"), float("nan"), "daily"])
def test_a_bad_spacing_is_a_settings_error_naming_the_variable(bad: object) -> None:
    with pytest.raises(ValidationError, match="FLAMEBACK_PERIODS_PER_YEAR|valid number"):
        Settings(periods_per_year=bad)


def test_the_spacing_comes_from_the_environment_and_a_bad_one_stops_in_one_line(monkeypatch) -> None:
    assert Settings().periods_per_year == 252.0
    monkeypatch.setenv("FLAMEBACK_PERIODS_PER_YEAR", "98280")
    assert load_settings().periods_per_year == MINUTE_BARS
    for bad, says in (
        ("0", "must be a positive finite number"),
        ("nan", "must be a positive finite number"),
        ("daily", "FLAMEBACK_PERIODS_PER_YEAR: Input should be a valid number"),
    ):
        monkeypatch.setenv("FLAMEBACK_PERIODS_PER_YEAR", bad)
        with pytest.raises(SystemExit) as stopped:
            load_settings()
        line = str(stopped.value.code)
        assert line.startswith("Error: ") and "FLAMEBACK_PERIODS_PER_YEAR" in line and says in line
        assert "\n" not in line and "Traceback" not in line


# ---------------------------------------------------------------- manifest and warning


def _model() -> StandardScaler:
    """A stand-in any loader trusts: this test only reads the manifest, it never calls the model."""
    return StandardScaler()


def test_the_manifest_records_the_spacing(tmp_path: Path) -> None:
    span = {"n": 1, "start": "a", "end": "b"}
    minute = save_version(
        {"m": _model()}, tmp_path, features=["f"], span=span, metrics={}, periods_per_year=MINUTE_BARS
    )
    default = save_version({"m": _model()}, tmp_path / "d", features=["f"], span=span, metrics={})
    assert json.loads((minute / MANIFEST).read_text())["periods_per_year"] == MINUTE_BARS
    assert json.loads((default / MANIFEST).read_text())["periods_per_year"] == 252.0


def test_the_spacing_check_warns_on_a_mismatch_only() -> None:
    manifest = {"version": "v1", "periods_per_year": MINUTE_BARS}
    same = tick_spacing_check(manifest, MINUTE_BARS)
    assert same.warning is None and same.note is None and same.recorded and same.trained == MINUTE_BARS
    other = tick_spacing_check(manifest, 252.0)
    assert other.warning is not None and "\n" not in other.warning
    for part in ("v1", "periods_per_year=98280", "FLAMEBACK_PERIODS_PER_YEAR=252", "0.05064x"):
        assert part in other.warning, part
    old = {"version": "v0"}  # written before the field existed
    assumed = tick_spacing_check(old, 252.0)
    assert assumed.warning is None and assumed.note and "assuming 252" in assumed.note and not assumed.recorded
    off = tick_spacing_check(old, MINUTE_BARS)
    assert off.warning and "periods_per_year=252 (assumed" in off.warning and off.note is None


def test_the_worker_logs_one_warning_line_on_a_mismatch_and_none_on_a_match(caplog) -> None:
    caplog.set_level(logging.INFO, logger="models.registry")
    log_tick_spacing({"version": "v1", "periods_per_year": 252.0}, 252.0)
    assert not caplog.records
    log_tick_spacing({"version": "v1", "periods_per_year": 252.0}, MINUTE_BARS)
    assert [(r.levelname, "FLAMEBACK_PERIODS_PER_YEAR=98280" in r.getMessage()) for r in caplog.records] == [
        ("WARNING", True)
    ]
    caplog.clear()
    log_tick_spacing({"version": "v0"}, 252.0)  # an old manifest: said once, at INFO
    assert [r.levelname for r in caplog.records] == ["INFO"] and "assuming 252" in caplog.records[0].getMessage()


def test_the_terminal_says_when_the_models_are_on_another_spacing() -> None:
    loaded = {"models_loaded": 1, "models_tick_spacing_mismatch": 0}
    assert models_note(loaded) == ""
    assert "another tick spacing" in models_note({**loaded, "models_tick_spacing_mismatch": 1})


def test_training_records_its_spacing_and_evaluate_warns_on_another(tmp_path: Path, capsys) -> None:
    ticks = random_walk_prices(300, symbols=3, seed=1)
    version = train_and_save(
        indicator_frame(ticks, MINUTE_BARS), tmp_path / "models", folds=2, embargo=2, periods_per_year=MINUTE_BARS
    )
    assert json.loads((version / MANIFEST).read_text())["periods_per_year"] == MINUTE_BARS
    assert json.loads((version / "report.json").read_text())["settings"]["periods_per_year"] == MINUTE_BARS
    new_file = tmp_path / "new.csv"
    fresh = random_walk_prices(80, symbols=3, seed=2)
    fresh.assign(timestamp=fresh["timestamp"].map(lambda t: t.isoformat()))[["symbol", "price", "timestamp"]].to_csv(
        new_file, index=False
    )
    reports = {}
    for spacing in (MINUTE_BARS, 252.0):
        capsys.readouterr()
        report = tmp_path / f"report-{spacing:g}.json"
        run_evaluate_command(
            new_file, version, out=tmp_path / "p.csv", report=report, cost_bp=2.0, periods_per_year=spacing
        )
        warnings = [line for line in capsys.readouterr().err.splitlines() if line.startswith("WARNING")]
        reports[spacing] = (json.loads(report.read_text()), warnings)
    matched, mismatched = reports[MINUTE_BARS], reports[252.0]
    assert matched[1] == [] and matched[0]["tick_spacing_warning"] is None
    assert len(mismatched[1]) == 1 and "periods_per_year=98280" in mismatched[1][0] and "=252" in mismatched[1][0]
    assert mismatched[0]["tick_spacing_warning"] == mismatched[1][0].removeprefix("WARNING: ")
    assert mismatched[0]["periods_per_year"] == 252.0 and mismatched[0]["trained_periods_per_year"] == MINUTE_BARS


def test_the_strategy_sharpe_follows_the_spacing() -> None:
    import pandas as pd

    frame = pd.DataFrame(
        {
            "symbol": ["A"] * 4,
            "timestamp": [1, 2, 3, 4],
            "current_price": [100.0, 101.0, 100.5, 102.0],
            "next_price": [101.0, 100.5, 102.0, 101.0],
        }
    )
    daily = strategy_check(frame, np.ones(4), 0.0)["sharpe"]
    minutes = strategy_check(frame, np.ones(4), 0.0, periods_per_year=MINUTE_BARS)["sharpe"]
    assert daily and math.isclose(minutes / daily, math.sqrt(390), rel_tol=1e-12)
