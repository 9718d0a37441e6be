"""Bring your own model: a classifier defined only in this module is trained, walk-forward scored, saved, loaded,
evaluated, run live, scored and stored beside the four; a user model that fails to import, has no predict_proba
or fails to fit gives one line naming it and why, and the others carry on."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sqlalchemy import select

from dashboard import ids, queries
from dashboard import user_models as terminal_user_models
from dashboard.callbacks import NO_CURSOR, Source, overview_update, view_update
from flameback_app.core.records import FeatureRow
from flameback_app.settings import Settings
from flameback_app.storage import db, schema
from models.columns import MODEL_COLUMNS, RULE_COLUMNS
from models.evaluate import run_evaluate_command
from models.features import complete_rows, rows_to_matrix
from models.live import SignalEngine
from models.registry import ModelBundle, load_latest
from models.scoreboard import new_score_state, score_tick
from models.synthetic import indicator_frame, random_walk_prices
from models.train import train_with_report
from models.user_models import UserModelError, parse_entry, trusted_types_of

HERE = __name__  # this module's import name: the settings entries name its classes by it


class TinyCentroidClassifier(ClassifierMixin, BaseEstimator):
    """P(up) from the distance to each class's mean feature vector: small, deterministic, scikit-learn-compatible."""

    def __init__(self, sharpness: float = 1.0) -> None:
        self.sharpness = sharpness

    def fit(self, x: np.ndarray, y: np.ndarray) -> TinyCentroidClassifier:
        self.classes_ = np.unique(y)
        self.centroids_ = np.stack([x[y == c].mean(axis=0) for c in self.classes_])
        return self

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        distance = ((x[:, None, :] - self.centroids_[None, :, :]) ** 2).sum(axis=2)
        logits = -self.sharpness * distance
        odds = np.exp(logits - logits.max(axis=1, keepdims=True))
        return odds / odds.sum(axis=1, keepdims=True)

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.classes_[self.predict_proba(x).argmax(axis=1)]


class NoProbaClassifier(ClassifierMixin, BaseEstimator):
    """Calls without probabilities: Flameback cannot use it (it needs P(up))."""

    def fit(self, x: np.ndarray, y: np.ndarray) -> NoProbaClassifier:
        self.classes_ = np.unique(y)
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        return np.ones(len(x))


class FailingFitClassifier(TinyCentroidClassifier):
    def fit(self, x: np.ndarray, y: np.ndarray) -> FailingFitClassifier:
        raise RuntimeError("singular matrix on purpose")


USER_MODELS = {
    "tiny": {"class": f"{HERE}.TinyCentroidClassifier", "params": {"sharpness": 0.5}},
    "missing": {"class": f"{HERE}_no_such_module.Model"},
    "no_proba": {"class": f"{HERE}.NoProbaClassifier"},
    "fails_fit": {"class": f"{HERE}.FailingFitClassifier"},
}


def cheap_built_ins() -> dict[str, Pipeline]:
    """The four built-in names, each a small LogisticRegression: the real four are tested in test_train.py, and
    their tree ensembles made this module's training take 3-23 s on a shared machine instead of under 1 s."""
    return {name: Pipeline([("scale", StandardScaler()), ("model", LogisticRegression())]) for name in MODEL_COLUMNS}


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, list[str]]:
    models_dir = tmp_path_factory.mktemp("models")
    lines: list[str] = []
    _, report = train_with_report(
        indicator_frame(random_walk_prices(300, symbols=3, seed=5)),
        models_dir,
        folds=3,
        embargo=2,
        cost_bp=2.0,
        progress=lines.append,
        user_models=USER_MODELS,
        model_factory=cheap_built_ins,
    )
    return models_dir, report, lines


@pytest.fixture(scope="module")
def bundle(trained: tuple[Path, dict, list[str]]) -> ModelBundle:
    loaded = load_latest(trained[0], extra_trusted=trusted_types_of(USER_MODELS))
    assert loaded is not None
    return loaded


