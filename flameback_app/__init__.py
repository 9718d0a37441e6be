"""Flameback: a real-time ML trading terminal on Faust.

``faust -A flameback_app worker`` asks this package for :data:`app`; only then is
:mod:`flameback_app.faust_app` imported, which reads the ``FLAMEBACK_*`` settings once and
builds the Faust app (Faust's autodiscovery then imports the agents, tables, web views
and CLI commands). Importing the package or any other submodule builds nothing, reads
no setting and starts nothing: the indicator engine, validation, storage, feeds and
the models can be used offline and from the dashboard process.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["app"]


def __getattr__(name: str) -> Any:
    """Build the Faust app on first access to ``app``, not on import.

    The module that builds it is :mod:`flameback_app.faust_app` (not ``app``: a submodule
    named ``app`` would be bound over this attribute by the import system). Its settings
    and runtime are ``flameback_app.faust_app.settings`` and ``.runtime``.
    """
    if name == "app":
        globals()["app"] = importlib.import_module("flameback_app.faust_app").app  # later lookups skip this hook
        return globals()["app"]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
