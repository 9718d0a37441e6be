"""Validation of raw tick payloads from ``futures-ticks`` (pure: bytes in, ticks or a reason out).

The topic is open to any producer, so nothing is trusted. A message is bytes, at most
512 KiB, UTF-8 JSON: either one tick object or an array of up to 10,000 tick objects
(a *packed* message, which the feeds send to spare the per-message cost). A tick
object has ``symbol`` (1–64 printable characters), ``price`` (a finite JSON number,
not a bool or a string, within ±``max_abs_price``), ``timestamp`` (ISO 8601 or
``YYYY-MM-DD HH:MM:SS``, or an epoch number in s, ms, µs or ns; a ``date`` alone means
that day at midnight) and optionally ``seq`` (an integer ordering ticks of one
timestamp) and ``volume`` (the traded size). Every rejection carries a short
machine-readable reason (the DLQ and counters key on it) and a human detail.
The same contract, for producers, is ``docs/tick.schema.json``.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from flameback_app.core.records import Tick

MAX_PAYLOAD_BYTES = 512 * 1024
MAX_TICKS_PER_MESSAGE = 10_000
MAX_SYMBOL_LEN = 64

MAX_SEQ = 2**63 - 1  # fits the database's BIGINT
MAX_VOLUME = 1e18

REASONS = (
    "too_large",
    "not_utf8",
    "invalid_json",
    "not_object",
    "missing_field",
    "bad_symbol",
    "bad_price",
    "non_finite_price",
    "price_out_of_range",
    "bad_timestamp",
    "future_timestamp",
    "bad_seq",
    "bad_volume",
    "bad_pack",
)

EpochUnit = Literal["auto", "s", "ms", "us", "ns"]
_UNIT_DIVISOR = {"s": 1, "ms": 10**3, "us": 10**6, "ns": 10**9}
_EPOCH = datetime(1970, 1, 1)


def epoch_unit_of(value: float) -> str:
    """The magnitude rule for epoch numbers: below 1e11 seconds, 1e14 ms, 1e17 µs, else ns.

    Each cut sits where the smaller unit would mean a year past 5100 and the larger one a
    date before 1973, so real timestamps are never ambiguous — including epoch seconds of
    2001 (about 9.8e8, under the 1e9 that simpler rules use) and ms of 1970's first days.
    """
    magnitude = abs(value)
    if magnitude < 1e11:
        return "s"
    if magnitude < 1e14:
        return "ms"
    if magnitude < 1e17:
        return "us"
    return "ns"


@dataclass(frozen=True, slots=True)
class TickRules:
    """The limits a tick is held to (settings ``FLAMEBACK_EPOCH_UNIT``, ``_MAX_FUTURE_S``, ``_MAX_ABS_PRICE``).

    ``max_future_s`` bounds how far ahead of the wall clock a timestamp may be: one tick
    stamped in 2999 would otherwise become its symbol's dedup marker and make every later
    tick stale. ``max_abs_price`` keeps features finite (1e300 squared is infinity).
    """

    epoch_unit: EpochUnit = "auto"
    max_future_s: float = 300.0
    max_abs_price: float = 1e12
    now: float | None = None  # wall-clock override for tests; None: time.time() per message

    def latest_allowed(self) -> datetime:
        if not math.isfinite(self.max_future_s):
            return datetime.max
        now = time.time() if self.now is None else self.now
        return _EPOCH + timedelta(seconds=now + self.max_future_s)


DEFAULT_RULES = TickRules()


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


def parse_message(payload: bytes | None, rules: TickRules = DEFAULT_RULES) -> ParsedMessage:
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
            return ParsedMessage([_tick(obj, rules, rules.latest_allowed())])
        if not isinstance(obj, list):
            raise InvalidTick("not_object", f"expected a JSON object or array, got {type(obj).__name__}")
        if not 1 <= len(obj) <= MAX_TICKS_PER_MESSAGE:
            raise InvalidTick("bad_pack", f"a packed message holds 1..{MAX_TICKS_PER_MESSAGE} ticks, not {len(obj)}")
    except InvalidTick as exc:
        return ParsedMessage(rejection=exc)
    return _parse_pack(obj, rules)


def _parse_pack(elements: list[Any], rules: TickRules) -> ParsedMessage:
    parsed = ParsedMessage()
    latest = rules.latest_allowed()
    bad: list[tuple[int, InvalidTick]] = []
    for index, element in enumerate(elements):
        try:
            if not isinstance(element, dict):
                raise InvalidTick("not_object", f"expected a JSON object, got {type(element).__name__}")
            parsed.ticks.append(_tick(element, rules, latest))
        except InvalidTick as exc:
            bad.append((index, exc))
    if bad:
        index, first = bad[0]
        parsed.rejection = InvalidTick(
            first.reason, f"element {index}: {first.detail} ({len(bad)} of {len(elements)} elements invalid)"
        )
    return parsed


def parse_tick(payload: bytes | None, rules: TickRules = DEFAULT_RULES) -> Tick:
    """Decode and validate a one-tick payload; raise :class:`InvalidTick` with the first problem found."""
    obj = _decode(payload)
    if not isinstance(obj, dict):
        raise InvalidTick("not_object", f"expected a JSON object, got {type(obj).__name__}")
    return _tick(obj, rules, rules.latest_allowed())


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


def _tick(obj: dict[str, Any], rules: TickRules, latest: datetime) -> Tick:
    symbol, price = _symbol(obj), _price(obj, rules.max_abs_price)
    timestamp = _timestamp(obj, rules.epoch_unit)
    if timestamp > latest:
        raise InvalidTick(
            "future_timestamp",
            f"{timestamp.isoformat()} is more than {rules.max_future_s:g}s "
            "ahead of the wall clock (FLAMEBACK_MAX_FUTURE_S)",
        )
    return Tick(symbol, price, timestamp, _seq(obj), _volume(obj))


class _NonFinite(ValueError):
    pass


def _reject_constant(name: str) -> float:
    """``json`` accepts NaN/Infinity literals, which are not JSON; treat them as invalid JSON."""
    raise _NonFinite(f"{name} is not valid JSON")


def _symbol(obj: dict[str, Any]) -> str:
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


def _number(value: Any, name: str, type_reason: str, finite_reason: str) -> float:
    """A JSON number as a finite float; a bool, string or overflowing literal is refused with the reasons given."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidTick(type_reason, f"{name} must be a number, got {type(value).__name__}")
    try:
        number = float(value)
    except OverflowError:
        raise InvalidTick(finite_reason, f"{name} overflows a double") from None
    if not math.isfinite(number):
        raise InvalidTick(finite_reason, f"{name} {number} is not finite")
    return number


