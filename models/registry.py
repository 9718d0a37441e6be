"""Model artifacts: ``<models_dir>/<version>/`` with joblib files and a hashed ``manifest.json``.

Writes a version atomically (a staging directory renamed into place); version names
``YYYYMMDDTHHMMSSZ-<8 hex of the files' hashes>`` sort by creation time. Reads only
files inside a version directory, and unpickles them only after every file's sha256
matches the manifest: joblib files are pickles, and unpickling a tampered file would
run its code. Each file is read into memory once, hashed, and unpickled from those
same bytes, so it cannot be swapped between the check and the load.

What the hash does not do: anyone who can rewrite ``manifest.json`` can rewrite the
hashes too. The hashes catch corrupted, swapped or tampered model files and versions
written by another code base; protect the directory itself with file permissions.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import joblib

from models.columns import MODEL_COLUMNS
from models.features import ML_FEATURES

log = logging.getLogger(__name__)
MANIFEST = "manifest.json"


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
                 metrics: Mapping[str, Any]) -> Path:  # fmt: skip
    """Write a new version directory and return its path."""
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
                "training_span": dict(span), "metrics": dict(metrics), "models": files}  # fmt: skip
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
