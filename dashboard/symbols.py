"""Human-readable names for symbols, from the original system's symbol sheet when it is present.

Reads ``tick_data_symbol_list_futures.csv`` (four lines before the header
``Description,Symbol,Root Symbol,Generic Symbol,...``); generic symbols there are
upper case (``CL1 COMDTY``) while prices say ``CL1 Comdty``, so lookups ignore case.
"""

from __future__ import annotations

import csv
from pathlib import Path


def load_symbol_sheet(path: Path | None) -> dict[str, dict[str, str]]:
    """Upper-cased generic symbol → {description, sector, exchange}; empty when the file is absent."""
    if path is None or not path.is_file():
        return {}
    with path.open(newline="", encoding="utf-8-sig", errors="replace") as handle:
        lines = handle.read().splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("Description,Symbol")), None)
    if start is None:
        return {}
    sheet = {}
    for row in csv.DictReader(lines[start:]):
        generic = (row.get("Generic Symbol") or "").strip().upper()
        if generic:
            sheet[generic] = {"description": (row.get("Description") or "").strip(),
                              "sector": (row.get("Sector") or "").strip(),
                              "exchange": (row.get("Exchange") or "").strip()}  # fmt: skip
    return sheet


def label_for(symbol: str, sheet: dict[str, dict[str, str]]) -> str:
    info = sheet.get(symbol.upper())
    if not info:
        return symbol
    return f"{symbol} — {info['description']} [{info['sector']}]"
