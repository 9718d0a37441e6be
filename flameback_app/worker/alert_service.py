"""Alerts in a worker: the rules in force, their evaluation on each stored row, storage and the webhook.

Faust-free: the prediction stage (:mod:`agents.predict`) calls :meth:`AlertService.evaluate`
for each row it writes and :meth:`AlertService.fired` once the batch is stored; a timer
(:mod:`flameback_app.tasks.schedules`) reads the terminal's rules and hands them to
:meth:`AlertService.use_terminal_rules`: the only database read alerts make (one small query every ``FLAMEBACK_ALERT_RULES_REFRESH_S``,
never one per tick). File rules are read once, when the worker starts (or on its first
row): a broken rule is one error line in the log, and the others work.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from flameback_app.settings import Settings
from flameback_app.worker.alert_rules import KeyedRule, RuleLoad, load_rule_file, terminal_rules
from flameback_app.worker.alerts import Alert, AlertEngine
from flameback_app.worker.webhook import WebhookSender

log = logging.getLogger(__name__)


class AlertService:
    """One worker's alerting: file rules + terminal rules → :class:`~flameback_app.alerts.AlertEngine`."""

    def __init__(self, settings: Settings) -> None:
        """Nothing is read here (any command builds the Faust app): the rule file is read on first use."""
        self.settings = settings
        self.file_rules: list[KeyedRule] | None = None
        self.engine = AlertEngine([], settings.alert_cooldown_s)
        self._terminal_errors: set[str] = set()
        self.webhook = webhook_sender(settings)

    def load_file_rules(self) -> list[KeyedRule]:
        """The rule file's rules, read (and its errors logged, one line each) once."""
        if self.file_rules is None:
            self.file_rules = []
            path = self.settings.alert_rules
            if path is not None:
                self.file_rules = _logged(load_rule_file(path)).rules
                log.info("alert rules: %d from %s", len(self.file_rules), path)
            self.engine.set_rules([*self.file_rules, *self.engine.rules])
        return self.file_rules

    def evaluate(self, row: Mapping[str, Any], score: Mapping[str, Any] | None) -> list[Alert]:
        """The alerts this row fires (call once per row, in tick order, after scoring it)."""
        if self.file_rules is None:
            self.load_file_rules()
        return self.engine.evaluate(row, score) if self.engine.rules else []

    def use_terminal_rules(self, rows: Sequence[tuple[int, str]]) -> None:
        """Put the terminal's rules (``alert_rules`` rows, read off the event loop) in force beside the file's.

        Called on the event loop, like :meth:`evaluate`, so the rules never change in the middle of a batch.
        """
        loaded = terminal_rules(rows)
        for line in set(loaded.errors) - self._terminal_errors:
            log.error("alert rule skipped: %s", line)
        self._terminal_errors = set(loaded.errors)
        file_rules = self.load_file_rules()
        rules = [*file_rules, *loaded.rules]
        if [(k.key, k.rule) for k in rules] != [(k.key, k.rule) for k in self.engine.rules]:
            self.engine.set_rules(rules)
            log.info("alert rules: %d from the file, %d from the terminal", len(file_rules), len(loaded.rules))

    def rows(self, alerts: Sequence[Alert], fired_at: datetime) -> list[dict[str, Any]]:
        return [alert.row(fired_at) for alert in alerts]

    def fired(self, alerts: Sequence[Alert], fired_at: datetime) -> None:
        """After the alerts are stored: log them and hand them to the webhook (never waits for it)."""
        for alert in alerts:
            log.info("alert: %s [%s]", alert.message, alert.rule_name)
            if self.webhook is not None:
                self.webhook.submit(alert.payload(fired_at))


def webhook_sender(settings: Settings) -> WebhookSender | None:
    """The webhook sender when FLAMEBACK_ALERT_WEBHOOK_URL is set."""
    if settings.alert_webhook_url is None:
        return None
    url = settings.alert_webhook_url.get_secret_value()
    return WebhookSender(url, attempts=settings.alert_webhook_attempts, queue_size=settings.alert_webhook_queue)


def _logged(load: RuleLoad) -> RuleLoad:
    for line in load.errors:
        log.error("alert rule skipped: %s", line)
    return load
