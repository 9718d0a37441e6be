"""Calibration inside the walk-forward, reliability and coverage–accuracy figures, on cases with known answers."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError
from sklearn.calibration import CalibratedClassifierCV
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from models.columns import RULE_COLUMNS
from models.metrics import coverage_by_share, coverage_by_threshold, reliability_curve, wilson_interval
from models.train import CALIBRATION_FRACTION, calibration_split, fit_final, format_table, pipeline_of, walk_forward

DAYS = 400
SYMBOLS = 3


def _logistic_only() -> dict[str, Pipeline]:
    """One fast model: the canaries are about which rows calibrate, not about the model."""
    return {"LogisticReg": Pipeline([("scale", StandardScaler()), ("model", LogisticRegression())])}


def _frame(flip_from: int | None) -> pd.DataFrame:
    """Prepared-style rows whose label is exactly ``signal > 0``, inverted on every day from ``flip_from`` on."""
    rng = np.random.default_rng(11)
    day = np.repeat(np.arange(DAYS), SYMBOLS)
    ts = pd.Timestamp("2020-01-01", tz="UTC") + pd.to_timedelta(day, unit="D")
    signal = rng.normal(size=len(day))
    up = signal > 0
    if flip_from is not None:
        up = np.where(day >= flip_from, ~up, up)
    price = 100.0 + rng.normal(size=len(day))
    frame = pd.DataFrame(
        {
            "symbol": np.tile([f"S{k}" for k in range(SYMBOLS)], DAYS),
            "timestamp": ts,
            "next_ts": ts + pd.Timedelta(days=1),
            "signal": signal,
            "label": up.astype(float),
            "current_price": price,
            "next_price": price * np.where(up, 1.01, 0.99),
            "last_move_up": 0.0,
        }
    )
    for rule in RULE_COLUMNS:
        frame[rule] = None
    return frame


def _one_fold(frame: pd.DataFrame, calibration: str) -> dict:
    return walk_forward(
        frame,
        folds=1,
        embargo=2,
        cost_bp=0.0,
        progress=lambda _msg: None,
        features=("signal",),
        model_factory=_logistic_only,
        calibration=calibration,
    )


FIRST_TEST_DAY = int(DAYS * 0.4)  # walk-forward: the first 40 % of timestamps only train
TRAIN_DAYS = FIRST_TEST_DAY - 2  # minus the embargo
FIRST_CALIBRATION_DAY = int(TRAIN_DAYS * (1 - CALIBRATION_FRACTION))


@pytest.mark.parametrize("method", ["sigmoid", "isotonic"])
def test_calibration_never_sees_the_test_block(method: str) -> None:
    """Canary: the test block inverts the signal. Calibrated on training rows only, every test call is wrong;
    a calibrator that saw test rows would learn the inversion (sigmoid) or flatten to a coin (isotonic)."""
    pooled = _one_fold(_frame(flip_from=FIRST_TEST_DAY), method)["pooled"]
    assert pooled["test"]["n"] == (DAYS - FIRST_TEST_DAY) * SYMBOLS
    assert pooled["signals"]["LogisticReg"]["accuracy"] < 0.05  # a leak would give ≥ 0.5


def test_calibration_is_fitted_on_the_latest_part_of_the_training_side() -> None:
    """The calibration block and the test block both invert the signal; the classifier is fitted before that.
    Sigmoid calibration learns the inversion from the training side's latest rows and carries it to the test."""
    report = _one_fold(_frame(flip_from=FIRST_CALIBRATION_DAY), "sigmoid")["pooled"]
    assert report["signals"]["LogisticReg"]["accuracy"] > 0.95
    scores = report["calibration"]["models"]["LogisticReg"]
    assert scores["calibrated"]["brier"] < 0.05
    assert scores["uncalibrated"]["brier"] > 0.5  # the classifier alone is inverted on the test block
    none = _one_fold(_frame(flip_from=FIRST_CALIBRATION_DAY), "none")["pooled"]
    assert none["signals"]["LogisticReg"]["accuracy"] < 0.5  # without calibration nothing learns the inversion
    assert (
        none["calibration"]["models"]["LogisticReg"]["calibrated"]
        == none["calibration"]["models"]["LogisticReg"]["uncalibrated"]
    )


def test_calibration_split_is_in_time_purged_and_embargoed() -> None:
    frame = _frame(flip_from=None)
    ts = frame["timestamp"].dt.tz_convert(None).to_numpy()
    next_ts = frame["next_ts"].dt.tz_convert(None).to_numpy(copy=True)
    next_ts[SYMBOLS * 10] = ts[-1]  # a row whose label is only known at the end: purged from the fit rows
    split = calibration_split(ts, next_ts, embargo=3)
    dates = np.unique(ts)
    first_cal = int(len(dates) * (1 - CALIBRATION_FRACTION))
    assert ts[split.test].min() == dates[first_cal] and ts[split.test].max() == dates[-1]
    assert ts[split.train].max() == dates[first_cal - 4]  # 3 timestamps embargoed
    assert SYMBOLS * 10 not in split.train and SYMBOLS * 10 - 1 in split.train
    assert len(np.intersect1d(split.train, split.test)) == 0


