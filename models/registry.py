"""Model artifacts: ``<models_dir>/<version>/`` with joblib files and a hashed ``manifest.json``.

Writes a version atomically (a staging directory renamed into place); version names
``YYYYMMDDTHHMMSSZ-<8 hex of the files' hashes>`` sort by creation time. Reads only
files inside a version directory, and unpickles them only after every file's sha256
matches the manifest: joblib files are pickles, and unpickling a tampered file would
run its code. Each file is read into memory once, hashed, and unpickled from those
same bytes, so it cannot be swapped between the check and the load.

Each manifest records ``periods_per_year``, the tick spacing the models' volatility
feature was annualised with; :func:`tick_spacing_check` compares it with the spacing a
worker or ``evaluate`` runs on (manifests written before the field: 252, the only
spacing there was).

What the hash does not do: anyone who can rewrite ``manifest.json`` can rewrite the
hashes too. The hashes catch corrupted, swapped or tampered model files and versions
written by another code base; protect the directory itself with file permissions.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import joblib

from models.columns import MODEL_COLUMNS
from models.features import DEFAULT_PERIODS_PER_YEAR, ML_FEATURES

log = logging.getLogger(__name__)
MANIFEST = "manifest.json"
SPACING_SETTING = "FLAMEBACK_PERIODS_PER_YEAR"


class ArtifactError(RuntimeError):
    """A model version that must not be loaded (bad manifest, missing file, path escape, hash mismatch)."""


@dataclass(frozen=True)
class ModelBundle:
    """A verified, loaded model version."""

    version: str
    path: Path
    models: dict[str, Any]  # model column name → fitted scikit-learn Pipeline
    manifest: dict[str, Any]


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def save_version(models: Mapping[str, Any], models_dir: Path, *, features: Iterable[str], span: Mapping[str, Any],
                 metrics: Mapping[str, Any], periods_per_year: float = DEFAULT_PERIODS_PER_YEAR) -> Path:  # fmt: skip
    """Write a new version directory and return its path.

    ``periods_per_year``: the tick spacing the training features were computed with.
    """
    models_dir.mkdir(parents=True, exist_ok=True)
    created = datetime.now(UTC)
    staging = models_dir / f".staging-{created:%Y%m%dT%H%M%S%f}"
    staging.mkdir()
    files = {}
    for name, model in models.items():
        filename = f"{name}.joblib"
        joblib.dump(model, staging / filename)
        files[name] = {"file": filename, "sha256": sha256_of(staging / filename)}
    digest = hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()[:8]
    version = f"{created:%Y%m%dT%H%M%SZ}-{digest}"
    manifest = {"version": version, "created": created.isoformat(), "features": list(features),
                "periods_per_year": float(periods_per_year), "training_span": dict(span), "metrics": dict(metrics),
                "models": files}  # fmt: skip
    (staging / MANIFEST).write_text(json.dumps(manifest, indent=2, default=str))
    final = models_dir / version
    staging.rename(final)
    return final


def load_version(path: Path, *, features: Iterable[str] = ML_FEATURES,
                 required: Iterable[str] = MODEL_COLUMNS) -> ModelBundle:  # fmt: skip
    """Verify the manifest and every file's sha256, then unpickle; raise :class:`ArtifactError` otherwise.

    ``features`` must equal the manifest's feature list (models trained on other
    inputs would silently mispredict) and every ``required`` model must be present.
    """
    features, root = list(features), path.resolve()
    manifest = read_manifest(root)
    if manifest["version"] != root.name:
        raise ArtifactError(f"{root}: manifest names version {manifest['version']!r}, not the directory's name")
    if manifest["features"] != features:
        raise ArtifactError(f"{root}: trained on features {manifest['features']}, this code computes {features}")
    missing = set(required) - set(manifest["models"])
    if missing:
        raise ArtifactError(f"{root}: manifest lacks models {sorted(missing)}")
    payloads = {name: _verified_bytes(root, name, entry) for name, entry in manifest["models"].items()}
    models = {name: joblib.load(io.BytesIO(data)) for name, data in payloads.items()}  # every hash matched
    return ModelBundle(manifest["version"], root, models, manifest)


def read_manifest(root: Path) -> dict[str, Any]:
    """The parsed manifest, with the fields loading relies on checked for shape."""
    try:
        manifest = json.loads((root / MANIFEST).read_text())
        entries = manifest["models"]
        ok = isinstance(manifest["version"], str) and isinstance(manifest["features"], list) and all(
            isinstance(e, dict) and isinstance(e.get("file"), str) and isinstance(e.get("sha256"), str)
            for e in entries.values())  # fmt: skip
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ArtifactError(f"{root}: unreadable manifest ({exc})") from None
    if not ok:
        raise ArtifactError(f"{root}: malformed manifest")
    return manifest


def _verified_bytes(root: Path, name: str, entry: Mapping[str, str]) -> bytes:
    file = (root / entry["file"]).resolve()
    if file.parent != root:
        raise ArtifactError(f"{root}: model {name!r} resolves to {file}, outside its version directory; refusing it")
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise ArtifactError(f"{root}: model {name!r} is unreadable ({exc})") from None
    actual = hashlib.sha256(data).hexdigest()
    if actual != entry["sha256"]:
        raise ArtifactError(f"{file}: sha256 {actual[:12]}… does not match the manifest's "
                            f"{entry['sha256'][:12]}…; refusing to unpickle it")  # fmt: skip
    return data


def list_versions(models_dir: Path) -> list[Path]:
    """Version directories under ``models_dir``, newest first (staging and symlinked entries excluded)."""
    if not models_dir.is_dir():
        return []
    entries = [p for p in models_dir.iterdir() if not p.name.startswith(".")]
    for link in (p for p in entries if p.is_symlink()):
        log.error("skipping model version %s: a symlink, not a version directory written here", link)
    return sorted((p for p in entries if p.is_dir() and not p.is_symlink()), key=lambda p: p.name, reverse=True)


def load_latest(models_dir: Path, *, features: Iterable[str] = ML_FEATURES) -> ModelBundle | None:
    """The newest version that verifies; invalid ones are skipped with a logged reason; None if none."""
    for candidate in list_versions(models_dir):
        try:
            return load_version(candidate, features=features)
        except ArtifactError as exc:
            log.error("skipping model version %s: %s", candidate.name, exc)
    return None


@dataclass(frozen=True)
class TickSpacing:
    """How a model version's tick spacing compares with the one it is about to run on."""

    trained: float  # periods_per_year of the training features
    recorded: bool  # False: the manifest predates the field and ``trained`` is the assumed 252
    current: float
    warning: str | None  # one line when the spacings differ, else None
    note: str | None  # one line when the spacing was assumed (and matches), else None


