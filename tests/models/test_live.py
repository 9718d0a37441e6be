"""SignalEngine: batched == one by one, one predict_proba per model per batch, TRAINING, warm-up, swap."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from models.columns import MODEL_COLUMNS, PROBABILITY_COLUMNS, RULE_COLUMNS
from models.live import SignalEngine, call_from_probability
from models.registry import ModelBundle, load_latest
from models.scoreboard import new_score_state, score_tick
from models.synthetic import indicator_frame, random_walk_prices
from models.train import train_and_save


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> ModelBundle:
    models_dir = tmp_path_factory.mktemp("models")
    train_and_save(indicator_frame(random_walk_prices(400, symbols=3, seed=2)), models_dir, folds=2, embargo=2)
    loaded = load_latest(models_dir)
    assert loaded is not None
    return loaded


def _rows(n_ticks: int, seed: int) -> list[dict[str, Any]]:
    """Indicator rows as the worker sees them: None (not NaN) during warm-up."""
    frame = indicator_frame(random_walk_prices(n_ticks, symbols=3, seed=seed))
    return [
        {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in row.items()}
        for row in frame.to_dict("records")
    ]


class _CountingModel:
    def __init__(self, model: Any) -> None:
        self.model, self.calls = model, 0

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        self.calls += 1
        return self.model.predict_proba(x)


def test_batch_equals_one_row_at_a_time(bundle: ModelBundle) -> None:
    rows = _rows(60, seed=4)  # 180 rows, the first 34 of each symbol in warm-up
    engine = SignalEngine(bundle)
    batched = [signals.columns() for signals in engine.predict(rows)]
    single = [engine.predict([row])[0].columns() for row in rows]
    assert len(batched) == len(single) == len(rows)
    for b, s in zip(batched, single, strict=True):
        assert b.keys() == s.keys()
        for key in b:
            if key in PROBABILITY_COLUMNS and b[key] is not None:
                assert b[key] == pytest.approx(s[key], abs=1e-12)
            else:
                assert b[key] == s[key]


def test_one_predict_proba_call_per_model_per_batch(bundle: ModelBundle) -> None:
    counting = {m: _CountingModel(bundle.models[m]) for m in MODEL_COLUMNS}
    engine = SignalEngine(ModelBundle(bundle.version, bundle.path, counting, bundle.manifest))
    engine.predict(_rows(200, seed=5))
    assert {m: c.calls for m, c in counting.items()} == dict.fromkeys(MODEL_COLUMNS, 1)


def test_warm_up_rows_get_no_model_call_and_ready_rows_do(bundle: ModelBundle) -> None:
    rows = _rows(40, seed=6)
    out = SignalEngine(bundle).predict(rows)
    symbols_seen: dict[str, int] = {}
    for row, signals in zip(rows, out, strict=True):
        index = symbols_seen[row["symbol"]] = symbols_seen.get(row["symbol"], -1) + 1
        assert signals.model_version == bundle.version
        for m in MODEL_COLUMNS:
            p_up = signals.p_up[m]
            if index < 33:
                assert signals.calls[m] is None and p_up is None
            else:
                assert p_up is not None and 0.0 <= p_up <= 1.0
                assert signals.calls[m] == ("UP" if p_up > 0.5 else "DOWN")


def test_no_bundle_says_training_for_every_model_and_still_gives_rules() -> None:
    engine = SignalEngine(None)
    out = engine.predict(_rows(40, seed=7))
    assert engine.model_version is None
    assert all(s.calls[m] == "TRAINING" and s.p_up[m] is None for s in out for m in MODEL_COLUMNS)
    assert all(s.model_version is None for s in out)
    assert {s.calls["RSI_Rule"] for s in out[-3:]} <= {"UP", "DOWN"}
    assert all(set(RULE_COLUMNS) <= s.calls.keys() for s in out)


def test_swap_changes_models_from_the_next_batch(bundle: ModelBundle) -> None:
    engine = SignalEngine(None)
    rows = _rows(40, seed=8)
    assert engine.predict(rows[-1:])[0].calls["XGBoost"] == "TRAINING"
    engine.swap(bundle)
    assert engine.model_version == bundle.version
    assert engine.predict(rows[-1:])[0].calls["XGBoost"] in {"UP", "DOWN"}


def test_empty_batch_and_frame_of_nan_rows(bundle: ModelBundle) -> None:
    engine = SignalEngine(bundle)
    assert engine.predict([]) == []
    nan_rows = pd.DataFrame(_rows(40, seed=9)).astype(float, errors="ignore").to_dict("records")
    assert engine.predict(nan_rows)[0].calls["RSI_Rule"] is None  # NaN from a frame is "no signal", like None


def test_inference_bench_prints_batched_and_one_by_one_rates(bundle: ModelBundle) -> None:
    repo = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.inference",
            "--models",
            str(bundle.path.parent),
            "--batched-rows",
            "300",
            "--single-rows",
            "30",
            "--batch-size",
            "100",
        ],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    lines = {line.split()[0]: line.split() for line in done.stdout.splitlines()[2:]}
    assert set(lines) == {"batched", "one_by_one"}
    assert lines["batched"][1:3] == ["100", "300"] and lines["one_by_one"][1:3] == ["1", "30"]
    assert float(lines["batched"][4].rstrip("x")) == 1.0 and float(lines["one_by_one"][3].replace(",", "")) > 0


def test_call_from_probability_abstains_only_inside_the_threshold() -> None:
    assert [call_from_probability(p) for p in (0.5, 0.5001, 0.49)] == ["DOWN", "UP", "DOWN"]  # 0: never abstain
    # exactly representable values: |P − 0.5| equal to the threshold abstains ("call only when > t")
    assert [call_from_probability(p, 0.125) for p in (0.625, 0.375, 0.6251, 0.3749, 0.5)] == [
        "NEUTRAL",
        "NEUTRAL",
        "UP",
        "DOWN",
        "NEUTRAL",
    ]


def test_abstaining_engine_says_neutral_below_the_threshold_and_the_scoreboard_skips_it(bundle: ModelBundle) -> None:
    rows = _rows(80, seed=10)
    plain = SignalEngine(bundle).predict(rows)
    distances = [abs(p - 0.5) for s in plain if (p := s.p_up["XGBoost"]) is not None]
    threshold = float(np.median(distances))  # about half the ready rows abstain
    abstaining = SignalEngine(bundle, abstain_below=threshold).predict(rows)
    states: dict[str, dict] = {}
    expected_scored = dict.fromkeys(MODEL_COLUMNS, 0)
    last_index = {row["symbol"]: i for i, row in enumerate(rows)}
    for i, (row, before, after) in enumerate(zip(rows, plain, abstaining, strict=True)):
        for m in MODEL_COLUMNS:
            p_up = after.p_up[m]
            assert p_up == before.p_up[m]  # abstention changes the call, never the probability
            if p_up is None:
                assert after.calls[m] is None
            elif abs(p_up - 0.5) <= threshold:
                assert after.calls[m] == "NEUTRAL"
            else:
                assert after.calls[m] == before.calls[m] in {"UP", "DOWN"}
                expected_scored[m] += i != last_index[row["symbol"]]  # a symbol's last call has no outcome yet
        state = states.setdefault(row["symbol"], new_score_state())
        score_tick(state, row["current_price"], after.calls)
    neutral = sum(s.calls["XGBoost"] == "NEUTRAL" for s in abstaining)
    assert 0 < neutral < len(distances)
    scored = {m: sum(st["signals"].get(m, {"n": 0})["n"] for st in states.values()) for m in MODEL_COLUMNS}
    assert scored == expected_scored  # NEUTRAL calls are not scored
