"""The whole pipeline against the real embedded broker, real worker processes, RocksDB and a database.

Tests that take the ``database`` fixture run on a SQLite file and on PostgreSQL.

Checks the issue's contract: one database row per input tick, every row's indicators
equal to the offline ``features`` output, first tick processed within 10 s of the
worker starting, bad input dead-lettered with a reason, stale ticks counted, state
recovered after a SIGKILL, and the web views answering from table state.
"""

from __future__ import annotations

import asyncio
import json
import signal
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.pool import NullPool

from flameback_app.core.partitioning import partition_for
from flameback_app.core.topics import DEAD_LETTERS, FEATURES
from flameback_app.storage.db import FEATURE_COLUMNS, model_decisions, model_registry, model_signals, predictions
from tests.support.harness import Stack, wait_for
from tests.support.pipeline_checks import (
    _same,
    assert_rows_match_offline,
    database_features,
    input_ticks,
    offline_features,
    read_topic,
    send_raw,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]


def test_replay_to_database_matches_offline_features(stack: Stack, database, real_subset: Path) -> None:
    ticks = input_ticks(real_subset)
    started = time.monotonic()
    stack.start_worker()
    stack.run_command("replay", str(real_subset), "--max", "--no-progress", "--symbols", ticks[0][0])
    first_row_s = wait_for(lambda: stack.row_count() > 0 and time.monotonic() - started, 30, "the first row")
    print(f"\nworker start → first processed tick: {first_row_s:.1f}s")
    assert first_row_s < 10

    replay_started = time.monotonic()
    result = stack.run_command("replay", str(real_subset), "--max", "--no-progress")
    assert "sent" in result.stderr
    stack.wait_rows(len(ticks), timeout=300)
    elapsed = time.monotonic() - replay_started
    print(f"replay → database: {len(ticks)} ticks in {elapsed:.1f}s = {len(ticks) / elapsed:,.0f} ticks/s")
    assert_rows_match_offline(stack, real_subset)

    counters = stack.get_json("w1", "/counters/")
    assert counters["stale_total"] >= 1  # the first symbol's ticks were sent twice
    assert counters["rows_written"] == len(ticks)


def test_web_views_serve_table_state(stack: Stack, real_subset: Path) -> None:
    stack.start_worker()
    stack.wait_assigned()
    ticks = input_ticks(real_subset)[:600]
    small = stack.root / "small.csv"
    small.write_text(
        "symbol,price,timestamp\n" + "".join(f"{line}\n" for line in real_subset.read_text().splitlines()[1:601])
    )
    stack.run_command("replay", str(small), "--max", "--no-progress")
    stack.wait_rows(len(ticks), timeout=120)
    symbol, last_ts = ticks[-1]
    state = stack.get_json("w1", "/state/" + symbol.replace(" ", "%20") + "/")
    assert state["symbol"] == symbol and state["last_timestamp"] == last_ts
    assert state["ticks"] == sum(1 for s, _ in ticks if s == symbol)
    assert 0 < state["window_length"] <= 100
    assert set(FEATURE_COLUMNS) <= set(state["indicators"])
    listed = {s["symbol"]: s["rows"] for s in stack.get_json("w1", "/symbols/")["symbols"]}
    assert sum(listed.values()) == len(ticks)
    board = stack.get_json("w1", "/scoreboard/?symbol=" + symbol.replace(" ", "%20"))["scoreboard"]
    assert {r["signal"] for r in board} >= {"RSI_Rule", "MACD_Rule", "Momentum_Rule", "PriceChange_Rule"}
    assert all(r["symbol"] == symbol and 0 <= r["hits"] <= r["n"] for r in board)
    health = stack.health()
    assert health["status"] == "ok" and health["assigned"]
    assert stack.get_json("w1", "/state/NOPE/") is None  # 404 → urlopen raises → None
    assert_feature_rows_published(stack, ticks)


def assert_feature_rows_published(stack: Stack, ticks: list[tuple[str, str]]) -> None:
    """One feature row per tick on the features topic, keyed by symbol, on the symbol's partition, in order."""
    bootstrap = stack.broker.url.removeprefix("kafka://")
    records = asyncio.run(read_topic(bootstrap, FEATURES, len(ticks), timeout=30))
    assert len(records) == len(ticks)
    by_symbol: dict[str, list[str]] = {}
    for record in records:
        row = json.loads(record.value)
        assert record.key == row["symbol"].encode()
        assert record.partition == partition_for(row["symbol"], stack.partitions)
        stamp = datetime.fromisoformat(row["timestamp"]).replace(tzinfo=None).isoformat()
        by_symbol.setdefault(row["symbol"], []).append(stamp)
    assert by_symbol == {symbol: [t for s, t in ticks if s == symbol] for symbol in by_symbol}


