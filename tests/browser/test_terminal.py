"""The terminal in headless Chromium (dash[testing]): rendering, symbol switch, live rows, states, console.

Each test serves :func:`dashboard.app.create_app` on a free port against its own
SQLite file (one test also against PostgreSQL; seeded through the worker's writers), drives the page and checks what a
user sees, and that the browser console has no errors. One test takes a full-page
screenshot; with ``FLAMEBACK_UPDATE_SCREENSHOT=1`` it replaces the README's
``docs/screenshot.png`` (otherwise it stays in the test's temporary directory, so a
test run leaves the checkout unchanged).
"""

from __future__ import annotations

import os
import re
import sqlite3
import time
from pathlib import Path

import pytest
import requests
from dash.testing.composite import DashComposite
from selenium.webdriver.common.action_chains import ActionChains

from dashboard import ids
from dashboard.callbacks import EMPTY_DB, LOCKED_DB
from dashboard.figures import fmt_price
from dashboard.links import search_for
from flameback_app.core.records import utc_now
from flameback_app.storage.db import insert_predictions, make_engine, write_counters
from flameback_app.storage.schema import upgrade
from tests.support.seed import prediction_rows, seed_database
from tests.support.terminal import (
    CHART,
    REFRESH_S,
    TRACE,
    assert_console_clean,
    choose_symbol,
    last_row,
    last_rows,
    save_full_page_screenshot,
    start,
    text_of,
    wait_js,
    wait_text,
)

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[2]
README_SCREENSHOT = REPO / "docs" / "screenshot.png"
SYMBOLS = {"CL1 Comdty": 620, "ES1 Index": 420, "GC1 Comdty": 380, "NG1 Comdty": 300}


def drag_zoom(dash_duo: DashComposite) -> list[str]:
    """Zoom the chart's time axis with the mouse (a drag across the price pane); the new x range."""
    chart = dash_duo.find_element(f"#{ids.CHART} .js-plotly-plot")
    dash_duo.driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", chart)
    up = -chart.size["height"] // 4  # offsets from the chart's centre: the price pane is its upper half
    ActionChains(dash_duo.driver).move_to_element(chart).move_by_offset(-200, up).click_and_hold().move_by_offset(
        250, 3
    ).release().perform()
    return wait_js(dash_duo, f"const r = {CHART}.layout.xaxis; return r.autorange ? null : r.range", bool)


def test_seeded_database_renders_everything_from_local_assets(dash_duo, free_port, db_url, symbol_sheet, tmp_path):
    seed_database(db_url, SYMBOLS)
    start(dash_duo, free_port(), db_url, symbol_sheet, symbol="CL1 Comdty")
    last = last_row(db_url, "CL1 Comdty")
    wait_text(dash_duo, ids.KPI_PRICE, lambda t: t == fmt_price(last["current_price"]))
    assert text_of(dash_duo, ids.KPI_RSI) == f"{last['rsi_14']:,.1f}"
    assert text_of(dash_duo, ids.KPI_LAST).startswith(str(last["timestamp"])[:10])
    newest = str(last["timestamp"])[:10]
    assert wait_js(dash_duo, TRACE.format("Price", "x.slice(-1)[0]"), lambda x: x == newest)
    assert dash_duo.driver.execute_script(TRACE.format("MACD", "y.length")) > 50
    volumes = dash_duo.driver.execute_script(TRACE.format("Volume", "y.slice(-3)"))
    assert volumes == [r["volume"] for r in last_rows(db_url, "CL1 Comdty", 3)]  # the volume pane: stored sizes
    signals = text_of(dash_duo, ids.SIGNALS)
    assert all(name in signals for name in ("XGBoost", "LogisticReg", "BB rule")) and re.search("[▲▼]", signals)
    assert "%" in signals and "412.5" in wait_text(dash_duo, ids.HEALTH, lambda t: "Ticks/s" in t)
    assert "SMA 20" in text_of(dash_duo, ids.TECHNICALS)
    if symbol_sheet is not None:
        assert "NYMEX" in text_of(dash_duo, ids.SYMBOL_INFO)
        assert "Light Crude Oil" in text_of(dash_duo, ids.SYMBOL)
    assert_every_resource_is_local(dash_duo)
    screenshot = README_SCREENSHOT if os.environ.get("FLAMEBACK_UPDATE_SCREENSHOT") == "1" else tmp_path / "shot.png"
    save_full_page_screenshot(dash_duo, screenshot)
    assert screenshot.stat().st_size > 20_000
    assert_console_clean(dash_duo)


def assert_every_resource_is_local(dash_duo: DashComposite) -> None:
    """No CDN, no web fonts: the index page links only to its own server, and the browser loaded nothing else."""
    html = requests.get(dash_duo.server_url, timeout=5).text
    links = re.findall(r'(?:src|href)="([^"]*)"', html)
    assert links and all(link.startswith("/") for link in links), links
    assert not re.search(r"https?:(//|\\u002f)", html), re.findall(r".{40}https?:.{40}", html)
    loaded = dash_duo.driver.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert loaded and all(name.startswith(dash_duo.server_url) for name in loaded), loaded


