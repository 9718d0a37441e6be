#!/usr/bin/env bash
# The suite's second Python leg: the tests of flameback_app (core, storage, Kafka layer, worker, CLI), the pure
# table values, model loading and live inference, and one end-to-end test on Python 3.13, in .venv-py3.13/ with the
# same pinned packages. The indicator engine must give identical
# output on every supported Python (3.12 changed how the built-in sum() rounds floats).
# Skips, saying why, when no working python3.13 is found (PATH, /usr/bin, pyenv).
set -euo pipefail
cd "$(dirname "$0")/.."

find_python313() {
  local candidate
  for candidate in "${PYTHON313:-}" python3.13 /usr/bin/python3.13 /usr/local/bin/python3.13 \
      "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.13*/bin/python3.13; do
    if [[ -n $candidate ]] && "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 13))' 2>/dev/null; then
      echo "$candidate"
      return 0
    fi
  done
  return 1
}

if ! py=$(find_python313); then
  echo "test: Python 3.13 leg SKIPPED: no working python3.13 found (PATH, /usr/bin, pyenv; or set PYTHON313)" >&2
  exit 0
fi
echo "test: Python 3.13 leg with $py" >&2
PYTHON=$py VENV=.venv-py3.13 bash scripts/setup.sh --test
exec .venv-py3.13/bin/python -m pytest tests/flameback_app tests/tables tests/models/test_registry.py tests/models/test_live.py \
  "tests/e2e/test_pipeline.py::test_replay_to_database_matches_offline_features[sqlite]"
