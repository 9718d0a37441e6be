"""Helpers for schema tests: a database as commit 62372df made it, and a later revision to upgrade to.

- :func:`create_62372df_database` runs the DDL the old ``metadata.create_all`` emitted
  (frozen in ``tests/support/schema_62372df/<dialect>.sql``) and fills every table through the
  worker's writers, as a deployment of that commit would have.
- :func:`migrations_with_next_revision` copies the package's migrations to a temp dir
  and adds a revision after the package's head (:data:`NEXT_REVISION_ID`): it adds a column to ``predictions`` (on SQLite by copying
  the whole table, ``recreate="always"``; on PostgreSQL by ``ALTER TABLE``: a batch
  copy there would give ``id`` a new sequence starting at 1), records which process ran it in
  ``migration_runs``, and sleeps ``FLAMEBACK_TEST_MIGRATION_SLEEP_S`` inside the
  migration transaction, so a test can start two processes on it and see one wait.
"""

from __future__ import annotations

import functools
import shutil
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, MetaData, Table, create_engine, insert, select

from flameback_app.storage import db, schema
from tests.support.seed import counters, prediction_rows, scoreboard_rows

FROZEN_DDL = Path(__file__).resolve().parent / "schema_62372df"
PACKAGE_MIGRATIONS = Path(db.__file__).resolve().parent / "migrations"
TABLES_62372DF = ("model_registry", "pipeline_counters", "predictions", "scoreboard")
HEAD_REVISION = schema.head_revision()
NEXT_REVISION_ID = f"{int(HEAD_REVISION) + 1:04d}"

NEXT_REVISION = '''"""Test revision: add predictions.venue (table rebuilt), record the run."""

import os
import time

import sqlalchemy as sa
from alembic import op

revision = "{next_id}"
down_revision = "{head}"
branch_labels = None
depends_on = None


def _recreate() -> str:
    return "always" if op.get_bind().dialect.name == "sqlite" else "auto"


def upgrade() -> None:
    time.sleep(float(os.environ.get("FLAMEBACK_TEST_MIGRATION_SLEEP_S", "0")))
    runs = op.create_table("migration_runs", sa.Column("pid", sa.Integer, nullable=False))
    op.bulk_insert(runs, [{"pid": os.getpid()}])
    with op.batch_alter_table("predictions", recreate=_recreate()) as batch:
        batch.add_column(sa.Column("venue", sa.String(16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("predictions", recreate=_recreate()) as batch:
        batch.drop_column("venue")
    op.drop_table("migration_runs")
'''


def frozen_statements(dialect: str) -> list[str]:
    text = "\n".join(
        line for line in (FROZEN_DDL / f"{dialect}.sql").read_text().splitlines() if not line.startswith("--")
    )
    return [s.strip() for s in text.split(";\n") if s.strip()]


def create_62372df_database(engine: Engine) -> None:
    """The tables exactly as 62372df's ``create_all`` made them, and rows in every one."""
    with engine.begin() as conn:
        for statement in frozen_statements(engine.dialect.name):
            conn.exec_driver_sql(statement)
    reflected = MetaData()
    reflected.reflect(engine, only=["predictions"])
    old_predictions, old_columns = reflected.tables["predictions"], columns_62372df()["predictions"]
    with engine.begin() as conn:
        for k, symbol in enumerate(("CL1 Comdty", "ES1 Index", "C 1 Comdty")):
            rows, _state, _price = prediction_rows(symbol, 60 + 20 * k, seed=k, price=20.0 * 3**k)
            conn.execute(insert(old_predictions), [{c: r.get(c) for c in old_columns if c != "id"} for r in rows])
    db.upsert_scoreboard(engine, scoreboard_rows(["CL1 Comdty", "ES1 Index", "C 1 Comdty"]))
    counters_62372df = Table("pipeline_counters", MetaData(), autoload_with=engine)  # (name, value, updated_at)
    written = datetime(2026, 12, 1, 12, 0, 0, 123456)
    with engine.begin() as conn:
        conn.execute(
            insert(counters_62372df),
            [{"name": k, "value": float(v), "updated_at": written} for k, v in counters(180, 1_764_000_000.0).items()],
        )
    db.register_model(engine, "20260101T000000Z", datetime(2026, 1, 1), "/models/20260101T000000Z", "{}")


def snapshot(engine: Engine, tables: tuple[str, ...] = TABLES_62372DF) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the 62372df tables (their 62372df columns only), in primary-key order."""
    reflected = MetaData()
    reflected.reflect(engine, only=list(tables))
    columns = columns_62372df()
    out = {}
    with engine.connect() as conn:
        for name in tables:
            table = reflected.tables[name]
            stmt = select(*(table.c[c] for c in columns[name])).order_by(*table.primary_key.columns)
            out[name] = [tuple(row) for row in conn.execute(stmt)]
    return out


@functools.cache
def columns_62372df() -> dict[str, list[str]]:
    """Each 62372df table's columns, in order, from its frozen DDL (later revisions add columns)."""
    engine = create_engine("sqlite://")
    with engine.begin() as conn:
        for statement in frozen_statements("sqlite"):
            conn.exec_driver_sql(statement)
    reflected = MetaData()
    reflected.reflect(engine)
    engine.dispose()
    return {name: [c.name for c in table.columns] for name, table in reflected.tables.items()}


def migrations_with_next_revision(root: Path) -> str:
    """A copy of the package's migrations plus one revision after its head (module docstring); its location."""
    target = root / "migrations"
    shutil.copytree(PACKAGE_MIGRATIONS, target, ignore=shutil.ignore_patterns("__pycache__"))
    text = NEXT_REVISION.replace("{next_id}", NEXT_REVISION_ID).replace("{head}", HEAD_REVISION)
    (target / "versions" / f"{NEXT_REVISION_ID}_test_next_revision.py").write_text(text)
    return str(target)
