"""What the trader feels: the terminal's times in headless Chromium, beside the server's share in the same run.

Serves the terminal the way the run command does (``python -m dashboard``: waitress) on
a SQLite file of ``rows`` rows over ``symbols`` symbols (the issue measured 44,070 rows),
drives Debian's headless Chromium with Selenium, and reads every time from the page's
own clock (``performance.now()``), so Selenium's round trips are not counted:

- **first view**: from the page request (navigation start) to the overview table filled
  (its first page of symbols), and, opened by a deep link, to the symbol view's charts
  drawn; once with the browser's cache empty (the first visit), then with it warm;
- **symbol change**: from the click on a symbol in the picker to the chart redrawn
  (Plotly's last ``plotly_afterplot``; no further redraw for 300 ms);
- **overview refresh**: from the refresh request leaving the page to the table updated,
  while a writer adds a row per symbol every half second (as a live worker would).

Beside each, the server's share in the same run: the time during which at least one Dash
callback request was on its way (its start to its response, on loopback), timed by
wrapping ``fetch`` in the page. Browser time minus that is the browser's own work.

    .venv/bin/python -m bench.browser [--rows 44070] [--symbols 39] [--reps 7]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

from bench.dashboard import bench_symbols, build_database
from dashboard import ids
from flameback_app.storage.db import insert_predictions, make_engine
from tests.support.harness import REPO, free_port, wait_for
from tests.support.seed import prediction_rows
from tests.support.terminal import CHROMEDRIVER, chromium_options

TARGETS_MS = {"first view": 1500.0, "symbol change": 250.0, "overview refresh": 300.0}
REFRESH_S = 1.0

# Installed before any page script runs: Dash's callback requests are timed as they leave and return.
FETCH_TIMER = """
window.__fb = {requests: []};
const original = window.fetch;
window.fetch = function (input, init) {
  const url = typeof input === 'string' ? input : input.url;
  if (!url.includes('_dash-update-component')) return original.apply(this, arguments);
  const entry = {start: performance.now(), end: null, body: String((init && init.body) || '')};
  window.__fb.requests.push(entry);
  return original.apply(this, arguments).then(r => r.clone().text().then(() => { entry.end = performance.now(); return r; }));
};
"""

WAIT_FOR = """
const done = arguments[arguments.length - 1], test = new Function(arguments[0]), limit = performance.now() + 20000;
(function poll() {
  if (test()) return done(performance.now());
  if (performance.now() > limit) return done(null);
  requestAnimationFrame(poll);
})();
"""
OVERVIEW_FILLED = (
    f"return document.querySelectorAll('#{ids.OVERVIEW} td[data-dash-column=symbol]').length >= {{n}}"
    " && !document.querySelector('._dash-loading')"
)
CHARTS_DRAWN = (
    f"const g = document.querySelectorAll('#{ids.SYMBOL_PANE} .js-plotly-plot');"
    "return g.length > 0 && Array.from(g).every(gd => (gd._fullData || []).some(t => t._length > 0))"
)

SYMBOL_CHANGE = f"""
const done = arguments[arguments.length - 1], target = arguments[0];
const option = Array.from(document.querySelectorAll('.dash-dropdown-option')).find(o => o.innerText.startsWith(target));
if (!option) return done(null);
const graphs = Array.from(document.querySelectorAll('#{ids.SYMBOL_PANE} .js-plotly-plot'));
let last = null;
graphs.forEach(gd => gd.on('plotly_afterplot', () => {{ last = performance.now(); }}));
const requests = window.__fb.requests.length;
const start = performance.now();
option.click();
(function settle() {{
  const now = performance.now();
  if (last !== null && now - last > 300) {{
    const mine = window.__fb.requests.slice(requests).filter(r => r.end !== null && r.end <= last);
    return done([last - start, mine.map(r => [r.start, r.end])]);
  }}
  if (now - start > 20000) return done(null);
  setTimeout(settle, 10);
}})();
"""

OVERVIEW_REFRESH = f"""
const done = arguments[arguments.length - 1];
const table = document.getElementById('{ids.OVERVIEW}');
const changes = [], observer = new MutationObserver(() => changes.push(performance.now()));
observer.observe(table, {{subtree: true, childList: true, characterData: true}});
const seen = window.__fb.requests.length, start = performance.now();
(function wait() {{
  const answered = window.__fb.requests.slice(seen).filter(r => r.body.includes('{ids.OVERVIEW}') && r.end !== null);
  for (const r of answered) {{
    const shown = changes.find(t => t >= r.end);
    if (shown !== undefined) {{ observer.disconnect(); return done([shown - r.start, [[r.start, r.end]]]); }}
  }}
  if (performance.now() - start > 20000) {{ observer.disconnect(); return done(null); }}
  setTimeout(wait, 5);
}})();
"""


@contextmanager
def terminal(url: str) -> Iterator[str]:
    """``python -m dashboard`` (waitress, as the run command serves it) on a free loopback port."""
    port = free_port()
    env = {
        **os.environ,
        "FLAMEBACK_DB_URL": url,
        "FLAMEBACK_DASH_PORT": str(port),
        "FLAMEBACK_DASH_HOST": "127.0.0.1",
        "FLAMEBACK_DASH_REFRESH_S": str(REFRESH_S),
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "dashboard"], cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: server.poll() is not None or _answers(base), 60, "the terminal to answer")
        if server.poll() is not None:
            raise RuntimeError(f"the terminal exited with {server.returncode}")
        yield base
    finally:
        server.terminate()
        server.wait(timeout=30)


def _answers(base: str) -> bool:
    try:
        return requests.get(base + "/", timeout=2).ok
    except requests.RequestException:
        return False


@contextmanager
def live_rows(url: str, names: list[str], first_day: int) -> Iterator[None]:
    """A new row for every symbol each half second, as a live worker writes them: refreshes have news to show."""
    stop = threading.Event()

    def write() -> None:
        engine, day = make_engine(url), first_day
        while not stop.wait(0.5):
            rows = [row for name in names for row in prediction_rows(name, 1, skip=day)[0]]
            insert_predictions(engine, sorted(rows, key=lambda r: r["symbol"]))
            day += 1
        engine.dispose()

    writer = threading.Thread(target=write, name="live-rows", daemon=True)
    writer.start()
    try:
        yield
    finally:
        stop.set()
        writer.join(timeout=10)


@contextmanager
def browser() -> Iterator[webdriver.Chrome]:
    driver = webdriver.Chrome(options=chromium_options(), service=Service(str(CHROMEDRIVER)))
    driver.set_script_timeout(30)
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": FETCH_TIMER})
    try:
        yield driver
    finally:
        driver.quit()


def first_view(driver: webdriver.Chrome, url: str, ready: str) -> tuple[float, float]:
    """(ms from navigation start to ``ready``, ms of callback round trips before it)."""
    driver.get(url)
    at = driver.execute_async_script(WAIT_FOR, ready)
    if at is None:
        raise RuntimeError(f"{url}: the view never became ready")
    spans = driver.execute_script(
        "return window.__fb.requests.filter(r => r.end !== null && r.end <= arguments[0]).map(r => [r.start, r.end])",
        at,
    )
    return at, in_flight(spans)


def in_flight(spans: list[list[float]]) -> float:
    """Milliseconds during which at least one callback request was on its way (overlaps counted once)."""
    total, reach = 0.0, float("-inf")
    for start, end in sorted(spans):
        if end > reach:
            total += end - max(start, reach)
            reach = end
    return total


def open_picker(driver: webdriver.Chrome) -> None:
    """Open the symbol picker (not timed): the change is timed from the click on an option."""
    driver.find_element(By.ID, ids.SYMBOL).click()
    shown = "return document.querySelectorAll('.dash-dropdown-option').length > 0"
    if driver.execute_async_script(WAIT_FOR, shown) is None:
        raise RuntimeError("the symbol picker did not open")


def _median(pairs: list[tuple[float, float]]) -> tuple[float, float]:
    return statistics.median(p[0] for p in pairs), statistics.median(p[1] for p in pairs)


def run(rows: int = 44_070, symbols: int = 39, reps: int = 7) -> list[dict[str, Any]]:
    path = Path(tempfile.gettempdir()) / f"flameback-bench-browser-{rows}-{symbols}.db"
    url = build_database(path, rows, symbols)
    names = bench_symbols(symbols)
    results: dict[str, list[tuple[float, float]]] = {
        k: [] for k in ("overview first view", "symbol first view", "symbol change", "overview refresh")
    }
    with terminal(url) as base, browser() as driver, live_rows(url, names, rows // symbols + 1):
        overview_ready = OVERVIEW_FILLED.format(n=min(symbols, 10))
        results["overview first view, cold browser cache"] = [first_view(driver, base + "/", overview_ready)]
        for i in range(reps):
            results["overview first view"].append(first_view(driver, base + "/", overview_ready))
            refresh = driver.execute_async_script(OVERVIEW_REFRESH)
            results["overview refresh"].append(None if refresh is None else (refresh[0], in_flight(refresh[1])))
            symbol = names[i % len(names)]
            results["symbol first view"].append(
                first_view(driver, f"{base}/?symbol={symbol.replace(' ', '%20')}", CHARTS_DRAWN)
            )
            open_picker(driver)
            change = driver.execute_async_script(SYMBOL_CHANGE, names[(i + 1) % len(names)])
            results["symbol change"].append(None if change is None else (change[0], in_flight(change[1])))
    if any(v is None for values in results.values() for v in values):
        raise RuntimeError("a measurement timed out in the page")
    return [
        {
            "name": name,
            "browser_ms": _median(values)[0],
            "server_ms": _median(values)[1],
            "reps": len(values),
            "worst_ms": max(v[0] for v in values),
        }
        for name, values in results.items()
    ]


def _target(name: str) -> float | None:
    return next((ms for key, ms in TARGETS_MS.items() if name.endswith(key) or name == key), None)


def table_rows(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """For ``python -m bench``: the browser's time, with the callbacks' round trips as the baseline column."""
    return [
        {
            "name": f"browser: {r['name']} (baseline: callback round trips)",
            "figure": r["browser_ms"],
            "baseline": r["server_ms"],
            "ratio": None,
            "unit": "ms",
            "better": "lower",
        }
        for r in results
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=44_070)
    parser.add_argument("--symbols", type=int, default=39)
    parser.add_argument("--reps", type=int, default=7)
    args = parser.parse_args()
    results = run(args.rows, args.symbols, args.reps)
    print(f"terminal in headless Chromium, {args.rows:,} rows, {args.symbols} symbols, median of {args.reps}")
    print(f"{'view':<22}{'browser ms':>12}{'worst ms':>10}{'callbacks ms':>14}{'target ms':>11}")
    for r in results:
        target = _target(r["name"])
        print(
            f"{r['name']:<22}{r['browser_ms']:>12.0f}{r['worst_ms']:>10.0f}{r['server_ms']:>14.0f}"
            f"{target if target else '-':>11}"
        )


if __name__ == "__main__":
    main()
