"""Model artifacts: ``<models_dir>/<version>/`` with joblib files and a hashed ``manifest.json``.

Writes a version atomically (a temporary directory renamed into place). Reads only
from inside a version directory, and only after every file's sha256 matches the
manifest: joblib files are pickles, and unpickling a tampered file would run its
code, so a mismatch is refused before anything is loaded.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import joblib

log = logging.getLogger(__name__)
MANIFEST = "manifest.json"


class ArtifactError(RuntimeError):
    """A model version that must not be loaded (missing file, bad manifest, hash mismatch)."""


@dataclass(frozen=True)
class ModelBundle:
    version: str
    path: Path
    models: dict[str, Any]  # signal column name → fitted scikit-learn Pipeline
    manifest: dict[str, Any]


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def save_version(models: dict[str, Any], models_dir: Path, *, features: list[str], span: dict[str, Any],
                 metrics: dict[str, Any]) -> Path:  # fmt: skip
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
    version = f"{created:%Y%m%dT%H%M%SZ}-{hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()[:8]}"
    manifest = {"version": version, "created": created.isoformat(), "features": features,
                "training_span": span, "metrics": metrics, "models": files}  # fmt: skip
    (staging / MANIFEST).write_text(json.dumps(manifest, indent=2, default=str))
    final = models_dir / version
    staging.rename(final)
    return final


def load_version(path: Path) -> ModelBundle:
    """Verify every file against the manifest, then load; raise :class:`ArtifactError` if anything is off."""
    root = path.resolve()
    try:
        manifest = json.loads((root / MANIFEST).read_text())
        entries = manifest["models"]
    except (OSError, ValueError, KeyError) as exc:
        raise ArtifactError(f"{path}: unreadable manifest ({exc})") from None
    verified = {name: _verified_file(root, name, entry) for name, entry in entries.items()}
    models = {name: joblib.load(file) for name, file in verified.items()}  # only after every hash matched
    return ModelBundle(manifest["version"], root, models, manifest)


def _verified_file(root: Path, name: str, entry: dict[str, str]) -> Path:
    file = (root / entry["file"]).resolve()
    if file.parent != root or not file.is_file():
        raise ArtifactError(f"{root}: model {name!r} points outside its version directory or is missing")
    actual = sha256_of(file)
    if actual != entry["sha256"]:
        raise ArtifactError(f"{file}: sha256 {actual[:12]}… does not match the manifest; refusing to load it")
    return file


def load_latest(models_dir: Path) -> ModelBundle | None:
    """The newest version that verifies; invalid ones are skipped with a logged reason."""
    if not models_dir.is_dir():
        return None
    for candidate in sorted((p for p in models_dir.iterdir() if p.is_dir() and not p.name.startswith(".")),
                            reverse=True):  # fmt: skip
        try:
            return load_version(candidate)
        except ArtifactError as exc:
            log.error("skipping model version: %s", exc)
    return None


def remove_version(path: Path) -> None:
    shutil.rmtree(path)