def _rows(n_ticks: int, seed: int) -> list[dict[str, Any]]:
    frame = indicator_frame(random_walk_prices(n_ticks, symbols=2, seed=seed))
    return [
        {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in row.items()}
        for row in frame.to_dict("records")
    ]


def test_a_user_model_is_walk_forward_scored_like_the_built_ins(trained: tuple[Path, dict, list[str]]) -> None:
    _, report, _ = trained
    pooled = report["pooled"]
    assert set(pooled["signals"]) == {*MODEL_COLUMNS, "tiny", *RULE_COLUMNS}
    assert pooled["signals"]["tiny"]["n"] == pooled["signals"]["XGBoost"]["n"] > 0  # the same test rows
    assert 0.0 <= pooled["signals"]["tiny"]["accuracy"] <= 1.0
    assert {"tiny"} <= set(pooled["strategy"]) & set(pooled["reliability"]) & set(pooled["calibration"]["models"])
    assert all("tiny" in fold["signals"] for fold in report["folds"])
    assert set(report["user_models_left_out"]) == {"missing", "no_proba", "fails_fit"}


def test_each_failing_user_model_gives_one_line_naming_it_and_why(trained: tuple[Path, dict, list[str]]) -> None:
    _, report, lines = trained
    said = {name: [line for line in lines if f"user model {name!r}" in line] for name in report["user_models_left_out"]}
    assert {name: len(found) for name, found in said.items()} == {"missing": 1, "no_proba": 1, "fails_fit": 1}
    assert "cannot import" in said["missing"][0] and "No module named" in said["missing"][0]
    assert "has no predict_proba" in said["no_proba"][0]
    assert "fit or predict_proba failed (RuntimeError: singular matrix on purpose)" in said["fails_fit"][0]
    assert all(line.endswith("the other models carry on") for found in said.values() for line in found)
    assert not any("'tiny'" in line for line in lines)


def test_the_user_model_is_saved_loaded_and_recorded_in_the_manifest(bundle: ModelBundle, trained) -> None:
    assert set(bundle.models) == {*MODEL_COLUMNS, "tiny"}
    assert bundle.manifest["user_models"] == {
        "tiny": {"class": f"{HERE}.TinyCentroidClassifier", "params": {"sharpness": 0.5}, "scale": True, "trusted": []}
    }
    assert set(bundle.manifest["metrics"]["walk_forward_pooled"]) == {*MODEL_COLUMNS, "tiny"}
    # its class is trusted only because the setting names it: without that, it is left out and the four still load
    untrusted = load_latest(trained[0])
    assert untrusted is not None and set(untrusted.models) == set(MODEL_COLUMNS)
    assert f"{HERE}.TinyCentroidClassifier" in untrusted.left_out["tiny"]


def test_evaluate_reports_the_user_model_on_new_data(bundle: ModelBundle, tmp_path: Path) -> None:
    ticks = random_walk_prices(90, symbols=2, seed=8)
    file = tmp_path / "new.csv"
    ticks.assign(timestamp=ticks["timestamp"].map(lambda t: t.isoformat()))[["symbol", "price", "timestamp"]].to_csv(
        file, index=False
    )
    out, report_path = tmp_path / "preds.csv", tmp_path / "report.json"
    run_evaluate_command(
        file, bundle.path, out=out, report=report_path, cost_bp=2.0, extra_trusted=trusted_types_of(USER_MODELS)
    )
    preds = pd.read_csv(out)
    report = json.loads(report_path.read_text())["pooled"]
    assert (preds["tiny"] == np.where(preds["tiny_p_up"] > 0.5, "UP", "DOWN")).all()
    hits = ((preds["tiny"] == "UP") == (preds["label"] == 1)).mean()
    assert report["signals"]["tiny"]["accuracy"] == pytest.approx(hits)
    assert report["signals"]["tiny"]["n"] == len(preds)


