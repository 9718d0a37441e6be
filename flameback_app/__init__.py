"""Flameback: a real-time ML trading terminal on Faust.

``faust -A flameback_app worker`` loads :data:`app`; Faust's autodiscovery then
imports the agents, tables, web views and CLI commands (see ``flameback_app.app``).
Importing a pure submodule (``flameback_app.ta``, ``flameback_app.validation``) does
not start anything.
"""

from flameback_app.app import app, settings

__all__ = ["app", "settings"]
