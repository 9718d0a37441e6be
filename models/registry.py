"""Model artifacts: ``<models_dir>/<version>/`` with skops and XGBoost JSON files and a hashed ``manifest.json``.

Writes a version atomically (a staging directory renamed into place); version names
``YYYYMMDDTHHMMSSZ-<8 hex of the files' hashes>`` sort by creation time. Reads only
files inside a version directory, and only after every file's sha256 matches the
manifest. Each file is read into memory once, hashed, and loaded from those same
bytes, so it cannot be swapped between the check and the load.

Formats that cannot run code (manifest ``format`` 2): each model is a skops file
(a zip of JSON and NumPy arrays, read without pickle) whose every type must be trusted
— skops' defaults (scikit-learn's public estimators, NumPy, SciPy, builtins),
:data:`TRUSTED_MODEL_TYPES`, and the names a user adds with
FLAMEBACK_TRUSTED_MODEL_TYPES — and every fitted XGBoost estimator inside it is
stored apart as XGBoost's own JSON model (its sklearn wrapper stays in the skops file,
unfitted, to keep its parameters). A file holding any other type is refused before
anything in it is built. Versions written with joblib (format 1, or no ``format``)
are pickles: they are refused without being read, with a line saying to retrain.

Which version is live is a decision, not the newest directory: :data:`CHAMPION_FILE`
lists the promoted versions (the last is the champion); :func:`promote` and
:func:`rollback` change it atomically and :func:`load_latest` loads it (before any
promotion: the newest version that verifies). :mod:`models.champion` decides promotions.

Each manifest records ``periods_per_year``, the tick spacing the models' volatility
feature was annualised with; :func:`tick_spacing_check` compares it with the spacing a
worker or ``evaluate`` runs on (manifests written before the field: 252, the only
spacing there was).

What the hash does not do: anyone who can rewrite ``manifest.json`` can rewrite the
hashes too. The hashes catch corrupted, swapped or tampered model files and versions
written by another code base; the formats make sure even a rewritten version cannot
run code when loaded; protect the directory itself with file permissions.
"""

from __future__ import annotations

import copy
import functools
import glob
import hashlib
import json
import logging
import math
import re
import shutil
import zipfile
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from models.columns import MODEL_COLUMNS
from models.drift import SAMPLE_FILE, SampleError, TrainingSample, sample_bytes, sample_from_bytes
from models.features import DEFAULT_PERIODS_PER_YEAR, ML_FEATURES

if TYPE_CHECKING:
    from xgboost import XGBModel


@functools.cache
def _libraries() -> tuple[Any, type, type]:
    """(skops.io, Pipeline, XGBModel), imported on first use, not with this module: skops enumerates every
    scikit-learn estimator at import, and with scikit-learn and XGBoost that made every
    ``faust -A flameback_app`` command (``simulate``, ``replay``…) start ~1.8 s later."""
    import skops.io
    from sklearn.pipeline import Pipeline
    from xgboost import XGBModel

    return skops.io, Pipeline, XGBModel


log = logging.getLogger(__name__)
MANIFEST = "manifest.json"
CHAMPION_FILE = "champion.json"  # which version is live, and which were before it
SPACING_SETTING = "FLAMEBACK_PERIODS_PER_YEAR"
TRUSTED_SETTING = "FLAMEBACK_TRUSTED_MODEL_TYPES"
FORMAT = 2  # skops + XGBoost JSON; 1 (or no field): joblib pickles, refused
WHOLE_MODEL = ""  # the booster "step" name of a bare XGBoost estimator (not inside a Pipeline)
RETRAIN_HINT = (
    "retrain with `faust -A flameback_app train FILE` (a running worker trains from its database "
    "history when no version loads)"
)

# Types the built-in pipelines hold that skops does not trust by default (its defaults
# cover scikit-learn's public estimators, NumPy/SciPy arrays and builtins):
# the fitted trees of RandomForest and AdaBoost, and the XGBoost wrapper whose
# booster is stored apart as JSON. tests/models/test_registry.py checks that
# this is exactly what the four models need.
TRUSTED_MODEL_TYPES: tuple[str, ...] = (
    "sklearn.tree._tree.Tree",
    "xgboost.sklearn.XGBClassifier",
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
)


