"""Alert rules and their evaluation: once per crossing, cooldown, consensus flip, hit-rate gate, rule-file errors."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from flameback_app.settings import Settings
from flameback_app.storage import db
from flameback_app.worker.alert_rules import AlertRule, KeyedRule, load_rule_file, rule_spec_json, terminal_rules
from flameback_app.worker.alert_service import AlertService
from flameback_app.worker.alerts import AlertEngine, majority
from models.columns import MODEL_COLUMNS

T0 = datetime(2026, 1, 5, 9, 30)


def tick(
    i: int,
    symbol: str = "ES1 Index",
    rsi: float | None = 50.0,
    calls: tuple[str, ...] = ("NEUTRAL",) * 4,
    seconds: float = 60.0,
) -> dict:
    """A stored row as the worker builds it (only what alerts read), ``seconds`` apart."""
    return {
        "symbol": symbol,
        "timestamp": T0 + timedelta(seconds=i * seconds),
        "seq": 0,
        "rsi_14": rsi,
        **dict(zip(MODEL_COLUMNS, calls, strict=True)),
    }


def engine_for(*rules: AlertRule, cooldown_s: float = 0.0) -> AlertEngine:
    return AlertEngine([KeyedRule(f"file:{n}", r) for n, r in enumerate(rules)], cooldown_s)


def fire_all(engine: AlertEngine, rows: list[dict], scores: list[dict] | None = None) -> list[list[str]]:
    """The messages each row fired, row by row."""
    scores = scores or [None] * len(rows)
    return [[a.message for a in engine.evaluate(row, score)] for row, score in zip(rows, scores, strict=True)]


def test_rsi_fires_once_per_crossing_each_way() -> None:
    engine = engine_for(AlertRule(kind="rsi_cross", upper=70, lower=30))
    path = [50, 69.9, 70.0, 75, 80, 72, 65, 71, 40, 30.5, 29, 25, 35, 28]
    fired = fire_all(engine, [tick(i, rsi=v) for i, v in enumerate(path)])
    hits = [(i, m) for i, msgs in enumerate(fired) for m in msgs]
    assert [i for i, _ in hits] == [2, 7, 10, 13]  # 69.9→70, 65→71, 30.5→29, 35→28: never while it stays beyond
    assert "crossed above 70" in hits[0][1] and "crossed below 30" in hits[2][1]


def test_levels_come_from_the_rule_and_warming_rows_never_fire() -> None:
    engine = engine_for(AlertRule(kind="rsi_cross", upper=80, lower=20))
    fired = fire_all(
        engine,
        [tick(0, rsi=None), tick(1, rsi=75), tick(2, rsi=None), tick(3, rsi=85), tick(4, rsi=79), tick(5, rsi=81)],
    )
    assert [len(m) for m in fired] == [0, 0, 0, 0, 0, 1]  # no crossing measured across a missing RSI


def test_cooldown_swallows_crossings_inside_it_on_tick_time() -> None:
    engine = engine_for(AlertRule(kind="rsi_cross", cooldown_s=300))  # ticks 60 s apart
    path = [60, 75, 60, 75, 60, 75, 60, 75]  # crosses up at ticks 1, 3, 5, 7
    fired = fire_all(engine, [tick(i, rsi=v) for i, v in enumerate(path)])
    assert [i for i, m in enumerate(fired) if m] == [1, 7]  # 3 and 5 are 120 s and 240 s after 1; 7 is 360 s


def test_default_cooldown_applies_when_the_rule_has_none() -> None:
    engine = engine_for(AlertRule(kind="rsi_cross"), cooldown_s=10_000)
    fired = fire_all(engine, [tick(i, rsi=v) for i, v in enumerate([60, 75, 60, 75])])
    assert [i for i, m in enumerate(fired) if m] == [1]


def test_cooldown_and_crossings_are_per_symbol() -> None:
    engine = engine_for(AlertRule(kind="rsi_cross", cooldown_s=3600))
    rows = [tick(0, "A", 60), tick(0, "B", 60), tick(1, "A", 75), tick(1, "B", 75)]
    assert [m != [] for m in fire_all(engine, rows)] == [False, False, True, True]


def test_symbol_filter() -> None:
    engine = engine_for(AlertRule(kind="rsi_cross", symbol="CL1 Comdty"))
    rows = [tick(0, "ES1 Index", 60), tick(1, "ES1 Index", 75), tick(0, "CL1 Comdty", 60), tick(1, "CL1 Comdty", 75)]
    assert [bool(m) for m in fire_all(engine, rows)] == [False, False, False, True]


def test_consensus_flip_fires_when_the_majority_changes_side() -> None:
    up, down, split = ("UP", "UP", "UP", "DOWN"), ("DOWN", "DOWN", "DOWN", "UP"), ("UP", "UP", "DOWN", "DOWN")
    training = ("TRAINING",) * 4
    engine = engine_for(AlertRule(kind="consensus_flip"))
    calls = [training, up, up, split, up, split, down, down, ("DOWN",) * 4, up]
    fired = fire_all(engine, [tick(i, calls=c) for i, c in enumerate(calls)])
    assert [i for i, m in enumerate(fired) if m] == [6, 9]  # a 2-2 split keeps the side; UP→split→UP is no flip
    assert "UP → DOWN (1/4 UP)" in fired[6][0] and "DOWN → UP (3/4 UP)" in fired[9][0]
    assert majority(dict(zip(MODEL_COLUMNS, split, strict=True))) is None


def score_with(model: str, recent: str) -> dict:
    return {"signals": {model: {"n": len(recent), "hits": recent.count("1"), "up_hits": 0, "recent": recent}}}


def test_model_up_needs_a_good_enough_live_hit_rate_and_fires_when_it_starts_calling_up() -> None:
    rule = AlertRule(kind="model_up", min_hit_rate=0.6, window=20, min_calls=10, models=("XGBoost",))
    engine = engine_for(rule)
    good, poor, few = (
        score_with("XGBoost", "1101" * 5),
        score_with("XGBoost", "10" * 10),
        score_with("XGBoost", "1" * 9),
    )
    up, down = ("UP", "DOWN", "DOWN", "DOWN"), ("DOWN",) * 4
    steps = [(up, few), (up, poor), (up, good), (up, good), (down, good), (up, good), (up, poor), (up, good)]
    fired = fire_all(engine, [tick(i, calls=c) for i, (c, _s) in enumerate(steps)], [s for _c, s in steps])
    assert [i for i, m in enumerate(fired) if m] == [2, 5, 7]  # 9 calls: no rate; 50 %: too low; held at 3
    assert "XGBoost (75% of last 20)" in fired[2][0]


def test_a_rule_kept_across_a_reload_keeps_its_memory() -> None:
    rule = KeyedRule("terminal:1", AlertRule(kind="rsi_cross", cooldown_s=3600))
    engine = AlertEngine([rule], 0)
    assert fire_all(engine, [tick(0, rsi=60), tick(1, rsi=75)]) == [[], ["ES1 Index: RSI 75.0 crossed above 70"]]
    engine.set_rules([rule, KeyedRule("terminal:2", AlertRule(kind="consensus_flip"))])
    assert fire_all(engine, [tick(2, rsi=60), tick(3, rsi=75)]) == [[], []]  # still cooling down


def test_rule_file_errors_are_one_line_each_and_the_other_rules_load(tmp_path: Path) -> None:
    path = tmp_path / "alerts.toml"
    path.write_text("""# trader's alerts
