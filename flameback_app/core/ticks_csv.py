"""The one CSV reader for tick files, used by ``features``, ``replay``, ``train`` and ``evaluate``.

Two layouts are accepted, detected from the header:

* **wide** (a Bloomberg export): first column ``Dates`` (``MM/DD/YYYY``), then one
  column per symbol; ``#N/A N/A`` or an empty cell means "no tick" (skipped, not an
  error). Ticks come out date-major: all symbols of a date, then the next date.
* **long**: columns ``symbol``, ``price``, ``timestamp`` (ISO 8601 or
  ``YYYY-MM-DD HH:MM:SS``), optional ``date``; a row with only ``date`` is that day
  at midnight. Optional ``seq`` (integer ≥ 0) and ``volume`` (number ≥ 0) columns;
  an empty cell means none. Ticks come out in file order.

Anything unreadable raises :class:`TickFileError` naming file, line and reason.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flameback_app.core.records import Tick

CsvReader = Any  # ``_csv.Reader``: the csv module exposes no public type for it (typeshed names it _csv.Reader)

MISSING_CELLS = frozenset({"", "#N/A N/A", "#N/A", "NA", "NaN", "nan"})
LONG_COLUMNS = ("symbol", "price")


class TickFileError(ValueError):
    """A tick file could not be read; the message names file, line and reason."""

    def __init__(self, path: Path | str, line: int | None, reason: str) -> None:
        where = f"{path}:{line}" if line is not None else str(path)
        super().__init__(f"{where}: {reason}")
        self.path, self.line, self.reason = str(path), line, reason


@dataclass(frozen=True, slots=True)
class LocatedTick:
    """A tick plus the 1-based line of the file it came from (for error messages)."""

    line: int
    tick: Tick


def parse_timestamp(text: str) -> datetime:
    """ISO 8601 / ``YYYY-MM-DD HH:MM:SS`` / ``YYYY-MM-DD`` → naive UTC datetime."""
    value = datetime.fromisoformat(text.strip())
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value


def _parse_price(text: str, path: Path, line: int, column: str) -> float:
    try:
        price = float(text)
    except ValueError:
        raise TickFileError(path, line, f"column {column!r}: price {text!r} is not a number") from None
    if not math.isfinite(price):
        raise TickFileError(path, line, f"column {column!r}: price {text!r} is not finite")
    return price


def read_ticks(path: Path | str, symbols: set[str] | None = None) -> Iterator[LocatedTick]:
    """Yield the ticks of a wide or long CSV file, optionally only for ``symbols``."""
    path = Path(path)
    try:
        handle = path.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise TickFileError(path, None, f"cannot open: {exc.strerror or exc}") from None
    with handle:
        reader = csv.reader(handle)
        try:
            header = next(reader)
        except StopIteration:
            raise TickFileError(path, 1, "file is empty (no header row)") from None
        except csv.Error as exc:
            raise TickFileError(path, 1, f"not CSV: {exc}") from None
        except UnicodeDecodeError:
            raise _not_utf8(path) from None
        header = [h.strip() for h in header]
        if header and header[0].lower() == "dates":
            yield from _read_wide(reader, header, path, symbols)
        elif all(c in [h.lower() for h in header] for c in LONG_COLUMNS):
            yield from _read_long(reader, [h.lower() for h in header], path, symbols)
        else:
            raise TickFileError(
                path, 1, "unknown layout: expected a 'Dates' column (wide) or 'symbol,price,timestamp' (long)"
            )


def _rows(reader: CsvReader, path: Path) -> Iterator[tuple[int, list[str]]]:
    """Enumerate data rows with their 1-based line numbers, turning csv errors into TickFileError."""
    while True:
        try:
            row: list[str] = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise TickFileError(path, reader.line_num, f"not CSV: {exc}") from None
        except UnicodeDecodeError:
            raise _not_utf8(path) from None
        if row and any(cell.strip() for cell in row):
            yield reader.line_num, row


def _not_utf8(path: Path) -> TickFileError:
    """The error for a file that is not UTF-8, naming the first bad line.

    Text is decoded in chunks ahead of the csv reader, so its line count cannot say
    where the bad bytes are; the file is scanned again, line by line, on this error
    path only.
    """
    with path.open("rb") as handle:
        for line, raw in enumerate(handle, start=1):
            try:
                raw.decode("utf-8-sig" if line == 1 else "utf-8")
            except UnicodeDecodeError as exc:
                return TickFileError(
                    path, line, f"not UTF-8 text (byte {raw[exc.start]:#04x} at position {exc.start + 1} of the line)"
                )
    return TickFileError(path, None, "not UTF-8 text")


def _read_wide(reader: CsvReader, header: list[str], path: Path, symbols: set[str] | None) -> Iterator[LocatedTick]:
    columns = [(i, name) for i, name in enumerate(header) if i > 0 and (symbols is None or name in symbols)]
    for line, row in _rows(reader, path):
        if len(row) != len(header):
            raise TickFileError(path, line, f"expected {len(header)} cells, found {len(row)}")
        try:
            day = datetime.strptime(row[0].strip(), "%m/%d/%Y")
        except ValueError:
            raise TickFileError(path, line, f"date {row[0]!r} is not MM/DD/YYYY") from None
        for i, name in columns:
            cell = row[i].strip()
            if cell in MISSING_CELLS:
                continue
            yield LocatedTick(line, Tick(name, _parse_price(cell, path, line, name), day))


def _read_long(reader: CsvReader, header: list[str], path: Path, symbols: set[str] | None) -> Iterator[LocatedTick]:
    col = {name: i for i, name in enumerate(header)}
    if "timestamp" not in col and "date" not in col:
        raise TickFileError(path, 1, "long layout needs a 'timestamp' or 'date' column")
    for line, row in _rows(reader, path):
        if len(row) != len(header):
            raise TickFileError(path, line, f"expected {len(header)} cells, found {len(row)}")
        symbol = row[col["symbol"]].strip()
        if not symbol:
            raise TickFileError(path, line, "empty symbol")
        if symbols is not None and symbol not in symbols:
            continue
        stamp = row[col["timestamp"]].strip() if "timestamp" in col else ""
        if not stamp and "date" in col:
            stamp = row[col["date"]].strip()
        if not stamp:
            raise TickFileError(path, line, "no timestamp or date")
        try:
            timestamp = parse_timestamp(stamp)
        except ValueError:
            raise TickFileError(path, line, f"timestamp {stamp!r} is not ISO 8601") from None
        cell = row[col["price"]].strip()
        if cell in MISSING_CELLS:
            continue
        seq = _optional_cell(row, col, "seq", path, line)
        volume = _optional_cell(row, col, "volume", path, line)
        yield LocatedTick(
            line,
            Tick(symbol, _parse_price(cell, path, line, "price"), timestamp, None if seq is None else int(seq), volume),
        )


def _optional_cell(row: list[str], col: dict[str, int], name: str, path: Path, line: int) -> float | None:
    """An optional non-negative ``seq`` (integral) or ``volume`` cell; empty means absent."""
    if name not in col or (cell := row[col[name]].strip()) in MISSING_CELLS:
        return None
    try:
        value = int(cell) if name == "seq" else float(cell)
    except ValueError:
        raise TickFileError(
            path, line, f"{name} {cell!r} is not {'an integer' if name == 'seq' else 'a number'}"
        ) from None
    if not (math.isfinite(value) and value >= 0):
        raise TickFileError(path, line, f"{name} {cell!r} must be a finite number ≥ 0")
    return value


def count_data_lines(path: Path | str) -> int:
    """Number of lines after the header (a cheap total for progress bars)."""
    try:
        with Path(path).open("rb") as handle:
            return max(sum(1 for _ in handle) - 1, 0)
    except OSError as exc:
        raise TickFileError(path, None, f"cannot open: {exc.strerror or exc}") from None
