"""Pure, incremental technical indicators (no Faust): see :mod:`flameback_app.ta.engine`."""

from flameback_app.ta.engine import FEATURE_FIELDS, IndicatorState, step

__all__ = ["FEATURE_FIELDS", "IndicatorState", "step"]
