"""The symbol chart's reads and figure on real SQLite and PostgreSQL (no browser): ranges by time, bucketing in SQL,
markers that agree with the scoreboard, the range in the link, and redraws only when something changed."""

from __future__ import annotations

from datetime import datetime
from itertools import pairwise

import dash
import pytest
from sqlalchemy import select

from dashboard import history, ids, queries, symbol_view
from dashboard.callbacks import Source
from dashboard.linked_chart import rolling_hit_rate
from flameback_app.storage.db import SIGNAL_COLUMNS, insert_predictions, make_engine, predictions
from models.scoreboard import CALLS, call_was_right
from tests.support.seed import prediction_rows, seed_database

SYMBOLS = {"CL1 Comdty": 400, "ES1 Index": 80}


@pytest.fixture
def seeded(database) -> str:
    seed_database(database.url, SYMBOLS).dispose()
    return database.url


def stored_rows(url: str, symbol: str, since: datetime | None = None) -> list[dict]:
    engine = make_engine(url)
    stmt = select(predictions).where(predictions.c.symbol == symbol).order_by(predictions.c.timestamp)
    if since is not None:
        stmt = stmt.where(predictions.c.timestamp >= since)
    with engine.connect() as conn:
        rows = [r._asdict() for r in conn.execute(stmt)]
    engine.dispose()
    return rows


def scored(rows: list[dict], signal: str) -> tuple[int, int]:
    """(calls scored, calls right) by the scoreboard's own rule, each call against the next row."""
    pairs = [(a, b) for a, b in pairwise(rows) if a[signal] in CALLS]
    return len(pairs), sum(call_was_right(a[signal], a["current_price"], b["current_price"]) for a, b in pairs)


def test_a_short_range_is_read_by_time_and_drawn_tick_by_tick(seeded):
    engine = queries.reader_engine(seeded)
    win = history.window(engine, "CL1 Comdty", "3M")
    rows = stored_rows(seeded, "CL1 Comdty", win.start)
    assert win.last - win.start == history.RANGES["3M"] and win.rows == len(rows) < SYMBOLS["CL1 Comdty"]
    bars, width = history.bars(engine, win)
    assert width is None and [b["ticks"] for b in bars] == [1] * len(rows)
    assert [b["close"] for b in bars] == pytest.approx([r["current_price"] for r in rows])
    for signal in ("XGBoost", "RSI_Rule"):  # per row: the call, and right as the scoreboard counts it
        assert (sum(b[f"{signal}__scored"] for b in bars), sum(b[f"{signal}__right"] for b in bars)) == scored(
            rows, signal
        )


def test_all_is_bucketed_in_sql_within_max_bars_and_keeps_ohlc_and_scores(seeded):
    engine = queries.reader_engine(seeded)
    win = history.window(engine, "CL1 Comdty", "All")
    rows = stored_rows(seeded, "CL1 Comdty")
    bars, width = history.bars(engine, win, max_bars=50)
    assert width is not None and len(bars) <= 50 and sum(b["ticks"] for b in bars) == len(rows) == win.rows
    assert bars[0]["open"] == pytest.approx(rows[0]["current_price"])
    assert bars[-1]["close"] == pytest.approx(rows[-1]["current_price"])
    assert max(b["high"] for b in bars) == pytest.approx(max(r["current_price"] for r in rows))
    assert sum(b["volume"] for b in bars) == pytest.approx(sum(r["volume"] for r in rows))
    for signal in SIGNAL_COLUMNS:
        assert (sum(b[f"{signal}__scored"] for b in bars), sum(b[f"{signal}__right"] for b in bars)) == scored(
            rows, signal
        )


