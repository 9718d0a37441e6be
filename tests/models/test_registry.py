"""Artifacts: manifest round trip, hashes checked before loading, formats that cannot run code, nothing loaded
from outside a version, joblib-era versions refused."""

from __future__ import annotations

import json
import logging
import pickle
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import skops.io as sio
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import RandomForestClassifier
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from xgboost import XGBClassifier

from flameback_app.settings import Settings
from models.columns import MODEL_COLUMNS
from models.features import ML_FEATURES
from models.registry import (
    FORMAT,
    MANIFEST,
    TRUSTED_MODEL_TYPES,
    ArtifactError,
    load_latest,
    load_version,
    save_version,
    sha256_of,
)
from models.train import make_models


class _Detonator:
    """Unpickling this object creates a file: proof that a pickle was (or was not) executed."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return (Path.touch, (self.marker,))


class _Tripwire(LogisticRegression):
    """A scikit-learn-like estimator whose restoring creates a file: what a hostile skops file could hold."""

    marker: str = ""

    def __setstate__(self, state: dict) -> None:
        if state.get("marker"):
            Path(state["marker"]).touch()
        super().__setstate__(state)


TRIPWIRE = f"{__name__}._Tripwire"


def _xy(n: int = 60) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.normal(size=(n, len(ML_FEATURES))), rng.integers(0, 2, n)


def _models() -> dict[str, Pipeline]:
    """Small real models of the kinds the registry handles: a booster inside a pipeline, trees, a linear model."""
    x, y = _xy()

    def pipe(model: object) -> Pipeline:
        return Pipeline([("scale", StandardScaler()), ("model", model)]).fit(x, y)

    return {
        "XGBoost": pipe(XGBClassifier(n_estimators=5, max_depth=2, n_jobs=1)),
        "RandomForest": pipe(RandomForestClassifier(n_estimators=3, max_depth=3, random_state=0)),
        "AdaBoost": pipe(LogisticRegression()),
        "LogisticReg": pipe(LogisticRegression()),
    }


def _save(root: Path) -> Path:
    span = {"n": 60, "start": "2020-01-01", "end": "2020-03-01"}
    return save_version(_models(), root, features=ML_FEATURES, span=span, metrics={"accuracy": 0.51})


def _pickle_bomb(marker: Path) -> bytes:
    return pickle.dumps(_Detonator(marker))


def _rewrite_manifest(directory: Path, **changes: object) -> None:
    manifest = json.loads((directory / MANIFEST).read_text())
    manifest.update(changes)
    (directory / MANIFEST).write_text(json.dumps(manifest))


def _replace_with_matching_hash(version: Path, model: str, data: bytes, booster: str | None = None) -> None:
    """Overwrite a model's file (or one of its boosters) and write its true hash into the manifest."""
    manifest = json.loads((version / MANIFEST).read_text())
    entry = manifest["models"][model] if booster is None else manifest["models"][model]["boosters"][booster]
    (version / entry["file"]).write_bytes(data)
    entry["sha256"] = sha256_of(version / entry["file"])
    (version / MANIFEST).write_text(json.dumps(manifest))


def _refusal(version: Path, **kwargs: object) -> str:
    with pytest.raises(ArtifactError) as refused:
        load_version(version, **kwargs)
    message = str(refused.value)
    assert "\n" not in message
    return message


def test_manifest_round_trip(tmp_path: Path) -> None:
    version = _save(tmp_path)
    bundle = load_version(version)
    manifest = json.loads((version / MANIFEST).read_text())
    assert re.fullmatch(r"\d{8}T\d{6}Z-[0-9a-f]{8}", version.name)
    assert bundle.version == manifest["version"] == version.name
    assert manifest["format"] == FORMAT == 2
    assert manifest["features"] == list(ML_FEATURES)
    assert manifest["training_span"] == {"n": 60, "start": "2020-01-01", "end": "2020-03-01"}
    assert manifest["metrics"] == {"accuracy": 0.51} and "created" in manifest
    for name, entry in manifest["models"].items():
        assert entry["file"] == f"{name}.skops" and entry["sha256"] == sha256_of(version / entry["file"])
        assert name in bundle.models
    booster = manifest["models"]["XGBoost"]["boosters"]["model"]
    assert booster["sha256"] == sha256_of(version / booster["file"])
    assert json.loads((version / booster["file"]).read_text())["learner"]  # XGBoost's own JSON model format
    assert not any(p.suffix in (".joblib", ".pkl") for p in version.iterdir())
    x = _xy(20)[0]
    for name, model in _models().items():
        np.testing.assert_allclose(bundle.models[name].predict_proba(x), model.predict_proba(x), rtol=0, atol=1e-12)
    assert bundle.models["XGBoost"].named_steps["model"].get_params()["n_jobs"] == 1  # wrapper parameters kept


