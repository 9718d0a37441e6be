"""Champion / challenger: the paired decision, the challenge protocol end to end (small models), promote/rollback."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from models.champion import ChallengeSettings, NotEnoughNewHistory, challenge, decide, paired_interval, span_end
from models.columns import MODEL_COLUMNS
from models.registry import ArtifactError, champion, champion_history, load_latest, load_version, promote, rollback
from models.synthetic import indicator_frame

FAST = ChallengeSettings(calibration="none", folds=2)


def _scores(n_timestamps: int = 250, symbols: int = 4, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Per-row hits (0/1) of a coin-flip champion, and each row's timestamp."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, 2, n_timestamps * symbols).astype(float), np.repeat(np.arange(n_timestamps), symbols)


def test_a_clearly_better_challenger_is_promoted_an_equal_or_worse_one_rejected() -> None:
    champ, ts = _scores()
    rng = np.random.default_rng(1)
    better = np.where((champ == 0) & (rng.random(len(champ)) < 0.3), 1.0, champ)  # fixes ~15 % of the rows
    promoted, reason = decide(paired_interval(better, champ, ts), margin=0.0)
    assert promoted, reason
    assert reason.startswith("better:")
    equal = paired_interval(champ.copy(), champ, ts)
    assert (equal.ci_low, equal.ci_high) == (0.0, 0.0)
    assert not decide(equal, 0.0)[0]
    noise = paired_interval(_scores(seed=2)[0], champ, ts)  # another coin flip: same skill, different rows
    assert noise.ci_low < 0 < noise.ci_high
    assert not decide(noise, 0.0)[0]
    worse = paired_interval(champ, better, ts)
    assert worse.ci_high < 0 and not decide(worse, 0.0)[0]
    assert not decide(paired_interval(better, champ, ts), margin=0.5)[0]  # better, but not by the margin


def test_the_interval_is_over_timestamps_not_rows() -> None:
    """Rows of one timestamp move together: 4 identical symbols are one observation, not four."""
    champ, ts = _scores(n_timestamps=30, symbols=1)
    better = np.where(np.arange(30) % 3 == 0, 1.0, champ)
    one = paired_interval(better, champ, ts)
    four = paired_interval(np.repeat(better, 4), np.repeat(champ, 4), np.repeat(ts, 4))
    assert (one.n_timestamps, four.n_timestamps, four.n_rows) == (30, 30, 120)
    assert four.ci_low == pytest.approx(one.ci_low) and four.ci_high == pytest.approx(one.ci_high)


def _mean_reverting_frame(days: int = 360, symbols: int = 3, seed: int = 5) -> pd.DataFrame:
    """Indicator rows of prices whose next move mostly reverses the last: a signal a linear model finds."""
    rng = np.random.default_rng(seed)
    start = datetime(2020, 1, 1, tzinfo=UTC)
    ticks = []
    for k in range(symbols):
        returns = np.zeros(days)
        for i in range(1, days):
            returns[i] = -0.7 * returns[i - 1] + rng.normal(0.0, 0.01)
        prices = 100.0 * np.exp(np.cumsum(returns))
        ticks += [(f"SYM{k}", start + timedelta(days=i), p) for i, p in enumerate(prices)]
    frame = pd.DataFrame(ticks, columns=["symbol", "timestamp", "price"]).sort_values(["timestamp", "symbol"])
    return indicator_frame(frame)


def _factory(estimator: type, **params: object):
    def make() -> dict[str, Pipeline]:
        return {name: Pipeline([("scale", StandardScaler()), ("model", estimator(**params))]) for name in MODEL_COLUMNS}

    return make


CONSTANT = _factory(DummyClassifier, strategy="prior")
LINEAR = _factory(LogisticRegression)


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return _mean_reverting_frame()


def test_first_run_promotes_then_only_a_better_challenger_goes_live(frame: pd.DataFrame, tmp_path: Path) -> None:
    first_half = frame[frame["timestamp"] < frame["timestamp"].iloc[len(frame) // 2]]
    first = challenge(first_half, tmp_path, None, FAST, model_factory=CONSTANT)
    assert (first.action, first.champion, champion(tmp_path)) == ("first", None, first.version)

    constant = load_latest(tmp_path)
    with pytest.raises(NotEnoughNewHistory):  # nothing after the champion's span: no fair block, nothing trained
        challenge(first_half, tmp_path, constant, FAST, model_factory=LINEAR)
    won = challenge(frame, tmp_path, constant, FAST, model_factory=LINEAR)
    assert won.action == "promoted", won.reason
    assert won.ci_low > 0 and won.challenger_score > won.champion_score
    assert won.block_start > span_end(constant).to_pydatetime()  # scored after the champion's training span
    assert span_end(load_version(tmp_path / won.version)) < pd.Timestamp(won.block_start)  # and after the challenger's
    assert champion(tmp_path) == won.version

    lost = challenge(frame, tmp_path, load_latest(tmp_path), FAST, model_factory=CONSTANT)
    assert lost.action == "rejected" and lost.ci_low <= 0, lost.reason
    assert champion(tmp_path) == won.version  # the live version did not change
    assert (tmp_path / lost.version / "decision.json").is_file()  # the rejected challenger is kept, with its decision
    assert lost.row()["block_start"].tzinfo is None  # stored as naive UTC like the rest of the schema


def test_promote_and_rollback_keep_a_history(tmp_path: Path) -> None:
    for name in ("20200101T000000Z-aaaaaaaa", "20200102T000000Z-bbbbbbbb", "20200103T000000Z-cccccccc"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "manifest.json").write_text("{}")
    with pytest.raises(ArtifactError, match="no version was promoted yet"):
        rollback(tmp_path)
    promote(tmp_path, "20200101T000000Z-aaaaaaaa")
    with pytest.raises(ArtifactError, match="only version ever promoted"):
        rollback(tmp_path)
    promote(tmp_path, "20200103T000000Z-cccccccc")
    promote(tmp_path, "20200102T000000Z-bbbbbbbb")
    assert champion(tmp_path) == "20200102T000000Z-bbbbbbbb"
    assert rollback(tmp_path) == ("20200102T000000Z-bbbbbbbb", "20200103T000000Z-cccccccc")
    assert champion_history(tmp_path) == ["20200101T000000Z-aaaaaaaa", "20200103T000000Z-cccccccc"]
    promote(tmp_path, "20200101T000000Z-aaaaaaaa")  # promoting again moves it to the end, once
    assert champion_history(tmp_path) == ["20200103T000000Z-cccccccc", "20200101T000000Z-aaaaaaaa"]
    for bad in ("nope", "../elsewhere", ".champion.json.tmp"):
        with pytest.raises(ArtifactError, match="no model version"):
            promote(tmp_path, bad)
