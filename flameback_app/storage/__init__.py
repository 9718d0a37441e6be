"""Storage: the database schema, its Alembic migrations, and the writes the worker makes.

It owns the SQLAlchemy Core tables and writes (:mod:`.db`), the versioned schema and
the start-up check (:mod:`.schema`, :mod:`.migrations`) and the worker's database
preparation before Faust starts (:mod:`.db_startup`). It may import the core, the
settings and ``models.columns`` (the model column names the tables carry); never Faust,
the agents or the Faust app, so the dashboard and the commands can use it alone.
"""
