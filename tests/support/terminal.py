"""Driving the terminal in headless Chromium (Dash's ``dash_duo``): start it, read and wait for text, rows, screenshots.

Shared by the browser tests (and nothing in it is a test).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dash.testing.composite import DashComposite
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.common.by import By
from sqlalchemy import select

from dashboard import ids
from dashboard.app import create_app
from dashboard.links import search_for
from flameback_app.storage.db import make_engine, predictions

REFRESH_S = 0.5

# The linked chart, and one of its traces' properties found by name (format with the name and the property).
CHART = f"document.querySelector('#{ids.CHART} .js-plotly-plot')"
TRACE = (
    "const gd = " + CHART + "; const t = gd && gd.data ? gd.data.find(t => t.name === '{}') : null;"
    " return t ? t.{} : null"
)
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
CHROMIUM_ARGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-default-apps",
    "--disable-extensions",
    "--window-size=1600,1000",
    "--hide-scrollbars",
)


def chromium_options() -> Options:
    """Debian's headless Chromium with the flags every browser test and the browser benchmark use."""
    options = Options()
    options.binary_location = str(CHROMIUM)
    for arg in CHROMIUM_ARGS:
        options.add_argument(arg)
    return options


WAIT_S = 15


def start(
    dash_duo: DashComposite,
    port: int,
    url: str,
    sheet: Path | None = None,
    max_points: int = 500,
    symbol: str | None = None,
) -> None:
    """Serve the terminal; with ``symbol``, open that symbol's view by its deep link (``/`` is the overview)."""
    dash_duo.start_server(create_app(url, refresh_s=REFRESH_S, symbol_sheet=sheet, max_points=max_points), port=port)
    if symbol is not None:
        dash_duo.driver.get(dash_duo.server_url + "/" + search_for(symbol))


def text_of(dash_duo: DashComposite, component_id: str) -> str:
    return dash_duo.find_element(f"#{component_id}").text


def wait_text(dash_duo: DashComposite, component_id: str, predicate: Callable[[str], bool]) -> str:
    """Wait until the element's text satisfies ``predicate``; fail with the last text seen."""
    deadline, seen = time.monotonic() + WAIT_S, ""
    while time.monotonic() < deadline:
        seen = text_of(dash_duo, component_id)
        if predicate(seen):
            return seen
        time.sleep(0.1)
    raise AssertionError(f"#{component_id} never matched; last text: {seen!r}")


def wait_js(dash_duo: DashComposite, script: str, predicate: Callable[[Any], bool]) -> Any:
    deadline, seen = time.monotonic() + WAIT_S, None
    while time.monotonic() < deadline:
        seen = dash_duo.driver.execute_script(script)
        if predicate(seen):
            return seen
        time.sleep(0.1)
    raise AssertionError(f"script result never matched; last: {seen!r}")


def last_rows(url: str, symbol: str, n: int) -> list[dict[str, Any]]:
    """The symbol's newest ``n`` rows, oldest first."""
    engine = make_engine(url)
    stmt = select(predictions).where(predictions.c.symbol == symbol).order_by(predictions.c.id.desc()).limit(n)
    with engine.connect() as conn:
        rows = [r._asdict() for r in conn.execute(stmt)]
    engine.dispose()
    return rows[::-1]


def last_row(url: str, symbol: str) -> dict[str, Any]:
    return last_rows(url, symbol, 1)[0]


def choose_symbol(dash_duo: DashComposite, symbol: str) -> None:
    dash_duo.find_element(f"#{ids.SYMBOL}").click()
    options = dash_duo.wait_for_element(".dash-dropdown-options")
    option = next(
        o for o in options.find_elements(By.CSS_SELECTOR, ".dash-dropdown-option") if o.text.startswith(symbol)
    )
    option.click()


def assert_console_clean(dash_duo: DashComposite) -> None:
    assert dash_duo.get_logs() == []


def save_full_page_screenshot(dash_duo: DashComposite, path: Path) -> None:
    driver = dash_duo.driver
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride", {"width": 1600, "height": height, "deviceScaleFactor": 1, "mobile": False}
    )
    time.sleep(1.0)  # let Plotly re-lay out to the new viewport
    path.parent.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(path))
