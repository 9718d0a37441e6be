"""Feature drift: how far the live model inputs have moved from what the models were trained on (pure, no Faust).

Training keeps a random sample of its feature rows (FLAMEBACK_DRIFT_SAMPLE_ROWS, default
10,000) and their symbols beside the manifest as ``training_sample.npz``: a float64 and
a fixed-width text NumPy array, read with ``allow_pickle=False`` so that a crafted file
cannot run code when it is loaded (an object array, which NumPy would unpickle, is
refused), and hashed in the manifest like the model files.

Pooled, the live rows are compared with the whole sample. A symbol is compared with
its own training rows when the sample holds at least :data:`MIN_REFERENCE_ROWS` of
them, else with the whole sample (``reference`` says which): symbols differ from each
other (an equity index is calmer than natural gas), and against the pooled sample a
calm symbol would read as drifted forever (measured on the 2001–2019 file: the
volatility PSI of ES1, NG1 and GC1 against the pooled sample was 1.7–2.3 on rows the
models had been trained on).

The measure is the population stability index of each feature,
PSI = Σ (live% − train%) · ln(live% / train%), over bins cut at the training sample's
deciles (so each bin holds ~10 % of the training rows and the score does not depend on
a feature's scale). Rules of thumb: below 0.1 stable, 0.1–0.2 moderate, above 0.2 a
shift worth acting on (FLAMEBACK_DRIFT_PSI_THRESHOLD). Empty bins are floored at a small
share so one empty bin does not make the index infinite.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

SAMPLE_FILE = "training_sample.npz"
DEFAULT_SAMPLE_ROWS = 10_000
MIN_REFERENCE_ROWS = 200  # a symbol's own training rows below this: too few for its deciles, the whole sample serves
SYMBOL_REFERENCE, POOLED_REFERENCE = "symbol", "all"
BINS = 10
MIN_SHARE = 1e-4  # floor of a bin's share: an empty bin adds a large, finite term instead of infinity
POOLED = "*"  # the symbol name of the all-symbols row, as in the scoreboard


class SampleError(ValueError):
    """A training sample that must not be used (not a 2-D float array, a pickle, a wrong shape)."""


@dataclass(frozen=True)
class TrainingSample:
    """Feature rows (rows × features) of the training data and the symbol of each row."""

    features: np.ndarray
    symbols: np.ndarray

    def __len__(self) -> int:
        return len(self.features)

    def reference_for(self, symbol: str) -> tuple[np.ndarray, str]:
        """(rows, kind): the symbol's own rows when there are enough of them, else every row."""
        own = self.features[self.symbols == symbol]
        return (own, SYMBOL_REFERENCE) if len(own) >= MIN_REFERENCE_ROWS else (self.features, POOLED_REFERENCE)


def draw_sample(features: np.ndarray, symbols: Sequence[str] | np.ndarray, rows: int, seed: int = 7) -> TrainingSample:
    """Up to ``rows`` rows drawn at random without replacement, in their original order.

    Random over the whole training span rather than its latest rows: the reference
    must look like everything the models learned from.
    """
    features, symbols = np.asarray(features, dtype=np.float64), np.asarray(symbols, dtype=str)
    picked = np.arange(len(features))
    if rows < len(features):
        picked = np.sort(np.random.default_rng(seed).choice(len(features), size=max(rows, 0), replace=False))
    return TrainingSample(features[picked], symbols[picked])


def sample_bytes(sample: TrainingSample) -> bytes:
    """The ``.npz`` bytes of a sample: a float and a fixed-width text array, neither pickled."""
    buffer = io.BytesIO()
    np.savez(
        buffer,
        features=np.ascontiguousarray(sample.features, dtype=np.float64),
        symbols=np.asarray(sample.symbols, dtype=str),
    )
    return buffer.getvalue()


