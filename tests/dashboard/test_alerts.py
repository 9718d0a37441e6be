"""The terminal's alerts (dashboard/alerts.py) on a real SQLite file: log, toast of new alerts only, add a rule."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from dashboard import alerts as terminal
from dashboard.callbacks import Source
from dashboard.queries import reader_engine
from dashboard.symbols import load_symbol_sheet
from flameback_app.storage import db, schema
from flameback_app.worker.alert_rules import terminal_rules


def alert_row(n: int) -> dict:
    when = datetime(2026, 1, 5, 9, 30) + timedelta(minutes=n)
    return {
        "rule_key": "file:rsi",
        "rule_name": "RSI crosses 70/30 on any symbol",
        "kind": "rsi_cross",
        "symbol": "ES1 Index",
        "timestamp": when,
        "seq": 0,
        "fired_at": when,
        "message": f"ES1 Index: alert {n}",
        "details_json": "{}",
    }


@pytest.fixture
def source(tmp_path: Path) -> Source:
    url = f"sqlite:///{tmp_path / 'flameback.db'}"
    writer = db.make_engine(url)
    schema.upgrade(writer)
    db.insert_alerts(writer, [alert_row(1), alert_row(2)])
    writer.dispose()
    return Source(url, reader_engine(url), load_symbol_sheet(None))


def texts(component) -> str:
    """Every string inside a Dash component tree, joined."""
    if component is None:
        return ""
    if isinstance(component, str | int | float):
        return str(component)
    if isinstance(component, list | tuple):
        return " ".join(texts(c) for c in component)
    return texts(getattr(component, "children", None))


def test_first_read_only_remembers_then_new_alerts_toast(source: Source) -> None:
    log, toast, css, seen = terminal.alerts_update(source, None)
    assert "alert 2" in texts(log) and "alert 1" in texts(log)
    assert toast is None and css == "alert-toast" and seen == 2  # history is not toasted on page load
    writer = db.make_engine(source.url)
    db.insert_alerts(writer, [alert_row(3), alert_row(4)])
    writer.dispose()
    log, toast, css, seen = terminal.alerts_update(source, seen)
    assert "ES1 Index: alert 4" in texts(toast) and "+1 more" in texts(toast)
    assert css == "alert-toast show" and seen == 4
    assert texts(log).index("alert 4") < texts(log).index("alert 1")  # newest first
    assert terminal.alerts_update(source, seen)[2] == "alert-toast"  # nothing new: no toast


def test_a_rule_added_in_the_terminal_is_stored_for_the_worker(source: Source) -> None:
    answer = terminal.add_rule(source, "rsi_cross", " CL1 Comdty ", 75, 25, None)
    assert answer.startswith("rule #1 added: RSI crosses 75/25 on CL1 Comdty")
    writer = db.make_engine(source.url)
    loaded = terminal_rules(db.enabled_alert_rules(writer))
    writer.dispose()
    assert [(k.key, k.rule.kind, k.rule.symbol, k.rule.upper, k.rule.lower) for k in loaded.rules] == [
        ("terminal:1", "rsi_cross", "CL1 Comdty", 75, 25)
    ]


def test_a_bad_rule_is_refused_with_the_reason(source: Source) -> None:
    assert terminal.add_rule(source, "rsi_cross", "*", 20, 30, None) == "not added: lower (30) must be below upper (20)"
    assert terminal.add_rule(source, "model_up", "*", None, None, 1.5).startswith("not added: min_hit_rate")


def test_no_database_file_is_a_line_not_a_crash(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'none.db'}"
    source = Source(url, reader_engine(url), load_symbol_sheet(None))
    assert (
        terminal.add_rule(source, "consensus_flip", "*", None, None, None)
        == "not added: no database yet (start the worker)"
    )
    assert not (tmp_path / "none.db").exists()
    assert "NO DATABASE" in texts(terminal.alerts_update(source, None)[0])
