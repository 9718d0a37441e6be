"""``python -m dashboard``: serve the terminal on FLAMEBACK_DASH_HOST:FLAMEBACK_DASH_PORT (127.0.0.1:8050).

Reads the settings (``FLAMEBACK_DB_URL``, ``FLAMEBACK_DASH_REFRESH_S``, the symbol
sheet path) once here, then serves with waitress, a production WSGI server (pure
Python, so it runs wherever the worker does; a thread pool, no reloader, no
debugger). ``--debug`` serves with Flask's development server and Dash's dev tools
instead: never on a shared machine (its debugger runs code sent to it).

Nothing printed here carries the database password (the URL is redacted).
"""

from __future__ import annotations

import argparse
import logging

from sqlalchemy.engine import make_url

from dashboard.app import create_app
from flameback_app.settings import load_settings

WAITRESS_THREADS = 8  # Dash's refresh callbacks of a few browsers at once; each holds a short database read


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m dashboard", description="Serve the Flameback terminal.")
    parser.add_argument("--debug", action="store_true", help="Flask's development server with Dash's dev tools.")
    args = parser.parse_args(argv)
    settings = load_settings()
    app = create_app(
        settings.db_url, settings.dash_refresh_s, settings.symbol_sheet, stale_after_s=settings.worker_stale_s
    )
    server = "Flask development server (--debug)" if args.debug else "waitress"
    print(
        f"Flameback terminal on http://{settings.dash_host}:{settings.dash_port}/ "
        f"(database {make_url(settings.db_url).render_as_string(hide_password=True)}, refresh {settings.dash_refresh_s:g}s, {server})",
        flush=True,
    )
    if args.debug:
        app.run(host=settings.dash_host, port=settings.dash_port, debug=True, use_reloader=False)
        return
    from waitress import serve

    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    serve(app.server, host=settings.dash_host, port=settings.dash_port, threads=WAITRESS_THREADS)


if __name__ == "__main__":
    main()
