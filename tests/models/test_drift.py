"""Feature drift: a synthetic shift is flagged and a stationary stream is not (through the worker's check, on a
real SQLite database), the training sample refuses pickles, and a flag can trigger a retrain.

Prices are random walks through the live indicator engine; the shift is a doubled
volatility (a calm market turning wild), the kind of change that makes the models'
inputs unlike anything they were trained on.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import pickle
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dashboard import drift as drift_panel
from dashboard import queries
from dashboard.callbacks import Source
from flameback_app.settings import Settings
from flameback_app.storage import db, schema
from flameback_app.worker.drift_check import DriftCheck, drift_table_rows, measure_drift
from flameback_app.worker.model_service import ModelService
from flameback_app.worker.runtime import Runtime
from models.drift import POOLED, SAMPLE_FILE, TrainingSample, draw_sample, drift_report, psi, sample_bytes
from models.features import ML_FEATURES, feature_frame
from models.live import SignalEngine
from models.registry import MANIFEST, ArtifactError, load_training_sample, load_version, save_version
from models.synthetic import START, indicator_frame

CALM, WILD = 0.015, 0.030  # daily log-return volatility of the training market and of the shifted one
TICKS = 2_100  # per live symbol: 2,000 rows after the indicators' warm-up


class _Detonator:
    """Unpickling this object creates a file: proof that a pickle was (or was not) executed."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return (Path.touch, (self.marker,))


