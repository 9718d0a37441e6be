"""Names of the signal columns the models package writes (pure constants, no imports).

:mod:`flameback_app.db` takes them from here (``MODEL_COLUMNS``, ``RULE_COLUMNS``,
``PROBABILITY_COLUMNS``, ``ALL_SYMBOLS``); they live here, import-free, because importing
anything under ``flameback_app`` imports the Faust app, and ``models`` must run
offline. ``tests/unit/test_models_rules.py`` asserts the two stay equal.
"""

from __future__ import annotations

MODEL_COLUMNS: tuple[str, ...] = ("XGBoost", "RandomForest", "AdaBoost", "LogisticReg")
RULE_COLUMNS: tuple[str, ...] = ("RSI_Rule", "MACD_Rule", "Momentum_Rule", "PriceChange_Rule", "BB_Rule")
SIGNAL_COLUMNS: tuple[str, ...] = MODEL_COLUMNS + RULE_COLUMNS
PROBABILITY_COLUMNS: tuple[str, ...] = tuple(f"{m}_p_up" for m in MODEL_COLUMNS)
ALL_SYMBOLS = "*"