def _price(obj: dict[str, Any], max_abs_price: float) -> float:
    if "price" not in obj:
        raise InvalidTick("missing_field", "no 'price'")
    value = _number(obj["price"], "price", "bad_price", "non_finite_price")
    if abs(value) > max_abs_price:
        raise InvalidTick("price_out_of_range", f"|price| {value:g} > {max_abs_price:g} (FLAMEBACK_MAX_ABS_PRICE)")
    return value


def _seq(obj: dict[str, Any]) -> int | None:
    """Optional integer 0..2**63-1; an integral float (``3.0``) is accepted, as JSON has one number type."""
    seq = obj.get("seq")
    if seq is None:
        return None
    if isinstance(seq, float) and seq.is_integer():
        seq = int(seq)
    if isinstance(seq, bool) or not isinstance(seq, int):
        raise InvalidTick("bad_seq", f"seq must be an integer, got {type(seq).__name__}")
    if not 0 <= seq <= MAX_SEQ:
        raise InvalidTick("bad_seq", f"seq {seq} not in 0..2**63-1")
    return seq


def _volume(obj: dict[str, Any]) -> float | None:
    """Optional traded size: a finite number, 0 ≤ volume ≤ 1e18."""
    if obj.get("volume") is None:
        return None
    value = _number(obj["volume"], "volume", "bad_volume", "bad_volume")
    if not 0 <= value <= MAX_VOLUME:
        raise InvalidTick("bad_volume", f"volume {value:g} not in 0..1e18")
    return value


def _timestamp(obj: dict[str, Any], epoch_unit: EpochUnit) -> datetime:
    """ISO 8601 (a zone is converted to UTC; none means UTC) or epoch number → naive UTC datetime."""
    raw = obj.get("timestamp")
    if raw is None:
        raw = obj.get("date")
        if raw is None:
            raise InvalidTick("missing_field", "no 'timestamp' (or 'date')")
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        return _from_epoch(raw, epoch_unit)
    if not isinstance(raw, str) or len(raw) > 40:
        raise InvalidTick("bad_timestamp", "timestamp must be an ISO 8601 string or an epoch number")
    try:
        value = datetime.fromisoformat(raw.strip())
    except ValueError:
        raise InvalidTick("bad_timestamp", f"{raw[:40]!r} is not ISO 8601") from None
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value


def _from_epoch(raw: float, epoch_unit: EpochUnit) -> datetime:
    """Epoch s/ms/µs/ns (by :func:`epoch_unit_of` unless the unit is set) → naive UTC, µs resolution.

    Integers are split exactly (no float rounding of ns stamps); nanoseconds below a
    microsecond are dropped, so ticks apart by less than 1 µs need a ``seq`` to stay apart.
    """
    if isinstance(raw, float) and not math.isfinite(raw):
        raise InvalidTick("bad_timestamp", f"epoch timestamp {raw} is not finite")
    if raw < 0:
        raise InvalidTick("bad_timestamp", f"epoch timestamp {raw} is negative (before 1970)")
    unit = epoch_unit_of(raw) if epoch_unit == "auto" else epoch_unit
    divisor = _UNIT_DIVISOR[unit]
    try:
        if isinstance(raw, int):
            micros = raw * 10**6 // divisor
        else:
            micros = round(raw * (10**6 / divisor))
        return _EPOCH + timedelta(microseconds=micros)
    except OverflowError:
        raise InvalidTick("bad_timestamp", f"epoch timestamp {raw} ({unit}) is beyond year 9999") from None
