"""Bring your own model: classifiers a user names in FLAMEBACK_USER_MODELS, beside the four built-ins.

Reads the setting's entries (``{"name": {"class": "pkg.module.Class", "params": {...},
"scale": true, "trusted": [...]}}``); writes nothing. Each entry is imported and built
fresh wherever the built-ins are (every walk-forward fold, the final fit), behind the
same StandardScaler unless ``"scale": false``. Nothing here is trusted more than the
user said: the class path (and the entry's ``trusted`` type names) join the skops
trusted list so the saved model can be loaded again, and only those.

A user model is the user's code, so it may fail where the built-ins do not: an import
error, parameters the class refuses, no ``predict_proba``, a fit that raises, a file
skops cannot save. Each failure leaves that model out with ONE line naming it and why
(:meth:`UserModels.leave_out`); the built-ins and the other user models carry on.
"""

from __future__ import annotations

import importlib
import logging
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from flameback_app.core.ta import FEATURE_FIELDS
from models.columns import MODEL_COLUMNS, PROBABILITY_COLUMNS, RULE_COLUMNS

log = logging.getLogger(__name__)
SETTING = "FLAMEBACK_USER_MODELS"
# A name becomes a file name, a scoreboard signal (32 characters) and a key beside the feature columns of a row.
NAME_PATTERN = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,31}")
RESERVED_NAMES = frozenset(
    {
        *MODEL_COLUMNS,
        *RULE_COLUMNS,
        *PROBABILITY_COLUMNS,
        *FEATURE_FIELDS,
        "symbol",
        "timestamp",
        "current_price",
        "seq",
        "volume",
        "model_version",
        "processing_time",
        "ingest_time",
        "latency_ms",
        "id",
        "user_models",
    }
)
ENTRY_KEYS = frozenset({"class", "params", "scale", "trusted"})
Warn = Callable[[str], None]


class UserModelError(ValueError):
    """Why one user model cannot take part (the text after its name in the one-line message)."""


@dataclass(frozen=True)
class UserModelSpec:
    """One validated entry of FLAMEBACK_USER_MODELS."""

    name: str
    class_path: str
    params: Mapping[str, Any] = field(default_factory=dict)
    scale: bool = True
    trusted: tuple[str, ...] = ()

    @property
    def trusted_types(self) -> tuple[str, ...]:
        """What its saved file may hold beyond Flameback's list: the class itself and what the user listed."""
        return (self.class_path, *self.trusted)

    def describe(self) -> dict[str, Any]:
        """The entry as recorded in a version's manifest (so a reader sees what was trained)."""
        return {
            "class": self.class_path,
            "params": dict(self.params),
            "scale": self.scale,
            "trusted": list(self.trusted),
        }


def parse_entry(name: str, entry: Any) -> UserModelSpec:
    """A spec from one entry of the setting, or :class:`UserModelError` saying what is wrong with it."""
    if not NAME_PATTERN.fullmatch(name):
        raise UserModelError("a name must be a letter then up to 31 letters, digits or _")
    if name in RESERVED_NAMES:
        raise UserModelError("the name is taken by a built-in model, rule or column")
    if not isinstance(entry, Mapping):
        raise UserModelError(
            f'the entry must be an object like {{"class": "pkg.Class", "params": {{}}}}, got {type(entry).__name__}'
        )
    unknown = sorted(set(entry) - ENTRY_KEYS)
    if unknown:
        raise UserModelError(f"unknown keys {unknown} (known: {sorted(ENTRY_KEYS)})")
    class_path, params = entry.get("class"), entry.get("params", {})
    if not isinstance(class_path, str) or "." not in class_path:
        raise UserModelError('"class" must be an import path such as "sklearn.neural_network.MLPClassifier"')
    if not isinstance(params, Mapping):
        raise UserModelError('"params" must be an object of keyword arguments')
    trusted = entry.get("trusted", [])
    if not isinstance(trusted, list) or not all(isinstance(t, str) for t in trusted):
        raise UserModelError('"trusted" must be a list of type names (module.Class)')
    return UserModelSpec(name, class_path, dict(params), bool(entry.get("scale", True)), tuple(trusted))