def test_a_chosen_bar_size_buckets_by_it_and_is_widened_past_max_bars(seeded):
    engine = queries.reader_engine(seeded)
    win = history.window(engine, "CL1 Comdty", "All")
    rows = stored_rows(seeded, "CL1 Comdty")
    week = history.BAR_SIZES["1W"]
    bars, width = history.bars(engine, win, bar_size=week)
    first = rows[0]["timestamp"]
    weeks = [int((r["timestamp"] - first).total_seconds() // week) for r in rows]  # the week each tick falls in
    assert width == week and [b["ticks"] for b in bars] == [weeks.count(k) for k in sorted(set(weeks))]
    assert [b["close"] for b in bars] == pytest.approx(
        [rows[max(i for i, k in enumerate(weeks) if k == w)]["current_price"] for w in sorted(set(weeks))]
    )
    hourly, widened = history.bars(engine, win, max_bars=50, bar_size=history.BAR_SIZES["1h"])
    assert widened > history.BAR_SIZES["1h"] and len(hourly) <= 50 and sum(b["ticks"] for b in hourly) == len(rows)


def test_markers_count_the_calls_in_the_range(seeded):
    src = Source(seeded, queries.reader_engine(seeded), {})
    figure, key = symbol_view.chart_update(src, "ES1 Index", "1M", "MACD_Rule", None)
    rows = stored_rows(seeded, "ES1 Index", history.window(src.engine, "ES1 Index", "1M").start)
    markers = [t for t in figure["data"] if t.get("legendgroup") == "calls"]
    drawn = {(t["meta"]["call"], t["meta"]["right"]): len(t["x"]) for t in markers}
    for call in CALLS:
        made = [i for i, r in enumerate(rows) if r["MACD_Rule"] == call]
        right = sum(
            i + 1 < len(rows) and call_was_right(call, rows[i]["current_price"], rows[i + 1]["current_price"])
            for i in made
        )
        assert (drawn[(call, True)], drawn[(call, False)]) == (right, len(made) - right)
    assert key["range"] == "1M" and key["signal"] == "MACD_Rule"


def test_the_chart_redraws_only_when_something_changed(seeded):
    src = Source(seeded, queries.reader_engine(seeded), {})
    figure, key = symbol_view.chart_update(src, "ES1 Index", "All", "XGBoost", None)
    assert figure["layout"]["uirevision"] == "ES1 Index|All"
    assert symbol_view.chart_update(src, "ES1 Index", "All", "XGBoost", key) == (dash.no_update, dash.no_update)
    assert symbol_view.chart_update(src, "ES1 Index", "1Y", "XGBoost", key)[0] is not dash.no_update
    rows, _state, _price = prediction_rows("ES1 Index", 2, skip=SYMBOLS["ES1 Index"])
    insert_predictions(make_engine(seeded), rows)
    zoom = {"xaxis.range[0]": "2018-02-01", "xaxis.range[1]": "2018-03-01"}  # the user's drag, as Plotly reports it
    redrawn, new_key = symbol_view.chart_update(src, "ES1 Index", "All", "XGBoost", key, relayout=zoom)
    assert new_key["last_id"] > key["last_id"]
    price = next(t for t in redrawn["data"] if t["name"] == "Price")
    assert len(price["x"]) == SYMBOLS["ES1 Index"] + 2
    assert redrawn["layout"]["xaxis"]["range"] == ["2018-02-01", "2018-03-01"]  # new rows keep the zoom
    other, _key = symbol_view.chart_update(src, "ES1 Index", "1Y", "XGBoost", new_key, relayout=zoom)
    assert "range" not in other["layout"]["xaxis"]  # another range starts unzoomed
    weekly, weekly_key = symbol_view.chart_update(src, "ES1 Index", "All", "XGBoost", new_key, bar="1W")
    assert weekly_key["bar"] == "1W" and "BARS OF 7 d" in weekly["layout"]["title"]["text"]
    assert any(t["type"] == "candlestick" for t in weekly["data"])  # a chosen size draws candles, few rows or not


def test_the_range_in_the_link_and_the_buttons():
    link = "?symbol=ES1%20Index&range=1Y"
    assert symbol_view.range_route(ids.URL, link, history.DEFAULT_RANGE) == (dash.no_update, "1Y", "")
    assert symbol_view.range_route(ids.URL, link, "1Y") == (dash.no_update, dash.no_update, "")
    search, shown, notice = symbol_view.range_route(ids.URL, "?symbol=ES1%20Index&range=5Y", "1Y")
    assert search is dash.no_update and shown == history.DEFAULT_RANGE and "UNKNOWN RANGE '5Y'" in notice
    assert symbol_view.range_route(ids.RANGE, link, "All")[0] == "?symbol=ES1%20Index&range=All"
    assert symbol_view.range_route(ids.RANGE, "", "All")[0] is dash.no_update  # the overview has no range


def test_rolling_hit_rate_covers_the_last_calls():
    bars = [{"M__right": r, "M__scored": s} for r, s in ((1, 1), (0, 1), (0, 0), (1, 1), (1, 1))]
    assert rolling_hit_rate(bars, "M", calls=2) == [1.0, 0.5, 0.5, 0.5, 1.0]
    assert rolling_hit_rate([{"M__right": 0, "M__scored": 0}], "M") == [None]
