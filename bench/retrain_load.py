"""A retrain that never ends, for ``bench.pipeline --retrain``: the worker's training child's work, in a loop.

Does what a worker's training child does once it has read its history — lowers its
own priority and caps its threads (:func:`flameback_app.worker.model_service.lower_priority`,
FLAMEBACK_TRAINING_NICE / FLAMEBACK_TRAINING_THREADS), then trains a challenger with
:func:`models.champion.challenge` — again and again until it is stopped, so that a
throughput run measures the pipeline *while* a retrain runs from start to end.
Writes ``READY`` to the ``--ready`` file once its features are loaded and it starts
training, and one line per finished training on stderr.

    .venv/bin/python -m bench.retrain_load TICKS.csv --ready FILE [--nice 10] [--threads 1]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from functools import partial
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("ticks", type=Path)
    parser.add_argument("--ready", type=Path, required=True)
    parser.add_argument("--nice", type=int, default=10)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()

    from flameback_app.worker.model_service import lower_priority

    lower_priority(args.nice, args.threads)  # before the libraries start their thread pools, as in the child
    from models.champion import challenge
    from models.decisions import ChallengeSettings
    from models.train import load_feature_frame, make_models

    frame = load_feature_frame(args.ticks, progress=False)
    args.ready.write_text("READY")
    factory = partial(make_models, n_jobs=args.threads)
    with tempfile.TemporaryDirectory(prefix="flameback-retrain-") as tmp:
        for k in range(1, 1_000_000):
            started = time.monotonic()
            challenge(frame, Path(tmp) / str(k), None, ChallengeSettings(), model_factory=factory)
            print(f"retrain {k} done in {time.monotonic() - started:.1f}s", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