def test_bad_input_goes_to_dead_letters_and_good_ticks_are_processed(stack: Stack) -> None:
    stack.start_worker()
    stack.wait_assigned()

    def good(symbol: str, i: int) -> bytes:
        return json.dumps({"symbol": symbol, "price": 100 + i, "timestamp": f"2024-01-{i + 1:02d}"}).encode()

    bad = [
        b"{not json",
        b'{"symbol":"X","price":"1","timestamp":"2024-01-01"}',
        b"\xff\x00\x01",
        json.dumps({"symbol": "X", "price": 1.0}).encode(),
        b'{"symbol":"X","price":NaN,"timestamp":"2024"}',
    ]
    mixed: list[tuple[bytes | None, bytes, int | None]] = []
    for i in range(10):
        mixed.append((b"KEYED Test", good("KEYED Test", i), None))  # keyed: processed where it lands
        mixed.append((None, good("UNKEYED Test", i), 0))  # unkeyed, one partition: takes the repartition hop
        if i < len(bad):
            mixed.append((None, bad[i], i % 4))
    bootstrap = stack.broker.url.removeprefix("kafka://")
    asyncio.run(send_raw(bootstrap, mixed))
    stack.wait_rows(20, timeout=60)
    dead = asyncio.run(read_topic(bootstrap, DEAD_LETTERS, len(bad), timeout=30))
    assert sorted(r.value for r in dead) == sorted(bad)
    reasons = {dict(r.headers)["reason"].decode() for r in dead}
    assert reasons == {"invalid_json", "bad_price", "not_utf8", "missing_field"}
    counters = stack.get_json("w1", "/counters/")
    assert counters["rejected_total"] == len(bad)
    assert counters["forwarded_total"] == 10
    assert stack.workers["w1"].poll() is None


