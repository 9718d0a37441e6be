"""The Dash terminal application (``python -m dashboard``; ``server`` for WSGI servers).

Reads only the database the worker writes (``FLAMEBACK_DB_URL``) and, when present,
the symbol sheet. Every asset is served by Dash itself from this package (no CDN,
no web fonts): the machine it runs on may be offline.
"""

from __future__ import annotations

from pathlib import Path

import dash

from dashboard.callbacks import register_callbacks
from dashboard.layout import build_layout
from dashboard.queries import reader_engine
from dashboard.symbols import load_symbol_sheet


def create_app(db_url: str, refresh_s: float = 3.0, symbol_sheet: Path | None = None,
               max_points: int = 500) -> dash.Dash:  # fmt: skip
    """Build the terminal for a database URL (nothing is read until a page asks)."""
    app = dash.Dash(__name__, title="Flameback terminal", serve_locally=True, update_title=None,
                    assets_folder=str(Path(__file__).parent / "assets"))  # fmt: skip
    app.layout = build_layout(refresh_s)
    register_callbacks(app, db_url, reader_engine(db_url), load_symbol_sheet(symbol_sheet), max_points)
    return app


def _from_settings() -> dash.Dash:
    from flameback_app.settings import load_settings

    settings = load_settings()
    return create_app(settings.db_url, settings.dash_refresh_s, settings.symbol_sheet)


app = _from_settings()
server = app.server