def tick_spacing_check(manifest: Mapping[str, Any], periods_per_year: float,
                       setting: str = SPACING_SETTING) -> TickSpacing:  # fmt: skip
    """Compare the manifest's ``periods_per_year`` with ``periods_per_year`` (from ``setting``).

    A mismatch is a warning, not a refusal: the models still run, but their
    ``f_volatility`` input is √(current/trained) times the scale they learned, so
    their calls are off in a way no error would show. An old manifest (no field) is
    taken as 252: before the setting existed the engine always used √252.
    """
    recorded = _valid_spacing(manifest.get("periods_per_year"))
    trained = DEFAULT_PERIODS_PER_YEAR if recorded is None else recorded
    version = manifest.get("version", "?")
    how = "" if recorded is not None else " (assumed: its manifest predates the field)"
    warning = note = None
    if trained != periods_per_year:
        warning = (f"models version {version} were trained with periods_per_year={trained:g}{how} but {setting}="
                   f"{periods_per_year:g} here: their volatility feature is {math.sqrt(periods_per_year / trained):.4g}"
                   f"x the scale they learned; retrain on this spacing or set {setting}={trained:g}")  # fmt: skip
    elif recorded is None:
        note = (f"models version {version}: manifest has no periods_per_year (written before it was recorded); "
                f"assuming {DEFAULT_PERIODS_PER_YEAR:g}, which matches {setting}")  # fmt: skip
    return TickSpacing(trained, recorded is not None, float(periods_per_year), warning, note)


def log_tick_spacing(manifest: Mapping[str, Any], periods_per_year: float,
                     setting: str = SPACING_SETTING) -> TickSpacing:  # fmt: skip
    """:func:`tick_spacing_check`, its warning logged as one WARNING line (its note at INFO); returns it."""
    check = tick_spacing_check(manifest, periods_per_year, setting)
    if check.warning:
        log.warning(check.warning)
    elif check.note:
        log.info(check.note)
    return check


def _valid_spacing(value: Any) -> float | None:
    """The recorded spacing if it is a positive finite number, else None (not recorded)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
        return None
    return float(value)