def test_switching_symbol_changes_charts_and_kpis(dash_duo, free_port, db_url, symbol_sheet):
    seed_database(db_url, SYMBOLS)
    start(dash_duo, free_port(), db_url, symbol_sheet, symbol="CL1 Comdty")
    crude, spx = last_row(db_url, "CL1 Comdty"), last_row(db_url, "ES1 Index")
    wait_text(dash_duo, ids.KPI_PRICE, lambda t: t == fmt_price(crude["current_price"]))
    choose_symbol(dash_duo, "ES1 Index")
    wait_text(dash_duo, ids.KPI_PRICE, lambda t: t == fmt_price(spx["current_price"]))
    assert text_of(dash_duo, ids.KPI_MACD) == f"{spx['macd_line']:,.4f}"
    assert wait_js(dash_duo, TRACE.format("Price", "x.slice(-1)[0]"), lambda x: x == str(spx["timestamp"])[:10])
    assert dash_duo.driver.execute_script(f"return {CHART}.layout.title.text").startswith("ES1 Index")
    assert_console_clean(dash_duo)


def test_rows_written_during_the_session_appear_and_zoom_is_kept(dash_duo, free_port, database):
    """On SQLite and PostgreSQL: the live path (rows after the page's cursor) is what differs between them."""
    rows, _state, _price = prediction_rows("CL1 Comdty", 306, seed=7)
    engine = make_engine(database.url)
    upgrade(engine)
    insert_predictions(engine, rows[:300])
    start(dash_duo, free_port(), database.url, symbol="CL1 Comdty")
    last_x = TRACE.format("Price", "x.slice(-1)[0]")
    wait_js(dash_duo, last_x, lambda x: x == str(rows[299]["timestamp"])[:10])
    zoom = drag_zoom(dash_duo)
    insert_predictions(engine, rows[300:])
    wait_text(dash_duo, ids.KPI_LAST, lambda t: t.startswith(str(rows[-1]["timestamp"])[:10]))
    assert wait_js(dash_duo, last_x, lambda x: x == str(rows[-1]["timestamp"])[:10])  # the chart redrew
    assert text_of(dash_duo, ids.KPI_PRICE) == fmt_price(rows[-1]["current_price"])
    kept = dash_duo.driver.execute_script(f"return {CHART}.layout.xaxis.range")
    assert kept == zoom
    assert_console_clean(dash_duo)


def test_missing_then_empty_then_filled_database(dash_duo, free_port, db_url):
    path = Path(db_url.removeprefix("sqlite:///"))
    start(dash_duo, free_port(), db_url)
    wait_text(dash_duo, ids.STATUS, lambda t: t.startswith("NO DATABASE"))
    time.sleep(3 * REFRESH_S)
    assert not path.exists(), "the terminal must never create the database"
    engine = make_engine(db_url)
    upgrade(engine)
    wait_text(dash_duo, ids.STATUS, lambda t: t == EMPTY_DB)
    rows, _state, _price = prediction_rows("ES1 Index", 60)
    insert_predictions(engine, rows)
    wait_text(dash_duo, ids.OVERVIEW, lambda t: "ES1 Index" in t)  # the first screen: the market overview
    wait_text(dash_duo, ids.STATUS, lambda t: t == "")
    dash_duo.driver.get(dash_duo.server_url + "/" + search_for("ES1 Index"))
    wait_text(dash_duo, ids.KPI_PRICE, lambda t: t == fmt_price(rows[-1]["current_price"]))
    assert_console_clean(dash_duo)


def test_warm_up_and_training_symbols_say_so(dash_duo, free_port, db_url):
    seed_database(db_url, {"AAA Index": 12, "BBB Index": 50}, models_ready=False, with_scoreboard=False)
    start(dash_duo, free_port(), db_url, symbol="AAA Index")
    wait_text(dash_duo, ids.STATUS, lambda t: "AAA Index: WARMING UP" in t)
    assert text_of(dash_duo, ids.KPI_RSI) == "— warm-up" and text_of(dash_duo, ids.KPI_MACD) == "— warm-up"
    assert "WARM-UP" in text_of(dash_duo, ids.SIGNALS)
    choose_symbol(dash_duo, "BBB Index")
    wait_text(dash_duo, ids.SIGNALS, lambda t: t.count("TRAINING") >= 4)
    wait_text(dash_duo, ids.STATUS, lambda t: t == "")
    progress = {"models_loaded": 0, "training_rows": 1234, "training_rows_needed": 2000}
    write_counters(make_engine(db_url), progress, utc_now())  # what a worker without models publishes
    wait_text(dash_duo, ids.MODELS_NOTE, lambda t: "1,234 of the 2,000 warmed-up rows" in t)
    write_counters(make_engine(db_url), {"training_active": 1, "training_rows": 2100}, utc_now())
    wait_text(dash_duo, ids.MODELS_NOTE, lambda t: "fitting the first models on 2,100 rows" in t)
    assert_console_clean(dash_duo)


def test_database_locked_by_a_writer_shows_busy_then_recovers(dash_duo, free_port, db_url):
    seed_database(db_url, {"CL1 Comdty": 100}).dispose()
    path = db_url.removeprefix("sqlite:///")
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("PRAGMA journal_mode=DELETE")  # a rollback journal: an exclusive lock blocks readers
    start(dash_duo, free_port(), db_url, symbol="CL1 Comdty")
    wait_text(dash_duo, ids.KPI_PRICE, lambda t: t != "—")
    writer.execute("BEGIN EXCLUSIVE")
    try:
        wait_text(dash_duo, ids.STATUS, lambda t: t == LOCKED_DB)
        assert text_of(dash_duo, ids.KPI_PRICE) != "—", "the last data read stays on screen"
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    wait_text(dash_duo, ids.STATUS, lambda t: t == "")
    assert_console_clean(dash_duo)
