"""The versioned schema on real SQLite files and a real PostgreSQL server.

- The models in ``flameback_app/storage/db.py`` and the head revision agree (autogenerate finds
  no difference): nobody changes a table without a migration.
- A database written by commit 62372df's ``create_all`` (frozen DDL, rows in every
  table) is recognised as the baseline, stamped, upgraded through a revision that
  rebuilds ``predictions``, and keeps every row.
- Two processes starting the upgrade at the same instant: one migrates, the other waits
  for the lock and finds the schema current; both then write.
- A worker process upgrades an old database before it starts; with auto-upgrade off it
  refuses in one line and exits 1, leaving the database as it was.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from flameback_app.storage import db, schema
from tests.support.harness import FAUST, REPO, free_port, wait_for
from tests.support.migrations import NEXT_REVISION_ID, create_62372df_database, migrations_with_next_revision, snapshot

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]


def test_models_and_head_revision_agree(database) -> None:
    engine = db.make_engine(database.url)
    schema.upgrade(engine)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"version_table": schema.VERSION_TABLE, "compare_type": True})
        differences = compare_metadata(context, db.metadata)
    engine.dispose()
    assert differences == [], (
        f"flameback_app/storage/db.py and the migrations differ: add a revision "
        f"(faust -A flameback_app db revision -m ...): {differences}"
    )


def test_a_62372df_database_is_stamped_upgraded_and_keeps_every_row(database, tmp_path: Path) -> None:
    engine = db.make_engine(database.url)
    create_62372df_database(engine)
    before = snapshot(engine)
    assert {name: len(rows) for name, rows in before.items()} == {
        "model_registry": 1,
        "pipeline_counters": 7,
        "predictions": 60 + 80 + 100,
        "scoreboard": 4 * 9,
    }
    location = migrations_with_next_revision(tmp_path)
    state = schema.schema_state(engine, location)
    assert state.legacy and state.revision is None and state.head == NEXT_REVISION_ID

    result = schema.prepare(engine, script_location=location)

    assert result.migrated and result.after == NEXT_REVISION_ID
    assert schema.schema_state(engine, location).revision == NEXT_REVISION_ID
    assert snapshot(engine) == before  # every row of every table, every value
    columns = {c["name"] for c in inspect(engine).get_columns("predictions")}
    assert "venue" in columns and len(columns) == len(db.predictions.columns) + 1
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM migration_runs")).scalar_one() == 1
    indexes = {ix["name"] for ix in inspect(engine).get_indexes("predictions")}
    assert {"ix_predictions_symbol_timestamp", "ix_predictions_id_symbol"} <= indexes  # survived the rebuild
    first = before["predictions"][0]  # id, symbol, timestamp, current_price, processing_time, ...
    again = {"symbol": first[1], "timestamp": first[2], "current_price": 1.0, "processing_time": first[4]}
    assert db.insert_predictions(engine, [again]) == 0  # an old row is (symbol, timestamp, seq 0): still unique
    with engine.connect() as conn:
        seqs = conn.execute(text("SELECT DISTINCT seq FROM predictions")).scalars().all()
    assert seqs == [0]
    assert db.insert_predictions(engine, [{**again, "seq": 1, "volume": 5.0}]) == 1  # a second trade, same instant
    assert schema.prepare(engine, script_location=location).migrated is False  # idempotent
    engine.dispose()


MIGRATE_AND_WRITE = """
import json, sys, time
from datetime import datetime
from flameback_app.storage import db, schema
url, location, start_at, symbol = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
engine = db.make_engine(url)
time.sleep(max(0.0, start_at - time.time()))
result = schema.prepare(engine, script_location=location)
row = {"symbol": symbol, "timestamp": datetime(2026, 1, 2), "current_price": 1.0, "processing_time": datetime.now()}
written = db.insert_predictions(engine, [row])
print(json.dumps({"migrated": result.migrated, "waited_s": result.waited_s, "written": written}))
"""


def test_two_processes_starting_together_migrate_once_and_both_work(database, tmp_path: Path) -> None:
    engine = db.make_engine(database.url)
    create_62372df_database(engine)
    before = snapshot(engine)
    location = migrations_with_next_revision(tmp_path)
    start_at = time.time() + 3.0  # both have imported everything by then and start within a millisecond
    env = {**os.environ, "FLAMEBACK_TEST_MIGRATION_SLEEP_S": "2"}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", MIGRATE_AND_WRITE, database.url, location, str(start_at), f"PROC{i} Index"],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    results = [json.loads(out.strip().splitlines()[-1]) for out, _err in outputs]
    print(f"\n{database.kind}: {results}")
    assert sorted(r["migrated"] for r in results) == [False, True], results
    waiter = next(r for r in results if not r["migrated"])
    assert waiter["waited_s"] > 1.0, f"the second process did not wait for the first one's migration: {results}"
    assert [r["written"] for r in results] == [1, 1]
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM migration_runs")).scalar_one() == 1
    assert schema.schema_state(engine, location).revision == NEXT_REVISION_ID
    after = snapshot(engine)
    assert {k: v for k, v in after.items() if k != "predictions"} == {
        k: v for k, v in before.items() if k != "predictions"
    }
    assert after["predictions"][: len(before["predictions"])] == before["predictions"]
    assert len(after["predictions"]) == len(before["predictions"]) + 2
    engine.dispose()


def worker_env(url: str, tmp_path: Path, **extra: str) -> dict[str, str]:
    """A worker whose broker never answers: everything it does before connecting is the schema check."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLAMEBACK_")}
    env.update(
        {
            "FLAMEBACK_DB_URL": url,
            "FLAMEBACK_BROKER": f"kafka://127.0.0.1:{free_port()}",
            "FLAMEBACK_DATA_DIR": str(tmp_path / "data"),
            "FLAMEBACK_MODELS_DIR": str(tmp_path / "models"),
            "FLAMEBACK_WEB_PORT": str(free_port()),
            **extra,
        }
    )
    return env


