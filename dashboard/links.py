"""Deep links: ``/?symbol=ES1%20Index`` opens a symbol; ``/?view=models`` the model page; ``/`` is the market overview.

The page's URL is the single record of which view is showing, so the browser's back
and forward move between views. Unknown query parameters (e.g. a ``range`` this
terminal does not read) are ignored rather than refused: a link shared from a newer
terminal still opens.
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


def search_for(symbol: str | None) -> str:
    """The query string that opens ``symbol`` (spaces as %20, as users paste them), or "" for the overview."""
    return "?" + urlencode({"symbol": symbol}, quote_via=quote) if symbol else ""
