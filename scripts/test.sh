#!/usr/bin/env bash
# Set up (including the Debian packages the tests need), then run the full test suite:
# unit, agent, end-to-end (real Tansu broker + worker processes) and browser tests, on
# the setup's Python (3.11 first). Then, with no arguments, a second leg: the tests of flameback_app/, tables/, model loading and live inference
# and one end-to-end test on Python 3.13 where such an interpreter is found (it says it
# skipped, and why, where not). Arguments go to pytest and run the first leg only.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test
if (($#)); then
  exec .venv/bin/python -m pytest "$@"
fi
.venv/bin/python -m pytest
exec bash scripts/test-python3.13.sh