def sample_from_bytes(data: bytes, features: int) -> TrainingSample:
    """Read ``.npz`` bytes as a sample with ``features`` columns; anything else is a :class:`SampleError`.

    ``allow_pickle=False`` makes NumPy refuse an object array (or a bare pickle)
    before unpickling any of it: that is what keeps a hostile sample file from running code.
    """
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as archive:
            values, symbols = archive["features"], archive["symbols"]
    except Exception as exc:  # noqa: BLE001 - a pickle, a truncated or foreign file: one refusal
        raise SampleError(f"not a plain NumPy archive of features and symbols ({type(exc).__name__}: {exc})") from None
    if values.dtype.kind != "f" or values.ndim != 2 or values.shape[1] != features:
        raise SampleError(f"expected a 2-D float array with {features} columns, got {values.dtype} {values.shape}")
    if symbols.dtype.kind != "U" or symbols.shape != (len(values),):
        raise SampleError(f"expected one symbol (text) per row, got {symbols.dtype} {symbols.shape}")
    return TrainingSample(values, symbols)


def bin_edges(reference: np.ndarray, bins: int = BINS) -> np.ndarray:
    """Inner cut points at the reference's quantiles (duplicates dropped: a feature with many equal values)."""
    finite = reference[np.isfinite(reference)]
    if finite.size == 0:
        return np.array([])
    return np.unique(np.quantile(finite, np.linspace(0, 1, bins + 1)[1:-1]))


def shares(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Share of the finite ``values`` in each bin of ``edges`` (len(edges) + 1 bins, open at both ends)."""
    finite = values[np.isfinite(values)]
    counts = np.bincount(np.searchsorted(edges, finite, side="right"), minlength=len(edges) + 1)
    share: np.ndarray = counts / max(finite.size, 1)
    return share


def psi(reference: np.ndarray, live: np.ndarray, bins: int = BINS) -> float:
    """Population stability index of ``live`` against ``reference`` (one feature), bins at the reference's quantiles."""
    edges = bin_edges(reference, bins)
    expected = np.maximum(shares(reference, edges), MIN_SHARE)
    actual = np.maximum(shares(live, edges), MIN_SHARE)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


@dataclass(frozen=True)
class FeatureDrift:
    """One feature's PSI for one symbol (or :data:`POOLED`) against the training sample."""

    symbol: str
    feature: str
    psi: float
    flagged: bool
    live_rows: int
    reference: str  # SYMBOL_REFERENCE: against the symbol's own training rows; POOLED_REFERENCE: all of them


def drift_of(
    reference: np.ndarray, kind: str, live: np.ndarray, symbol: str, feature_names: Sequence[str], threshold: float
) -> list[FeatureDrift]:
    """Every feature's PSI of ``live`` (rows × features) against ``reference``; flagged above ``threshold``."""
    out = []
    for k, name in enumerate(feature_names):
        value = psi(reference[:, k], live[:, k])
        out.append(FeatureDrift(symbol, name, value, value > threshold, int(np.isfinite(live[:, k]).sum()), kind))
    return out


def drift_report(
    sample: TrainingSample,
    live_by_symbol: Mapping[str, np.ndarray],
    pooled: np.ndarray,
    feature_names: Sequence[str],
    threshold: float,
    min_rows: int,
) -> list[FeatureDrift]:
    """PSI per symbol (those with at least ``min_rows`` complete rows) and pooled, for every feature.

    ``min_rows``: fewer live rows make the index mostly noise (its expected value on
    an unchanged distribution is about (bins − 1) / rows), so such symbols are left out.
    """
    out = []
    for symbol, live in sorted(live_by_symbol.items()):
        if len(live) >= min_rows:
            out += drift_of(*sample.reference_for(symbol), live, symbol, feature_names, threshold)
    if len(pooled) >= min_rows:
        out += drift_of(sample.features, POOLED_REFERENCE, pooled, POOLED, feature_names, threshold)
    return out


def pooled_drift_flagged(report: Sequence[FeatureDrift]) -> list[str]:
    """The features whose pooled PSI is flagged: what can trigger a retrain of the pooled models.

    Per-symbol flags alone do not: one odd symbol is a reason to look, not to refit
    every model on every symbol.
    """
    return [d.feature for d in report if d.symbol == POOLED and d.flagged]
