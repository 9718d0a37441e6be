"""The ``features`` command, run as a user runs it (the real CLI in a subprocess), and its module.

Reads small CSVs it generates in a temporary directory; writes only there.
"""

from __future__ import annotations

import csv
import math
import os
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from flameback_app.core.offline import OUTPUT_COLUMNS, iter_feature_rows, write_features_csv
from flameback_app.core.ta import FEATURE_FIELDS, IndicatorState, step

REPO = Path(__file__).resolve().parents[3]
FAUST = Path(sys.executable).with_name("faust")
START = datetime(2001, 1, 2)


def prices_for(symbol_index: int, n: int) -> list[float]:
    return [100.0 * (symbol_index + 1) + 5.0 * math.sin(i / 3.0 + symbol_index) + 0.1 * i for i in range(n)]


def write_wide(path: Path, n: int = 45) -> dict[str, list[tuple[datetime, float]]]:
    """Two symbols (one with a space and a late start); returns the ticks each symbol should get."""
    symbols = ["CL1 Comdty", "C 1 Comdty"]
    expected: dict[str, list[tuple[datetime, float]]] = {s: [] for s in symbols}
    lines = ["Dates," + ",".join(symbols)]
    for i in range(n):
        day = START + timedelta(days=i)
        cells = []
        for j, symbol in enumerate(symbols):
            if j == 1 and (i < 3 or i == 20):
                cells.append("#N/A N/A")
                continue
            price = prices_for(j, n)[i]
            cells.append(repr(price))
            expected[symbol].append((day, price))
        lines.append(day.strftime("%m/%d/%Y") + "," + ",".join(cells))
    path.write_text("\n".join(lines) + "\n")
    return expected


def write_long(path: Path, n: int = 40) -> dict[str, list[tuple[datetime, float]]]:
    expected: dict[str, list[tuple[datetime, float]]] = {"ES1 Index": [], "NQ1 Index": []}
    lines = ["symbol,price,timestamp"]
    for i in range(n):
        stamp = START + timedelta(minutes=i)
        for j, symbol in enumerate(expected):
            price = prices_for(j, n)[i]
            lines.append(f"{symbol},{price!r},{stamp.isoformat(sep=' ')}")
            expected[symbol].append((stamp, price))
    path.write_text("\n".join(lines) + "\n")
    return expected


def run_cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "FLAMEBACK_DATA_DIR": str(tmp_path / "state")}
    return subprocess.run(
        [str(FAUST), "-A", "flameback_app", "features", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def engine_rows(expected: dict[str, list[tuple[datetime, float]]]) -> dict[str, list[dict]]:
    out = {}
    for symbol, ticks in expected.items():
        state, rows = IndicatorState(), []
        for _, price in ticks:
            state, features = step(state, price)
            rows.append(features)
        out[symbol] = rows
    return out


def check_output(out: Path, expected: dict[str, list[tuple[datetime, float]]]) -> None:
    with out.open(newline="") as handle:
        reader = csv.reader(handle)
        assert tuple(next(reader)) == OUTPUT_COLUMNS
        rows = list(reader)
    assert len(rows) == sum(len(t) for t in expected.values())
    want = engine_rows(expected)
    seen: dict[str, int] = {s: 0 for s in expected}
    empty_cells = 0
    for row in rows:
        symbol = row[0]
        k = seen[symbol]
        seen[symbol] += 1
        stamp, price = expected[symbol][k]
        assert row[1] == stamp.isoformat() and float(row[2]) == price
        assert row[-2:] == ["0", ""]  # seq 0 and no volume: these files have neither column
        for name, cell in zip(FEATURE_FIELDS, row[3:-2], strict=True):
            value = want[symbol][k][name]
            assert (cell == "") == (value is None), (symbol, k, name)
            if value is not None:
                assert float(cell) == value, (symbol, k, name)  # repr: bit-exact round trip
            empty_cells += cell == ""
    assert seen == {s: len(t) for s, t in expected.items()}
    assert 0 < empty_cells < len(rows) * len(FEATURE_FIELDS)


@pytest.mark.parametrize("layout", ["wide", "long"])
def test_cli_writes_one_row_per_tick_with_exact_values(tmp_path: Path, layout: str) -> None:
    source = tmp_path / f"{layout}.csv"
    expected = write_wide(source) if layout == "wide" else write_long(source)
    out = tmp_path / "out" / "features.csv"
    result = run_cli(tmp_path, str(source), "--out", str(out))
    assert result.returncode == 0, result.stderr
    check_output(out, expected)
    assert f"wrote {sum(len(t) for t in expected.values())} rows" in result.stderr


def test_cli_bad_row_exits_non_zero_naming_file_and_line(tmp_path: Path) -> None:
    source = tmp_path / "bad.csv"
    source.write_text("Dates,A\n01/02/2001,1.0\n01/03/2001,1.5\n01/04/2001,oops\n")
    out = tmp_path / "features.csv"
    result = run_cli(tmp_path, str(source), "--out", str(out))
    assert result.returncode != 0
    assert f"Error: {source}:4: column 'A': price 'oops' is not a number" in result.stderr
    assert "Traceback" not in result.stderr
    assert not out.exists() and not list(tmp_path.glob("*.partial"))


def test_cli_missing_file_exits_non_zero(tmp_path: Path) -> None:
    result = run_cli(tmp_path, str(tmp_path / "nope.csv"), "--out", str(tmp_path / "o.csv"))
    assert result.returncode != 0 and f"Error: {tmp_path / 'nope.csv'}: cannot open" in result.stderr


def test_iter_feature_rows_filters_symbols_and_keeps_datetimes(tmp_path: Path) -> None:
    source = tmp_path / "wide.csv"
    expected = write_wide(source)
    rows = list(iter_feature_rows(source, symbols={"C 1 Comdty"}))
    assert [(r["timestamp"], r["current_price"]) for r in rows] == expected["C 1 Comdty"]
    assert tuple(rows[0]) == ("symbol", "timestamp", "current_price", *FEATURE_FIELDS, "seq", "volume")
    assert {r["symbol"] for r in rows} == {"C 1 Comdty"}


def test_progress_bar_goes_to_stderr_for_large_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "long.csv"
    write_long(source, n=1_500)
    assert write_features_csv(source, tmp_path / "o.csv", progress=True) == 3_000
    captured = capsys.readouterr()
    assert "features long.csv" in captured.err and "100%" in captured.err and captured.out == ""
    write_features_csv(source, tmp_path / "o.csv", progress=False)
    assert capsys.readouterr().err == ""
