"""Web views on the worker (``http://127.0.0.1:6066``): table state, symbols, drift, health, counters.

Reads: the ``symbol-state`` and ``symbol-scoreboard`` tables (routed with
``table_route`` to the worker that owns the symbol's partition), this process's
counters, and the database for the symbol list. Writes nothing.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable
from typing import Any

from faust.web import Request, Response, View
from sqlalchemy import func, select

from flameback_app.faust_app import app, runtime, settings
from flameback_app.kafka.faust_fixes.introspection import active_partitions, started_producer
from flameback_app.storage import db
from flameback_app.worker.drift_check import drift_table_rows
from flameback_app.worker.metrics import CONTENT_TYPE, consumer_lags
from tables.definitions import scoreboards, symbol_states
from tables.symbol_state import SymbolState

_started = time.time()


def routed_by_symbol(table: Any) -> Callable[[Callable], Callable]:
    """``table_route`` on the ``symbol`` URL part, once the producer knows the table's changelog.

    ``table_route`` finds a key's partition with the producer's partitioner, which
    fails (``TypeError``, a 500) while the producer has no metadata for the changelog
    topic: on a worker that has not written to it yet — requests for keys owned by
    the other worker — and right after a first batch, before its changelog sends
    have gone out (seen in a test that asked 1.4 s after "Worker ready"). Asking for
    the partitions first loads the metadata once; afterwards it is a cached lookup.
    """

    def decorate(view: Callable) -> Callable:
        route = app.table_route(table=table, match_info="symbol")(view)

        @functools.wraps(view)
        async def with_metadata(web: View, request: Request, **kwargs: Any) -> Response:
            await started_producer(app.producer).partitions_for(table.changelog_topic.get_topic_name())
            return await route(web, request, **kwargs)

        return with_metadata

    return decorate


@app.page("/state/{symbol}/")
@routed_by_symbol(symbol_states)
async def symbol_state(web: View, request: Request, symbol: str) -> Response:
    """Indicators, window length, tick count and last timestamp of one symbol."""
    value = symbol_states.get(symbol.encode())
    if value is None:
        return web.json({"error": f"unknown symbol {symbol!r}"}, status=404)
    state = SymbolState.from_value(value)
    return web.json(
        {
            "symbol": symbol,
            "last_timestamp": state.last_ts.isoformat() if state.last_ts else None,
            "ticks": state.ticks,
            "window_length": state.indicators.window_length,
            "indicators": state.last_features,
            "scoreboard": scoreboards.get(symbol.encode()),
            "served_by": str(app.conf.canonical_url),
        }
    )


@app.page("/symbols/")
async def symbols(web: View, request: Request) -> Response:
    """Every symbol with rows in the database, its last timestamp and row count."""
    rows = await runtime.offload(_symbol_summary)
    return web.json({"symbols": rows})


def _symbol_summary() -> list[dict[str, Any]]:
    p = db.predictions
    stmt = select(p.c.symbol, func.max(p.c.timestamp), func.count()).group_by(p.c.symbol).order_by(p.c.symbol)
    with runtime.db.connect() as conn:
        return [
            {"symbol": s, "last_timestamp": t.isoformat() if t else None, "rows": n} for s, t, n in conn.execute(stmt)
        ]


@app.page("/scoreboard/")
async def scoreboard(web: View, request: Request) -> Response:
    """Live hit rates of every signal (cumulative and last 20/60/250) per symbol and for all ("*")."""
    rows = await runtime.offload(_scoreboard_rows, request.query.get("symbol"))
    return web.json({"scoreboard": rows})


def _scoreboard_rows(symbol: str | None) -> list[dict[str, Any]]:
    board = db.scoreboard
    stmt = select(board).order_by(board.c.symbol, board.c.signal)
    if symbol:
        stmt = stmt.where(board.c.symbol == symbol)
    with runtime.db.connect() as conn:
        return [
            {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in row._mapping.items()}
            for row in conn.execute(stmt)
        ]


@app.page("/drift/")
async def drift(web: View, request: Request) -> Response:
    """The newest drift check: PSI of every model feature per symbol and pooled ("*"), flagged first."""
    rows = await runtime.offload(drift_table_rows, runtime.db, request.query.get("symbol"))
    return web.json(
        {
            "threshold": settings.drift_psi_threshold,
            "every_s": settings.drift_every_s,
            "retrain_on_drift": settings.retrain_on_drift,
            "drift": rows,
        }
    )


@app.page("/health/")
async def health(web: View, request: Request) -> Response:
    """200 when this worker can do its job, 503 with the reasons when not; plus what it holds and its counters."""
    assigned = app.consumer.assignment() if app.consumer else set()
    reasons = runtime.health.reasons(await broker_error(settings.bootstrap_servers))
    return web.json(
        {
            "status": "degraded" if reasons else "ok",
            "reasons": reasons,
            "worker": settings.worker_id,
            "app_id": settings.app_id,
            "broker": settings.broker,
            "uptime_s": round(time.time() - _started, 1),
            "assigned": _names(assigned),
            "not_fetching": _names(assigned - active_partitions(app.consumer)) if assigned else [],
            "model_version": runtime.signals.model_version if runtime.signals else None,
            "counters": runtime.counters.snapshot(runtime.counters.sample_rate()),
        },
        status=503 if reasons else 200,
    )


@app.timer(interval=1.0)
async def watch_partitions() -> None:
    """Tell the health tracker which assigned partitions are not being fetched (it times how long)."""
    if app.consumer is None:
        return
    assigned = app.consumer.assignment()
    active = active_partitions(app.consumer) if assigned else set()
    runtime.health.partitions_seen(_names(assigned), _names(active & assigned))


async def broker_error(bootstrap: list[str], timeout_s: float = 1.0) -> str | None:
    """None when any bootstrap server accepts a TCP connection, else why not (a cheap liveness probe)."""
    errors = []
    for server in bootstrap:
        host, _, port = server.rpartition(":")
        try:
            _reader, writer = await asyncio.wait_for(asyncio.open_connection(host, int(port)), timeout_s)
        except (OSError, TimeoutError) as exc:
            errors.append(f"{server}: {exc or type(exc).__name__}")
            continue
        writer.close()
        return None
    return "; ".join(errors)


def _names(tps: set) -> list[str]:
    return sorted(f"{tp.topic}/{tp.partition}" for tp in tps)


@app.page("/metrics")
async def metrics(web: View, request: Request) -> Response:
    """This worker's Prometheus metrics (text exposition format, by prometheus_client)."""
    return web.bytes(runtime.metrics.exposition(), content_type=None, headers={"Content-Type": CONTENT_TYPE})


runtime.metrics.watch(lambda: runtime.counters, lambda: consumer_lags(app.consumer))


@app.page("/counters/")
async def counters(web: View, request: Request) -> Response:
    """Pipeline counters of this worker: processed, rejected by reason, stale, rows written."""
    snapshot = runtime.counters.snapshot(runtime.counters.sample_rate())
    snapshot["rejected_by_reason"] = dict(runtime.counters.rejected)
    snapshot["worker"] = settings.worker_id
    return web.json(snapshot)