[[rule]]
name = "ES overbought"
kind = "rsi_cross"
symbol = "ES1 Index"

[[rule]]
kind = "rsi_cros"
symbol = "CL1 Comdty"

[[rule]]
kind = "consensus_flip"
symbol = "GC1 Comdty

[[rule]]
kind = "model_up"
min_hit_rate = 0.6
colour = "red"

[[rule]]
kind = "rsi_cross"
upper = 20
lower = 30

[[rule]]
kind = "model_up"
models = ["XGBoost", "Prophet"]

[[rule]]
kind = "consensus_flip"
""")
    load = load_rule_file(path)
    assert [(k.key, k.rule.kind) for k in load.rules] == [
        ("file:ES overbought", "rsi_cross"),
        ("file:line-29", "consensus_flip"),
    ]
    assert all("\n" not in line and line.startswith(f"{path}:") for line in load.errors)
    assert [line.removeprefix(f"{path}:").split(":")[0] for line in load.errors] == ["8", "13", "18", "20", "27"]
    assert "kind: Input should be 'consensus_flip', 'rsi_cross' or 'model_up'" in load.errors[0]
    assert "invalid TOML" in load.errors[1]
    assert "colour: unknown key" in load.errors[2]
    assert "lower (30) must be below upper (20)" in load.errors[3]
    assert "unknown model Prophet" in load.errors[4]


def test_a_missing_rule_file_is_one_line(tmp_path: Path) -> None:
    load = load_rule_file(tmp_path / "nope.toml")
    assert load.rules == [] and len(load.errors) == 1 and "nope.toml: cannot read" in load.errors[0]


def test_keys_outside_a_rule_table_are_reported(tmp_path: Path) -> None:
    path = tmp_path / "alerts.toml"
    path.write_text('kind = "rsi_cross"\n\n[[rule]]\nkind = "rsi_cross"\n')
    load = load_rule_file(path)
    assert len(load.rules) == 1 and load.errors == [f"{path}:1: expected [[rule]] tables (found keys outside one)"]


def test_worker_logs_the_file_errors_and_evaluates_the_good_rules(tmp_path: Path, caplog) -> None:
    path = tmp_path / "alerts.toml"
    path.write_text('[[rule]]\nkind = "rsi_cross"\nupper = 200\n\n[[rule]]\nkind = "rsi_cross"\nupper = 80\n')
    with caplog.at_level(logging.ERROR, logger="flameback_app.alert_service"):
        service = AlertService(Settings(alert_rules=path, alert_cooldown_s=0))
        assert caplog.records == []  # building the app (any command does) reads nothing
        assert [a.message for a in service.evaluate(tick(1, rsi=85), None)] == []
    assert [r.getMessage() for r in caplog.records] == [
        f"alert rule skipped: {path}:3: upper: Input should be less than 100"
    ]
    assert [a.message for a in service.evaluate(tick(2, rsi=60), None)] == []
    assert [a.message for a in service.evaluate(tick(3, rsi=81), None)] == ["ES1 Index: RSI 81.0 crossed above 80"]


def test_terminal_rules_round_trip_and_join_the_file_rules(tmp_path: Path) -> None:
    rule = AlertRule(kind="rsi_cross", symbol="CL1 Comdty", upper=65)
    spec = rule_spec_json(rule)
    assert json.loads(spec) == {"kind": "rsi_cross", "symbol": "CL1 Comdty", "upper": 65.0}
    load = terminal_rules([(7, spec), (8, '{"kind": "nope"}')])
    assert [(k.key, k.rule) for k in load.rules] == [("terminal:7", rule)]
    assert len(load.errors) == 1 and load.errors[0].startswith("alert_rules id 8:")
    service = AlertService(Settings(alert_cooldown_s=0))
    assert service.evaluate(tick(0, "CL1 Comdty", 60), None) == []
    service.use_terminal_rules([(7, spec)])
    assert service.evaluate(tick(1, "CL1 Comdty", 60), None) == []
    assert [a.rule_key for a in service.evaluate(tick(2, "CL1 Comdty", 66), None)] == ["terminal:7"]


def test_alerts_are_stored_once_per_rule_and_tick(tmp_path: Path) -> None:
    engine = db.make_engine(f"sqlite:///{tmp_path / 'a.db'}")
    db.metadata.create_all(engine)
    alerts = engine_for(AlertRule(kind="rsi_cross"))
    fired = [a for row in (tick(0, rsi=60), tick(1, rsi=75)) for a in alerts.evaluate(row, None)]
    now = datetime(2026, 1, 5, 10, 0)
    rows = [a.row(now) for a in fired]
    assert db.insert_alerts(engine, rows) == 1
    assert db.insert_alerts(engine, rows) == 0  # the same tick delivered again after a restart
    with engine.connect() as conn:
        stored = conn.execute(db.alerts.select()).mappings().one()
    assert stored["symbol"] == "ES1 Index" and stored["timestamp"] == T0 + timedelta(seconds=60)
    assert json.loads(stored["details_json"]) == {"level": 70.0, "previous": 60.0, "rsi": 75.0}
    engine.dispose()


@pytest.mark.parametrize("bad", ["ftp://hooks.example/x", "hooks.example/x"])
def test_webhook_url_must_be_http(bad: str) -> None:
    with pytest.raises(ValueError, match="FLAMEBACK_ALERT_WEBHOOK_URL must be an http"):
        Settings(alert_webhook_url=bad)
