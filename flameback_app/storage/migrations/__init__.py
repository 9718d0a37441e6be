"""Alembic's migration environment for the Flameback schema (``env.py``, ``versions/``).

It lives inside the package so it ships with every install and works from any
working directory; :mod:`flameback_app.storage.schema` points Alembic here. Operators use
``faust -A flameback_app db upgrade``; developers add a revision with
``faust -A flameback_app db revision -m "what changes"`` (README, Development).
"""
