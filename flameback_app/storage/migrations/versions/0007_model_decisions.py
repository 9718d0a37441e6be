"""model_decisions: every champion/challenger decision, promotion and rollback.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03

A new table only; nothing existing changes. One row per decision: which version,
the champion it was measured against, both scores on the challenge block, the paired
95 % interval of their difference, and the reason in words.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "model_decisions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("decided_at", sa.DateTime, nullable=False),
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("champion", sa.String(64)),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("metric", sa.String(16)),
        sa.Column("challenger_score", sa.Float),
        sa.Column("champion_score", sa.Float),
        sa.Column("ci_low", sa.Float),
        sa.Column("ci_high", sa.Float),
        sa.Column("margin", sa.Float),
        sa.Column("n_rows", sa.Integer),
        sa.Column("block_start", sa.DateTime),
        sa.Column("block_end", sa.DateTime),
        sa.Column("reason", sa.Text, nullable=False),
    )
    op.create_index("ix_model_decisions_decided_at", "model_decisions", ["decided_at"])


def downgrade() -> None:
    op.drop_index("ix_model_decisions_decided_at", table_name="model_decisions")
    op.drop_table("model_decisions")
