"""Prometheus metrics of one worker process (``/metrics``), made by ``prometheus_client``.

The pipeline already counts what happens to ticks in :class:`PipelineCounters` (the
terminal and ``/counters/`` read them); rather than count everything twice, a custom
collector turns those figures into Prometheus counter families at scrape time. Only
what the counters do not hold is recorded here directly: the tick → row latency
histogram (observed per stored row) and the consumer lag per partition (read from
the consumer at scrape time). One registry per process, not the global default one,
so imports in tests do not register metrics twice.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from flameback_app.kafka.faust_fixes.introspection import committed_offset
from flameback_app.worker.counters import PipelineCounters

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Tick (Kafka timestamp) → row handed to the database, seconds: live rates sit at tens of
# milliseconds, a full-speed replay's queues at seconds, a database outage at minutes.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)

Lag = tuple[str, int, int]  # topic, partition, messages not yet committed


class PipelineCollector(Collector):
    """The worker's :class:`PipelineCounters` and consumer lag, as metric families at each scrape."""

    def __init__(self, counters: Callable[[], PipelineCounters], lags: Callable[[], Iterable[Lag]]) -> None:
        self._counters, self._lags = counters, lags

    def collect(self) -> Iterator[Metric]:
        c = self._counters()
        yield CounterMetricFamily("flameback_ticks_processed", "Ticks applied to a symbol's state.", value=c.processed)
        yield CounterMetricFamily("flameback_ticks_stale", "Ticks not newer than the symbol's last one.", value=c.stale)
        yield CounterMetricFamily("flameback_rows_written", "New prediction rows stored.", value=c.rows_written)
        yield CounterMetricFamily(
            "flameback_db_write_failures", "Failed database batch writes (each retried).", value=c.db_write_failures
        )
        rejected = CounterMetricFamily(
            "flameback_ticks_rejected", "Ticks sent to the DLQ, by reason.", labels=["reason"]
        )
        for reason, n in sorted(c.rejected.items()):
            rejected.add_metric([reason], n)
        yield rejected
        lag = GaugeMetricFamily(
            "flameback_consumer_lag", "Messages past the committed offset.", labels=["topic", "partition"]
        )
        for topic, partition, n in self._lags():
            lag.add_metric([topic, str(partition)], n)
        yield lag


@dataclass
class Metrics:
    """One process's registry and the histogram the prediction stage observes."""

    registry: CollectorRegistry = field(default_factory=lambda: CollectorRegistry(auto_describe=False))
    latency: Histogram = field(init=False)

    def __post_init__(self) -> None:
        self.latency = Histogram(
            "flameback_tick_to_row_latency_seconds",
            "Kafka timestamp of a tick to its row handed to the database.",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )

    def watch(self, counters: Callable[[], PipelineCounters], lags: Callable[[], Iterable[Lag]]) -> None:
        self.registry.register(PipelineCollector(counters, lags))

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


def consumer_lags(consumer: Any) -> list[Lag]:
    """Per assigned partition: the highwater the consumer last saw minus the committed offset.

    Partitions with no committed offset yet or no fetch response yet (no highwater)
    are left out rather than guessed.
    """
    if consumer is None:
        return []
    lags = []
    for tp in sorted(consumer.assignment()):
        committed = committed_offset(consumer, tp)
        highwater = consumer.highwater(tp)
        if committed is not None and highwater is not None:
            lags.append((tp.topic, tp.partition, max(highwater - committed, 0)))
    return lags
