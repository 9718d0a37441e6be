"""``python -m dashboard`` serves the terminal with waitress (not Flask's development server),
prints and serves no database password, and stops on Ctrl-C (SIGINT) within seconds."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import urllib.request
import uuid
from pathlib import Path

import pytest

from flameback_app.storage import db, schema
from tests.support.harness import REPO, free_port, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]


def get(url: str) -> tuple[dict, str] | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return dict(resp.headers), resp.read().decode()
    except OSError:
        return None


def test_the_terminal_runs_on_waitress_and_shows_no_database_password(tmp_path: Path, postgres_server) -> None:
    url = postgres_server.create_database(f"fb_terminal_{uuid.uuid4().hex[:8]}")
    engine = db.make_engine(url)
    schema.upgrade(engine)
    engine.dispose()
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLAMEBACK_")}
    env.update(FLAMEBACK_DB_URL=url, FLAMEBACK_DASH_PORT=str(port), PYTHONUNBUFFERED="1")
    log = tmp_path / "terminal.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "dashboard"],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        base = f"http://127.0.0.1:{port}"
        headers, page = wait_for(lambda: get(base + "/"), 60, f"the terminal on {base} (log: {log})")
        assert headers["Server"] == "waitress"
        served = page + "".join(get(base + path)[1] for path in ("/_dash-layout", "/_dash-dependencies"))
        proc.send_signal(signal.SIGINT)  # what Ctrl-C sends
        assert proc.wait(10) is not None
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
    printed = log.read_text()
    assert f"Flameback terminal on {base}/ (database postgresql+psycopg://postgres:***@127.0.0.1:" in printed
    assert "waitress" in printed and "development server" not in printed
    assert postgres_server.password not in printed + served
