#!/usr/bin/env bash
# Set up, then run the whole system on the embedded defaults with honcho (Procfile):
# the Tansu broker, the Faust worker, a feed and the Dash terminal.
# Terminal: http://127.0.0.1:8050   Worker views: http://127.0.0.1:6066/health/
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/honcho start -f Procfile