def import_class(path: str) -> type:
    """The class at ``pkg.module.Class``; :class:`UserModelError` with the import's own reason otherwise."""
    module_name, _, attribute = path.rpartition(".")
    try:
        found = getattr(importlib.import_module(module_name), attribute)
    except Exception as exc:  # noqa: BLE001 - any import-time failure of user code is reported, not raised
        raise UserModelError(f"cannot import {path} ({_one_line(exc)})") from None
    if not isinstance(found, type):
        raise UserModelError(f"{path} is a {type(found).__name__}, not a class")
    return found


def build(spec: UserModelSpec) -> Any:
    """A fresh, unfitted model for ``spec`` (a Pipeline behind a scaler unless ``scale`` is false)."""
    cls = import_class(spec.class_path)
    try:
        estimator = cls(**spec.params)
    except Exception as exc:  # noqa: BLE001 - wrong parameters are the user's to fix, said in one line
        raise UserModelError(f"{spec.class_path}(**params) failed ({_one_line(exc)})") from None
    missing = [method for method in ("fit", "predict_proba") if not hasattr(estimator, method)]
    if missing:
        raise UserModelError(
            f"{spec.class_path} has no {' or '.join(missing)}; Flameback needs P(up) from predict_proba"
        )
    if not spec.scale:
        return estimator
    return Pipeline([("scale", StandardScaler()), ("model", estimator)])


class UserModels:
    """The user's models for one run (a training, an evaluation, a live engine), minus those that failed.

    ``warn`` receives each one-line message once per model (default: a WARNING log line).
    """

    def __init__(self, entries: Mapping[str, Any] | None = None, warn: Warn | None = None) -> None:
        self._warn = warn or log.warning
        self.specs: dict[str, UserModelSpec] = {}
        self.left_out: dict[str, str] = {}
        for name, entry in (entries or {}).items():
            try:
                spec = parse_entry(name, entry)
                build(spec)  # import and construct once up front: a broken entry is reported before any fitting
            except UserModelError as exc:
                self.leave_out(name, str(exc))
            else:
                self.specs[name] = spec

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.specs)

    @property
    def trusted_types(self) -> tuple[str, ...]:
        return tuple(t for spec in self.specs.values() for t in spec.trusted_types)

    def build_all(self) -> dict[str, Any]:
        """A fresh unfitted model per user model still in the run."""
        models = {}
        for name, spec in list(self.specs.items()):
            try:
                models[name] = build(spec)
            except UserModelError as exc:
                self.leave_out(name, str(exc))
        return models

    def leave_out(self, name: str, reason: str) -> None:
        """Drop ``name`` from this run and say so, once."""
        self.specs.pop(name, None)
        if name not in self.left_out:
            self.left_out[name] = reason
            self._warn(f"user model {name!r} left out: {reason}; the other models carry on")

    def failed(self, name: str, stage: str, exc: BaseException) -> bool:
        """A model raised in ``stage``: True (and left out) when it is a user model, False for a built-in."""
        if name not in self.specs and name not in self.left_out:
            return False
        self.leave_out(name, f"{stage} failed ({_one_line(exc)})")
        return True

    def manifest_entries(self, saved: Iterable[str]) -> dict[str, Any]:
        return {name: self.specs[name].describe() for name in saved if name in self.specs}


def trusted_types_of(entries: Mapping[str, Any]) -> tuple[str, ...]:
    """The type names the setting's entries add to skops' trusted list (without importing anything)."""
    names: list[str] = []
    for entry in entries.values():
        if isinstance(entry, Mapping):
            if isinstance(entry.get("class"), str):
                names.append(entry["class"])
            names.extend(t for t in entry.get("trusted", []) or [] if isinstance(t, str))
    return tuple(names)


def _one_line(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {' '.join(str(exc).split())}"[:300]
