"""model_signals: the calls and P(up) of the user's own models (FLAMEBACK_USER_MODELS), one row per tick and model.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03

A long table rather than a column pair per model: the user names the models in a
setting, so adding or removing one must not need a migration. The four built-in
models keep their columns in ``predictions``. The key is the tick's own key
(symbol, timestamp, seq) plus the model, so a redelivered tick writes nothing twice.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "model_signals",
        sa.Column("symbol", sa.String(64), primary_key=True),
        sa.Column("timestamp", sa.DateTime, primary_key=True),
        sa.Column("seq", sa.BigInteger, primary_key=True),
        sa.Column("model", sa.String(32), primary_key=True),
        sa.Column("call", sa.String(16)),
        sa.Column("p_up", sa.Float),
        sa.Column("model_version", sa.String(64)),
    )


def downgrade() -> None:
    op.drop_table("model_signals")
