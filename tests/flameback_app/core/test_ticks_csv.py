"""The tick CSV reader: both layouts, missing cells, filters, and errors that name file, line and reason."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flameback_app.core.ticks_csv import TickFileError, count_data_lines, parse_timestamp, read_ticks

WIDE = (
    "Dates,CL1 Comdty,C 1 Comdty,QC1 Index\n"
    "01/02/2001,26.8,#N/A N/A,#N/A N/A\n"
    "01/03/2001,27.5,212.25,\n"
    "\n"
    "01/04/2001,-1.5,213,1001.5\n"
)


def write(tmp_path: Path, text: str | bytes, name: str = "ticks.csv") -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


def triples(path: Path, symbols: set[str] | None = None) -> list[tuple[int, str, float, datetime]]:
    return [(t.line, t.tick.symbol, t.tick.price, t.tick.timestamp) for t in read_ticks(path, symbols)]


def test_wide_layout_is_date_major_skips_missing_cells_and_keeps_spaced_names(tmp_path: Path) -> None:
    assert triples(write(tmp_path, WIDE)) == [
        (2, "CL1 Comdty", 26.8, datetime(2001, 1, 2)),
        (3, "CL1 Comdty", 27.5, datetime(2001, 1, 3)),
        (3, "C 1 Comdty", 212.25, datetime(2001, 1, 3)),
        (5, "CL1 Comdty", -1.5, datetime(2001, 1, 4)),
        (5, "C 1 Comdty", 213.0, datetime(2001, 1, 4)),
        (5, "QC1 Index", 1001.5, datetime(2001, 1, 4)),
    ]


def test_wide_layout_symbol_filter_and_byte_order_mark(tmp_path: Path) -> None:
    path = write(tmp_path, b"\xef\xbb\xbf" + WIDE.encode())
    assert [s for _, s, _, _ in triples(path, {"C 1 Comdty"})] == ["C 1 Comdty", "C 1 Comdty"]


def test_long_layout_in_file_order_with_dates_and_time_zones(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        (
            "Symbol,Price,Timestamp,Date\n"
            "ES1 Index,4000.25,2024-01-02T15:30:00+01:00,\n"
            "ES1 Index,4001,,2024-01-03\n"
            "NQ1 Index,#N/A N/A,2024-01-03 10:00:00,\n"
            "NQ1 Index,15000.5,2024-01-03 10:00:00,\n"
        ),
    )
    assert triples(path) == [
        (2, "ES1 Index", 4000.25, datetime(2024, 1, 2, 14, 30)),
        (3, "ES1 Index", 4001.0, datetime(2024, 1, 3)),
        (5, "NQ1 Index", 15000.5, datetime(2024, 1, 3, 10)),
    ]


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(allow_nan=False, allow_infinity=False), min_size=1, max_size=30))
def test_long_layout_prices_read_back_bit_exact(tmp_path_factory, prices: list[float]) -> None:
    lines = ["symbol,price,timestamp"] + [f"X,{p!r},2024-01-01T00:00:{i % 60:02d}" for i, p in enumerate(prices)]
    path = write(tmp_path_factory.mktemp("long"), "\n".join(lines) + "\n")
    assert [t.tick.price for t in read_ticks(path)] == prices


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        ("Dates,A\n01/02/2001,1.0\n01/03/2001,abc\n", 3, "column 'A': price 'abc' is not a number"),
        ("Dates,A\n01/02/2001,inf\n", 2, "is not finite"),
        ("Dates,A\n2001-01-02,1.0\n", 2, "is not MM/DD/YYYY"),
        ("Dates,A,B\n01/02/2001,1.0\n", 2, "expected 3 cells, found 2"),
        ("symbol,price,timestamp\nA,1.0,yesterday\n", 2, "is not ISO 8601"),
        ("symbol,price,timestamp\n,1.0,2024-01-01\n", 2, "empty symbol"),
        ("symbol,price,timestamp\nA,1.0,\n", 2, "no timestamp or date"),
        ("symbol,price\nA,1.0\n", 1, "needs a 'timestamp' or 'date' column"),
        ("open,high,low\n1,2,3\n", 1, "unknown layout"),
        ("", 1, "file is empty"),
    ],
)
def test_unreadable_input_names_file_line_and_reason(tmp_path: Path, text: str, line: int, reason: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(TickFileError) as caught:
        list(read_ticks(path))
    assert caught.value.line == line and reason in caught.value.reason
    assert str(caught.value).startswith(f"{path}:{line}: ")
    assert isinstance(caught.value, ValueError)  # the CLI turns ValueErrors into one-line errors


def test_bytes_that_are_not_utf8_name_their_line(tmp_path: Path) -> None:
    rows = b"symbol,price,timestamp\n" + b"A,1.0,2024-01-01\n" * 3000 + b"B,\xff2.0,2024-01-02\n"
    with pytest.raises(TickFileError, match=r":3002: not UTF-8 text \(byte 0xff"):
        list(read_ticks(write(tmp_path, rows)))


def test_missing_file_is_a_tick_file_error(tmp_path: Path) -> None:
    with pytest.raises(TickFileError, match="cannot open"):
        list(read_ticks(tmp_path / "absent.csv"))
    with pytest.raises(TickFileError, match="cannot open"):
        count_data_lines(tmp_path / "absent.csv")


def test_count_data_lines_excludes_the_header(tmp_path: Path) -> None:
    assert count_data_lines(write(tmp_path, WIDE)) == 4
    assert count_data_lines(write(tmp_path, "", "empty.csv")) == 0


def test_parse_timestamp_returns_naive_utc() -> None:
    assert parse_timestamp(" 2024-03-01T12:00:00-05:00 ") == datetime(2024, 3, 1, 17)
    assert parse_timestamp("2024-03-01") == datetime(2024, 3, 1)


def test_long_layout_takes_optional_seq_and_volume_columns(tmp_path) -> None:
    path = tmp_path / "trades.csv"
    path.write_text(
        "symbol,timestamp,price,seq,volume\n"
        "ES1 Index,2026-12-01T14:30:00.001,6000.25,1,10\n"
        "ES1 Index,2026-12-01T14:30:00.001,6000.50,2,\n"
        "ES1 Index,2026-12-01T14:30:00.002,6000.75,,3.5\n"
    )
    got = [(t.tick.seq, t.tick.volume) for t in read_ticks(path)]
    assert got == [(1, 10.0), (2, None), (None, 3.5)]
    path.write_text("symbol,timestamp,price,volume\nX,2026-12-01,1.0,-4\n")
    with pytest.raises(TickFileError, match=r"trades.csv:2: volume '-4' must be a finite number"):
        list(read_ticks(path))
