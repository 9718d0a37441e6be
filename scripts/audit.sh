#!/usr/bin/env bash
# Audit the locked dependencies (constraints.txt, as installed in .venv/) for known
# vulnerabilities with pip-audit. Needs PyPI's per-release JSON API or OSV
# (pip-audit -s osv) to be reachable; without them pip-audit reports every package
# as "could not be audited" rather than clean.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test
exec .venv/bin/pip-audit --local --skip-editable --progress-spinner off "$@"
