#!/usr/bin/env bash
# The interop suite: convmig against OpenStack Heat's real engine (tests/interop, issues 9 and 14),
# once per Heat release in HEAT_RELEASES (default: both):
#
#   latest  openstack-heat 27.0.1, venv ./.venv-heat (CONVMIG_HEAT_VENV overrides), pins in
#           tests/interop/heat-requirements.txt, this machine's python3;
#   2023.1  openstack-heat 20.0.1 (database from sqlalchemy-migrate), venv ./.venv-heat-2023.1
#           (CONVMIG_HEAT_VENV_2023_1 overrides), pins in heat-requirements-2023.1.txt, Python 3.10
#           (2023.1 supports 3.8-3.10; PYTHON_2023_1 overrides, else python3.10 or pyenv's 3.10).
#
# openstack-heat pulls SQLAlchemy versions convmig cannot share, so each release gets its own
# virtual environment, built here when missing or stale. The suite itself runs with the main
# environment's pytest and calls Heat (tests/interop/heat_driver.py) and convmig (python -m
# migrator) as subprocesses. Extra arguments go to pytest (e.g. -k sqlite).
#
# With CI=true an unreachable PostgreSQL or MariaDB, or a missing Heat, fails the run.
set -euo pipefail
cd "$(dirname "$0")/../.."

PYTHON="${PYTHON:-python3}"
RELEASES="${HEAT_RELEASES:-latest 2023.1}"

python_310() {
  if [ -n "${PYTHON_2023_1:-}" ]; then echo "$PYTHON_2023_1"; return; fi
  # a pyenv shim answers `command -v` but fails to run: take the first candidate that runs
  local cand
  for cand in $(ls -d "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.10*/bin/python3.10 2>/dev/null | sort -r) \
              $(command -v python3.10 2>/dev/null); do
    if "$cand" -c "import sys; assert sys.version_info[:2] == (3, 10)" 2>/dev/null; then echo "$cand"; return; fi
  done
}

# build VENV PYTHON REQUIREMENTS: (re)build a Heat venv unless it matches REQUIREMENTS.
build() {
  local venv="$1" python="$2" requirements="$3" stamp="$1/.interop-requirements"
  if cmp -s "$requirements" "$stamp" 2>/dev/null && "$venv/bin/python" -c "import heat.engine" 2>/dev/null; then
    return
  fi
  echo "interop: building the Heat environment in $venv ($requirements)" >&2
  if [ -e "$venv" ] && [ ! -f "$venv/pyvenv.cfg" ]; then
    echo "interop: $venv exists and is not a virtual environment; not touching it" >&2
    exit 2
  fi
  "$python" -m venv --clear "$venv"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$requirements" 2>&1 \
    | grep -v "is ignored: it is neither a file nor a directory" >&2 || true
  "$venv/bin/python" -c "import heat.engine"
  cp "$requirements" "$stamp"
}

# The main environment: convmig and its test extra (as README's quick start installs them).
if ! "$PYTHON" -c "import migrator.cli, eventsourcing_sqlalchemy, pytest" 2>/dev/null; then
  "$PYTHON" -m pip install -q -e '.[test]'
fi

# Build every release's venv first, then run the releases side by side: most of a run is
# Heat's engines waiting on polls, so two releases in parallel take little more than one.
declare -A VENVS
for release in $RELEASES; do
  case "$release" in
    latest)
      venv="${CONVMIG_HEAT_VENV:-$PWD/.venv-heat}"
      build "$venv" "$PYTHON" tests/interop/heat-requirements.txt ;;
    2023.1)
      venv="${CONVMIG_HEAT_VENV_2023_1:-$PWD/.venv-heat-2023.1}"
      py="$(python_310)"
      if [ -z "$py" ]; then
        echo "interop: release 2023.1 needs Python 3.10 (set PYTHON_2023_1); none found" >&2
        exit 2
      fi
      build "$venv" "$py" tests/interop/heat-requirements-2023.1.txt ;;
    *)
      echo "interop: unknown release '$release' in HEAT_RELEASES (known: latest 2023.1)" >&2
      exit 2 ;;
  esac
  VENVS[$release]="$venv"
done

LOGS="$(mktemp -d)"
declare -A PIDS
start=$(date +%s)
for release in $RELEASES; do
  echo "interop: Heat release $release (${VENVS[$release]}), output in $LOGS/$release.log" >&2
  ( CONVMIG_HEAT_VENV="${VENVS[$release]}" CONVMIG_HEAT_RELEASE="$release" \
      "$PYTHON" -m pytest -m interop tests/interop "$@" > "$LOGS/$release.log" 2>&1 ) &
  PIDS[$release]=$!
done
status=0
for release in $RELEASES; do
  rc=0
  wait "${PIDS[$release]}" || rc=$?
  echo "===== interop: Heat release $release: exit $rc" >&2
  cat "$LOGS/$release.log"
  [ "$rc" -eq 0 ] || status=$rc
done
echo "interop: all releases took $(( $(date +%s) - start ))s" >&2
exit "$status"
