"""Validation of raw tick payloads from ``futures-ticks`` (pure: bytes in, Tick or a reason out).

The topic is open to any producer, so nothing is trusted: a payload is bytes, at
most 64 KB, UTF-8 JSON, an object with ``symbol`` (1–64 printable characters),
``price`` (a finite JSON number, not a bool or a string) and ``timestamp`` (ISO 8601
or ``YYYY-MM-DD HH:MM:SS``; a ``date`` alone means that day at midnight). Every
rejection carries a short machine-readable reason (the DLQ and counters key on it)
and a human detail.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime

from flameback_app.records import Tick

MAX_PAYLOAD_BYTES = 64 * 1024
MAX_SYMBOL_LEN = 64

REASONS = (
    "too_large", "not_utf8", "invalid_json", "not_object", "missing_field",
    "bad_symbol", "bad_price", "non_finite_price", "bad_timestamp",
)  # fmt: skip


class InvalidTick(ValueError):
    """A payload that is not a valid tick; ``reason`` is one of :data:`REASONS`."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason, self.detail = reason, detail


def parse_tick(payload: bytes | None) -> Tick:
    """Decode and validate one payload; raise :class:`InvalidTick` with the first problem found."""
    if payload is None:
        raise InvalidTick("missing_field", "empty message (no value)")
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise InvalidTick("too_large", f"{len(payload)} bytes > {MAX_PAYLOAD_BYTES}")
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidTick("not_utf8", f"byte {exc.start} is not UTF-8") from None
    try:
        obj = json.loads(text, parse_constant=_reject_constant)
    except (json.JSONDecodeError, RecursionError, _NonFinite) as exc:
        raise InvalidTick("invalid_json", str(exc)[:120]) from None
    if not isinstance(obj, dict):
        raise InvalidTick("not_object", f"expected a JSON object, got {type(obj).__name__}")
    return Tick(_symbol(obj), _price(obj), _timestamp(obj))


class _NonFinite(ValueError):
    pass


def _reject_constant(name: str) -> float:
    """``json`` accepts NaN/Infinity literals, which are not JSON; treat them as invalid JSON."""
    raise _NonFinite(f"{name} is not valid JSON")


def _symbol(obj: dict) -> str:
    if "symbol" not in obj:
        raise InvalidTick("missing_field", "no 'symbol'")
    symbol = obj["symbol"]
    if not isinstance(symbol, str):
        raise InvalidTick("bad_symbol", f"symbol must be a string, got {type(symbol).__name__}")
    if not 1 <= len(symbol) <= MAX_SYMBOL_LEN:
        raise InvalidTick("bad_symbol", f"symbol length {len(symbol)} not in 1..{MAX_SYMBOL_LEN}")
    if not symbol.isprintable() or symbol.strip() != symbol:
        raise InvalidTick("bad_symbol", "symbol has non-printable or leading/trailing space characters")
    return symbol


def _price(obj: dict) -> float:
    if "price" not in obj:
        raise InvalidTick("missing_field", "no 'price'")
    price = obj["price"]
    if isinstance(price, bool) or not isinstance(price, int | float):
        raise InvalidTick("bad_price", f"price must be a number, got {type(price).__name__}")
    try:
        value = float(price)
    except OverflowError:
        raise InvalidTick("non_finite_price", "price overflows a double") from None
    if not math.isfinite(value):
        raise InvalidTick("non_finite_price", f"price {value} is not finite")
    return value


def _timestamp(obj: dict) -> datetime:
    raw = obj.get("timestamp")
    if raw is None:
        raw = obj.get("date")
        if raw is None:
            raise InvalidTick("missing_field", "no 'timestamp' (or 'date')")
    if not isinstance(raw, str) or len(raw) > 40:
        raise InvalidTick("bad_timestamp", "timestamp must be an ISO 8601 string")
    try:
        value = datetime.fromisoformat(raw.strip())
    except ValueError:
        raise InvalidTick("bad_timestamp", f"{raw[:40]!r} is not ISO 8601") from None
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value