def test_live_engine_calls_the_user_model_and_the_scoreboard_scores_it(bundle: ModelBundle) -> None:
    rows = _rows(50, seed=9)
    out = SignalEngine(bundle).predict(rows)
    matrix = rows_to_matrix(rows)
    ready = complete_rows(matrix)
    expected = bundle.models["tiny"].predict_proba(matrix[ready])[:, 1]
    got = np.array([s.p_up["tiny"] for s, r in zip(out, ready, strict=True) if r])
    np.testing.assert_allclose(got, expected)
    assert all(s.user_models == ("tiny",) for s in out)
    assert all(s.calls["tiny"] is None for s, r in zip(out, ready, strict=True) if not r)  # warm-up: no call
    state = new_score_state()
    for row, signals in zip(rows, out, strict=True):
        if row["symbol"] == "SYM0":
            state = score_tick(state, row["current_price"], signals.calls)
    assert state["signals"]["tiny"]["n"] == state["signals"]["XGBoost"]["n"] > 0


def test_a_user_model_failing_live_logs_once_and_the_others_carry_on(
    bundle: ModelBundle, caplog: pytest.LogCaptureFixture
) -> None:
    class Broken:
        def predict_proba(self, x: np.ndarray) -> np.ndarray:
            raise ValueError("features out of range")

    broken = ModelBundle(bundle.version, bundle.path, {**bundle.models, "tiny": Broken()}, bundle.manifest)
    engine = SignalEngine(broken)
    rows = _rows(40, seed=10)
    with caplog.at_level(logging.ERROR, logger="models.live"):
        first, second = engine.predict(rows), engine.predict(rows)
    lines = [r.getMessage() for r in caplog.records if "'tiny'" in r.getMessage()]
    assert len(lines) == 1 and "predict_proba failed (ValueError: features out of range)" in lines[0]
    assert all(s.calls["tiny"] is None and s.p_up["tiny"] is None for s in first + second)
    assert any(s.calls["XGBoost"] in ("UP", "DOWN") for s in second)


def test_user_model_calls_are_stored_once_and_the_terminal_reads_them(bundle: ModelBundle, tmp_path: Path) -> None:
    engine = db.make_engine(f"sqlite:///{tmp_path / 'fb.db'}")
    schema.prepare(engine)
    rows = _rows(40, seed=11)
    signals = SignalEngine(bundle).predict(rows)
    now = pd.Timestamp("2026-12-03").to_pydatetime()
    stored = [{**row, **signal.columns(), "processing_time": now} for row, signal in zip(rows, signals, strict=True)]
    assert db.insert_predictions(engine, stored) == len(rows)
    assert db.insert_predictions(engine, stored) == 0  # redelivered: nothing twice
    with engine.connect() as conn:
        long_rows = conn.execute(select(db.model_signals)).mappings().all()
    called = [s for s in signals if s.p_up["tiny"] is not None]
    assert len(long_rows) == len(called) > 0
    assert {r["model"] for r in long_rows} == {"tiny"} and {r["model_version"] for r in long_rows} == {bundle.version}
    last = db.predictions.select().where(db.predictions.c.symbol == "SYM1").order_by(db.predictions.c.id.desc())
    with engine.connect() as conn:
        newest = dict(conn.execute(last.limit(1)).mappings().one())
    read_back = terminal_user_models.latest_calls(engine, newest)
    engine.dispose()
    want = next(s for r, s in zip(reversed(rows), reversed(signals), strict=True) if r["symbol"] == "SYM1")
    assert read_back == {
        "tiny": want.calls["tiny"],
        "tiny_p_up": pytest.approx(want.p_up["tiny"]),
        "user_models": ("tiny",),
    }
    assert terminal_user_models.model_names({**newest, **read_back}, [{}]) == (*MODEL_COLUMNS, "tiny")
    url = f"sqlite:///{tmp_path / 'fb.db'}"
    view = view_update(Source(url, queries.reader_engine(url), {}, 50), "SYM1", NO_CURSOR)
    table = view[(ids.SIGNALS, "children")].children[0]  # the Signals · next tick table: header, models, rules
    names = [row.children[0].children for row in table.children[1:]]
    assert names == [*MODEL_COLUMNS, "tiny", *(r.replace("_Rule", " rule") for r in RULE_COLUMNS)]
    assert f"{want.p_up['tiny']:.2f}" in str(table.children[1 + len(MODEL_COLUMNS)])


