"""Alerts end to end: the real worker fires them on the rows it stores, stores them, POSTs them; the terminal shows them.

One worker on the real embedded broker replays a price path built to push RSI through
its levels. Rules come from a rule file (with one broken rule: one log line, the rest
work) and from the terminal's table (added before the worker starts). The stored
alerts must be exactly what the pure rule engine finds on the stored rows, each POSTed
to a loopback webhook whose URL holds a token the worker's log must not show.
"""

from __future__ import annotations

import csv
import json
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select

from dashboard import alerts as terminal
from dashboard.callbacks import Source
from dashboard.queries import reader_engine
from dashboard.symbols import load_symbol_sheet
from flameback_app.storage import db, schema
from flameback_app.worker.alert_rules import AlertRule, load_rule_file, terminal_rules
from flameback_app.worker.alerts import AlertEngine
from tests.support.harness import Stack, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]
SYMBOL = "ALRT Index"
TOKEN = "tok-9f8e7d"
RULES = """[[rule]]
name = "RSI 70/30"
kind = "rsi_cross"
symbol = "ALRT Index"

[[rule]]
kind = "rsi_cross"
upper = "high"
"""


def price_path() -> list[float]:
    """Sideways (RSI near 50), a steady rise (through 70), a steady fall (through 30), a rise again."""
    prices, price = [], 100.0
    for step in [1.0, -1.0] * 10 + [1.5] * 12 + [-1.5] * 25 + [1.5] * 12:
        price += step
        prices.append(round(price, 2))
    return prices


class Hooks(ThreadingHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), HookHandler)
        self.bodies: list[dict] = []


class HookHandler(BaseHTTPRequestHandler):
    server: Hooks

    def do_POST(self) -> None:  # http.server calls it by this name
        self.server.bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def hooks() -> Iterator[Hooks]:
    server = Hooks()
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def test_the_worker_fires_stores_and_posts_alerts_and_the_terminal_shows_them(stack: Stack, hooks: Hooks) -> None:
    rule_file = stack.root / "alerts.toml"
    rule_file.write_text(RULES)
    engine = db.make_engine(stack.database_url)
    schema.upgrade(engine)  # the terminal adds a rule before the worker starts: the worker reads it at start
    terminal.store_rule(engine, AlertRule(kind="rsi_cross", symbol=SYMBOL, upper=60, lower=40))
    engine.dispose()
    start = datetime(2024, 1, 2)
    prices = price_path()
    ticks = stack.root / "ticks.csv"
    with ticks.open("w", newline="") as handle:
        csv.writer(handle).writerows(
            [
                ("symbol", "price", "timestamp"),
                *((SYMBOL, p, (start + timedelta(days=i)).isoformat()) for i, p in enumerate(prices)),
            ]
        )

    stack.start_worker(
        FLAMEBACK_ALERT_RULES=str(rule_file),
        FLAMEBACK_ALERT_COOLDOWN_S="0",
        FLAMEBACK_ALERT_WEBHOOK_URL=f"http://127.0.0.1:{hooks.server_address[1]}/hook/{TOKEN}",
    )
    stack.wait_assigned()
    stack.run_command("replay", str(ticks), "--max", "--no-progress")
    stack.wait_rows(len(prices), timeout=60)

    reader = db.make_engine(stack.database_url)
    with reader.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(select(db.predictions).order_by(db.predictions.c.timestamp))]
        spec_rows = db.enabled_alert_rules(reader)
    expected_engine = AlertEngine([*load_rule_file(rule_file).rules, *terminal_rules(spec_rows).rules], 0)
    expected = sorted((a.rule_key, a.timestamp, a.message) for row in rows for a in expected_engine.evaluate(row))
    assert {key for key, _t, _m in expected} == {"file:RSI 70/30", "terminal:1"}  # the path crosses both rules' levels
    assert any("crossed above 70" in m for *_k, m in expected) and any("crossed below 30" in m for *_k, m in expected)

    def stored() -> list[tuple]:
        with reader.connect() as conn:
            return sorted(
                tuple(r) for r in conn.execute(select(db.alerts.c.rule_key, db.alerts.c.timestamp, db.alerts.c.message))
            )

    wait_for(lambda: len(stored()) >= len(expected), 10, "the alerts to be stored")
    assert stored() == expected
    wait_for(lambda: len(hooks.bodies) >= len(expected), 10, "the webhook POSTs")
    assert sorted((b["rule_key"], b["message"]) for b in hooks.bodies) == sorted((k, m) for k, _t, m in expected)

    log = (stack.root / "worker-w1.log").read_text()
    broken = [line for line in log.splitlines() if "alert rule skipped" in line]
    assert len(broken) == 1 and f"{rule_file}:8: upper: Input should be a valid number" in broken[0]
    assert TOKEN not in log

    source = Source(stack.database_url, reader_engine(stack.database_url), load_symbol_sheet(None))
    log_view, toast, css, seen = terminal.alerts_update(source, 0)
    assert css == "alert-toast show" and seen == len(expected)
    with reader.connect() as conn:
        newest = conn.execute(select(db.alerts.c.message).order_by(db.alerts.c.id.desc()).limit(1)).scalar_one()
    assert newest in toast.children and f" (+{len(expected) - 1} more in the log)" in toast.children
    assert len(log_view.children[1].children) == len(expected)
    reader.dispose()