def _indicators(symbol: str, volatility: float, ticks: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    prices = 100.0 * np.exp(np.cumsum(rng.normal(0.0, volatility, ticks)))
    stamps = [START + timedelta(days=i) for i in range(ticks)]
    return indicator_frame(pd.DataFrame({"symbol": symbol, "timestamp": stamps, "price": prices}))


@pytest.fixture(scope="module")
def reference() -> TrainingSample:
    """The training sample: 10,000 feature rows of three calm symbols (none of them traded live here)."""
    frame = pd.concat([_indicators(f"TRAIN{k}", CALM, 3_500, seed=k) for k in range(3)])
    features = feature_frame(frame)
    complete = features.notna().all(axis=1)
    return draw_sample(features[complete].to_numpy(), frame["symbol"][complete].to_numpy(), 10_000)


def _database(path: Path, streams: dict[str, tuple[float, int]]) -> str:
    """A migrated SQLite database holding live rows (and a scoreboard entry) for each symbol: volatility, seed."""
    url = f"sqlite:///{path}"
    engine = db.make_engine(url)
    schema.upgrade(engine)
    now = datetime(2026, 1, 1)
    frames = [_indicators(symbol, vol, TICKS, seed) for symbol, (vol, seed) in streams.items()]
    live = pd.concat(frames).sort_values(["timestamp", "symbol"], kind="stable")
    live["timestamp"] = live["timestamp"].dt.tz_convert(None)
    rows = [
        {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in r.items()} | {"processing_time": now}
        for r in live.to_dict("records")
    ]
    db.insert_predictions(engine, [{**r, "timestamp": r["timestamp"].to_pydatetime()} for r in rows])
    db.upsert_scoreboard(
        engine, [{"symbol": s, "signal": "XGBoost", "n": 1, "hits": 1, "updated_at": now} for s in streams]
    )
    engine.dispose()
    return url


def _settings(url: str, tmp_path: Path, **overrides: object) -> Settings:
    return Settings(db_url=url, models_dir=tmp_path / "models", data_dir=tmp_path, **overrides)


def _psi_of(report: list, symbol: str) -> dict[str, float]:
    return {d.feature: round(d.psi, 4) for d in report if d.symbol == symbol}


def test_a_stationary_stream_is_not_flagged(tmp_path: Path, reference: TrainingSample) -> None:
    url = _database(tmp_path / "calm.db", {"CALM1": (CALM, 11), "CALM2": (CALM, 12)})
    engine = db.make_engine(url)
    report = measure_drift(engine, reference, _settings(url, tmp_path))
    engine.dispose()
    assert {d.symbol for d in report} == {"CALM1", "CALM2", POOLED}
    assert all(d.live_rows >= 1_900 and d.reference == "all" for d in report)  # new symbols: the whole sample
    worst = max(report, key=lambda d: d.psi)
    assert not any(d.flagged for d in report), f"stationary stream flagged: {worst}"
    assert worst.psi < 0.1, _psi_of(report, worst.symbol)  # well inside "stable", not just under the threshold


def test_a_volatility_shift_is_flagged_for_its_symbol_and_pooled_only(
    tmp_path: Path, reference: TrainingSample
) -> None:
    url = _database(tmp_path / "mixed.db", {"CALM1": (CALM, 11), "WILD1": (WILD, 21)})
    engine = db.make_engine(url)
    report = measure_drift(engine, reference, _settings(url, tmp_path))
    engine.dispose()
    wild, calm, pooled = _psi_of(report, "WILD1"), _psi_of(report, "CALM1"), _psi_of(report, POOLED)
    flagged = {(d.symbol, d.feature) for d in report if d.flagged}
    assert ("WILD1", "f_volatility") in flagged and wild["f_volatility"] > 1.0, wild
    assert ("WILD1", "f_bb_width") in flagged, wild
    assert ("*", "f_volatility") in flagged, pooled
    assert not any(symbol == "CALM1" for symbol, _ in flagged), calm
    assert "f_rsi" not in {f for s, f in flagged if s == "WILD1"}, wild  # RSI is scale-free: a wilder walk keeps it


def test_psi_is_zero_on_identical_data_and_grows_with_the_shift() -> None:
    rng = np.random.default_rng(3)
    base = rng.normal(size=10_000)
    shifts = [psi(base, rng.normal(loc=mu, size=2_000)) for mu in (0.0, 0.25, 0.5, 1.0)]
    assert psi(base, base) == pytest.approx(0.0, abs=1e-12)
    assert shifts == sorted(shifts) and shifts[0] < 0.02 and shifts[2] > 0.2, shifts


def test_a_symbol_is_compared_with_its_own_training_rows_when_the_sample_has_enough() -> None:
    """A symbol that was always wild is not drifting when it stays wild; a new wild symbol is, against all rows."""
    rng = np.random.default_rng(5)
    calm, wild = rng.normal(0, 1, (1_000, 1)), rng.normal(0, 3, (1_000, 1))
    sample = TrainingSample(np.vstack([calm, wild]), np.array(["CALM"] * 1_000 + ["WILD"] * 1_000))
    live = {"WILD": rng.normal(0, 3, (500, 1)), "NEW": rng.normal(0, 3, (500, 1))}
    report = {d.symbol: d for d in drift_report(sample, live, live["WILD"], ["x"], 0.2, min_rows=100)}
    assert report["WILD"].reference == "symbol" and not report["WILD"].flagged, report["WILD"]
    assert report["NEW"].reference == "all" and report["NEW"].flagged, report["NEW"]


def _version_with_sample(root: Path, sample: TrainingSample) -> Path:
    span = {"n": len(sample), "start": "2020-01-01", "end": "2020-12-31"}
    return save_version({}, root, features=ML_FEATURES, span=span, metrics={}, training_sample=sample)


def test_the_sample_round_trips_hashed_and_a_pickle_in_its_place_runs_nothing(tmp_path: Path) -> None:
    sample = TrainingSample(np.random.default_rng(0).normal(size=(50, len(ML_FEATURES))), np.array(["ES1 Index"] * 50))
    version = _version_with_sample(tmp_path, sample)
    manifest = json.loads((version / MANIFEST).read_text())
    assert manifest["training_sample"]["rows"] == 50
    loaded = load_training_sample(load_version(version, required=()))
    assert loaded is not None and np.array_equal(loaded.features, sample.features)
    assert list(loaded.symbols) == ["ES1 Index"] * 50

    marker = tmp_path / "pwned"
    buffer = io.BytesIO()  # the same archive, its symbols an object array: NumPy pickles those
    np.savez(buffer, features=sample.features, symbols=np.array([_Detonator(marker)] * 50, dtype=object))
    for payload in (buffer.getvalue(), pickle.dumps(_Detonator(marker))):
        (version / SAMPLE_FILE).write_bytes(payload)
        manifest["training_sample"]["sha256"] = hashlib.sha256(payload).hexdigest()
        (version / MANIFEST).write_text(json.dumps(manifest))
        with pytest.raises(ArtifactError, match="refusing it"):
            load_training_sample(load_version(version, required=()))
        assert not marker.exists()

    (version / SAMPLE_FILE).write_bytes(sample_bytes(TrainingSample(sample.features[:10], sample.symbols[:10])))
    with pytest.raises(ArtifactError, match="does not match the manifest"):
        load_training_sample(load_version(version, required=()))  # a valid file the manifest did not hash


def test_draw_sample_keeps_every_row_when_there_are_few_and_draws_without_replacement() -> None:
    rows, symbols = np.arange(30.0).reshape(15, 2), np.array([f"S{k % 3}" for k in range(15)])
    everything = draw_sample(rows, symbols, 100)
    assert np.array_equal(everything.features, rows) and np.array_equal(everything.symbols, symbols)
    drawn = draw_sample(rows, symbols, 5)
    assert len(drawn) == 5 and len(np.unique(drawn.features[:, 0])) == 5 and np.all(np.diff(drawn.features[:, 0]) > 0)
    assert all(s == f"S{int(v) // 2 % 3}" for v, s in zip(drawn.features[:, 0], drawn.symbols, strict=True))
    assert len(draw_sample(rows, symbols, 0)) == 0


async def _check_then_train(rt: Runtime, tmp_path: Path) -> tuple[list[str], list]:
    """Run the worker's drift check twice, then its training check; return the training reasons seen."""
    service = ModelService(rt)
    reasons: list[str] = []

    async def train_in_child() -> None:  # the real one forks a process and trains for minutes
        reasons.append(service._retrain_reason or "")
        service._retrain_reason = None

    service._train_in_child = train_in_child  # type: ignore[method-assign] - the forked training is what is replaced
    check = DriftCheck(rt, service)
    reports = [await check.run(), await check.run()]
    await service.train_when_needed()
    await service.train_when_needed()
    return reasons, reports


@pytest.mark.parametrize("retrain_on_drift", [True, False])
def test_drift_triggers_one_retrain_per_version_only_when_set(
    tmp_path: Path, reference: TrainingSample, retrain_on_drift: bool
) -> None:
    url = _database(tmp_path / "mixed.db", {"CALM1": (CALM, 11), "WILD1": (WILD, 21)})
    rt = Runtime(_settings(url, tmp_path, retrain_on_drift=retrain_on_drift))
    bundle = load_version(_version_with_sample(tmp_path / "models", reference), required=())
    rt.signals = SignalEngine(bundle)
    try:
        reasons, reports = asyncio.run(_check_then_train(rt, tmp_path))
        stored = drift_table_rows(rt.db)
    finally:
        rt.executor.shutdown()
        rt.db.dispose()
    assert reports[0] is not None and len(stored) == 3 * len(ML_FEATURES)  # CALM1, WILD1, pooled
    assert stored[0]["flagged"] and stored[0]["model_version"] == bundle.version  # flagged rows come first
    if retrain_on_drift:
        assert len(reasons) == 1 and "f_volatility" in reasons[0], reasons  # two flagged checks, one retrain
    else:
        assert reasons == []


def test_the_terminal_panel_shows_the_symbol_and_pooled_psi(tmp_path: Path, reference: TrainingSample) -> None:
    url = _database(tmp_path / "t.db", {"CALM1": (CALM, 11)})
    engine = db.make_engine(url)
    source = Source(url, queries.reader_engine(url), {}, 50)
    assert drift_panel.NO_CHECK in str(drift_panel.drift_update(source, "CALM1"))
    report = measure_drift(engine, reference, _settings(url, tmp_path))
    rows = [
        {
            "symbol": d.symbol,
            "feature": d.feature,
            "psi": d.psi,
            "flagged": d.flagged,
            "threshold": 0.2,
            "live_rows": d.live_rows,
            "sample_rows": len(reference),
            "model_version": "v1",
            "reference": d.reference,
            "computed_at": datetime.now(UTC).replace(tzinfo=None),
        }
        for d in report
    ]
    db.replace_drift(engine, rows)
    text = str(drift_panel.drift_update(source, "CALM1"))
    engine.dispose()
    assert all(f in text for f in ML_FEATURES) and "CALM1" in text and "ALL SYM" in text and "models v1" in text


def test_each_check_replaces_the_stored_one(tmp_path: Path) -> None:
    engine = db.make_engine(f"sqlite:///{tmp_path / 'd.db'}")
    schema.upgrade(engine)

    def row(symbol: str, value: float) -> dict:
        return {
            "symbol": symbol,
            "feature": "f_rsi",
            "psi": value,
            "flagged": value > 0.2,
            "threshold": 0.2,
            "live_rows": 2_000,
            "sample_rows": 10_000,
            "reference": "all",
            "model_version": "v1",
            "computed_at": datetime(2026, 1, 1),
        }

    db.replace_drift(engine, [row("A", 0.5), row("B", 0.01)])
    db.replace_drift(engine, [row("B", 0.3)])  # A no longer measured (too few rows): it goes
    stored = drift_table_rows(engine)
    db.replace_drift(engine, [])
    assert [(r["symbol"], r["psi"], r["flagged"]) for r in stored] == [("B", 0.3, True)]
    assert drift_table_rows(engine) == []
    engine.dispose()
