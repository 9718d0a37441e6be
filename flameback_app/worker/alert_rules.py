"""Alert rules: what each kind means, and reading them from a TOML file or the terminal's table.

Reads only the file or the rows it is given. A rule file is a list of ``[[rule]]``
tables::

    [[rule]]
    kind = "rsi_cross"          # or "consensus_flip", "model_up"
    symbol = "ES1 Index"        # default "*": every symbol
    upper = 70
    lower = 30

Each ``[[rule]]`` table is parsed on its own, so a mistake in one (bad TOML, an
unknown key, a value out of range) costs only that rule: it becomes one line naming
the file, the line and the reason, and every other rule still loads. A rule file that
cannot be read at all is one such line too, never an exception in the worker.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from models.columns import MODEL_COLUMNS

RULE_HEADER = re.compile(r"^\s*\[\[\s*rule\s*\]\]\s*(#.*)?$")
TOML_POSITION = re.compile(r"\(at line (\d+), column (\d+)\)")
FILE_PREFIX = "file:"
TERMINAL_PREFIX = "terminal:"
Kind = Literal["consensus_flip", "rsi_cross", "model_up"]
KINDS: tuple[str, ...] = ("consensus_flip", "rsi_cross", "model_up")


class AlertRule(BaseModel):
    """One rule. Unknown keys are refused (a typo must not silently become a default)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Kind
    symbol: str = Field("*", min_length=1, description='A symbol, or "*" for every symbol.')
    name: str | None = Field(None, max_length=128)
    cooldown_s: float | None = Field(None, ge=0, description="Default: FLAMEBACK_ALERT_COOLDOWN_S.")
    upper: float = Field(70.0, gt=0, lt=100, description="rsi_cross: fires when RSI rises through this.")
    lower: float = Field(30.0, gt=0, lt=100, description="rsi_cross: fires when RSI falls through this.")
    min_hit_rate: float = Field(0.55, ge=0, le=1, description="model_up: the model's live hit rate must be above.")
    window: Literal[20, 60, 250] = Field(60, description="model_up: hit rate over the model's last N scored calls.")
    min_calls: int = Field(20, ge=1, description="model_up: fewer scored calls than this: no rate to trust yet.")
    models: tuple[str, ...] = Field(MODEL_COLUMNS, min_length=1, description="model_up: which models to watch.")

    @field_validator("models")
    @classmethod
    def _known_models(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [m for m in value if m not in MODEL_COLUMNS]
        if unknown:
            raise ValueError(f"unknown model {', '.join(unknown)} (models: {', '.join(MODEL_COLUMNS)})")
        return value

    @model_validator(mode="after")
    def _levels_in_order(self) -> AlertRule:
        if self.lower >= self.upper:
            raise ValueError(f"lower ({self.lower:g}) must be below upper ({self.upper:g})")
        return self

    def title(self) -> str:
        """The rule's name, or a description built from its settings."""
        if self.name:
            return self.name
        where = "any symbol" if self.symbol == "*" else self.symbol
        if self.kind == "rsi_cross":
            return f"RSI crosses {self.upper:g}/{self.lower:g} on {where}"
        if self.kind == "model_up":
            return f"model with hit rate > {self.min_hit_rate:.0%} calls UP on {where}"
        return f"consensus flips on {where}"


@dataclass(frozen=True)
class KeyedRule:
    """A rule and its stable key (``file:<name or position>`` or ``terminal:<id>``): alerts are stored under it."""

    key: str
    rule: AlertRule


@dataclass(frozen=True)
class RuleLoad:
    rules: list[KeyedRule]
    errors: list[str]  # one line each: "<file>:<line>: <reason>"


def load_rule_file(path: Path) -> RuleLoad:
    """Every valid rule in ``path``; each broken ``[[rule]]`` table becomes one error line instead."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return RuleLoad([], [f"{path}: cannot read the alert rule file ({exc.__class__.__name__}: {exc})"])
    rules, errors = [], []
    for first_line, block in _rule_blocks(text):
        rule, error = _parse_block(block, first_line)
        if error:
            errors.append(f"{path}:{error}")
        elif rule is not None:
            key = FILE_PREFIX + (rule.name or f"line-{first_line}")
            rules.append(KeyedRule(key, rule))
    return RuleLoad(rules, errors)


def _rule_blocks(text: str) -> Iterable[tuple[int, str]]:
    """(first line number, text) of each ``[[rule]]`` table, and of anything before the first one."""
    lines = text.splitlines()
    starts = [i for i, line in enumerate(lines) if RULE_HEADER.match(line)]
    if not starts or any(_meaningful(line) for line in lines[: starts[0]]):
        yield 1, "\n".join(lines[: starts[0] if starts else len(lines)])
    for n, start in enumerate(starts):
        end = starts[n + 1] if n + 1 < len(starts) else len(lines)
        yield start + 1, "\n".join(lines[start:end])


def _meaningful(line: str) -> bool:
    stripped = line.strip()
    return bool(stripped) and not stripped.startswith("#")


def _parse_block(block: str, first_line: int) -> tuple[AlertRule | None, str | None]:
    """The block's rule, or an error "<line>: <reason>" with the line counted in the whole file."""
    try:
        tables = tomllib.loads(block).get("rule")
    except tomllib.TOMLDecodeError as exc:
        return None, _toml_error(str(exc), first_line)
    if not tables:
        return (
            (None, None)
            if not any(map(_meaningful, block.splitlines()))
            else (None, f"{first_line}: expected [[rule]] tables (found keys outside one)")
        )
    if not isinstance(tables, list) or len(tables) != 1:
        return None, f"{first_line}: expected one [[rule]] table here"
    try:
        return AlertRule.model_validate(tables[0]), None
    except ValidationError as exc:
        return None, _validation_error(exc, block, first_line)


def _toml_error(message: str, first_line: int) -> str:
    found = TOML_POSITION.search(message)
    line = first_line + int(found.group(1)) - 1 if found else first_line
    reason = TOML_POSITION.sub("", message).strip()
    column = f" (column {found.group(2)})" if found else ""
    return f"{line}: invalid TOML: {reason}{column}"


def _validation_error(exc: ValidationError, block: str, first_line: int) -> str:
    """The first problem, on the line of the key it is about (the table's header when it has no key)."""
    error = exc.errors(include_url=False, include_input=False)[0]
    key = str(error["loc"][0]) if error["loc"] else None
    line = first_line
    if key:
        pattern = re.compile(rf"^\s*{re.escape(key)}\s*=")
        line += next((i for i, text in enumerate(block.splitlines()) if pattern.match(text)), 0)
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        message = f"unknown key (keys: {', '.join(AlertRule.model_fields)})"
    return f"{line}: {key + ': ' if key else ''}{message}"


def terminal_rules(rows: Iterable[tuple[int, str]]) -> RuleLoad:
    """Rules stored by the terminal (``alert_rules`` rows); a row that no longer validates is an error line."""
    rules, errors = [], []
    for rule_id, spec in rows:
        try:
            rules.append(KeyedRule(f"{TERMINAL_PREFIX}{rule_id}", AlertRule.model_validate(json.loads(spec))))
        except (ValueError, ValidationError) as exc:  # json's JSONDecodeError is a ValueError
            errors.append(f"alert_rules id {rule_id}: {' '.join(str(exc).split())}")
    return RuleLoad(rules, errors)


def rule_spec_json(rule: AlertRule) -> str:
    """What the terminal stores for a rule: only the keys set, so defaults stay defaults."""
    return json.dumps(rule.model_dump(exclude_unset=True, mode="json"), sort_keys=True)
