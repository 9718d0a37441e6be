"""Benchmark in headless Chromium: first view and symbol change of the symbol view, beside the server callbacks' time.

Serves :func:`dashboard.app.create_app` (werkzeug, threaded, 127.0.0.1) on a seeded
SQLite file of 44,070 rows (39 symbols × 1,130 daily ticks, the size the issue measured
on) and drives Debian's Chromium through selenium:

- first view: from ``driver.get('/?symbol=...')`` to the linked chart drawn with that
  symbol (Python-side wall time, polled every 5 ms);
- symbol change: from the click on an option of the picker to Plotly's ``afterplot`` of
  the chart showing the new symbol, both stamped in the page (``performance.now()``).

Beside them, in the same run: the server-side work of a symbol change, the two callbacks
called directly (:func:`dashboard.callbacks.view_update` and
:func:`dashboard.symbol_view.chart_update`).

    .venv/bin/python -m bench.symbol_browser [--changes 15]
"""

from __future__ import annotations

import argparse
import socket
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from werkzeug.serving import WSGIRequestHandler, make_server

from dashboard import ids, links, queries, symbol_view
from dashboard.app import create_app
from dashboard.callbacks import NO_CURSOR, Source, view_update
from tests.browser.seed import seed_database

SYMBOLS = [f"S{k:02d} Comdty" for k in range(39)]
ROWS_PER_SYMBOL = 1130  # 39 × 1,130 = 44,070 rows
TARGETS_MS = {"first view": 1500.0, "symbol change": 250.0}
CHART_JS = f"document.querySelector('#{ids.CHART} .js-plotly-plot')"
TITLE_JS = f"const gd = {CHART_JS}; return gd && gd.layout && gd.layout.title ? gd.layout.title.text : ''"
HOOK_JS = (f"const gd = {CHART_JS}; window.__want = arguments[0]; window.__drawnAt = null;"
           " if (!gd.__hooked) { gd.__hooked = true; gd.on('plotly_afterplot', () => {"
           " if (!window.__drawnAt && gd.layout.title.text.startsWith(window.__want))"
           " window.__drawnAt = performance.now(); }); }")  # fmt: skip


class QuietHandler(WSGIRequestHandler):
    """No access log line per request: the table is the output."""

    def log_request(self, *_args: Any) -> None:
        return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(driver: webdriver.Chrome, script: str, predicate: Any, timeout_s: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        seen = driver.execute_script(script)
        if predicate(seen):
            return seen
        time.sleep(0.005)
    raise TimeoutError(script)


def first_view_ms(driver: webdriver.Chrome, base: str, symbol: str) -> float:
    started = time.perf_counter()
    driver.get(base + "/" + links.search_for(symbol))
    wait_for(driver, TITLE_JS, lambda t: t.startswith(symbol + " "))
    return (time.perf_counter() - started) * 1000


def symbol_change_ms(driver: webdriver.Chrome, symbol: str) -> float:
    """Open the picker, then click the option: the time from that click to the chart redrawn for it."""
    driver.execute_script(HOOK_JS, symbol + " ")
    driver.find_element(By.ID, ids.SYMBOL).click()
    wait_for(driver, "return document.querySelectorAll('.dash-dropdown-option').length", bool)
    option = next(o for o in driver.find_elements(By.CSS_SELECTOR, ".dash-dropdown-option") if o.text.startswith(symbol))
    driver.execute_script("window.__clickAt = performance.now(); arguments[0].click();", option)
    wait_for(driver, "return window.__drawnAt", lambda v: v is not None)
    return driver.execute_script("return window.__drawnAt - window.__clickAt")


def server_ms(source: Source, symbols: list[str]) -> list[float]:
    """The two callbacks a symbol change runs, called directly, per change."""
    out = []
    for symbol in symbols:
        started = time.perf_counter()
        view_update(source, symbol, NO_CURSOR)
        symbol_view.chart_update(source, symbol, None, None, None)
        out.append((time.perf_counter() - started) * 1000)
    return out


def run(changes: int = 15) -> list[dict[str, Any]]:
    path = Path(tempfile.mkdtemp(prefix="flameback-bench-browser-")) / "flameback.db"
    url = f"sqlite:///{path}"
    seed_database(url, dict.fromkeys(SYMBOLS, ROWS_PER_SYMBOL)).dispose()
    server = make_server("127.0.0.1", free_port(), create_app(url, refresh_s=3.0).server, threaded=True,
                         request_handler=QuietHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    # The browser tests' Chromium and flags; imported here: that module reads the settings when imported.
    from tests.browser.conftest import CHROMEDRIVER, pytest_setup_options
    driver = webdriver.Chrome(options=pytest_setup_options(), service=Service(str(CHROMEDRIVER)))
    try:
        first = [first_view_ms(driver, base, SYMBOLS[k]) for k in range(5)]
        picks = [SYMBOLS[(7 * k + 3) % len(SYMBOLS)] for k in range(changes)]
        change = [symbol_change_ms(driver, s) for s in picks]
    finally:
        driver.quit()
        server.shutdown()
    source = Source(url, queries.reader_engine(url), {})
    server_side = server_ms(source, picks)
    source.engine.dispose()
    return [{"case": "first view (page request → chart drawn)", "samples": first, "target_ms": TARGETS_MS["first view"]},
            {"case": "symbol change (click → chart redrawn)", "samples": change, "target_ms": TARGETS_MS["symbol change"]},
            {"case": "symbol change, server callbacks only", "samples": server_side, "target_ms": None}]  # fmt: skip


def table_rows(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``python -m bench`` rows: the browser's symbol change beside the server's share of it (same run)."""
    change, server = results[1], results[2]
    return [{"name": "browser symbol change vs server callbacks (44,070 rows)",
             "figure": statistics.median(change["samples"]), "baseline": statistics.median(server["samples"]),
             "unit": "ms", "no_ratio": True},
            {"name": "browser first view (44,070 rows)", "figure": statistics.median(results[0]["samples"]),
             "unit": "ms"}]  # fmt: skip


def print_table(results: list[dict[str, Any]]) -> None:
    print("symbol view in headless Chromium, 44,070-row SQLite database (39 symbols)")
    print(f"{'case':44} {'median ms':>9} {'min':>7} {'max':>7} {'n':>3} {'target':>7}")
    for r in results:
        s = r["samples"]
        target = "-" if r["target_ms"] is None else f"{r['target_ms']:.0f}"
        print(f"{r['case']:44} {statistics.median(s):9.1f} {min(s):7.1f} {max(s):7.1f} {len(s):3} {target:>7}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=15)
    print_table(run(parser.parse_args().changes))


if __name__ == "__main__":
    main()
