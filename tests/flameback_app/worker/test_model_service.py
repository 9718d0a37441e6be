"""The worker's model lifecycle: first-run promotion, swap only on promotion, manual promotions followed.

The training child is replaced by a function returning the decision it would have
made (a forked training run needs a database history and minutes); everything else —
versions on disk, the champion pointer, the decisions table, the signal engine — is real.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from flameback_app.settings import Settings
from flameback_app.storage import db
from flameback_app.worker.model_service import ModelService
from flameback_app.worker.runtime import Runtime
from models.columns import MODEL_COLUMNS
from models.decisions import Decision
from models.features import ML_FEATURES
from models.registry import champion, promote, save_version


def _version(root: Path, seed: int) -> str:
    rng = np.random.default_rng(seed)
    x, y = rng.normal(size=(80, len(ML_FEATURES))), rng.integers(0, 2, 80)
    models = {
        m: Pipeline([("scale", StandardScaler()), ("model", LogisticRegression())]).fit(x, y) for m in MODEL_COLUMNS
    }
    span = {"n": 80, "start": "2020-01-01", "end": "2020-03-01"}
    return save_version(models, root, features=ML_FEATURES, span=span, metrics={}).name


@pytest.fixture
def service(tmp_path: Path) -> ModelService:
    settings = Settings(models_dir=tmp_path / "models", db_url=f"sqlite:///{tmp_path / 'f.db'}", retrain_every_s=1)
    rt = Runtime(settings)
    db.metadata.create_all(rt.db)
    return ModelService(rt)


def _decisions(service: ModelService) -> list[tuple[str, str]]:
    return [(r["action"], r["version"]) for r in reversed(db.recent_decisions(service.rt.db))]


def _challenger(service: ModelService, version: str, action: str) -> None:
    """Stand in for the training child: it saved ``version`` and decided ``action`` (promoting on a win)."""
    models_dir, live = service.rt.settings.models_dir, service.rt.signals.model_version

    async def decided() -> Decision:
        if action == "promoted":
            promote(models_dir, version)
        return Decision(version, live, action, "test", decided_at=datetime.now(UTC))

    service._train_in_child = decided  # the one seam: no forked training here
    service._last_trained = 0.0  # due now


def test_the_worker_swaps_only_to_a_promoted_version(service: ModelService) -> None:
    models_dir = service.rt.settings.models_dir
    older, newer = _version(models_dir, 1), _version(models_dir, 2)
    promote(models_dir, older)  # promoted before: whichever directory is newest, this one runs

    async def scenario() -> None:
        engine = await service.signal_engine()
        assert engine.model_version == older
        rejected = _version(models_dir, 3)
        _challenger(service, rejected, "rejected")
        await service.train_when_needed()
        assert engine.model_version == older  # kept, not swapped
        _challenger(service, newer, "promoted")
        await service.train_when_needed()
        assert engine.model_version == newer
        promote(models_dir, rejected)  # by hand (`models promote`): followed on the next check
        await service.follow_promotions()
        assert engine.model_version == rejected

    asyncio.run(scenario())
    assert [a for a, _ in _decisions(service)] == ["rejected", "promoted"]


def test_first_run_promotes_the_newest_valid_version_and_records_it(service: ModelService) -> None:
    models_dir = service.rt.settings.models_dir
    _version(models_dir, 1)
    time.sleep(1.01)  # version names carry the second they were written: newest sorts last
    newest = _version(models_dir, 2)
    assert champion(models_dir) is None
    assert asyncio.run(service.signal_engine()).model_version == newest
    assert champion(models_dir) == newest
    assert _decisions(service) == [("first", newest)]
