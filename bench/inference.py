"""Live inference throughput: :class:`models.live.SignalEngine` batched vs one row at a time.

Reads the newest valid model version from ``--models`` (or, with none there, trains a
small one on generated prices into a temporary directory first) and generated
indicator rows from the live engine. Writes nothing but a table on stdout: rows/s for
``predict`` on ``--batch-size`` batches (what the predict agent does per
``stream.take``) and for one-row calls (what the original prototype did), in the same
process, with their ratio. Run: ``.venv/bin/python -m bench.inference``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from models.live import SignalEngine
from models.registry import ModelBundle, load_latest
from models.synthetic import indicator_frame, random_walk_prices
from models.train import train_and_save


def _rows(n: int, seed: int = 1) -> list[dict[str, Any]]:
    """``n`` indicator rows past warm-up, as the worker sees them (None for undefined values)."""
    symbols = 4
    frame = indicator_frame(random_walk_prices(n // symbols + 40, symbols=symbols, seed=seed))
    frame = frame[frame.groupby("symbol").cumcount() >= 34].head(n)
    return [
        {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in row.items()}
        for row in frame.to_dict("records")
    ]


def _bundle(models_dir: Path | None, scratch: Path) -> ModelBundle:
    bundle = load_latest(models_dir) if models_dir else None
    if bundle is None:
        train_and_save(indicator_frame(random_walk_prices(1500, symbols=4, seed=0)), scratch, folds=2)
        bundle = load_latest(scratch)
    if bundle is None:
        raise RuntimeError(f"no model version could be loaded from {scratch}")
    return bundle


def _rate(engine: SignalEngine, rows: list[dict], batch_size: int) -> float:
    engine.predict(rows[:batch_size])  # warm caches and thread pools outside the timing
    started = time.perf_counter()
    for i in range(0, len(rows), batch_size):
        engine.predict(rows[i : i + batch_size])
    return len(rows) / (time.perf_counter() - started)


def run(
    models_dir: Path | None = None, *, batched_rows: int = 20_000, single_rows: int = 500, batch_size: int = 500
) -> list[dict[str, Any]]:
    """Rows/s batched and one by one; the one-by-one row carries its ratio to batched."""
    with tempfile.TemporaryDirectory() as scratch:
        bundle = _bundle(models_dir, Path(scratch))
    engine = SignalEngine(bundle)
    rows = _rows(max(batched_rows, single_rows))
    batched = _rate(engine, rows[:batched_rows], batch_size)
    single = _rate(engine, rows[:single_rows], 1)
    return [
        {
            "mode": "batched",
            "batch_size": batch_size,
            "rows": batched_rows,
            "rows_per_s": batched,
            "ratio_vs_batched": 1.0,
            "model_version": bundle.version,
        },
        {
            "mode": "one_by_one",
            "batch_size": 1,
            "rows": single_rows,
            "rows_per_s": single,
            "ratio_vs_batched": single / batched,
            "model_version": bundle.version,
        },
    ]


def table_rows(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows of ``python -m bench``'s table: batched, beside one row at a time."""
    batched, single = results
    return [
        {
            "name": f"model inference, {batched['batch_size']}-row batches vs 1 row",
            "figure": batched["rows_per_s"],
            "baseline": single["rows_per_s"],
            "unit": "rows/s",
            "better": "higher",
        }
    ]


def format_results(results: list[dict[str, Any]]) -> str:
    lines = [
        f"models {results[0]['model_version']}: SignalEngine.predict, 4 models + 5 rules per row",
        f"{'mode':<12}{'batch':>7}{'rows':>8}{'rows/s':>12}{'vs batched':>12}",
    ]
    lines += [
        f"{r['mode']:<12}{r['batch_size']:>7}{r['rows']:>8}{r['rows_per_s']:>12,.0f}{r['ratio_vs_batched']:>11.3f}x"
        for r in results
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--models",
        type=Path,
        default=Path("models/artifacts"),
        help="artifacts root (default models/artifacts); generated models if none is valid",
    )
    parser.add_argument("--batched-rows", type=int, default=20_000)
    parser.add_argument("--single-rows", type=int, default=500)
    parser.add_argument("--batch-size", type=int, default=500)
    args = parser.parse_args()
    results = run(args.models, batched_rows=args.batched_rows, single_rows=args.single_rows, batch_size=args.batch_size)
    print(format_results(results))


if __name__ == "__main__":
    main()
