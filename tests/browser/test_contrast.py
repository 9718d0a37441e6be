"""Text contrast of at least 4.5:1 (WCAG 2.1 AA) on every view, measured in headless Chromium.

The check runs in the page: for every visible element that holds text of its own
(HTML text and the charts' SVG text), the text colour (``color``, or ``fill`` for SVG)
is blended over the first opaque background among its ancestors, and the WCAG contrast
ratio is computed from their relative luminances. The first test shows the check
itself fails on grey text on a black page, so a green run is not the check seeing nothing.
"""

from __future__ import annotations

import pytest

from dashboard import ids
from tests.support.seed import seed_database
from tests.support.terminal import start, wait_js

pytestmark = pytest.mark.browser

AA_NORMAL_TEXT = 4.5
SYMBOLS = {"CL1 Comdty": 200, "ES1 Index": 160}

LOW_CONTRAST_SCRIPT = """
const rgb = s => (s.match(/[\\d.]+/g) || []).map(Number);
const luminance = ([r, g, b]) => {
  const f = c => { c /= 255; return c <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4); };
  return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
};
const background = el => {
  for (let node = el; node && node.nodeType === 1; node = node.parentElement) {
    const c = rgb(getComputedStyle(node).backgroundColor);
    if (c.length === 3 || (c.length === 4 && c[3] >= 0.99)) return c.slice(0, 3);
  }
  return [255, 255, 255];  // the browser's canvas
};
const blend = (fg, bg) => fg.length === 4 ? fg.slice(0, 3).map((c, i) => fg[3] * c + (1 - fg[3]) * bg[i]) : fg;
const ownText = el => Array.from(el.childNodes).some(n => n.nodeType === 3 && n.textContent.trim());
const visible = el => {
  const s = getComputedStyle(el), box = el.getBoundingClientRect();
  return s.visibility !== 'hidden' && s.display !== 'none' && Number(s.opacity) > 0 && box.width > 0 && box.height > 0;
};
const found = [];
let checked = 0;
for (const el of document.querySelectorAll('body *')) {
  if (!ownText(el) || !visible(el) || ['SCRIPT', 'STYLE', 'NOSCRIPT'].includes(el.tagName)) continue;
  const svg = el instanceof SVGElement;
  const style = getComputedStyle(el);
  const bg = background(svg ? el.ownerSVGElement || el : el);
  const fg = blend(rgb(svg ? style.fill : style.color), bg);
  const [a, b] = [luminance(fg), luminance(bg)].sort((x, y) => y - x);
  const ratio = (a + 0.05) / (b + 0.05);
  checked += 1;
  if (ratio < arguments[0]) found.push([el.textContent.trim().slice(0, 40), ratio.toFixed(2), String(fg), String(bg)]);
}
return {checked, found};
"""


def low_contrast(dash_duo) -> dict:
    return dash_duo.driver.execute_script(LOW_CONTRAST_SCRIPT, AA_NORMAL_TEXT)


def test_the_check_finds_grey_text_on_black(dash_duo, free_port, db_url):
    seed_database(db_url, SYMBOLS).dispose()
    start(dash_duo, free_port(), db_url)
    wait_js(dash_duo, f"return !!document.getElementById('{ids.OVERVIEW}')", bool)
    dash_duo.driver.execute_script(
        "const p = document.createElement('p'); p.textContent = 'dim label';"
        "p.style.cssText = 'color: #444; background: #000'; document.body.appendChild(p);"
    )
    result = low_contrast(dash_duo)
    assert ["dim label"] == [text for text, *_ in result["found"] if text == "dim label"]


def test_every_view_has_text_contrast_of_at_least_4_5_to_1(dash_duo, free_port, db_url):
    seed_database(db_url, SYMBOLS).dispose()
    start(dash_duo, free_port(), db_url)
    wait_js(dash_duo, f"return document.querySelectorAll('#{ids.OVERVIEW} td').length", bool)
    overview = low_contrast(dash_duo)
    start_symbol = "ES1 Index"
    dash_duo.driver.get(dash_duo.server_url + "/?symbol=" + start_symbol.replace(" ", "%20"))
    wait_js(dash_duo, "return document.querySelectorAll('.js-plotly-plot .main-svg text').length", bool)
    symbol_view = low_contrast(dash_duo)
    assert overview["checked"] > 20 and symbol_view["checked"] > 20  # the views had text to check
    assert overview["found"] == []
    assert symbol_view["found"] == []
