"""The symbol view's linked chart in headless Chromium: range buttons and ``range=`` links, one x axis, markers.

Reads the figure Plotly holds in the page (the dcc.Graph's plotly div) and checks it
against the seeded SQLite file. With ``FLAMEBACK_UPDATE_SCREENSHOT=1`` the test
replaces the README's ``docs/symbol.png`` (otherwise the shot stays in the test's
temporary directory).
"""

from __future__ import annotations

import os
from datetime import date

import pytest
from selenium.webdriver.common.by import By
from sqlalchemy import func, select

from dashboard import history, ids, links
from flameback_app.storage.db import make_engine, predictions
from tests.support.harness import REPO
from tests.support.seed import seed_database
from tests.support.terminal import (
    CHART,
    TRACE,
    assert_console_clean,
    last_row,
    save_full_page_screenshot,
    start,
    text_of,
    wait_js,
    wait_text,
)

pytestmark = pytest.mark.browser

README_SCREENSHOT = REPO / "docs" / "symbol.png"
SYMBOLS = {"CL1 Comdty": 620, "ES1 Index": 300}
AXES = (
    f"const gd = {CHART}; return {{xaxes: Object.keys(gd.layout).filter(k => k.startsWith('xaxis')),"
    " traceAxes: [...new Set(gd.data.map(t => t.xaxis || 'x'))],"
    " domains: Object.keys(gd.layout).filter(k => k.startsWith('yaxis')).map(k => gd.layout[k].domain),"
    " hover: gd.layout.hovermode, spikes: gd.layout.xaxis.spikemode}"
)
MARKERS = f"return {CHART}.data.filter(t => t.legendgroup === 'calls').reduce((n, t) => n + t.x.length, 0)"
PRICE_X = TRACE.format("Price", "x")
TITLE = f"const gd = {CHART}; return gd && gd.layout && gd.layout.title ? gd.layout.title.text : ''"


def calls_in_range(url: str, symbol: str, signal: str, since: object) -> int:
    """UP and DOWN calls of the signal on the symbol's rows at or after ``since``, counted by the database."""
    engine = make_engine(url)
    col = predictions.c
    stmt = select(func.count()).where(col.symbol == symbol, col.timestamp >= since, col[signal].in_(("UP", "DOWN")))
    with engine.connect() as conn:
        count = conn.execute(stmt).scalar()
    engine.dispose()
    return count


def click_range(dash_duo, name: str) -> None:
    dash_duo.find_element(f"#{ids.RANGE}").find_element(By.XPATH, f".//label[normalize-space()='{name}']").click()


def span_days(xs: list[str]) -> int:
    return (date.fromisoformat(xs[-1][:10]) - date.fromisoformat(xs[0][:10])).days


def test_ranges_links_one_axis_and_markers(dash_duo, free_port, db_url, tmp_path):
    seed_database(db_url, SYMBOLS).dispose()
    start(dash_duo, free_port(), db_url)
    newest = last_row(db_url, "CL1 Comdty")["timestamp"]
    dash_duo.driver.get(dash_duo.server_url + "/" + links.search_for("CL1 Comdty", "1Y"))
    xs = wait_js(dash_duo, PRICE_X, lambda x: bool(x) and 330 < span_days(x) <= 365)  # the link's range, by time
    assert xs[-1] == str(newest)[:10]
    layout = dash_duo.driver.execute_script(AXES)  # one x axis for every pane: one zoom, one crosshair
    assert layout["xaxes"] == ["xaxis"] and layout["traceAxes"] == ["x"] and len(layout["domains"]) == 5
    assert layout["hover"] == "x unified" and layout["spikes"] == "across"
    since = newest - history.RANGES["1Y"]
    assert dash_duo.driver.execute_script(MARKERS) == calls_in_range(db_url, "CL1 Comdty", "XGBoost", since)

    click_range(dash_duo, "All")
    xs = wait_js(dash_duo, PRICE_X, lambda x: bool(x) and len(x) == SYMBOLS["CL1 Comdty"])  # ≤ 800 rows: every tick
    assert "range=All" in dash_duo.driver.execute_script("return location.search")
    click_range(dash_duo, "1M")
    wait_js(dash_duo, PRICE_X, lambda x: bool(x) and span_days(x) <= 30)
    assert "range=1M" in dash_duo.driver.execute_script("return location.search")
    since = newest - history.RANGES["1M"]
    assert dash_duo.driver.execute_script(MARKERS) == calls_in_range(db_url, "CL1 Comdty", "XGBoost", since)
    shot = README_SCREENSHOT if os.environ.get("FLAMEBACK_UPDATE_SCREENSHOT") == "1" else tmp_path / "symbol.png"
    click_range(dash_duo, "1Y")
    wait_js(dash_duo, PRICE_X, lambda x: bool(x) and span_days(x) > 330)
    save_full_page_screenshot(dash_duo, shot)
    assert shot.stat().st_size > 20_000

    dash_duo.driver.get(dash_duo.server_url + "/?symbol=ES1%20Index&range=5Y")  # unknown range: say so, show default
    wait_text(dash_duo, ids.RANGE_NOTICE, lambda t: "UNKNOWN RANGE '5Y'" in t)
    wait_js(dash_duo, TITLE, lambda t: t.startswith(f"ES1 Index · {history.DEFAULT_RANGE}"))
    assert text_of(dash_duo, ids.STATUS) == ""
    assert 85 < span_days(dash_duo.driver.execute_script(PRICE_X)) <= 91
    assert_console_clean(dash_duo)
