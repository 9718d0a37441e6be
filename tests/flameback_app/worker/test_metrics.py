"""``/metrics``' exposition, parsed back with prometheus_client's own parser."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from flameback_app.worker.counters import PipelineCounters
from flameback_app.worker.metrics import Metrics


def parse(text: str) -> dict[str, dict[tuple, float]]:
    """Sample name → {sorted label items: value}."""
    out: dict[str, dict[tuple, float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return out


def test_counters_rejections_latency_and_lag_are_exposed() -> None:
    counters = PipelineCounters(processed=120, stale=7, rows_written=118, db_write_failures=3)
    counters.reject("invalid_json")
    counters.reject("invalid_json")
    counters.reject("price_not_finite")
    metrics = Metrics()
    metrics.watch(lambda: counters, lambda: [("futures-ticks", 0, 5), ("futures-ticks", 3, 0)])
    for seconds in (0.004, 0.03, 0.03, 7.0):
        metrics.latency.observe(seconds)
    samples = parse(metrics.exposition().decode())
    assert samples["flameback_ticks_processed_total"] == {(): 120}
    assert samples["flameback_ticks_stale_total"] == {(): 7}
    assert samples["flameback_rows_written_total"] == {(): 118}
    assert samples["flameback_db_write_failures_total"] == {(): 3}
    assert samples["flameback_ticks_rejected_total"] == {
        (("reason", "invalid_json"),): 2,
        (("reason", "price_not_finite"),): 1,
    }
    assert samples["flameback_consumer_lag"] == {
        (("partition", "0"), ("topic", "futures-ticks")): 5,
        (("partition", "3"), ("topic", "futures-ticks")): 0,
    }
    buckets = samples["flameback_tick_to_row_latency_seconds_bucket"]
    assert buckets[(("le", "0.005"),)] == 1 and buckets[(("le", "0.05"),)] == 3 and buckets[(("le", "+Inf"),)] == 4
    assert samples["flameback_tick_to_row_latency_seconds_count"] == {(): 4}


def test_counters_are_read_at_each_scrape() -> None:
    counters = PipelineCounters()
    metrics = Metrics()
    metrics.watch(lambda: counters, list)
    assert parse(metrics.exposition().decode())["flameback_ticks_processed_total"] == {(): 0}
    counters.processed += 5
    assert parse(metrics.exposition().decode())["flameback_ticks_processed_total"] == {(): 5}
