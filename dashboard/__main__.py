"""``python -m dashboard``: serve the terminal on FLAMEBACK_DASH_HOST:FLAMEBACK_DASH_PORT (127.0.0.1:8050).

Reads the settings (``FLAMEBACK_DB_URL``, ``FLAMEBACK_DASH_REFRESH_S``, the symbol
sheet path) once here, then serves with Dash's built-in threaded server.
"""

from __future__ import annotations

from dashboard.app import create_app
from flameback_app.settings import load_settings


def main() -> None:
    settings = load_settings()
    app = create_app(settings.db_url, settings.dash_refresh_s, settings.symbol_sheet)
    print(f"Flameback terminal on http://{settings.dash_host}:{settings.dash_port}/ "
          f"(database {settings.db_url}, refresh {settings.dash_refresh_s:g}s)", flush=True)  # fmt: skip
    app.run(host=settings.dash_host, port=settings.dash_port, debug=False)


if __name__ == "__main__":
    main()
