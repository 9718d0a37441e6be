#!/usr/bin/env bash
# Create .venv/ and install Flameback (and, with --test, the test tools and the
# Debian packages the browser tests need). Safe to re-run: it only adds what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

want_test=0
[[ "${1:-}" == "--test" ]] && want_test=1

as_root() { if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi; }

apt_install() {
  local missing=()
  for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  if ((${#missing[@]})); then
    echo "setup: installing Debian packages: ${missing[*]}" >&2
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

PYTHON=${PYTHON:-python3.11}
if ! command -v "$PYTHON" >/dev/null; then
  apt_install python3.11 python3.11-venv
fi
"$PYTHON" -c 'import sys; assert sys.version_info[:2] == (3, 11), sys.version' \
  || { echo "setup: Flameback needs Python 3.11 (set PYTHON=/path/to/python3.11)" >&2; exit 1; }
"$PYTHON" -c 'import venv, ensurepip' 2>/dev/null || apt_install python3.11-venv

if [[ ! -x .venv/bin/python ]]; then
  echo "setup: creating .venv/" >&2
  "$PYTHON" -m venv .venv
fi
extras=""
stamp=".venv/.installed"
if ((want_test)); then
  extras="[dev]"
  stamp=".venv/.installed-dev"
fi
if [[ ! -f $stamp || setup.cfg -nt $stamp || constraints.txt -nt $stamp ]]; then
  echo "setup: installing Python packages (pinned by constraints.txt)" >&2
  .venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip
  .venv/bin/python -m pip install -q --disable-pip-version-check -c constraints.txt -e ".${extras}"
  touch "$stamp"
fi
if ((want_test)); then
  apt_install chromium chromium-driver
fi
echo "setup: ready (.venv/)" >&2
