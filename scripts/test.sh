#!/usr/bin/env bash
# Set up (including Debian's chromium + chromium-driver), then run the full test suite:
# unit, agent, end-to-end (real Tansu broker + worker processes) and browser tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test
exec .venv/bin/python -m pytest "$@"