def test_the_trusted_list_is_exactly_what_the_built_in_models_need(tmp_path: Path) -> None:
    """skops trusts scikit-learn's public estimators by default; our list adds only the types the four hold,
    bare or calibrated (FLAMEBACK_CALIBRATION sigmoid, the default, wraps each in CalibratedClassifierCV)."""
    x, y = _xy(400)
    bare = {n: m.fit(x[:300], y[:300]) for n, m in make_models().items()}
    calibrated = {
        n: CalibratedClassifierCV(FrozenEstimator(m), method="sigmoid").fit(x[300:], y[300:]) for n, m in bare.items()
    }
    needed = set()
    for models, where in ((bare, tmp_path / "bare"), (calibrated, tmp_path / "calibrated")):
        version = save_version(models, where, features=ML_FEATURES, span={}, metrics={})
        needed |= set().union(*(sio.get_untrusted_types(data=p.read_bytes()) for p in version.glob("*.skops")))
        loaded = load_version(version).models
        assert set(loaded) == set(MODEL_COLUMNS)
        for name, model in models.items():
            np.testing.assert_allclose(loaded[name].predict_proba(x), model.predict_proba(x), rtol=0, atol=1e-12)
    assert needed == set(TRUSTED_MODEL_TYPES)


def test_a_calibrated_xgboost_keeps_its_booster_out_of_the_skops_file(tmp_path: Path) -> None:
    x, y = _xy(400)
    model = CalibratedClassifierCV(FrozenEstimator(make_models()["XGBoost"].fit(x[:300], y[:300])), method="sigmoid")
    version = save_version(
        {**_models(), "XGBoost": model.fit(x[300:], y[300:])}, tmp_path, features=ML_FEATURES, span={}, metrics={}
    )
    boosters = json.loads((version / "manifest.json").read_text())["models"]["XGBoost"]["boosters"]
    assert set(boosters) == {"calibrated:0/estimator/estimator/model", "estimator/estimator/model"}
    assert "xgboost.core.Booster" not in sio.get_untrusted_types(data=(version / "XGBoost.skops").read_bytes())
    loaded = load_version(version).models["XGBoost"]
    np.testing.assert_allclose(loaded.predict_proba(x), model.predict_proba(x), rtol=0, atol=1e-12)


def test_tampered_model_file_is_refused_before_loading(tmp_path: Path) -> None:
    version = _save(tmp_path / "models")
    marker = tmp_path / "unpickled"
    (version / "AdaBoost.skops").write_bytes(_pickle_bomb(marker))
    assert re.search(r"AdaBoost.skops: sha256 .* does not match", _refusal(version))
    assert not marker.exists()


def test_a_pickle_with_a_matching_hash_is_refused_and_runs_nothing(tmp_path: Path) -> None:
    """The attack the hash cannot stop: whoever rewrites model files can rewrite the manifest too."""
    version = _save(tmp_path / "models")
    marker = tmp_path / "unpickled"
    _replace_with_matching_hash(version, "AdaBoost", _pickle_bomb(marker))
    assert "AdaBoost.skops: not a readable skops model file" in _refusal(version)
    _replace_with_matching_hash(version, "AdaBoost", (version / "LogisticReg.skops").read_bytes())
    _replace_with_matching_hash(version, "XGBoost", _pickle_bomb(marker), booster="model")
    assert "XGBoost.model.xgboost.json: not a readable XGBoost JSON model" in _refusal(version)
    assert not marker.exists()
    pickle.loads(_pickle_bomb(marker))  # control: the planted bytes really do run code when unpickled
    assert marker.exists()


