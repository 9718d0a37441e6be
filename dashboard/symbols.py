"""Human-readable names for symbols, from the original system's symbol sheet when it is present.

Reads ``tick_data_symbol_list_futures.csv`` once at start-up (four lines precede the
header ``Description,Symbol,Root Symbol,Generic Symbol,...``). Generic symbols there
are upper case (``CL1 COMDTY``) while prices say ``CL1 Comdty``, so lookups ignore
case. Without the file the picker shows bare symbols. Writes nothing.
"""

from __future__ import annotations

import csv
from pathlib import Path

SymbolSheet = dict[str, dict[str, str]]
HEADER_START = "Description,Symbol,"


def load_symbol_sheet(path: Path | None) -> SymbolSheet:
    """Upper-cased generic symbol → {description, sector, exchange}; empty when the file is absent or unreadable."""
    if path is None or not Path(path).is_file():
        return {}
    lines = Path(path).read_text(encoding="utf-8-sig", errors="replace").splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith(HEADER_START)), None)
    if start is None:
        return {}
    sheet: SymbolSheet = {}
    for row in csv.DictReader(lines[start:]):
        generic = (row.get("Generic Symbol") or "").strip().upper()
        if generic and generic not in sheet:
            sheet[generic] = {
                "description": _clean(row.get("Description")),
                "sector": _clean(row.get("Sector")),
                "exchange": _clean(row.get("Exchange")),
            }
    return sheet


def _clean(text: str | None) -> str:
    """Collapse runs of whitespace (the sheet has non-breaking spaces inside names)."""
    return " ".join((text or "").split())


def describe(symbol: str, sheet: SymbolSheet, long: bool = False) -> str:
    """``CL1 Comdty — Crude Oil Futures · Energy`` (``long`` adds the exchange); the bare symbol if unknown."""
    info = sheet.get(symbol.upper())
    if not info:
        return symbol
    parts = [info["description"], info["sector"]] + ([info["exchange"]] if long else [])
    return f"{symbol} — " + " · ".join(p for p in parts if p)


def exchange_line(symbol: str, sheet: SymbolSheet) -> str:
    """``EXCHANGE NYMEX · SECTOR Energy`` for the line beside the picker; empty if the sheet lacks the symbol."""
    info = sheet.get(symbol.upper())
    if not info:
        return ""
    return " · ".join(
        f"{label} {info[key]}" for label, key in (("EXCHANGE", "exchange"), ("SECTOR", "sector")) if info[key]
    )
