"""The market overview in headless Chromium: first screen, sorting, click-through, deep links, back/forward, "/".

Each test serves :func:`dashboard.app.create_app` on a free port against its own
seeded SQLite file and checks what a user sees against the database. With
``FLAMEBACK_UPDATE_SCREENSHOT=1`` the first test replaces the README's
``docs/overview.png`` (otherwise the shot stays in the test's temporary directory).
"""

from __future__ import annotations

import os

import pytest
from selenium.webdriver.common.by import By

from dashboard import ids, links
from dashboard.figures import fmt_price
from tests.support.harness import REPO
from tests.support.seed import seed_database
from tests.support.terminal import (
    assert_console_clean,
    last_row,
    save_full_page_screenshot,
    start,
    text_of,
    wait_js,
    wait_text,
)

pytestmark = pytest.mark.browser

README_SCREENSHOT = REPO / "docs" / "overview.png"
SYMBOLS = {"CL1 Comdty": 260, "ES1 Index": 220, "GC1 Comdty": 200, "NG1 Comdty": 180}
SYMBOL_COLUMN = (
    f"return Array.from(document.querySelectorAll('#{ids.OVERVIEW} td[data-dash-column=symbol]'))"
    ".map(td => td.innerText.trim())"
)
SHOWN = "const el = document.getElementById('{}'); return !!el && el.offsetParent !== null"


def shown(dash_duo, component_id: str) -> bool:
    return dash_duo.driver.execute_script(SHOWN.format(component_id))


def wait_symbols(dash_duo, predicate) -> list[str]:
    return wait_js(dash_duo, SYMBOL_COLUMN, lambda got: bool(got) and predicate(got))


def open_path(dash_duo, path: str) -> None:
    dash_duo.driver.get(dash_duo.server_url + path)


def search(dash_duo) -> str:
    return dash_duo.driver.execute_script("return window.location.search")


def test_overview_is_the_first_screen_sorts_and_a_row_opens_the_symbol(dash_duo, free_port, db_url, tmp_path):
    seed_database(db_url, SYMBOLS).dispose()
    start(dash_duo, free_port(), db_url)
    assert wait_symbols(dash_duo, lambda got: len(got) == 4) == sorted(SYMBOLS)
    assert not shown(dash_duo, ids.SYMBOL_PANE) and shown(dash_duo, ids.OVERVIEW_PANE)
    assert text_of(dash_duo, ids.FEED_CUE).startswith("REPLAY")  # the seeded ticks are years old
    prices = {s: last_row(db_url, s)["current_price"] for s in SYMBOLS}
    rsi = {s: last_row(db_url, s)["rsi_14"] for s in SYMBOLS}
    header = dash_duo.find_element(f"#{ids.OVERVIEW} th[data-dash-column=rsi] .column-header--sort")
    header.click()  # ascending by RSI
    by_rsi = sorted(SYMBOLS, key=rsi.get)
    assert wait_symbols(dash_duo, lambda got: got == by_rsi) == by_rsi
    header.click()  # descending
    assert wait_symbols(dash_duo, lambda got: got == by_rsi[::-1]) == by_rsi[::-1]
    screenshot = README_SCREENSHOT if os.environ.get("FLAMEBACK_UPDATE_SCREENSHOT") == "1" else tmp_path / "o.png"
    save_full_page_screenshot(dash_duo, screenshot)
    assert screenshot.stat().st_size > 20_000
    cell = next(
        td
        for td in dash_duo.driver.find_elements(By.CSS_SELECTOR, f"#{ids.OVERVIEW} td[data-dash-column=symbol]")
        if td.text.strip() == "ES1 Index"
    )
    cell.click()
    wait_text(dash_duo, ids.KPI_PRICE, lambda t: t == fmt_price(prices["ES1 Index"]))
    assert search(dash_duo) == links.search_for("ES1 Index") and not shown(dash_duo, ids.OVERVIEW_PANE)
    dash_duo.driver.back()
    wait_js(dash_duo, SHOWN.format(ids.OVERVIEW_PANE), bool)
    assert search(dash_duo) == "" and not shown(dash_duo, ids.SYMBOL_PANE)
    dash_duo.driver.forward()
    wait_js(dash_duo, SHOWN.format(ids.SYMBOL_PANE), bool)
    assert search(dash_duo) == links.search_for("ES1 Index")
    assert text_of(dash_duo, ids.KPI_PRICE) == fmt_price(prices["ES1 Index"])
    assert_console_clean(dash_duo)


def test_deep_links_unknown_symbols_and_the_slash_key(dash_duo, free_port, db_url):
    seed_database(db_url, SYMBOLS).dispose()
    start(dash_duo, free_port(), db_url)
    open_path(dash_duo, "/?symbol=ES1%20Index&range=1Y")  # range: not this view's, ignored
    wait_text(dash_duo, ids.KPI_PRICE, lambda t: t == fmt_price(last_row(db_url, "ES1 Index")["current_price"]))
    assert not shown(dash_duo, ids.OVERVIEW_PANE)
    open_path(dash_duo, "/?symbol=NOPE%20Index")
    assert "UNKNOWN SYMBOL 'NOPE Index'" in wait_text(dash_duo, ids.NOTICE, lambda t: "UNKNOWN" in t)
    assert wait_symbols(dash_duo, lambda got: len(got) == 4) == sorted(SYMBOLS)
    assert not shown(dash_duo, ids.SYMBOL_PANE)
    dash_duo.find_element("body").send_keys("/")
    focused = wait_js(dash_duo, "return document.activeElement.className", lambda c: "dash-dropdown-search" in c)
    assert "dash-dropdown-search" in focused
    dash_duo.driver.switch_to.active_element.send_keys("GC1")
    options = dash_duo.find_elements(".dash-dropdown-option")
    assert [o.text for o in options] == ["GC1 Comdty"]  # the search filtered the list
    options[0].click()
    wait_text(dash_duo, ids.KPI_PRICE, lambda t: t == fmt_price(last_row(db_url, "GC1 Comdty")["current_price"]))
    assert search(dash_duo) == links.search_for("GC1 Comdty") and text_of(dash_duo, ids.NOTICE) == ""
    assert_console_clean(dash_duo)
