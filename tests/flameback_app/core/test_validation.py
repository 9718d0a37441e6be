"""The ingest parser: every payload yields ticks or an InvalidTick with a known reason, never anything else."""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from flameback_app.core.records import Tick, ticks_to_json_bytes
from flameback_app.core.validation import (
    MAX_PAYLOAD_BYTES,
    MAX_TICKS_PER_MESSAGE,
    REASONS,
    InvalidTick,
    TickRules,
    epoch_unit_of,
    parse_message,
    parse_tick,
)


def payload(**fields: object) -> bytes:
    return json.dumps(fields).encode()


def test_valid_tick_round_trips() -> None:
    tick = parse_tick(payload(symbol="ES1 Index", price=1270.57, timestamp="2024-01-15 09:30:00"))
    assert (tick.symbol, tick.price, tick.timestamp) == ("ES1 Index", 1270.57, datetime(2024, 1, 15, 9, 30))
    assert parse_tick(tick.to_json_bytes()) == tick


def test_date_alone_is_that_day_and_timezones_become_utc() -> None:
    assert parse_tick(payload(symbol="X", price=1, date="2024-01-15")).timestamp == datetime(2024, 1, 15)
    stamp = parse_tick(payload(symbol="X", price=1, timestamp="2024-01-15T10:00:00+02:00")).timestamp
    assert stamp == datetime(2024, 1, 15, 8, 0)


SEPT_2001 = datetime(2001, 9, 9, 1, 46, 40)  # epoch 1e9 s
DATES = [datetime(1973, 3, 4), datetime(2001, 1, 20, 14, 13, 20), SEPT_2001, datetime(2026, 11, 30, 23, 59, 59, 999999)]
RESOLUTION = {
    "s": timedelta(seconds=1),
    "ms": timedelta(milliseconds=1),
    "us": timedelta(microseconds=1),
    "ns": timedelta(microseconds=1),
}


