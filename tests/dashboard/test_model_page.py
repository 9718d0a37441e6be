"""The model page without a browser: figure builders (report in → the values drawn), live hit rates, the page's reads.

Reports here are written by hand in the shape ``models/train.py`` writes, so every
expected value is visible in the test; the browser test uses a really trained version.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from dash import html

from dashboard import ids, links, model_page
from dashboard.callbacks import HIDDEN, SHOWN, Source, route
from dashboard.queries import reader_engine
from dashboard.symbols import load_symbol_sheet
from flameback_app.storage.db import MODEL_COLUMNS, RULE_COLUMNS, make_engine, register_model
from tests.support.seed import seed_database

ACCURACY = {
    "XGBoost": 0.52,
    "RandomForest": 0.51,
    "AdaBoost": 0.50,
    "LogisticReg": 0.53,
    "RSI_Rule": 0.49,
    "MACD_Rule": 0.505,
    "Momentum_Rule": 0.495,
    "PriceChange_Rule": 0.50,
    "BB_Rule": 0.48,
}


def _metrics(accuracy: float, half: float = 0.01) -> dict[str, Any]:
    return {"n": 1000, "accuracy": accuracy, "accuracy_ci95": [accuracy - half, accuracy + 2 * half]}


def make_report() -> dict[str, Any]:
    folds = [
        {
            "fold": k,
            "signals": {n: _metrics(a + k / 100) for n, a in ACCURACY.items()},
            "baselines": {"always_up": _metrics(0.49 + k / 100), "same_as_last_move": _metrics(0.47)},
        }
        for k in (1, 2, 3)
    ]
    reliability = {
        m: [
            {"mean_p_up": 0.45, "up_rate": 0.44, "up_rate_ci95": [0.40, 0.48], "n": 500},
            {"mean_p_up": 0.55, "up_rate": 0.57, "up_rate_ci95": [0.53, 0.61], "n": 500},
        ]
        for m in MODEL_COLUMNS
    }
    curves = {
        "timestamp": ["2020-01-01", "2020-01-02", "2020-01-03"],
        "equity": {**{n: [1.0, 1.01, 0.99] for n in ACCURACY}, "buy_and_hold": [1.0, 1.02, 1.05]},
    }
    importance = {
        "fold": 3,
        "rows": 800,
        "scoring": "roc_auc",
        "models": {
            m: {
                "f_rsi": {"mean": 0.01, "std": 0.002},
                "f_ret_1": {"mean": 0.03, "std": 0.004},
                "f_volatility": {"mean": -0.001, "std": 0.001},
            }
            for m in MODEL_COLUMNS
        },
    }
    pooled = {
        "test": {"n": 3000, "start": "2020-01-01", "end": "2020-01-03"},
        "cost_bp": 2.0,
        "signals": {n: _metrics(a) for n, a in ACCURACY.items()},
        "baselines": {"always_up": _metrics(0.495), "same_as_last_move": _metrics(0.47)},
        "reliability": reliability,
        "calibration": {"method": "sigmoid"},
        "equity_curves": curves,
    }
    return {"folds": folds, "pooled": pooled, "feature_importance": importance, "elapsed_s": 12.0}


def by_name(figure: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {trace["name"]: trace for trace in figure["data"]}


def test_accuracy_figure_draws_each_signal_with_its_interval_beside_the_baselines() -> None:
    traces = by_name(model_page.accuracy_figure(make_report()))
    signals, baselines = traces["models and rules"], traces["baselines"]
    assert signals["x"] == [*MODEL_COLUMNS, *RULE_COLUMNS]
    assert signals["y"] == [ACCURACY[n] for n in signals["x"]]
    assert signals["error_y"]["array"] == pytest.approx([0.02] * 9)  # upper end − accuracy
    assert signals["error_y"]["arrayminus"] == pytest.approx([0.01] * 9)
    assert baselines["x"] == ["always up", "last move"] and baselines["y"] == [0.495, 0.47]


def test_folds_figure_has_one_bar_per_fold_per_signal_and_the_always_up_line() -> None:
    traces = by_name(model_page.folds_figure(make_report()))
    assert traces["XGBoost"]["x"] == ["fold 1", "fold 2", "fold 3"]
    assert traces["XGBoost"]["y"] == pytest.approx([0.53, 0.54, 0.55])
    assert traces["BB_Rule"]["visible"] == "legendonly" and "visible" not in traces["LogisticReg"]
    assert traces["always up"]["y"] == pytest.approx([0.50, 0.51, 0.52])


def test_equity_figure_draws_the_stored_curves_and_says_when_a_report_has_none() -> None:
    report = make_report()
    traces = by_name(model_page.equity_figure(report))
    assert traces["buy and hold"]["y"] == [1.0, 1.02, 1.05]
    assert traces["XGBoost"]["x"] == ["2020-01-01", "2020-01-02", "2020-01-03"]
    del report["pooled"]["equity_curves"]
    empty = model_page.equity_figure(report)
    assert empty["data"] == [] and "retrain" in empty["layout"]["annotations"][0]["text"]


def test_calibration_figure_plots_mean_p_up_against_the_up_rate() -> None:
    traces = by_name(model_page.calibration_figure(make_report()))
    assert traces["AdaBoost"]["x"] == [0.45, 0.55] and traces["AdaBoost"]["y"] == [0.44, 0.57]
    assert traces["AdaBoost"]["error_y"]["arrayminus"] == pytest.approx([0.04, 0.04])
    assert traces["perfectly calibrated"]["x"] == traces["perfectly calibrated"]["y"] == [0.45, 0.55]


def test_importance_figure_puts_the_largest_mean_importance_on_top() -> None:
    figure = model_page.importance_figure(make_report()["feature_importance"])
    traces = by_name(figure)
    assert set(traces) == set(MODEL_COLUMNS)
    assert traces["XGBoost"]["y"] == ["f_volatility", "f_rsi", "f_ret_1"]  # horizontal bars: the last is drawn on top
    assert traces["XGBoost"]["x"] == [-0.001, 0.01, 0.03]
    assert "retrain" in model_page.importance_figure(None)["layout"]["annotations"][0]["text"]


def calls_frame() -> pd.DataFrame:
    """Two symbols; A goes 10 → 11 → 10 → 12, B 5 → 4 → 6. Every model calls UP except LogisticReg (DOWN)."""
    rows = [("A", 1, 10.0), ("B", 1, 5.0), ("A", 2, 11.0), ("B", 2, 4.0), ("A", 3, 10.0), ("B", 3, 6.0), ("A", 4, 12.0)]
    frame = pd.DataFrame(
        [
            {"id": k, "symbol": s, "timestamp": datetime(2024, 1, day), "current_price": price}
            for k, (s, day, price) in enumerate(rows, start=1)
        ]
    )
    for m in MODEL_COLUMNS:
        frame[m] = "DOWN" if m == "LogisticReg" else "UP"
    frame.loc[frame["symbol"] == "B", "AdaBoost"] = "NEUTRAL"  # not scored
    return frame


def test_live_hit_rates_score_each_call_against_the_symbols_next_price() -> None:
    live = model_page.live_hit_rates(calls_frame(), buckets=1)
    # scored ticks (the last of each symbol has no next one): A up, down, up; B down, up → 3 of 5 went up
    assert live["n"] == [5] and live["always_up"] == [pytest.approx(0.6)]
    assert live["rates"]["XGBoost"] == [pytest.approx(0.6)] and live["rates"]["LogisticReg"] == [pytest.approx(0.4)]
    assert live["rates"]["AdaBoost"] == [pytest.approx(2 / 3)]  # only A's three calls count
    two = model_page.live_hit_rates(calls_frame(), buckets=2)
    assert two["n"] == [3, 2] and two["timestamp"] == ["2024-01-02 00:00:00", "2024-01-03 00:00:00"]
    assert model_page.live_hit_rates(calls_frame().iloc[:0])["timestamp"] == []


def test_live_figure_draws_live_rates_beside_the_walk_forward_estimate() -> None:
    report = make_report()
    traces = by_name(model_page.live_figure(model_page.live_hit_rates(calls_frame(), buckets=2), report))
    # in time order: A up, B down, A down | B up, A up
    assert traces["XGBoost live"]["y"] == [pytest.approx(1 / 3), pytest.approx(1.0)]
    assert traces["LogisticReg live"]["y"] == [pytest.approx(2 / 3), pytest.approx(0.0)]
    assert traces["XGBoost walk-forward"]["y"] == [0.52, 0.52]
    assert traces["always up live"]["y"] == [pytest.approx(1 / 3), pytest.approx(1.0)]


def registered(tmp_path: Path, db_url: str, report: dict[str, Any] | None) -> Source:
    """A seeded database with two registered versions; the newer one's directory holds ``report``."""
    engine = seed_database(db_url, {"ES1 Index": 80, "CL1 Comdty": 60})
    for version, created in (
        ("20250101T000000Z-aaaa", datetime(2025, 1, 1)),
        ("20250201T000000Z-bbbb", datetime(2025, 2, 1)),
    ):
        directory = tmp_path / version
        directory.mkdir()
        if report is not None:
            (directory / "report.json").write_text(json.dumps(report))
        metrics = {
            "walk_forward_pooled": {m: {"accuracy": ACCURACY[m]} for m in MODEL_COLUMNS},
            "calibration": "sigmoid",
            "feature_importance": make_report()["feature_importance"],
        }
        register_model(engine, version, created, str(directory), json.dumps(metrics))
    engine.dispose()
    return Source(db_url, reader_engine(db_url), load_symbol_sheet(None))


