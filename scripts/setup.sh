#!/usr/bin/env bash
# Create .venv/ and install Flameback (and, with --test, the test tools, the [postgres]
# extra and the Debian packages the tests need: chromium, chromium-driver, postgresql).
# Safe to re-run: it only adds what is missing.
#
# Python: the first of $PYTHON, python3.11, python3.12, python3.13, python3 that is a
# working CPython 3.11-3.13; Debian's python3 (+ python3-venv) is apt-installed when
# none is. VENV=dir chooses another virtualenv directory (the test script's second
# Python leg uses it).
set -euo pipefail
cd "$(dirname "$0")/.."

want_test=0
[[ "${1:-}" == "--test" ]] && want_test=1
VENV=${VENV:-.venv}

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

supported() { "$1" -c 'import sys; sys.exit(not (3, 11) <= sys.version_info[:2] <= (3, 13))' 2>/dev/null; }

pick_python() {
  local candidate
  for candidate in "${PYTHON:-}" python3.11 python3.12 python3.13 python3; do
    if [[ -n $candidate ]] && supported "$candidate"; then
      echo "$candidate"
      return 0
    fi
  done
  return 1
}

if ! PY=$(pick_python); then
  apt_install python3 python3-venv
  PY=$(pick_python) || { echo "setup: Flameback needs Python 3.11-3.13 (set PYTHON=/path/to/python3)" >&2; exit 1; }
fi
if ! "$PY" -c 'import venv, ensurepip' 2>/dev/null; then
  apt_install "python$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')-venv"
fi

if [[ ! -x $VENV/bin/python ]]; then
  echo "setup: creating $VENV/ with $("$PY" -c 'import sys; print(sys.executable, sys.version.split()[0])')" >&2
  "$PY" -m venv "$VENV"
fi
extras=""
stamp="$VENV/.installed"
if ((want_test)); then
  extras="[dev,postgres]"
  stamp="$VENV/.installed-dev"
fi
if [[ ! -f $stamp || setup.cfg -nt $stamp || constraints.txt -nt $stamp ]]; then
  echo "setup: installing Python packages (pinned by constraints.txt)" >&2
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check -c constraints.txt -e ".${extras}"
  touch "$stamp"
fi
if ((want_test)); then
  apt_install chromium chromium-driver postgresql
fi
echo "setup: ready ($VENV/)" >&2