def test_a_skops_file_with_an_untrusted_type_is_refused_and_runs_nothing(tmp_path: Path) -> None:
    version = _save(tmp_path / "models")
    marker = tmp_path / "restored"
    x, y = _xy()
    hostile = Pipeline([("scale", StandardScaler()), ("model", _Tripwire())]).fit(x, y)
    hostile.named_steps["model"].marker = str(marker)
    data = sio.dumps(hostile)
    _replace_with_matching_hash(version, "LogisticReg", data)
    message = _refusal(version)
    assert "LogisticReg.skops: holds types that are not trusted" in message and TRIPWIRE in message
    assert "FLAMEBACK_TRUSTED_MODEL_TYPES" in message
    assert not marker.exists()
    sio.loads(data, trusted=[TRIPWIRE])  # control: once trusted, restoring it does run its code
    assert marker.exists()
    marker.unlink()
    bundle = load_version(version, extra_trusted=[TRIPWIRE])  # the setting's way in, for a type a user vouches for
    assert isinstance(bundle.models["LogisticReg"].named_steps["model"], _Tripwire) and marker.exists()


def test_saving_a_model_no_loader_would_trust_fails_at_once_and_leaves_nothing(tmp_path: Path) -> None:
    x, y = _xy()
    models = {**_models(), "LogisticReg": Pipeline([("model", _Tripwire())]).fit(x, y)}
    with pytest.raises(ArtifactError, match=rf"'LogisticReg' holds types no loader would trust: \['{TRIPWIRE}'\]"):
        save_version(models, tmp_path, features=ML_FEATURES, span={}, metrics={})
    assert list(tmp_path.iterdir()) == []
    version = save_version(models, tmp_path, features=ML_FEATURES, span={}, metrics={}, extra_trusted=[TRIPWIRE])
    assert isinstance(load_version(version, extra_trusted=[TRIPWIRE]).models["LogisticReg"][-1], _Tripwire)


def test_the_setting_lists_extra_trusted_types() -> None:
    assert Settings(trusted_model_types=" a.B, c.D ,,").extra_trusted_model_types == ("a.B", "c.D")
    assert Settings(trusted_model_types="").extra_trusted_model_types == ()


def _joblib_era_version(root: Path, marker: Path, format_field: dict) -> Path:
    """A version as the joblib registry wrote it (no format field), every file a pickle bomb with a true hash."""
    version = root / "29991231T235959Z-0123abcd"
    version.mkdir(parents=True)
    files = {}
    for name in MODEL_COLUMNS:
        (version / f"{name}.joblib").write_bytes(_pickle_bomb(marker))
        files[name] = {"file": f"{name}.joblib", "sha256": sha256_of(version / f"{name}.joblib")}
    manifest = {
        "version": version.name,
        "created": "2999-12-31T23:59:59+00:00",
        "features": list(ML_FEATURES),
        "training_span": {},
        "metrics": {},
        "models": files,
        **format_field,
    }
    (version / MANIFEST).write_text(json.dumps(manifest))
    return version


@pytest.mark.parametrize("format_field", [{}, {"format": 1}])
def test_joblib_era_versions_are_refused_in_one_line_saying_how_to_retrain(tmp_path: Path, format_field: dict) -> None:
    marker = tmp_path / "unpickled"
    version = _joblib_era_version(tmp_path / "models", marker, format_field)
    message = _refusal(version)
    assert "saved with joblib (pickle)" in message and "faust -A flameback_app train FILE" in message
    assert not marker.exists()


def test_a_worker_whose_newest_version_is_joblib_era_logs_one_error_and_carries_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """What the live worker's loading does: one ERROR line naming the old version, then the newest valid one
    (or none: the worker then says its models are TRAINING and trains from its database history)."""
    marker = tmp_path / "unpickled"
    root = tmp_path / "models"
    old = _joblib_era_version(root, marker, {})
    with caplog.at_level(logging.ERROR, logger="models.registry"):
        assert load_latest(root) is None
        valid = _save(root)
        assert load_latest(root).version == valid.name
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2 and all(old.name in line and "retrain" in line and "\n" not in line for line in lines)
    assert not marker.exists()


def test_a_newer_artifact_format_is_refused(tmp_path: Path) -> None:
    version = _save(tmp_path)
    _rewrite_manifest(version, format=3)
    assert "artifact format 3, this Flameback reads format 2" in _refusal(version)


