"""Validation of raw tick payloads from ``futures-ticks`` (pure: bytes in, ticks or a reason out).

The topic is open to any producer, so nothing is trusted. A message is bytes, at most
512 KiB, UTF-8 JSON: either one tick object or an array of up to 10,000 tick objects
(a *packed* message, which the feeds send to spare the per-message cost). A tick
object has ``symbol`` (1–64 printable characters), ``price`` (a finite JSON number,
not a bool or a string) and ``timestamp`` (ISO 8601 or ``YYYY-MM-DD HH:MM:SS``; a
``date`` alone means that day at midnight). Every rejection carries a short
machine-readable reason (the DLQ and counters key on it) and a human detail.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from flameback_app.records import Tick

MAX_PAYLOAD_BYTES = 512 * 1024
MAX_TICKS_PER_MESSAGE = 10_000
MAX_SYMBOL_LEN = 64

REASONS = (
    "too_large", "not_utf8", "invalid_json", "not_object", "missing_field",
    "bad_symbol", "bad_price", "non_finite_price", "bad_timestamp", "bad_pack",
)  # fmt: skip


class InvalidTick(ValueError):
    """A payload that is not a valid tick; ``reason`` is one of :data:`REASONS`."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason, self.detail = reason, detail


@dataclass(slots=True)
class ParsedMessage:
    """What one message holds: its valid ticks, and why (part of) it is rejected, if it is."""

    ticks: list[Tick] = field(default_factory=list)
    rejection: InvalidTick | None = None


def parse_message(payload: bytes | None) -> ParsedMessage:
    """Decode one message: a tick object or a packed array of them.

    In a packed message every valid element is kept (good data is never dropped for a
    neighbour's fault); if any element is invalid the message also carries a rejection
    naming the first bad element and how many there were, so the whole original
    payload can go to the DLQ once. Re-sending it is harmless: its valid ticks are
    then stale and not applied twice.
    """
    try:
        obj = _decode(payload)
        if isinstance(obj, dict):
            return ParsedMessage([_tick(obj)])
        if not isinstance(obj, list):
            raise InvalidTick("not_object", f"expected a JSON object or array, got {type(obj).__name__}")
        if not 1 <= len(obj) <= MAX_TICKS_PER_MESSAGE:
            raise InvalidTick("bad_pack", f"a packed message holds 1..{MAX_TICKS_PER_MESSAGE} ticks, not {len(obj)}")
    except InvalidTick as exc:
        return ParsedMessage(rejection=exc)
    return _parse_pack(obj)


def _parse_pack(elements: list[Any]) -> ParsedMessage:
    parsed = ParsedMessage()
    bad: list[tuple[int, InvalidTick]] = []
    for index, element in enumerate(elements):
        try:
            if not isinstance(element, dict):
                raise InvalidTick("not_object", f"expected a JSON object, got {type(element).__name__}")
            parsed.ticks.append(_tick(element))
        except InvalidTick as exc:
            bad.append((index, exc))
    if bad:
        index, first = bad[0]
        parsed.rejection = InvalidTick(
            first.reason, f"element {index}: {first.detail} ({len(bad)} of {len(elements)} elements invalid)"
        )
    return parsed


def parse_tick(payload: bytes | None) -> Tick:
    """Decode and validate a one-tick payload; raise :class:`InvalidTick` with the first problem found."""
    obj = _decode(payload)
    if not isinstance(obj, dict):
        raise InvalidTick("not_object", f"expected a JSON object, got {type(obj).__name__}")
    return _tick(obj)


def _decode(payload: bytes | None) -> Any:
    """Bytes → a JSON value, within the size limit, strictly (no NaN/Infinity literals)."""
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
    return obj


def _tick(obj: dict) -> Tick:
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
