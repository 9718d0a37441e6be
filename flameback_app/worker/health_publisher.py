"""Health publishing: this worker's pipeline counters and the pooled scoreboard, written to the database.

The terminal reads them from there (every worker's counters, keyed by
``FLAMEBACK_WORKER_ID``). Faust-free; :mod:`flameback_app.tasks.schedules` calls it on a timer.
"""

from __future__ import annotations

import logging

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from flameback_app.core.records import utc_now
from flameback_app.storage import db
from flameback_app.worker.runtime import Runtime
from models.columns import ALL_SYMBOLS
from models.scoreboard import pooled_rows

log = logging.getLogger(__name__)
PUBLISH_EVERY_S = 2.0


async def publish_counters(rt: Runtime) -> None:
    """Pipeline counters and the all-symbols scoreboard → database, for the terminal.

    Best effort: an exception escaping a Faust timer stops the whole worker, and a
    health figure that is late (the database is locked or unwritable) is no reason
    to stop processing ticks. The next tick of the timer tries again.
    """
    rate = rt.counters.sample_rate()
    try:
        await rt.offload(db.write_counters, rt.db, rt.counters.snapshot(rate), utc_now(), rt.settings.worker_id)
        await rt.offload(_pool_scoreboard, rt.db)
    except SQLAlchemyError as exc:
        log.warning(
            "could not publish the pipeline counters (%s); retrying in %.0fs",
            getattr(exc, "orig", exc),
            PUBLISH_EVERY_S,
        )


def _pool_scoreboard(engine: Engine) -> None:
    """Symbol "*" rows from every symbol's rows (whichever worker wrote them)."""
    board = db.scoreboard
    with engine.connect() as conn:
        rows = [r._asdict() for r in conn.execute(board.select().where(board.c.symbol != ALL_SYMBOLS))]
    db.upsert_scoreboard(engine, pooled_rows(rows, utc_now()))