class ArtifactError(RuntimeError):
    """A model version that must not be loaded (bad manifest, missing file, path escape, hash mismatch, format)."""


@dataclass(frozen=True)
class ModelBundle:
    """A verified, loaded model version."""

    version: str
    path: Path
    models: dict[str, Any]  # model column name → fitted scikit-learn Pipeline
    manifest: dict[str, Any]
    left_out: dict[str, str] = field(default_factory=dict)  # optional (user) model → why it did not load


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def trusted_types(extra: Iterable[str] = ()) -> list[str]:
    """:data:`TRUSTED_MODEL_TYPES` plus ``extra`` (FLAMEBACK_TRUSTED_MODEL_TYPES), without duplicates."""
    return list(dict.fromkeys([*TRUSTED_MODEL_TYPES, *(name.strip() for name in extra if name.strip())]))


def save_version(
    models: Mapping[str, Any],
    models_dir: Path,
    *,
    features: Iterable[str],
    span: Mapping[str, Any],
    metrics: Mapping[str, Any],
    periods_per_year: float = DEFAULT_PERIODS_PER_YEAR,
    extra_trusted: Sequence[str] = (),
    training_sample: TrainingSample | None = None,
    optional: Collection[str] = (),
    on_left_out: Callable[[str, str], None] | None = None,
    extra_manifest: Callable[[list[str]], Mapping[str, Any]] | None = None,
) -> Path:
    """Write a new version directory and return its path.

    ``periods_per_year``: the tick spacing the training features were computed with.
    ``training_sample``: rows of the training inputs and their symbols, kept as
    ``training_sample.npz`` (no pickle) and hashed in the manifest; the worker's drift
    check compares live inputs with it (:mod:`models.drift`).
    ``extra_trusted``: type names trusted beyond :data:`TRUSTED_MODEL_TYPES`; a model
    holding any other type raises :class:`ArtifactError` here, not when it is loaded.
    ``optional`` (user models): one that cannot be saved is left out of the version
    and ``on_left_out(name, why)`` is told, instead of the whole save failing.
    ``extra_manifest(saved names)``: more manifest fields (they may depend on what was saved).
    """
    models_dir.mkdir(parents=True, exist_ok=True)
    created = datetime.now(UTC)
    staging = models_dir / f".staging-{created:%Y%m%dT%H%M%S%f}"
    staging.mkdir()
    try:
        files = _write_models(staging, models, trusted_types(extra_trusted), optional, on_left_out)
    except BaseException:  # a model that cannot be saved (e.g. an untrusted type) leaves no half-written staging
        shutil.rmtree(staging, ignore_errors=True)
        raise
    digest = hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()[:8]
    version = f"{created:%Y%m%dT%H%M%SZ}-{digest}"
    manifest = {
        "version": version,
        "format": FORMAT,
        "created": created.isoformat(),
        "features": list(features),
        "periods_per_year": float(periods_per_year),
        "training_span": dict(span),
        "metrics": dict(metrics),
        "models": files,
    }
    if training_sample is not None:
        data = sample_bytes(training_sample)
        manifest["training_sample"] = {
            "file": SAMPLE_FILE,
            "sha256": _write(staging / SAMPLE_FILE, data),
            "rows": len(training_sample),
        }
    manifest.update(extra_manifest(list(files)) if extra_manifest else {})
    (staging / MANIFEST).write_text(json.dumps(manifest, indent=2, default=str))
    final = models_dir / version
    staging.rename(final)
    return final


def _write_models(
    directory: Path,
    models: Mapping[str, Any],
    trusted: list[str],
    optional: Collection[str],
    on_left_out: Callable[[str, str], None] | None,
) -> dict[str, Any]:
    """Every model's manifest entry; an optional model that fails to save is left out (its files removed)."""
    files = {}
    for name, model in models.items():
        try:
            files[name] = _write_model(directory, name, model, trusted)
        except Exception as exc:
            if name not in optional:
                raise
            for leftover in directory.glob(f"{glob.escape(name)}.*"):
                leftover.unlink()
            if on_left_out:
                on_left_out(name, f"cannot be saved ({_one_line(exc)})")
    return files


