"""The terminal's alerts in headless Chromium: a new alert is toasted and logged, a rule added in the form is stored."""

from __future__ import annotations

from datetime import datetime

import pytest
from dash.testing.composite import DashComposite

from dashboard import alerts as terminal
from flameback_app.storage import db
from flameback_app.worker.alert_rules import terminal_rules
from tests.support.seed import seed_database
from tests.support.terminal import assert_console_clean, start, text_of, wait_text

pytestmark = pytest.mark.browser


def alert(n: int, message: str) -> dict:
    when = datetime(2026, 1, 5, 9, 30 + n)
    return {
        "rule_key": "file:rsi",
        "rule_name": "RSI 70/30",
        "kind": "rsi_cross",
        "symbol": "ES1 Index",
        "timestamp": when,
        "seq": 0,
        "fired_at": when,
        "message": message,
        "details_json": "{}",
    }


def test_a_new_alert_is_toasted_and_logged_and_a_rule_is_added(dash_duo: DashComposite, free_port, db_url) -> None:
    engine = seed_database(db_url, {"ES1 Index": 60})
    db.insert_alerts(engine, [alert(0, "ES1 Index: an old alert")])
    start(dash_duo, free_port(), db_url)
    wait_text(dash_duo, terminal.LOG, lambda t: "an old alert" in t)
    assert text_of(dash_duo, terminal.TOAST) == ""  # history is not toasted when the page opens

    db.insert_alerts(engine, [alert(1, "ES1 Index: RSI 71.2 crossed above 70")])
    toast = wait_text(dash_duo, terminal.TOAST, lambda t: "crossed above 70" in t)
    assert toast == "ALERT ES1 Index: RSI 71.2 crossed above 70"
    assert dash_duo.find_element(f"#{terminal.TOAST}").is_displayed()
    log = text_of(dash_duo, terminal.LOG)
    assert log.index("crossed above 70") < log.index("an old alert")  # newest first

    symbol = dash_duo.find_element(f"#{terminal.SYMBOL}")
    symbol.clear()
    symbol.send_keys("CL1 Comdty")
    dash_duo.find_element(f"#{terminal.ADD}").click()
    wait_text(dash_duo, terminal.FORM_STATUS, lambda t: t.startswith("rule #1 added"))
    stored = terminal_rules(db.enabled_alert_rules(engine)).rules
    assert [(k.key, k.rule.kind, k.rule.symbol, k.rule.upper, k.rule.lower) for k in stored] == [
        ("terminal:1", "rsi_cross", "CL1 Comdty", 70, 30)
    ]
    engine.dispose()
    assert_console_clean(dash_duo)
