"""How many symbols a worker keeps state for, to bound it (``FLAMEBACK_MAX_SYMBOLS``).

Pure (no Faust). Every symbol costs a table row, a scoreboard row and model state, so a
producer that sends 100,000 distinct symbols — by mistake or not — must not grow a
worker without bound. Symbols that already have state are always admitted; a new one
only while the worker holds fewer than the bound, else it is dead-lettered
(``too_many_symbols``). The count is of the symbols in the table partitions this worker
holds: it is recounted from the table (their keys) at the first check, every
``recount_every_s``, and at most every ``recount_full_every_s`` while at the bound,
since partitions move between workers.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field


@dataclass
class SymbolCensus:
    limit: int
    recount_every_s: float = 30.0
    recount_full_every_s: float = 1.0  # at the bound, a flood of new symbols recounts at most this often
    _known: set[str] = field(default_factory=set)
    _counted_at: float | None = None

    def admit(self, symbol: str, table_symbols: Callable[[], Iterable[str]], now: float | None = None) -> bool:
        """True if a symbol without state may start one; counts it when admitted."""
        now = time.monotonic() if now is None else now
        if symbol in self._known:
            return True
        age = None if self._counted_at is None else now - self._counted_at
        full = len(self._known) >= self.limit
        if age is None or age >= self.recount_every_s or (full and age >= self.recount_full_every_s):
            self._known = set(table_symbols())
            self._counted_at = now
        if symbol in self._known or len(self._known) < self.limit:
            self._known.add(symbol)
            return True
        return False

    def __len__(self) -> int:
        return len(self._known)