def test_sigkill_and_restart_loses_nothing_and_counts_nothing_twice(stack: Stack, real_subset: Path) -> None:
    ticks = input_ticks(real_subset)
    stack.start_worker()
    stack.wait_assigned()
    replay = stack.root / "replay.log"
    import subprocess

    feed = subprocess.Popen(
        [
            *__import__("tests.support.harness", fromlist=["FAUST"]).FAUST,
            "replay",
            str(real_subset),
            "--rate",
            "2000",
            "--no-progress",
        ],
        env=stack.env(),
        stdout=replay.open("w"),
        stderr=subprocess.STDOUT,
    )
    wait_for(lambda: stack.row_count() > len(ticks) // 4, 120, "a quarter of the rows")
    stack.kill_worker()
    stack.start_worker()
    assert feed.wait(300) == 0
    stack.wait_rows(len(ticks), timeout=300)
    assert_rows_match_offline(stack, real_subset)


def test_simulated_feed_is_processed(stack: Stack) -> None:
    stack.start_worker()
    stack.wait_assigned()
    result = stack.run_command(
        "simulate", "--symbols", "SIM1 Index,SIM2 Comdty", "--rounds", "60", "--rate", "2000", "--no-progress"
    )
    assert "sent 120 ticks" in result.stderr
    stack.wait_rows(120, timeout=60)
    engine = create_engine(stack.database_url, poolclass=NullPool)
    with engine.connect() as conn:
        newest, sized = conn.execute(text("SELECT max(timestamp), count(volume) FROM predictions")).one()
    engine.dispose()
    newest = datetime.fromisoformat(str(newest))
    assert abs((datetime.now(UTC).replace(tzinfo=None) - newest).total_seconds()) < 120  # stamped at the wall clock
    assert sized == 120  # every simulated tick carries a traded size
    state = wait_for(lambda: stack.get_json("w1", "/state/SIM1%20Index/"), 30, "the state view (router warm-up)")
    assert state["ticks"] == 60 and state["indicators"]["macd_signal"] is not None


def test_broker_command_reports_a_taken_port_in_one_line(stack: Stack) -> None:
    host_port = stack.broker.url  # already running: the port is taken
    result = stack.run_command("broker", check=False)
    assert result.returncode == 1
    assert result.stderr.strip().startswith("Error:") and "already in use" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert host_port.endswith(str(stack.broker.port))


def test_repeat_replays_with_increasing_timestamps(stack: Stack, real_subset: Path) -> None:
    import subprocess

    from tests.support.harness import FAUST

    small = stack.root / "small.csv"
    small.write_text("\n".join(real_subset.read_text().splitlines()[:201]) + "\n")
    stack.start_worker()
    stack.wait_assigned()
    feed = subprocess.Popen(
        [*FAUST, "replay", str(small), "--repeat", "--rate", "400", "--no-progress"],
        env=stack.env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: stack.row_count() >= 500, 60, "two and a half passes of the file")
    finally:
        feed.terminate()
        feed.wait(30)
    counters = stack.get_json("w1", "/counters/")
    assert counters["stale_total"] == 0  # every pass continued the timestamps
    assert counters["rejected_total"] == 0  # and none ran ahead of the clock (future_timestamp)
    assert counters["rows_written"] >= 500


def test_worker_without_models_trains_from_its_history_then_predicts(stack: Stack, database, real_subset: Path) -> None:
    """Also on a non-default tick spacing (1-minute bars, 252·390): the worker's indicators, its training and
    the manifest all carry FLAMEBACK_PERIODS_PER_YEAR; restarted on another spacing it warns in one line.
    The only version there at start is a joblib-era one (pickles that would create a file): one ERROR line, it
    runs nothing, and the worker trains as if it had no models. A user model (FLAMEBACK_USER_MODELS) is
    trained with the four and its live calls land in ``model_signals``."""
    minute_bars = 252 * 390
    marker = stack.root / "unpickled"
    old = plant_joblib_era_version(stack.root / "models", marker)
    user_model = {"logit_c01": {"class": "sklearn.linear_model.LogisticRegression", "params": {"C": 0.1}}}
    stack.start_worker(
        FLAMEBACK_PERIODS_PER_YEAR=str(minute_bars),
        FLAMEBACK_DRIFT_EVERY_S="1",
        FLAMEBACK_USER_MODELS=json.dumps(user_model),
    )
    stack.wait_assigned()
    stack.run_command("replay", str(real_subset), "--max", "--no-progress")
    log = stack.root / "worker-w1.log"
    wait_for(lambda: "no valid models" in log.read_text(), 30, "the worker to say it has no models")
    refusals = [line for line in log.read_text().splitlines() if "saved with joblib (pickle)" in line]
    assert len(refusals) == 1 and "ERROR" in refusals[0] and old.name in refusals[0] and "retrain" in refusals[0]
    wait_for(lambda: "now predicting with models version" in log.read_text(), 240, "background training")
    later = stack.root / "later.csv"
    later.write_text(
        "symbol,price,timestamp\n" + "".join(f"ES1 Index,{3200 + i},2020-01-{i + 1:02d}T00:00:00\n" for i in range(5))
    )
    stack.run_command("replay", str(later), "--max", "--no-progress")
    stack.wait_rows(len(input_ticks(real_subset)) + 5, timeout=60)
    p = predictions.c
    engine = create_engine(stack.database_url, poolclass=NullPool)
    with engine.connect() as conn:
        rows = conn.execute(
            select(p.XGBoost, p.LogisticReg, p.model_version).where(
                p.symbol == "ES1 Index", p.timestamp >= datetime(2020, 1, 1)
            )
        ).all()
        training = conn.execute(select(func.count()).where(p.XGBoost == "TRAINING")).scalar_one()
        registered = conn.execute(select(model_registry.c.version)).scalars().all()
        user_calls = conn.execute(
            select(model_signals.c.model, model_signals.c.call, model_signals.c.model_version).where(
                model_signals.c.symbol == "ES1 Index", model_signals.c.timestamp >= datetime(2020, 1, 1)
            )
        ).all()
        decided = conn.execute(select(model_decisions.c.action, model_decisions.c.version)).all()
    engine.dispose()
    assert len(user_calls) == 5 and all(
        m == "logit_c01" and c in ("UP", "DOWN") and v == rows[0][2] for m, c, v in user_calls
    )
    assert registered == [rows[0][2]]  # the loaded version is recorded in the database
    assert [tuple(d) for d in decided] == [("first", rows[0][2])]  # trained with no champion: promoted, recorded
    assert (stack.root / "models" / "champion.json").is_file()
    assert len(rows) == 5 and all(r[0] in ("UP", "DOWN") and r[1] in ("UP", "DOWN") and r[2] for r in rows)
    assert training > 0  # the first rows, written before any model existed, say TRAINING
    assert not marker.exists()
    assert_drift_measured_against(stack, rows[0][2])
    assert_tick_spacing_followed(stack, real_subset, rows[0][2], minute_bars)
    if database.kind == "sqlite":  # the database plays no part in the warning: check it once (SQLite), save ~8 s
        assert_restart_on_another_spacing_warns(stack, minute_bars)


class _Detonator:
    """Unpickling this creates ``marker``: proof that a joblib file was (or was not) loaded."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return (Path.touch, (self.marker,))


def plant_joblib_era_version(models_dir: Path, marker: Path) -> Path:
    """A version as the joblib registry wrote it (manifest without ``format``, true hashes), older than any new one."""
    import hashlib
    import pickle

    from models.columns import MODEL_COLUMNS
    from models.features import ML_FEATURES

    version = models_dir / "20250101T000000Z-0123abcd"
    version.mkdir(parents=True)
    files = {}
    for name in MODEL_COLUMNS:
        data = pickle.dumps(_Detonator(marker))
        (version / f"{name}.joblib").write_bytes(data)
        files[name] = {"file": f"{name}.joblib", "sha256": hashlib.sha256(data).hexdigest()}
    (version / "manifest.json").write_text(
        json.dumps(
            {
                "version": version.name,
                "created": "2025-01-01T00:00:00+00:00",
                "features": list(ML_FEATURES),
                "training_span": {},
                "metrics": {},
                "models": files,
            }
        )
    )
    return version


def assert_drift_measured_against(stack: Stack, version: str) -> None:
    """The trained version kept a training sample, and the worker's drift check (every second here) compared the
    live rows with it: /drift/ serves every model feature, pooled and per symbol, for that version."""
    from models.features import ML_FEATURES

    def measured() -> list[dict] | None:
        rows = (stack.get_json("w1", "/drift/") or {}).get("drift")
        return rows if rows and rows[0]["model_version"] == version else None

    rows = wait_for(measured, 30, "the drift check of the trained version")
    assert {r["feature"] for r in rows if r["symbol"] == "*"} == set(ML_FEATURES)
    assert {r["symbol"] for r in rows} > {"*"} and all(r["psi"] >= 0 and r["live_rows"] >= 500 for r in rows)
    sample = json.loads((stack.root / "models" / version / "manifest.json").read_text())["training_sample"]
    assert all(r["sample_rows"] == sample["rows"] for r in rows)


def assert_tick_spacing_followed(stack: Stack, real_subset: Path, version: str, spacing: int) -> None:
    """Live rows equal ``features --periods-per-year`` (whose flag changes volatility_20: unit-tested), and
    the manifest of the models the worker trained records the worker's spacing, with no warning."""
    expected = offline_features(stack, real_subset, "--periods-per-year", str(spacing))
    actual = database_features(stack)
    assert all(_same(actual[key][c], v) for key, cols in expected.items() for c, v in cols.items())
    assert json.loads((stack.root / "models" / version / "manifest.json").read_text())["periods_per_year"] == spacing
    assert "trained with periods_per_year" not in (stack.root / "worker-w1.log").read_text()
    assert stack.get_json("w1", "/counters/")["models_tick_spacing_mismatch"] == 0


def assert_restart_on_another_spacing_warns(stack: Stack, spacing: int) -> None:
    """The same models loaded by a worker on the default spacing: one WARNING line, and the counter says so."""
    log = stack.root / "worker-w1.log"
    stack.kill_worker("w1", signal.SIGTERM)
    before = len(log.read_text())
    stack.start_worker()  # FLAMEBACK_PERIODS_PER_YEAR unset: 252
    wait_for(lambda: "loaded models version" in log.read_text()[before:], 60, "the restarted worker's models")
    warnings = [line for line in log.read_text()[before:].splitlines() if "trained with periods_per_year" in line]
    assert len(warnings) == 1 and "WARNING" in warnings[0]
    assert f"periods_per_year={spacing}" in warnings[0] and "FLAMEBACK_PERIODS_PER_YEAR=252" in warnings[0]
    wait_for(
        lambda: (c := stack.get_json("w1", "/counters/")) and c["models_tick_spacing_mismatch"] == 1,
        30,
        "the mismatch counter",
    )


def processes_of(app_id: str) -> list[int]:
    """Every live process started for this deployment (they all carry its FLAMEBACK_APP_ID)."""
    import psutil

    found = []
    for proc in psutil.process_iter(["pid", "status"]):
        try:
            if proc.info["status"] != psutil.STATUS_ZOMBIE and proc.environ().get("FLAMEBACK_APP_ID") == app_id:
                found.append(proc.pid)
        except psutil.Error:
            continue
    return found


def test_a_worker_killed_while_training_leaves_no_training_process_behind(stack: Stack, real_subset: Path) -> None:
    """The training child is forked from the worker: it must not outlive it (it used to wait forever).

    Only the worker's own PID is killed (as the OOM killer or ``kill -9 PID`` would), not its group.
    """
    import os
    import signal

    worker = stack.start_worker()
    stack.wait_assigned()
    stack.run_command("replay", str(real_subset), "--max", "--no-progress")
    log = stack.root / "worker-w1.log"
    wait_for(lambda: "training models from the database history" in log.read_text(), 120, "training to start")
    # The worker logs that line just before it forks the child: wait for the child, do not race it.
    wait_for(lambda: len(processes_of(stack.app_id)) == 2, 20, "the worker and its training child")
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait(10)
    wait_for(lambda: not processes_of(stack.app_id), 10, "the training child to end with its worker")