def epoch(value: datetime, unit: str) -> int:
    micros = (value - datetime(1970, 1, 1)) // timedelta(microseconds=1)
    return {"s": micros // 10**6, "ms": micros // 10**3, "us": micros, "ns": micros * 1000}[unit]


@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
@pytest.mark.parametrize("when", DATES, ids=lambda d: d.isoformat())
def test_epoch_numbers_in_every_unit_are_told_apart_by_magnitude(unit: str, when: datetime) -> None:
    value = epoch(when, unit)
    when -= (when - datetime(1970, 1, 1)) % RESOLUTION[unit]  # what the unit can say
    assert epoch_unit_of(value) == unit
    assert parse_tick(payload(symbol="X", price=1, timestamp=value)).timestamp == when
    assert parse_tick(payload(symbol="X", price=1, timestamp=value), TickRules(epoch_unit=unit)).timestamp == when


def test_epoch_seconds_of_1970_and_the_rule_s_limit_before_1973() -> None:
    assert parse_tick(payload(symbol="X", price=1, timestamp=86_400)).timestamp == datetime(1970, 1, 2)
    # ms of 1970-01-02 (8.64e7) are below 1e11 and read as seconds (1972-09-27): the rule's stated limit
    assert epoch_unit_of(86_400_000) == "s"
    assert parse_tick(payload(symbol="X", price=1, timestamp=86_400_000), TickRules(epoch_unit="ms")).timestamp == (
        datetime(1970, 1, 2)
    )


def test_epoch_seconds_of_2001_are_seconds_not_milliseconds() -> None:
    # 980,000,000 is below the 1e9 cut-off many parsers use; it is 2001-01-20 in seconds
    assert parse_tick(payload(symbol="X", price=1, timestamp=980_000_000)).timestamp == datetime(
        2001, 1, 20, 14, 13, 20
    )
    assert parse_tick(payload(symbol="X", price=1, timestamp=980_000_000.25)).timestamp == datetime(
        2001, 1, 20, 14, 13, 20, 250000
    )


def test_nanoseconds_keep_their_microseconds_exactly_and_a_set_unit_wins() -> None:
    stamp = parse_tick(payload(symbol="X", price=1, timestamp=1_764_633_600_123_456_789)).timestamp
    assert stamp == datetime(2025, 12, 2, 0, 0, 0, 123456)
    as_ms = TickRules(epoch_unit="ms")  # 1e9 read as ms is 1970-01-12
    assert parse_tick(payload(symbol="X", price=1, timestamp=10**9), as_ms).timestamp == datetime(
        1970, 1, 12, 13, 46, 40
    )


def test_utc_handling_is_the_same_for_every_spelling_of_one_instant() -> None:
    instant = datetime(2024, 1, 15, 8, 0)
    spellings = [
        "2024-01-15T08:00:00",
        "2024-01-15T08:00:00Z",
        "2024-01-15T10:00:00+02:00",
        "2024-01-15T03:00:00-05:00",
        1705305600,
        1705305600000,
        1705305600000000000,
    ]
    assert {parse_tick(payload(symbol="X", price=1, timestamp=s)).timestamp for s in spellings} == {instant}


def test_the_future_tolerance_is_relative_to_the_wall_clock() -> None:
    now = 1_764_633_600.0  # 2025-12-02T00:00:00Z
    rules = TickRules(max_future_s=300, now=now)
    assert parse_tick(payload(symbol="X", price=1, timestamp=now + 299), rules).timestamp
    with pytest.raises(InvalidTick, match="future_timestamp"):
        parse_tick(payload(symbol="X", price=1, timestamp=now + 301), rules)


def test_seq_and_volume_are_optional_and_carried() -> None:
    tick = parse_tick(payload(symbol="X", price=1.5, timestamp="2024-01-01T00:00:00.001", seq=3, volume=250))
    assert (tick.seq, tick.volume, tick.order_key) == (3, 250.0, (datetime(2024, 1, 1, 0, 0, 0, 1000), 3))
    assert parse_tick(tick.to_json_bytes()) == tick
    bare = parse_tick(payload(symbol="X", price=1.5, timestamp="2024-01-01", seq=None, volume=None))
    assert (bare.seq, bare.volume, bare.order_key[1]) == (None, None, 0)
    assert parse_tick(payload(symbol="X", price=1, timestamp="2024-01-01", seq=7.0)).seq == 7
    assert parse_tick(payload(symbol="X", price=1, timestamp="2024-01-01", seq=2**63 - 1)).seq == 2**63 - 1


def test_negative_and_zero_prices_are_valid_ticks() -> None:
    assert parse_tick(payload(symbol="CL1 Comdty", price=-37.63, timestamp="2020-04-20")).price == -37.63
    assert parse_tick(payload(symbol="CL1 Comdty", price=0, timestamp="2020-04-21")).price == 0.0


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"\xff\xfe\x00", "not_utf8"),
        (b"{not json", "invalid_json"),
        (b'{"symbol":"X","price":NaN,"timestamp":"2024-01-01"}', "invalid_json"),
        (b'{"symbol":"X","price":Infinity,"timestamp":"2024-01-01"}', "invalid_json"),
        (b"[1,2,3]", "not_object"),
        (b'"tick"', "not_object"),
        (payload(price=1.0, timestamp="2024-01-01"), "missing_field"),
        (payload(symbol="X", timestamp="2024-01-01"), "missing_field"),
        (payload(symbol="X", price=1.0), "missing_field"),
        (payload(symbol=123, price=1.0, timestamp="2024-01-01"), "bad_symbol"),
        (payload(symbol="", price=1.0, timestamp="2024-01-01"), "bad_symbol"),
        (payload(symbol="x" * 65, price=1.0, timestamp="2024-01-01"), "bad_symbol"),
        (payload(symbol="a\nb", price=1.0, timestamp="2024-01-01"), "bad_symbol"),
        (payload(symbol="X", price="1.0", timestamp="2024-01-01"), "bad_price"),
        (payload(symbol="X", price=True, timestamp="2024-01-01"), "bad_price"),
        (payload(symbol="X", price=None, timestamp="2024-01-01"), "bad_price"),
        (b'{"symbol":"X","price":1e999,"timestamp":"2024-01-01"}', "non_finite_price"),
        (payload(symbol="X", price=1.0, timestamp="yesterday"), "bad_timestamp"),
        (payload(symbol="X", price=1.0, timestamp=-1), "bad_timestamp"),
        (payload(symbol="X", price=1.0, timestamp=-0.5), "bad_timestamp"),
        (payload(symbol="X", price=1.0, timestamp=10**40), "bad_timestamp"),
        (payload(symbol="X", price=1.0, timestamp=1e300), "bad_timestamp"),
        (payload(symbol="X", price=1.0, timestamp=True), "bad_timestamp"),
        (payload(symbol="X", price=1.0, timestamp="1700000000"), "bad_timestamp"),
        (payload(symbol="X", price=1.0, timestamp="2999-01-01"), "future_timestamp"),
        (payload(symbol="X", price=1e300, timestamp="2024-01-01"), "price_out_of_range"),
        (payload(symbol="X", price=-2e12, timestamp="2024-01-01"), "price_out_of_range"),
        (payload(symbol="X", price=1.0, timestamp="2024-01-01", seq=-1), "bad_seq"),
        (payload(symbol="X", price=1.0, timestamp="2024-01-01", seq=2**63), "bad_seq"),
        (payload(symbol="X", price=1.0, timestamp="2024-01-01", seq=1.5), "bad_seq"),
        (payload(symbol="X", price=1.0, timestamp="2024-01-01", seq="7"), "bad_seq"),
        (payload(symbol="X", price=1.0, timestamp="2024-01-01", seq=True), "bad_seq"),
        (payload(symbol="X", price=1.0, timestamp="2024-01-01", volume=-1), "bad_volume"),
        (payload(symbol="X", price=1.0, timestamp="2024-01-01", volume="10"), "bad_volume"),
        (payload(symbol="X", price=1.0, timestamp="2024-01-01", volume=1e19), "bad_volume"),
        (b'{"symbol":"X","price":1,"timestamp":"2024-01-01","volume":1e999}', "bad_volume"),
        (b" " * (MAX_PAYLOAD_BYTES + 1), "too_large"),
        (None, "missing_field"),
    ],
)
def test_rejects_with_reason(raw: bytes | None, reason: str) -> None:
    with pytest.raises(InvalidTick) as caught:
        parse_tick(raw)
    assert caught.value.reason == reason


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_crash(raw: bytes) -> None:
    try:
        tick = parse_tick(raw)
    except InvalidTick as exc:
        assert exc.reason in REASONS
    else:
        assert math.isfinite(tick.price) and 1 <= len(tick.symbol) <= 64


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(st.sampled_from(["symbol", "price", "timestamp", "date", "x"]), json_values, max_size=5))
def test_arbitrary_json_objects_never_crash(obj: dict) -> None:
    try:
        tick = parse_tick(json.dumps(obj).encode())
    except InvalidTick as exc:
        assert exc.reason in REASONS
    else:
        assert tick.symbol == obj["symbol"] and tick.price == float(obj["price"])