def test_a_file_outside_the_version_directory_is_never_loaded_even_with_a_matching_hash(tmp_path: Path) -> None:
    version = _save(tmp_path / "models")
    marker = tmp_path / "unpickled"
    outside = tmp_path / "evil.skops"
    outside.write_bytes(_pickle_bomb(marker))
    manifest = json.loads((version / MANIFEST).read_text())
    manifest["models"]["AdaBoost"] = {"file": "../../evil.skops", "sha256": sha256_of(outside)}
    (version / MANIFEST).write_text(json.dumps(manifest))
    assert "outside its version directory" in _refusal(version)
    (version / "AdaBoost.skops").unlink()
    (version / "AdaBoost.skops").symlink_to(outside)
    manifest["models"]["AdaBoost"]["file"] = "AdaBoost.skops"
    (version / MANIFEST).write_text(json.dumps(manifest))
    assert "outside its version directory" in _refusal(version)
    manifest = json.loads((version / MANIFEST).read_text())
    manifest["models"]["XGBoost"]["boosters"]["model"]["file"] = "../../evil.skops"
    (version / MANIFEST).write_text(json.dumps(manifest))
    assert "outside its version directory" in _refusal(version)
    assert not marker.exists()


def test_load_latest_skips_an_invalid_newer_version_with_a_logged_reason(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    older = _save(tmp_path)
    newer = tmp_path / "29991231T235959Z-deadbeef"
    shutil.copytree(older, newer)
    _rewrite_manifest(newer, version=newer.name)
    (newer / "LogisticReg.skops").write_bytes(b"corrupted")
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


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"features": ["f_rsi"]}, "trained on features"),
        ({"version": "20000101T000000Z-00000000"}, "not the directory's name"),
        ({"models": {}}, "lacks models"),
        ({"models": {"XGBoost": "XGBoost.skops"}}, "malformed manifest"),
        ({"models": {"XGBoost": {"file": "XGBoost.skops", "sha256": "0", "boosters": []}}}, "unreadable manifest"),
        ({"models": {"XGBoost": {"file": "XGBoost.skops", "sha256": "0", "boosters": {"m": 1}}}}, "malformed manifest"),
    ],
)
def test_inconsistent_manifests_are_refused(tmp_path: Path, change: dict, message: str) -> None:
    version = _save(tmp_path)
    _rewrite_manifest(version, **change)
    assert message in _refusal(version)


def test_a_booster_for_a_step_that_is_not_xgboost_is_refused(tmp_path: Path) -> None:
    version = _save(tmp_path)
    manifest = json.loads((version / MANIFEST).read_text())
    manifest["models"]["LogisticReg"]["boosters"] = {"scale": manifest["models"]["XGBoost"]["boosters"]["model"]}
    (version / MANIFEST).write_text(json.dumps(manifest))
    assert "booster 'scale' has no XGBoost estimator to go into" in _refusal(version)


def test_a_bare_xgboost_model_round_trips(tmp_path: Path) -> None:
    x, y = _xy()
    bare = XGBClassifier(n_estimators=4, max_depth=2, n_jobs=1).fit(x, y)
    version = save_version({"Mine": bare}, tmp_path, features=ML_FEATURES, span={}, metrics={})
    loaded = load_version(version, required=["Mine"]).models["Mine"]
    assert isinstance(loaded, XGBClassifier)
    np.testing.assert_array_equal(loaded.predict_proba(x), bare.predict_proba(x))


def test_missing_or_unreadable_manifest(tmp_path: Path) -> None:
    version = _save(tmp_path)
    (version / MANIFEST).write_text("{not json")
    assert "unreadable manifest" in _refusal(version)
    assert load_latest(tmp_path) is None
    assert load_latest(tmp_path / "does-not-exist") is None


def test_versions_sort_by_creation_time(tmp_path: Path) -> None:
    first = _save(tmp_path)
    shutil.move(first, tmp_path / "20000101T000000Z-aaaaaaaa")
    _rewrite_manifest(tmp_path / "20000101T000000Z-aaaaaaaa", version="20000101T000000Z-aaaaaaaa")
    second = _save(tmp_path)
    assert load_latest(tmp_path).version == second.name
