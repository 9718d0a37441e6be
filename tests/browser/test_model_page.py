"""The model page in headless Chromium: a really trained (small) version, registered as a worker does, on a seeded database.

Opens ``/?view=models`` by its deep link, checks every panel is drawn and that the
accuracy bars are the report's figures, then leaves by the overview link and comes
back by the MODELS link. Only with ``FLAMEBACK_UPDATE_SCREENSHOT=1`` it replaces the
README's ``docs/models.png``.
"""

from __future__ import annotations

import json
import os
from datetime import datetime

import pytest

from dashboard import ids, links, model_page
from flameback_app.storage.db import MODEL_COLUMNS, RULE_COLUMNS, register_model
from models.synthetic import indicator_frame, random_walk_prices
from models.train import train_and_save
from tests.support.harness import REPO
from tests.support.seed import seed_database
from tests.support.terminal import assert_console_clean, save_full_page_screenshot, start, wait_js, wait_text

pytestmark = pytest.mark.browser

README_SCREENSHOT = REPO / "docs" / "models.png"
TRACES = "const g = document.querySelector('#{} .js-plotly-plot'); return g && g.data ? g.data.length : 0"
BARS = "return document.querySelector('#{} .js-plotly-plot').data[0].y"
SHOWN = "const el = document.getElementById('{}'); return !!el && el.offsetParent !== null"


def test_model_page_draws_the_loaded_versions_report_and_the_live_rates(dash_duo, free_port, db_url, tmp_path):
    engine = seed_database(db_url, {"CL1 Comdty": 160, "ES1 Index": 140, "GC1 Comdty": 120})
    path = train_and_save(
        indicator_frame(random_walk_prices(200, symbols=3, seed=8)), tmp_path / "models", folds=2, embargo=2
    )
    manifest = json.loads((path / "manifest.json").read_text())
    register_model(
        engine, path.name, datetime.fromisoformat(manifest["created"]), str(path), json.dumps(manifest["metrics"])
    )  # what the worker records when it loads a version
    engine.dispose()
    report = json.loads((path / "report.json").read_text())

    start(dash_duo, free_port(), db_url)
    dash_duo.driver.get(dash_duo.server_url + "/" + links.MODELS_SEARCH)
    for panel in model_page.PANELS.values():
        if panel != model_page.PANELS["versions"]:
            wait_js(dash_duo, TRACES.format(panel), lambda n: n > 0)  # a drawn figure, not an empty note
    assert dash_duo.driver.execute_script(BARS.format(model_page.PANELS["accuracy"])) == pytest.approx(
        [report["pooled"]["signals"][n]["accuracy"] for n in (*MODEL_COLUMNS, *RULE_COLUMNS)]
    )
    wait_text(dash_duo, model_page.PANELS["versions"], lambda t: f"{path.name} ● loaded" in t)
    assert not dash_duo.driver.execute_script(SHOWN.format(ids.OVERVIEW_PANE))
    if os.environ.get("FLAMEBACK_UPDATE_SCREENSHOT") == "1":  # the overview test checks screenshots work; save ~1.5 s
        save_full_page_screenshot(dash_duo, README_SCREENSHOT)

    dash_duo.find_element(f"#{ids.OVERVIEW_LINK}").click()
    wait_js(dash_duo, SHOWN.format(ids.OVERVIEW_PANE), bool)
    assert not dash_duo.driver.execute_script(SHOWN.format(ids.MODELS_PANE))
    dash_duo.find_element(f"#{ids.MODELS_LINK}").click()
    wait_js(dash_duo, SHOWN.format(ids.MODELS_PANE), bool)
    assert dash_duo.driver.execute_script("return window.location.search") == links.MODELS_SEARCH
    assert_console_clean(dash_duo)
