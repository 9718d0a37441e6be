"""predictions: seq (orders same-timestamp ticks; part of the unique key) and volume.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02

``seq`` is NOT NULL DEFAULT 0, so every existing row keeps its identity as (symbol,
timestamp, 0) and a tick sent without a seq still maps to exactly one row. On SQLite
the unique constraint cannot be altered in place: Alembic's batch mode copies the
table (inside the upgrade's transaction, so a failure leaves the old table).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("predictions") as batch:
        batch.add_column(sa.Column("seq", sa.BigInteger(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("volume", sa.Float(), nullable=True))
        batch.drop_constraint("uq_predictions_symbol_timestamp", type_="unique")
        batch.create_unique_constraint("uq_predictions_symbol_timestamp_seq", ["symbol", "timestamp", "seq"])


def downgrade() -> None:
    with op.batch_alter_table("predictions") as batch:
        batch.drop_constraint("uq_predictions_symbol_timestamp_seq", type_="unique")
        batch.create_unique_constraint("uq_predictions_symbol_timestamp", ["symbol", "timestamp"])
        batch.drop_column("volume")
        batch.drop_column("seq")
