"""Pure, incremental technical indicators (no Faust): see :mod:`flameback_app.core.ta.engine`."""

from flameback_app.core.ta.engine import DEFAULT_PERIODS_PER_YEAR, FEATURE_FIELDS, IndicatorState, step

__all__ = ["DEFAULT_PERIODS_PER_YEAR", "FEATURE_FIELDS", "IndicatorState", "step"]
