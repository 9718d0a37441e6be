"""Deep links: ``/?symbol=ES1%20Index&range=1Y`` opens a symbol over a time range; ``/?view=models`` the model
page; ``/`` is the market overview.

The page's URL is the single record of which view is showing, so the browser's back
and forward move between views. Unknown query parameters are ignored rather than
refused: a link shared from a newer terminal still opens. An unknown ``range`` shows a
message and the default range (:mod:`dashboard.symbol_view`).
"""

from __future__ import annotations

from urllib.parse import parse_qs, quote, urlencode

UNKNOWN_SYMBOL = "UNKNOWN SYMBOL {symbol!r} in the link — showing the market overview."
MODELS_VIEW = "models"
MODELS_SEARCH = "?view=models"


def view_in(search: str | None) -> str | None:
    """The ``view`` of a URL's query string (``?view=models``), or None."""
    values = parse_qs((search or "").lstrip("?")).get("view")
    return values[0].strip() or None if values else None


def symbol_in(search: str | None) -> str | None:
    """The ``symbol`` of a URL's query string (``?symbol=ES1%20Index``), or None."""
    values = parse_qs((search or "").lstrip("?")).get("symbol")
    return values[0].strip() or None if values else None


def range_in(search: str | None) -> str | None:
    """The ``range`` of a URL's query string (``?symbol=...&range=1Y``), or None."""
    values = parse_qs((search or "").lstrip("?")).get("range")
    return values[0].strip() or None if values else None


def search_for(symbol: str | None, range_name: str | None = None) -> str:
    """The query string that opens ``symbol`` (spaces as %20, as users paste them) over ``range_name``,
    or "" for the overview."""
    if not symbol:
        return ""
    return "?" + urlencode({"symbol": symbol, **({"range": range_name} if range_name else {})}, quote_via=quote)
