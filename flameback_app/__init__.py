"""Flameback: a real-time ML trading terminal on Faust.

``faust -A flameback_app worker`` imports this package; importing it registers the
agents, tables, web views and CLI commands on :data:`app`.
"""

from flameback_app.app import app, settings

__all__ = ["app", "settings"]