def _write_model(directory: Path, name: str, model: Any, trusted: list[str]) -> dict[str, Any]:
    """Write one model (skops file, plus one XGBoost JSON per booster) and return its manifest entry."""
    sio, _, _ = _libraries()
    shell, boosters = _split_boosters(model)
    data = sio.dumps(shell, compression=zipfile.ZIP_DEFLATED)  # its JSON schema is verbose: ~13x smaller
    untrusted = sorted(set(sio.get_untrusted_types(data=data)) - set(trusted))
    if untrusted:
        raise ArtifactError(
            f"model {name!r} holds types no loader would trust: {untrusted}; "
            f'if they are safe, list them in {TRUSTED_SETTING} (or a user model\'s "trusted" list)'
        )
    entry: dict[str, Any] = {"file": f"{name}.skops", "sha256": _write(directory / f"{name}.skops", data)}
    if boosters:
        entry["boosters"] = {}
        for step, estimator in boosters.items():
            filename = f"{name}.{_file_part(step)}.xgboost.json"
            estimator.save_model(directory / filename)  # the sklearn wrapper's save: also records its estimator type
            entry["boosters"][step] = {"file": filename, "sha256": sha256_of(directory / filename)}
    return entry


def _file_part(path: str) -> str:
    """A booster's path as part of a file name: ``calibrated:0/estimator/estimator/model`` → ``calibrated0-estimator-estimator-model``."""
    return re.sub(r"[^A-Za-z0-9_-]+", "-", path.replace(":", "")).strip("-") or "model"


def _write(file: Path, data: bytes) -> str:
    file.write_bytes(data)
    return hashlib.sha256(data).hexdigest()


def _split_boosters(model: Any) -> tuple[Any, dict[str, XGBModel]]:
    """A copy of ``model`` with each fitted XGBoost estimator replaced by an unfitted one (same parameters), and
    those estimators by their path in the model (:data:`WHOLE_MODEL` for a bare one; e.g. ``model``, a Pipeline
    step, or ``calibrated:0/estimator/estimator/model`` inside a calibrated one).

    The copy keeps what skops can store safely; the booster goes to XGBoost's JSON,
    which stays readable across XGBoost versions (its in-memory serialisation does not).
    """
    _, _, XGBModel = _libraries()
    if isinstance(model, XGBModel):
        return _unfitted(model), {WHOLE_MODEL: model}
    originals = dict(_xgb_paths(model))
    if not originals:
        return model, {}
    # deepcopy takes an object it finds in its memo as already copied: each fitted booster becomes its unfitted twin.
    substitutes = {id(fitted): _unfitted(fitted) for fitted in originals.values()}
    return copy.deepcopy(model, substitutes), originals


def _children(node: Any) -> Iterator[tuple[str, Any]]:
    """The sub-estimators a model holds, by path token: Pipeline steps, a wrapper's ``estimator``, calibrated folds."""
    _, Pipeline, _ = _libraries()
    if isinstance(node, Pipeline):
        yield from node.steps
        return
    for k, calibrated in enumerate(getattr(node, "calibrated_classifiers_", None) or ()):
        yield f"calibrated:{k}", calibrated
    inner = getattr(node, "estimator", None)
    if inner is not None and hasattr(inner, "get_params"):
        yield "estimator", inner


def _xgb_paths(node: Any, prefix: str = "") -> Iterator[tuple[str, XGBModel]]:
    _, _, XGBModel = _libraries()
    for token, child in _children(node):
        path = f"{prefix}/{token}" if prefix else token
        if isinstance(child, XGBModel):
            yield path, child
        else:
            yield from _xgb_paths(child, path)


def _follow(model: Any, token: str) -> Any:
    _, Pipeline, _ = _libraries()
    if isinstance(model, Pipeline):
        return model.named_steps.get(token)
    kind, _, k = token.partition(":")
    if kind == "calibrated" and k.isdigit():
        folds = getattr(model, "calibrated_classifiers_", None) or ()
        return folds[int(k)] if int(k) < len(folds) else None
    return getattr(model, "estimator", None) if token == "estimator" else None  # noqa: S105 - a path token, not a password


