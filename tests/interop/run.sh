#!/usr/bin/env bash
# The interop suite: convmig against OpenStack Heat's real engine (tests/interop, issue 9).
#
# openstack-heat pulls SQLAlchemy 2.1 and convmig needs <2.1, so Heat gets its own virtual
# environment (default ./.venv-heat, git-ignored; CONVMIG_HEAT_VENV overrides), built here
# when missing or stale from tests/interop/heat-requirements.txt. The suite itself runs with
# the main environment's pytest and calls Heat (tests/interop/heat_driver.py) and convmig
# (python -m migrator) as subprocesses. Extra arguments go to pytest (e.g. -k sqlite).
#
# With CI=true an unreachable PostgreSQL or MariaDB, or a missing Heat, fails the run.
set -euo pipefail
cd "$(dirname "$0")/../.."

PYTHON="${PYTHON:-python3}"
VENV="${CONVMIG_HEAT_VENV:-$PWD/.venv-heat}"
REQUIREMENTS=tests/interop/heat-requirements.txt
STAMP="$VENV/.interop-requirements"

if ! cmp -s "$REQUIREMENTS" "$STAMP" 2>/dev/null || ! "$VENV/bin/python" -c "import heat.engine" 2>/dev/null; then
  echo "interop: building the Heat environment in $VENV" >&2
  if [ -e "$VENV" ] && [ ! -f "$VENV/pyvenv.cfg" ]; then
    echo "interop: $VENV exists and is not a virtual environment; not touching it" >&2
    exit 2
  fi
  "$PYTHON" -m venv --clear "$VENV"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check -r "$REQUIREMENTS"
  cp "$REQUIREMENTS" "$STAMP"
fi

# The main environment: convmig and its test extra (as README's quick start installs them).
if ! "$PYTHON" -c "import migrator.cli, eventsourcing_sqlalchemy, pytest" 2>/dev/null; then
  "$PYTHON" -m pip install -q -e '.[test]'
fi

export CONVMIG_HEAT_VENV="$VENV"
exec "$PYTHON" -m pytest -m interop tests/interop "$@"
