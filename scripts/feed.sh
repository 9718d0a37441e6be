#!/usr/bin/env bash
# The Procfile's feed: replay the real 2001–2019 file from ../shared/data in a loop at a
# watchable rate when it is there, else a synthetic live market (the `simulate` command).
set -euo pipefail
cd "$(dirname "$0")/.."
data="../shared/data/seas_port_final_2001_2019.csv"
rate=${FLAMEBACK_FEED_RATE:-200}
if [[ -f $data ]]; then
  echo "feed: replaying $data at $rate ticks/s (loop)" >&2
  exec .venv/bin/faust -A flameback_app replay "$data" --rate "$rate" --repeat --no-progress
fi
echo "feed: $data not found; simulating a live market at $rate ticks/s" >&2
exec .venv/bin/faust -A flameback_app simulate --rate "$rate" --no-progress
