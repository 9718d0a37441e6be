"""Pipeline counters per worker: ``pipeline_counters`` keyed by (worker, name).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02

Several workers share one database; each publishes its own counters under its
``FLAMEBACK_WORKER_ID`` and the terminal shows them side by side with their sum (one
row per name let the workers overwrite each other). Rows already there keep their
values under the worker ``""`` (the single worker of before). The table is rebuilt
and renamed rather than altered: SQLite cannot change a primary key in place, and
one way for both dialects keeps this revision simple.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pipeline_counters_new",
        sa.Column("worker", sa.String(128), primary_key=True, server_default=""),
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("value", sa.Float, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )
    op.execute(
        "INSERT INTO pipeline_counters_new (worker, name, value, updated_at) "
        "SELECT '', name, value, updated_at FROM pipeline_counters"
    )
    op.drop_table("pipeline_counters")
    op.rename_table("pipeline_counters_new", "pipeline_counters")


def downgrade() -> None:
    """Back to one row per name: the newest value of each name across workers."""
    op.create_table(
        "pipeline_counters_old",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("value", sa.Float, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )
    op.execute(
        "INSERT INTO pipeline_counters_old (name, value, updated_at) "
        "SELECT c.name, c.value, c.updated_at FROM pipeline_counters c "
        "WHERE c.worker = (SELECT min(d.worker) FROM pipeline_counters d WHERE d.name = c.name "
        "AND d.updated_at = (SELECT max(e.updated_at) FROM pipeline_counters e WHERE e.name = c.name))"
    )
    op.drop_table("pipeline_counters")
    op.rename_table("pipeline_counters_old", "pipeline_counters")