@settings(max_examples=200, deadline=None)
@given(
    symbol=st.text(st.characters(codec="utf-8", categories=["L", "N", "Zs", "P"]), min_size=1, max_size=64).filter(
        lambda s: s.strip() == s and s.isprintable()
    ),
    price=st.floats(min_value=-1e12, max_value=1e12),
    stamp=st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(2026, 1, 1)),
)
def test_every_valid_tick_is_accepted_exactly(symbol: str, price: float, stamp: datetime) -> None:
    tick = parse_tick(payload(symbol=symbol, price=price, timestamp=stamp.isoformat()))
    assert (tick.symbol, tick.price, tick.timestamp) == (symbol, price, stamp)


def test_a_packed_message_yields_every_tick_in_order() -> None:
    ticks = [Tick("CL1 Comdty", 70.0 + i, datetime(2024, 1, 1 + i)) for i in range(5)]
    parsed = parse_message(ticks_to_json_bytes(ticks))
    assert parsed.ticks == ticks and parsed.rejection is None
    assert parse_message(ticks[0].to_json_bytes()).ticks == ticks[:1]


def test_a_packed_message_keeps_its_good_ticks_and_names_the_bad_ones() -> None:
    good = {"symbol": "X", "price": 1.0, "timestamp": "2024-01-01"}
    raw = json.dumps([good, {"symbol": "X", "price": "1"}, 7, {**good, "timestamp": "2024-01-02"}]).encode()
    parsed = parse_message(raw)
    assert [t.timestamp.day for t in parsed.ticks] == [1, 2]
    assert parsed.rejection is not None and parsed.rejection.reason == "bad_price"
    assert "element 1" in parsed.rejection.detail and "2 of 4 elements invalid" in parsed.rejection.detail


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"[]", "bad_pack"),
        (json.dumps([{}] * (MAX_TICKS_PER_MESSAGE + 1)).encode(), "bad_pack"),
        (b'"tick"', "not_object"),
        (b"{not json", "invalid_json"),
        (b"[1, 2]", "not_object"),
        (None, "missing_field"),
    ],
)
def test_a_message_with_nothing_valid_is_rejected_whole(raw: bytes | None, reason: str) -> None:
    parsed = parse_message(raw)
    assert parsed.ticks == [] and parsed.rejection is not None and parsed.rejection.reason == reason


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(
            json_values,
            st.fixed_dictionaries(
                {"symbol": st.text(max_size=6), "price": st.floats(), "timestamp": st.sampled_from(["2024-01-01", "x"])}
            ),
        ),
        max_size=8,
    )
)
def test_arbitrary_packed_messages_never_crash_and_lose_no_valid_element(elements: list) -> None:
    try:
        raw = json.dumps(elements, allow_nan=False).encode()
    except ValueError:  # inf/nan: not JSON at all (covered by the invalid_json cases)
        assume(False)
    parsed = parse_message(raw)
    valid = []
    for element in elements:
        try:
            valid.append(parse_tick(json.dumps(element).encode()))
        except InvalidTick:
            pass
    assert parsed.ticks == valid  # exactly the elements that are valid on their own, in order
    assert (parsed.rejection is None) == (len(valid) == len(elements) > 0)
    if parsed.rejection is not None:
        assert parsed.rejection.reason in REASONS