def _resolve(model: Any, path: str) -> Any:
    """The object at ``path`` in ``model`` (None where the path leads nowhere: a hostile or stale manifest)."""
    node = model
    for token in path.split("/") if path else ():
        node = _follow(node, token) if node is not None else None
    return node


def _unfitted(estimator: XGBModel) -> XGBModel:
    return type(estimator)(**estimator.get_params())


def load_version(
    path: Path,
    *,
    features: Iterable[str] = ML_FEATURES,
    required: Iterable[str] = MODEL_COLUMNS,
    extra_trusted: Sequence[str] = (),
) -> ModelBundle:
    """Verify the manifest, its format and every file's sha256, then load; raise :class:`ArtifactError` otherwise.

    ``features`` must equal the manifest's feature list (models trained on other
    inputs would silently mispredict) and every ``required`` model must be present.
    ``extra_trusted``: type names trusted beyond :data:`TRUSTED_MODEL_TYPES`
    (FLAMEBACK_TRUSTED_MODEL_TYPES and the user models' classes). A model beyond
    ``required`` (a user model) whose file holds types not trusted here, or does not
    load, is left out (named in ``left_out``) and nothing of it is built; a hash
    mismatch refuses the whole version, whichever model it is.
    """
    features, root = list(features), path.resolve()
    manifest = read_manifest(root)
    if manifest["version"] != root.name:
        raise ArtifactError(f"{root}: manifest names version {manifest['version']!r}, not the directory's name")
    if manifest["features"] != features:
        raise ArtifactError(f"{root}: trained on features {manifest['features']}, this code computes {features}")
    required = set(required)
    missing = required - set(manifest["models"])
    if missing:
        raise ArtifactError(f"{root}: manifest lacks models {sorted(missing)}")
    payloads = {name: _verified_payloads(root, name, entry) for name, entry in manifest["models"].items()}
    trusted = trusted_types(extra_trusted)
    models, left_out = {}, {}
    for name, entry in manifest["models"].items():  # every hash matched
        try:
            models[name] = _load_model(root, entry, payloads[name], trusted)
        except ArtifactError as exc:
            if name in required:
                raise
            left_out[name] = str(exc)  # a user model whose types are no longer trusted: the others still load
    return ModelBundle(manifest["version"], root, models, manifest, left_out)


