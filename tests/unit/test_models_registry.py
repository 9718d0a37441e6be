"""Artifacts: manifest round trip, hashes checked before unpickling, nothing loaded from outside a version."""

from __future__ import annotations

import json
import logging
import pickle
import re
import shutil
from pathlib import Path

import joblib
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from models.columns import MODEL_COLUMNS
from models.features import ML_FEATURES
from models.registry import MANIFEST, ArtifactError, load_latest, load_version, save_version, sha256_of


class _Detonator:
    """Unpickling this object creates a file: proof that a pickle was (or was not) executed."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return (Path.touch, (self.marker,))


def _models() -> dict[str, Pipeline]:
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(60, len(ML_FEATURES))), rng.integers(0, 2, 60)
    return {m: Pipeline([("scale", StandardScaler()), ("model", LogisticRegression())]).fit(x, y)
            for m in MODEL_COLUMNS}  # fmt: skip


def _save(root: Path) -> Path:
    span = {"n": 60, "start": "2020-01-01", "end": "2020-03-01"}
    return save_version(_models(), root, features=ML_FEATURES, span=span, metrics={"accuracy": 0.51})


def _plant_bomb(path: Path, marker: Path) -> None:
    path.write_bytes(pickle.dumps(_Detonator(marker)))


def _rewrite_manifest(directory: Path, **changes: object) -> None:
    manifest = json.loads((directory / MANIFEST).read_text())
    manifest.update(changes)
    (directory / MANIFEST).write_text(json.dumps(manifest))


def test_manifest_round_trip(tmp_path: Path) -> None:
    version = _save(tmp_path)
    bundle = load_version(version)
    manifest = json.loads((version / MANIFEST).read_text())
    assert re.fullmatch(r"\d{8}T\d{6}Z-[0-9a-f]{8}", version.name)
    assert bundle.version == manifest["version"] == version.name
    assert manifest["features"] == list(ML_FEATURES)
    assert manifest["training_span"] == {"n": 60, "start": "2020-01-01", "end": "2020-03-01"}
    assert manifest["metrics"] == {"accuracy": 0.51} and "created" in manifest
    for name, entry in manifest["models"].items():
        assert entry["sha256"] == sha256_of(version / entry["file"])
        assert name in bundle.models
    x = np.zeros((2, len(ML_FEATURES)))
    np.testing.assert_array_equal(bundle.models["XGBoost"].predict_proba(x), _models()["XGBoost"].predict_proba(x))


def test_tampered_model_file_is_refused_before_unpickling(tmp_path: Path) -> None:
    version = _save(tmp_path / "models")
    marker = tmp_path / "unpickled"
    _plant_bomb(version / "AdaBoost.joblib", marker)
    with pytest.raises(ArtifactError, match="AdaBoost.joblib: sha256 .* does not match"):
        load_version(version)
    assert not marker.exists()
    joblib.load(version / "AdaBoost.joblib")  # control: the planted file really does run code when unpickled
    assert marker.exists()


def test_a_file_outside_the_version_directory_is_never_loaded_even_with_a_matching_hash(tmp_path: Path) -> None:
    version = _save(tmp_path / "models")
    marker = tmp_path / "unpickled"
    outside = tmp_path / "evil.joblib"
    _plant_bomb(outside, marker)
    manifest = json.loads((version / MANIFEST).read_text())
    manifest["models"]["XGBoost"] = {"file": "../../evil.joblib", "sha256": sha256_of(outside)}
    (version / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match="outside its version directory"):
        load_version(version)
    (version / "XGBoost.joblib").unlink()
    (version / "XGBoost.joblib").symlink_to(outside)
    manifest["models"]["XGBoost"]["file"] = "XGBoost.joblib"
    (version / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match="outside its version directory"):
        load_version(version)
    assert not marker.exists()


def test_load_latest_skips_an_invalid_newer_version_with_a_logged_reason(tmp_path: Path,
                                                                         caplog: pytest.LogCaptureFixture) -> None:
    older = _save(tmp_path)
    newer = tmp_path / "29991231T235959Z-deadbeef"
    shutil.copytree(older, newer)
    _rewrite_manifest(newer, version=newer.name)
    (newer / "LogisticReg.joblib").write_bytes(b"corrupted")
    with caplog.at_level(logging.ERROR, logger="models.registry"):
        bundle = load_latest(tmp_path)
    assert bundle is not None and bundle.version == older.name
    assert any(newer.name in r.getMessage() and "does not match" in r.getMessage() for r in caplog.records)


def test_load_latest_ignores_a_symlinked_version_and_staging_leftovers(tmp_path: Path) -> None:
    elsewhere = _save(tmp_path / "elsewhere")
    root = tmp_path / "models"
    root.mkdir()
    (root / "29991231T235959Z-00000000").symlink_to(elsewhere, target_is_directory=True)
    (root / ".staging-2999").mkdir()
    assert load_latest(root) is None
    real = _save(root)
    assert load_latest(root).version == real.name


@pytest.mark.parametrize(("change", "message"), [
    ({"features": ["f_rsi"]}, "trained on features"),
    ({"version": "20000101T000000Z-00000000"}, "not the directory's name"),
    ({"models": {}}, "lacks models"),
    ({"models": {"XGBoost": "XGBoost.joblib"}}, "malformed manifest"),
])  # fmt: skip
def test_inconsistent_manifests_are_refused(tmp_path: Path, change: dict, message: str) -> None:
    version = _save(tmp_path)
    _rewrite_manifest(version, **change)
    with pytest.raises(ArtifactError, match=message):
        load_version(version)


def test_missing_or_unreadable_manifest(tmp_path: Path) -> None:
    version = _save(tmp_path)
    (version / MANIFEST).write_text("{not json")
    with pytest.raises(ArtifactError, match="unreadable manifest"):
        load_version(version)
    assert load_latest(tmp_path) is None
    assert load_latest(tmp_path / "does-not-exist") is None


def test_versions_sort_by_creation_time(tmp_path: Path) -> None:
    first = _save(tmp_path)
    shutil.move(first, tmp_path / "20000101T000000Z-aaaaaaaa")
    _rewrite_manifest(tmp_path / "20000101T000000Z-aaaaaaaa", version="20000101T000000Z-aaaaaaaa")
    second = _save(tmp_path)
    assert load_latest(tmp_path).version == second.name