def test_final_fit_is_calibrated_the_same_way_and_none_saves_the_bare_pipeline() -> None:
    frame = _frame(flip_from=int(DAYS * (1 - CALIBRATION_FRACTION)))
    calibrated = fit_final(frame, _logistic_only, calibration="sigmoid", embargo=2, features=("signal",))["LogisticReg"]
    bare = fit_final(frame, _logistic_only, calibration="none", embargo=2, features=("signal",))["LogisticReg"]
    assert isinstance(calibrated, CalibratedClassifierCV) and isinstance(bare, Pipeline)
    assert isinstance(pipeline_of(calibrated), Pipeline) and pipeline_of(bare) is bare
    x = np.array([[2.0], [-2.0]])
    assert calibrated.predict_proba(x)[:, 1].tolist() == pytest.approx([0.0, 1.0], abs=0.05)  # learnt the flip
    assert bare.predict_proba(x)[0, 1] > 0.5 > bare.predict_proba(x)[1, 1]


def test_report_json_and_table_carry_reliability_and_coverage() -> None:
    report = _one_fold(_frame(flip_from=None), "isotonic")
    pooled = json.loads(json.dumps(report, default=str))["pooled"]
    curve = pooled["reliability"]["LogisticReg"]
    assert sum(b["n"] for b in curve) == pooled["test"]["n"]
    shares = [c["share"] for c in pooled["coverage"]["LogisticReg"]["by_share"]]
    assert shares == [1.0, 0.5, 0.2]
    table = format_table(report)
    for heading in ("calibration of P(up): isotonic", "reliability:", "coverage-accuracy:", "top 20%", "t > 0.050"):
        assert heading in table


def test_reliability_curve_known_answer() -> None:
    p_up = np.repeat([0.2, 0.5, 0.8], 100)
    labels = np.concatenate([np.arange(100) < k for k in (20, 50, 80)]).astype(float)
    curve = reliability_curve(p_up, labels, bins=3)
    assert [(b["p_low"], b["p_high"], b["up_rate"], b["n"]) for b in curve] == [
        (0.2, 0.2, 0.2, 100),
        (0.5, 0.5, 0.5, 100),
        (0.8, 0.8, 0.8, 100),
    ]
    assert [b["mean_p_up"] for b in curve] == pytest.approx([0.2, 0.5, 0.8])
    assert curve[0]["up_rate_ci95"] == list(wilson_interval(20, 100))
    assert reliability_curve(np.full(7, 0.4), np.ones(7))[0]["n"] == 7  # one value: one bin, not an error
    assert reliability_curve(np.array([]), np.array([])) == []


def test_coverage_curves_known_answer() -> None:
    # 20 confident rows (P 0.9), all up: always right. 80 rows at P 0.45, alternating: DOWN is right half the time.
    p_up = np.concatenate([np.full(20, 0.9), np.full(80, 0.45)])
    labels = np.concatenate([np.ones(20), np.tile([0.0, 1.0], 40)])
    by_t = {c["threshold"]: c for c in coverage_by_threshold(p_up, labels, (0.0, 0.05, 0.1, 0.4))}
    assert (by_t[0.0]["coverage"], by_t[0.0]["accuracy"]) == (1.0, 0.6)  # 20 + 40 of 100
    assert (by_t[0.05]["n"], by_t[0.05]["accuracy"]) == (20, 1.0)  # |0.45 − 0.5| = 0.05 is not > 0.05
    assert by_t[0.1]["accuracy_ci95"] == list(wilson_interval(20, 20))
    assert (by_t[0.4]["n"], by_t[0.4]["accuracy"], by_t[0.4]["accuracy_ci95"]) == (0, None, [None, None])
    by_share = {c["share"]: c for c in coverage_by_share(p_up, labels, (1.0, 0.5, 0.2))}
    assert (by_share[0.2]["n"], by_share[0.2]["accuracy"], by_share[0.2]["threshold"]) == (20, 1.0, pytest.approx(0.4))
    assert (by_share[0.5]["n"], by_share[0.5]["accuracy"]) == (50, 0.7)  # 20 + 15 of the first 30 alternating
    assert by_share[0.5]["accuracy_ci95"] == list(wilson_interval(35, 50))
    assert (by_share[1.0]["coverage"], by_share[1.0]["accuracy"]) == (1.0, 0.6)


def test_settings_for_calibration_and_abstention(monkeypatch: pytest.MonkeyPatch) -> None:
    from flameback_app.settings import Settings

    assert (Settings().calibration, Settings().abstain_below) == ("sigmoid", 0.0)
    monkeypatch.setenv("FLAMEBACK_CALIBRATION", "isotonic")
    monkeypatch.setenv("FLAMEBACK_ABSTAIN_BELOW", "0.02")
    assert (Settings().calibration, Settings().abstain_below) == ("isotonic", 0.02)
    for name, bad in (
        ("FLAMEBACK_CALIBRATION", "platt"),
        ("FLAMEBACK_ABSTAIN_BELOW", "0.5"),
        ("FLAMEBACK_ABSTAIN_BELOW", "-0.1"),
    ):
        monkeypatch.setenv(name, bad)
        with pytest.raises(ValidationError):
            Settings()
        monkeypatch.delenv(name)