def read_manifest(root: Path) -> dict[str, Any]:
    """The parsed manifest, its format checked first, and the fields loading relies on checked for shape."""
    try:
        manifest = json.loads((root / MANIFEST).read_text())
        _check_format(root, manifest.get("format"))
        entries = manifest["models"]
        ok = (
            isinstance(manifest["version"], str)
            and isinstance(manifest["features"], list)
            and all(
                _is_file_entry(e) and all(_is_file_entry(b) for b in _boosters_of(e).values()) for e in entries.values()
            )
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ArtifactError(f"{root}: unreadable manifest ({exc})") from None
    if not ok:
        raise ArtifactError(f"{root}: malformed manifest")
    return manifest


def _check_format(root: Path, found: Any) -> None:
    """Refuse joblib-era versions (pickles, which run code when loaded) without reading their model files."""
    if found in (None, 1):
        raise ArtifactError(
            f"{root.name}: saved with joblib (pickle) by an older Flameback; pickles can run code "
            f"when loaded, so this version is refused; {RETRAIN_HINT}"
        )
    if found != FORMAT:
        raise ArtifactError(
            f"{root.name}: artifact format {found!r}, this Flameback reads format {FORMAT}; {RETRAIN_HINT}"
        )


def _is_file_entry(entry: Any) -> bool:
    return isinstance(entry, dict) and isinstance(entry.get("file"), str) and isinstance(entry.get("sha256"), str)


def _boosters_of(entry: Mapping[str, Any]) -> dict[str, Any]:
    boosters = entry.get("boosters", {})
    if not isinstance(boosters, dict):
        raise TypeError(f"boosters must be a mapping, got {type(boosters).__name__}")
    return boosters


def _verified_payloads(root: Path, name: str, entry: Mapping[str, Any]) -> tuple[bytes, dict[str, bytes]]:
    """The bytes of a model's skops file and of each of its boosters, every one matching its hash."""
    boosters = {
        step: _verified_bytes(root, f"{name}/{step or 'model'}", booster)
        for step, booster in entry.get("boosters", {}).items()
    }
    return _verified_bytes(root, name, entry), boosters


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
        raise ArtifactError(
            f"{file}: sha256 {actual[:12]}… does not match the manifest's {entry['sha256'][:12]}…; refusing to load it"
        )
    return data


def _load_model(
    root: Path, entry: Mapping[str, Any], payloads: tuple[bytes, dict[str, bytes]], trusted: list[str]
) -> Any:
    """Build a model from verified bytes: the skops file (only trusted types), then its XGBoost JSON boosters."""
    data, boosters = payloads
    file = root / entry["file"]
    model = _load_skops(file, data, trusted)
    _, _, XGBModel = _libraries()
    for step, raw in boosters.items():
        target = _resolve(model, step)
        if not isinstance(target, XGBModel):
            raise ArtifactError(f"{file}: booster {step!r} has no XGBoost estimator to go into; refusing it")
        try:
            target.load_model(bytearray(raw))
        except Exception as exc:  # noqa: BLE001 - any parse failure of a hostile file is a refusal, said in one line
            raise ArtifactError(
                f"{root / entry['boosters'][step]['file']}: not a readable XGBoost JSON model ({_one_line(exc)})"
            ) from None
    return model


def _load_skops(file: Path, data: bytes, trusted: list[str]) -> Any:
    """skops' audit first (the untrusted types, named), then the load, which audits again before building anything."""
    sio, _, _ = _libraries()
    try:
        untrusted = sorted(set(sio.get_untrusted_types(data=data)) - set(trusted))
        if untrusted:
            raise ArtifactError(
                f"{file}: holds types that are not trusted: {untrusted}; nothing was loaded "
                f'(add them to {TRUSTED_SETTING}, or to a user model\'s "trusted" list, only if you trust '
                "where this file came from)"
            )
        return sio.loads(data, trusted=trusted)
    except ArtifactError:
        raise
    except Exception as exc:  # noqa: BLE001 - a pickle, a truncated zip, a malformed schema: refused in one line
        raise ArtifactError(f"{file}: not a readable skops model file ({_one_line(exc)}); nothing was loaded") from None


def _one_line(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {' '.join(str(exc).split())}"[:300]


def load_training_sample(bundle: ModelBundle) -> TrainingSample | None:
    """The version's training sample (feature rows and their symbols), its hash checked first; None if it has none.

    Read on demand, not by :func:`load_version`: only the drift check needs it. A
    sample that is not a plain float array (e.g. a pickle) raises :class:`ArtifactError`
    without anything in it being run.
    """
    entry = bundle.manifest.get("training_sample")
    if entry is None:
        return None
    if not _is_file_entry(entry):
        raise ArtifactError(f"{bundle.path}: malformed training_sample entry in the manifest")
    data = _verified_bytes(bundle.path, "training_sample", entry)
    try:
        return sample_from_bytes(data, len(bundle.manifest["features"]))
    except SampleError as exc:
        raise ArtifactError(f"{bundle.path / entry['file']}: {exc}; refusing it") from None


def list_versions(models_dir: Path) -> list[Path]:
    """Version directories under ``models_dir``, newest first (staging and symlinked entries excluded)."""
    if not models_dir.is_dir():
        return []
    entries = [p for p in models_dir.iterdir() if not p.name.startswith(".")]
    for link in (p for p in entries if p.is_symlink()):
        log.error("skipping model version %s: a symlink, not a version directory written here", link)
    return sorted((p for p in entries if p.is_dir() and not p.is_symlink()), key=lambda p: p.name, reverse=True)


def load_latest(
    models_dir: Path, *, features: Iterable[str] = ML_FEATURES, extra_trusted: Sequence[str] = ()
) -> ModelBundle | None:
    """The live version: the promoted champion (:data:`CHAMPION_FILE`), else — first run — the newest that verifies.

    A promoted version that no longer verifies is skipped with one ERROR line and the
    one promoted before it is tried (never a version nobody promoted). Without any
    promotion yet, invalid versions are skipped with one logged ERROR line each.
    None if nothing qualifies.
    """
    history = champion_history(models_dir)
    candidates = [models_dir / v for v in reversed(history)] if history else list_versions(models_dir)
    for candidate in candidates:
        try:
            return load_version(candidate, features=features, extra_trusted=extra_trusted)
        except ArtifactError as exc:
            log.error("skipping model version %s: %s", candidate.name, exc)
    return None


def champion_history(models_dir: Path) -> list[str]:
    """Promoted versions, oldest first (the last one is the live champion); [] before the first promotion.

    Kept in :data:`CHAMPION_FILE` beside the versions so that the models a worker runs
    follow a decision (a won challenge, ``models promote``, ``models rollback``) rather
    than whichever directory happens to be newest, and ``rollback`` knows what came before.
    """
    try:
        history = json.loads((models_dir / CHAMPION_FILE).read_text())["history"]
    except FileNotFoundError:
        return []
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ArtifactError(f"{models_dir / CHAMPION_FILE}: unreadable ({exc})") from None
    if not (isinstance(history, list) and all(isinstance(v, str) and _is_version_name(v) for v in history)):
        raise ArtifactError(f"{models_dir / CHAMPION_FILE}: malformed history")
    return history


def champion(models_dir: Path) -> str | None:
    """The promoted version's name, or None before the first promotion."""
    history = champion_history(models_dir)
    return history[-1] if history else None


def promote(models_dir: Path, version: str) -> list[str]:
    """Make ``version`` (an existing version directory) the champion; returns the new history.

    Written atomically (a temporary file renamed over the old one): a worker reading it
    concurrently sees the old champion or the new one, never half a file.
    """
    if not _is_version_name(version) or not (models_dir / version / MANIFEST).is_file():
        raise ArtifactError(f"no model version {version!r} in {models_dir}")
    history = [v for v in champion_history(models_dir) if v != version] + [version]
    _write_history(models_dir, history)
    return history


def rollback(models_dir: Path) -> tuple[str, str]:
    """Demote the champion and bring back the one promoted before it; returns (demoted, restored)."""
    history = champion_history(models_dir)
    if len(history) < 2:
        raise ArtifactError(
            "nothing to roll back to: "
            + (f"{history[0]} is the only version ever promoted" if history else "no version was promoted yet")
        )
    _write_history(models_dir, history[:-1])
    return history[-1], history[-2]


def _write_history(models_dir: Path, history: list[str]) -> None:
    staging = models_dir / f".{CHAMPION_FILE}.tmp"
    staging.write_text(json.dumps({"history": history, "updated": datetime.now(UTC).isoformat()}, indent=2))
    staging.replace(models_dir / CHAMPION_FILE)


def _is_version_name(name: str) -> bool:
    """A plain directory name (no path separators, no dot-files): the history cannot point outside the root."""
    return bool(name) and "/" not in name and "\\" not in name and not name.startswith(".")


@dataclass(frozen=True)
class TickSpacing:
    """How a model version's tick spacing compares with the one it is about to run on."""

    trained: float  # periods_per_year of the training features
    recorded: bool  # False: the manifest predates the field and ``trained`` is the assumed 252
    current: float
    warning: str | None  # one line when the spacings differ, else None
    note: str | None  # one line when the spacing was assumed (and matches), else None


def tick_spacing_check(
    manifest: Mapping[str, Any], periods_per_year: float, setting: str = SPACING_SETTING
) -> TickSpacing:
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
        warning = (
            f"models version {version} were trained with periods_per_year={trained:g}{how} but {setting}="
            f"{periods_per_year:g} here: their volatility feature is {math.sqrt(periods_per_year / trained):.4g}"
            f"x the scale they learned; retrain on this spacing or set {setting}={trained:g}"
        )
    elif recorded is None:
        note = (
            f"models version {version}: manifest has no periods_per_year (written before it was recorded); "
            f"assuming {DEFAULT_PERIODS_PER_YEAR:g}, which matches {setting}"
        )
    return TickSpacing(trained, recorded is not None, float(periods_per_year), warning, note)


def log_tick_spacing(
    manifest: Mapping[str, Any], periods_per_year: float, setting: str = SPACING_SETTING
) -> TickSpacing:
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
