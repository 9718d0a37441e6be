"""Names of the signals the models package produces: the four classifiers, their P(up), the five rules.

The models own these names; storage (:mod:`flameback_app.storage.db`) builds the predictions
table's columns from them, so a name changed here reaches the schema through a
migration, never silently. ``tests/models/test_rules.py`` checks a migrated
database against them.
"""

from __future__ import annotations

MODEL_COLUMNS: tuple[str, ...] = ("XGBoost", "RandomForest", "AdaBoost", "LogisticReg")
RULE_COLUMNS: tuple[str, ...] = ("RSI_Rule", "MACD_Rule", "Momentum_Rule", "PriceChange_Rule", "BB_Rule")
SIGNAL_COLUMNS: tuple[str, ...] = MODEL_COLUMNS + RULE_COLUMNS
PROBABILITY_COLUMNS: tuple[str, ...] = tuple(f"{m}_p_up" for m in MODEL_COLUMNS)
ALL_SYMBOLS = "*"
