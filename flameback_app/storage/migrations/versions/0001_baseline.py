"""Baseline: the schema as ``metadata.create_all`` made it at commit 62372df.

Revision ID: 0001
Revises:
Create Date: 2026-12-02

Frozen on purpose: the column lists are written out here, not imported from
``flameback_app.storage.db``, so that later changes to the models cannot change what this
revision creates. A database created by the old ``create_all`` (these tables, no
version table) is recognised as this revision and stamped, not re-created
(:func:`flameback_app.storage.schema.upgrade`).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

FEATURES = (
    "sma_5",
    "sma_10",
    "sma_20",
    "ema_12",
    "ema_26",
    "rsi_14",
    "macd_line",
    "macd_signal",
    "macd_histogram",
    "bb_upper",
    "bb_middle",
    "bb_lower",
    "volatility_20",
    "momentum_10",
    "price_change",
    "price_change_pct",
    "lag_1",
    "lag_2",
    "lag_5",
)
SIGNALS = (
    "XGBoost",
    "RandomForest",
    "AdaBoost",
    "LogisticReg",
    "RSI_Rule",
    "MACD_Rule",
    "Momentum_Rule",
    "PriceChange_Rule",
    "BB_Rule",
)
PROBABILITIES = ("XGBoost_p_up", "RandomForest_p_up", "AdaBoost_p_up", "LogisticReg_p_up")


def upgrade() -> None:
    op.create_table(
        "model_registry",
        sa.Column("version", sa.String(64), primary_key=True),
        sa.Column("created", sa.DateTime, nullable=False),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("metrics_json", sa.Text),
        sa.Column("loaded_at", sa.DateTime),
    )
    op.create_table(
        "pipeline_counters",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("value", sa.Float, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "predictions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("symbol", sa.String(64), nullable=False),
        sa.Column("timestamp", sa.DateTime, nullable=False),
        sa.Column("current_price", sa.Float, nullable=False),
        sa.Column("processing_time", sa.DateTime, nullable=False),
        *(sa.Column(name, sa.Float) for name in FEATURES),
        *(sa.Column(name, sa.String(16)) for name in SIGNALS),
        *(sa.Column(name, sa.Float) for name in PROBABILITIES),
        sa.Column("model_version", sa.String(64)),
        sa.Column("ingest_time", sa.DateTime),
        sa.Column("latency_ms", sa.Float),
        sa.UniqueConstraint("symbol", "timestamp", name="uq_predictions_symbol_timestamp"),
    )
    op.create_index("ix_predictions_id_symbol", "predictions", ["symbol", "id"])
    op.create_index("ix_predictions_symbol_timestamp", "predictions", ["symbol", "timestamp"])
    op.create_table(
        "scoreboard",
        sa.Column("symbol", sa.String(64), primary_key=True),
        sa.Column("signal", sa.String(32), primary_key=True),
        sa.Column("n", sa.Integer, nullable=False),
        sa.Column("hits", sa.Integer, nullable=False),
        sa.Column("hit_rate", sa.Float),
        sa.Column("hit_rate_20", sa.Float),
        sa.Column("hit_rate_60", sa.Float),
        sa.Column("hit_rate_250", sa.Float),
        sa.Column("baseline_up_rate", sa.Float),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )


def downgrade() -> None:
    for table in ("scoreboard", "predictions", "pipeline_counters", "model_registry"):
        op.drop_table(table)