def test_the_worker_write_path_stores_and_scores_the_user_model(
    bundle: ModelBundle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``agents.predict.predict_and_store`` (what the worker runs per batch) with the user model's bundle loaded."""
    from agents.predict import predict_and_store
    from flameback_app.faust_app import runtime
    from flameback_app.worker.counters import PipelineCounters

    monkeypatch.setattr(runtime, "_db", db.make_engine(f"sqlite:///{tmp_path / 'worker.db'}"))
    schema.prepare(runtime.db)
    monkeypatch.setattr(runtime, "counters", PipelineCounters())
    monkeypatch.setattr(runtime, "signals", SignalEngine(bundle))
    rows = [{**row, "seq": 0} for row in _rows(45, seed=12)]
    no_kafka_timestamp = SimpleNamespace(message=SimpleNamespace(timestamp=None))
    scores: dict[str, Any] = {}
    applied = [(no_kafka_timestamp, FeatureRow.from_columns(row)) for row in rows]
    asyncio.run(predict_and_store(runtime, applied, scores))
    with runtime.db.connect() as conn:
        stored = conn.execute(select(db.model_signals.c.model, db.model_signals.c.call)).all()
        board = {(r.symbol, r.signal): r.n for r in conn.execute(select(db.scoreboard))}
    runtime.db.dispose()
    ready = complete_rows(rows_to_matrix(rows))
    assert len(stored) == ready.sum() > 0 and {m for m, _ in stored} == {"tiny"}
    assert all(call in ("UP", "DOWN") for _, call in stored)
    for symbol in ("SYM0", "SYM1"):
        assert board[(symbol, "tiny")] == board[(symbol, "XGBoost")] == scores[symbol]["signals"]["tiny"]["n"] > 0
    url = f"sqlite:///{tmp_path / 'worker.db'}"  # the market overview: a HIT60 column for it after the four's
    table_rows, columns = overview_update(Source(url, queries.reader_engine(url), {}, 50), "1M")
    names = [c["name"] for c in columns]
    assert names.index("HIT60 tiny") == names.index("HIT60 LOGIT") + 1
    for row in table_rows:
        tiny = scores[row["symbol"]]["signals"]["tiny"]
        assert row["hit60_tiny"] == pytest.approx(tiny["hits"] / tiny["n"])  # fewer than 60 calls: all of them


def test_the_setting_is_json_and_its_classes_join_the_trusted_types() -> None:
    settings = Settings(user_models=json.dumps(USER_MODELS), trusted_model_types="x.Y")
    assert settings.user_model_entries == USER_MODELS
    assert settings.model_trusted_types == ("x.Y", *(e["class"] for e in USER_MODELS.values()))
    with pytest.raises(ValidationError, match="FLAMEBACK_USER_MODELS is not valid JSON"):
        Settings(user_models="{mlp: sklearn}")
    with pytest.raises(ValidationError, match="must be a JSON object"):
        Settings(user_models="[1]")


@pytest.mark.parametrize(
    ("name", "entry", "why"),
    [
        ("XGBoost", {"class": "a.B"}, "taken by a built-in"),
        ("rsi_14", {"class": "a.B"}, "taken by a built-in"),
        ("9lives", {"class": "a.B"}, "a name must be"),
        ("ok", {"class": "NoDots"}, "import path"),
        ("ok", {"class": "a.B", "parmas": {}}, "unknown keys ['parmas']"),
    ],
)
def test_entries_that_cannot_work_are_refused_with_the_reason(name: str, entry: dict, why: str) -> None:
    with pytest.raises(UserModelError, match=why.replace("[", r"\[").replace("]", r"\]")):
        parse_entry(name, entry)