def test_a_worker_upgrades_a_62372df_database_before_it_starts(database, tmp_path: Path) -> None:
    engine = db.make_engine(database.url)
    create_62372df_database(engine)
    before = snapshot(engine)
    log = tmp_path / "worker.log"
    with log.open("wb") as out:
        worker = subprocess.Popen(
            [*FAUST, "worker", "-l", "info"],
            cwd=REPO,
            env=worker_env(database.url, tmp_path),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_for(lambda: "for the Kafka broker at" in log.read_text(), 60, f"the worker to get past the schema ({log})")
    finally:
        worker.terminate()
        worker.wait(30)
    lines = log.read_text().splitlines()
    upgraded = [line for line in lines if "database schema upgraded" in line]
    assert upgraded == [
        (
            "[flameback] database schema upgraded from the pre-migration schema (unversioned) "
            f"to revision {schema.head_revision()} (head)"
        )
    ]
    assert lines.index(upgraded[0]) < next(i for i, line in enumerate(lines) if "for the Kafka broker at" in line)
    assert "Traceback" not in log.read_text()
    assert schema.schema_state(engine).current and snapshot(engine) == before
    engine.dispose()


def test_with_auto_upgrade_off_a_worker_refuses_an_old_database_in_one_line(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = db.make_engine(url)
    create_62372df_database(engine)
    before = snapshot(engine)
    result = subprocess.run(
        [*FAUST, "worker", "-l", "info"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=worker_env(url, tmp_path, FLAMEBACK_DB_AUTO_UPGRADE="false"),
    )
    print(f"\nstderr: {result.stderr!r}")
    assert result.returncode == 1
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert result.stderr.startswith("Error: ") and f"`{schema.UPGRADE_COMMAND}`" in result.stderr
    assert "pre-migration schema" in result.stderr
    assert not inspect(engine).has_table(schema.VERSION_TABLE) and snapshot(engine) == before  # untouched

    upgrade = subprocess.run(
        [*FAUST, "db", "upgrade"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=worker_env(url, tmp_path),
    )
    assert upgrade.returncode == 0, upgrade.stderr
    assert "database schema upgraded" in upgrade.stderr
    current = subprocess.run(
        [*FAUST, "db", "current"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=worker_env(url, tmp_path),
    )
    assert current.stdout.strip().endswith(f"schema revision {schema.head_revision()} (head)"), current
    assert snapshot(engine) == before
    engine.dispose()


def test_a_database_newer_than_this_release_is_refused(tmp_path: Path) -> None:
    location = migrations_with_next_revision(tmp_path)
    engine = db.make_engine(f"sqlite:///{tmp_path / 'newer.db'}")
    schema.upgrade(engine, script_location=location)  # written by a "later release"
    with pytest.raises(schema.SchemaError, match=f"revision {NEXT_REVISION_ID}, which this release does not know"):
        schema.prepare(engine)
    engine.dispose()
