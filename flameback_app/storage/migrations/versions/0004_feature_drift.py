"""Feature drift: ``feature_drift``, the newest PSI of every model feature per symbol and pooled.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03

A new table only (the worker's drift check replaces its rows on each run); nothing
existing changes, so the downgrade drops it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "feature_drift",
        sa.Column("symbol", sa.String(64), primary_key=True),
        sa.Column("feature", sa.String(64), primary_key=True),
        sa.Column("psi", sa.Float, nullable=False),
        sa.Column("flagged", sa.Boolean, nullable=False),
        sa.Column("threshold", sa.Float, nullable=False),
        sa.Column("live_rows", sa.Integer, nullable=False),
        sa.Column("sample_rows", sa.Integer, nullable=False),
        sa.Column("reference", sa.String(8), nullable=False),
        sa.Column("model_version", sa.String(64), nullable=False),
        sa.Column("computed_at", sa.DateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("feature_drift")