def ids_in(component: Any) -> set[str]:
    found = {component.id} if getattr(component, "id", None) else set()
    children = getattr(component, "children", None)
    for child in children if isinstance(children, list) else [children] if children is not None else []:
        found |= ids_in(child)
    return found


def test_page_shows_every_panel_for_the_loaded_version_and_lists_versions_newest_first(tmp_path, db_url) -> None:
    source = registered(tmp_path, db_url, make_report())
    content = html.Div(model_page.page_content(source))
    assert set(model_page.PANELS.values()) <= ids_in(content)
    versions = model_page.registered_versions(source.engine)
    assert [v["version"] for v in versions] == ["20250201T000000Z-bbbb", "20250101T000000Z-aaaa"]
    assert model_page.loaded_version(versions)["version"] == "20250201T000000Z-bbbb"  # loaded last
    live = model_page.live_hit_rates(model_page.recent_calls(source.engine))
    assert sum(live["n"]) > 0 and all(0.0 <= r <= 1.0 for r in live["rates"]["XGBoost"] if r is not None)


def test_page_without_the_report_file_says_where_it_looked_and_still_shows_importance(tmp_path, db_url) -> None:
    source = registered(tmp_path, db_url, None)
    content = html.Div(model_page.page_content(source))
    shown = ids_in(content)
    assert {model_page.PANELS[k] for k in ("importance", "live", "versions")} <= shown
    assert model_page.PANELS["accuracy"] not in shown
    assert "no report.json at" in str(content) and "20250201T000000Z-bbbb" in str(content)


def test_page_before_any_version_says_so(db_url) -> None:
    seed_database(db_url, {"ES1 Index": 40}).dispose()
    content = model_page.page_content(Source(db_url, make_engine(db_url), load_symbol_sheet(None)))
    assert "NO MODEL VERSION YET" in str(content)


def test_the_models_link_shows_the_model_page_and_hides_the_others(tmp_path, db_url) -> None:
    source = registered(tmp_path, db_url, make_report())
    update = route(source, ids.URL, links.MODELS_SEARCH, None, None)
    assert update[(ids.MODELS_PANE, "style")] == SHOWN
    assert update[(ids.OVERVIEW_PANE, "style")] == update[(ids.SYMBOL_PANE, "style")] == HIDDEN
    assert route(source, ids.URL, "", None, None)[(ids.MODELS_PANE, "style")] == HIDDEN
    assert links.view_in("?view=models&x=1") == "models" and links.view_in("?symbol=A") is None
