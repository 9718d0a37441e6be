"""The Dash terminal application: :func:`create_app`, and ``app``/``server`` for WSGI servers.

Reads only the database the worker writes and, when present, the symbol sheet.
Every script, style sheet and font is served by Dash from this package and the
installed Dash (``serve_locally``; no CDN, no web fonts): the machine may be
offline. ``app``/``server`` are built from the ``FLAMEBACK_*`` settings on first
access (``gunicorn dashboard.app:server``), so importing this module needs no
database and no environment.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dash

from dashboard import drift, ids, model_decisions, model_page, symbol_view
from dashboard.alerts import register_alert_callbacks
from dashboard.callbacks import Source, register_callbacks
from dashboard.layout import build_layout
from dashboard.queries import reader_engine
from dashboard.symbols import load_symbol_sheet

ASSETS = Path(__file__).parent / "assets"


class OfflineDash(dash.Dash):
    """Dash whose page names no outside address: drops the version-check URL Dash puts in its config."""

    def _config(self) -> dict[str, Any]:
        config = super()._config()
        config.pop("dash_version_url", None)
        config["disable_version_check"] = True
        return config


def create_app(
    db_url: str,
    refresh_s: float = 3.0,
    symbol_sheet: Path | None = None,
    max_points: int = 500,
    stale_after_s: float = 10.0,
) -> dash.Dash:
    """Build the terminal for a database URL; nothing is read until a page asks."""
    app = OfflineDash(
        __name__,
        title="Flameback terminal",
        update_title=None,
        serve_locally=True,
        assets_folder=str(ASSETS),
        include_assets_files=True,
    )
    app.layout = build_layout(refresh_s)
    source = Source(
        db_url, reader_engine(db_url), load_symbol_sheet(symbol_sheet), max_points, stale_after_s=stale_after_s
    )
    register_callbacks(app, source)
    drift.register_callbacks(app, source)
    register_alert_callbacks(app, source, ids.TICK)
    symbol_view.register_callbacks(app, source)
    model_decisions.register(app, source)
    model_page.register_callbacks(app, source)
    return app


def app_from_settings() -> dash.Dash:
    """The terminal configured from ``FLAMEBACK_*`` (entry points only)."""
    from flameback_app.settings import load_settings

    settings = load_settings()
    return create_app(
        settings.db_url, settings.dash_refresh_s, settings.symbol_sheet, stale_after_s=settings.worker_stale_s
    )


_built: dict[str, Any] = {}


def __getattr__(name: str) -> Any:
    """``app`` and ``server`` (= ``app.server``), built once on first access."""
    if name not in ("app", "server"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if not _built:
        _built["app"] = app_from_settings()
        _built["server"] = _built["app"].server
    return _built[name]
