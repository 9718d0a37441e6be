"""Browser-test setup: Debian's headless Chromium + chromedriver for ``dash_duo``, free ports, seeded databases.

Reads /usr/bin/chromium and /usr/bin/chromedriver (``scripts/setup.sh`` installs them) and
the symbol sheet in ``../shared/data`` when present; writes SQLite files under pytest's
tmp dirs. Without the browser, browser tests skip with the reason — except under CI
(env ``CI`` set), where a missing browser fails them.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from pathlib import Path

import pytest
from selenium.webdriver.chrome.options import Options

from flameback_app.settings import Settings
from tests.support.terminal import CHROMEDRIVER, CHROMIUM, chromium_options

SYMBOL_SHEET = Settings().market_data_dir / "tick_data_symbol_list_futures.csv"


def pytest_setup_options() -> Options:
    """dash[testing] hook: the Chromium binary and flags every browser test uses."""
    return chromium_options()


@pytest.fixture(autouse=True)
def _require_browser(request: pytest.FixtureRequest) -> None:
    if "dash_duo" not in request.fixturenames:
        return
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if missing and os.environ.get("CI"):
        pytest.fail(f"browser tests need {', '.join(missing)} (apt-get install chromium chromium-driver)")
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed (scripts/setup.sh installs chromium and chromium-driver)")


@pytest.fixture
def free_port() -> Callable[[], int]:
    """A port the OS says is free on 127.0.0.1 (so parallel runs never collide)."""

    def pick() -> int:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            return sock.getsockname()[1]

    return pick


@pytest.fixture
def symbol_sheet() -> Path | None:
    return SYMBOL_SHEET if SYMBOL_SHEET.is_file() else None
