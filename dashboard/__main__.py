"""``python -m dashboard``: serve the terminal on FLAMEBACK_DASH_HOST:FLAMEBACK_DASH_PORT (127.0.0.1:8050)."""

from __future__ import annotations

from flameback_app.settings import load_settings


def main() -> None:
    from dashboard.app import app

    settings = load_settings()
    print(f"Flameback terminal on http://{settings.dash_host}:{settings.dash_port} (database {settings.db_url})")
    app.run(host=settings.dash_host, port=settings.dash_port, debug=False)


if __name__ == "__main__":
    main()
