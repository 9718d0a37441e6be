"""The worker's RocksDB-backed Faust tables, keyed by symbol (raw UTF-8 key bytes).

``symbol_states``: one :class:`tables.symbol_state.SymbolState` value per symbol.
``scoreboards``: one live scoreboard state per symbol (see ``models.scoreboard``).
Keys are the symbol's UTF-8 bytes (``key_type=bytes`` makes Faust use the raw codec), the
same bytes the feeds use as message keys; values are JSON.
Both have changelog topics, so a restarted worker (or one that takes over the
partitions of a dead one) recovers them; their partition count equals the source
topics' (``FLAMEBACK_PARTITIONS``), which Faust requires.
"""

from __future__ import annotations

from flameback_app.faust_app import app, settings

symbol_states = app.Table(
    "symbol-state",
    key_type=bytes,
    partitions=settings.partitions,
    help="Indicator state, dedup marker and last features per symbol.",
)

scoreboards = app.Table(
    "symbol-scoreboard",
    key_type=bytes,
    partitions=settings.partitions,
    help="Live hit-rate state of every signal per symbol.",
)
