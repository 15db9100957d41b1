"""The interop suite is opt-in: it needs OpenStack Heat in its own virtual
environment (openstack-heat pulls SQLAlchemy 2.1, convmig needs <2.1) and takes
minutes. ``tests/interop/run.sh`` builds that environment and runs
``pytest -m interop tests/interop``; a plain ``pytest`` skips these tests with
the reason, so the default run is unaffected."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
HEAT_VENV = Path(os.environ.get("CONVMIG_HEAT_VENV", REPO / ".venv-heat"))
HEAT_PYTHON = HEAT_VENV / "bin" / "python"
IN_CI = os.environ.get("CI", "").lower() not in ("", "0", "false", "no")


def pytest_configure(config):
    config.addinivalue_line("markers", "interop: against OpenStack Heat's real engine (opt-in: tests/interop/run.sh)")


def _opted_in(config) -> bool:
    if os.environ.get("CONVMIG_INTEROP", "").lower() in ("1", "true", "yes"):
        return True
    expr = config.getoption("markexpr", default="") or ""
    return "interop" in expr and "not interop" not in expr


def heat_missing_reason() -> str | None:
    if HEAT_PYTHON.exists():
        return None
    return (f"no Heat virtual environment at {HEAT_VENV} (openstack-heat needs SQLAlchemy 2.1 and cannot share "
            f"convmig's); run tests/interop/run.sh, or set CONVMIG_HEAT_VENV")


def pytest_collection_modifyitems(config, items):
    if _opted_in(config):
        return
    skip = pytest.mark.skip(reason="interop suite is opt-in: run tests/interop/run.sh (or pytest -m interop)")
    for item in items:
        if item.get_closest_marker("interop"):
            item.add_marker(skip)


@pytest.fixture(scope="session")
def heat_python() -> Path:
    """The Heat environment's interpreter: a skip without it, a failure in CI."""
    reason = heat_missing_reason()
    if reason is not None:
        if IN_CI:
            pytest.fail(reason + " (CI requires it)")
        pytest.skip(reason)
    return HEAT_PYTHON


_REPORT: dict[str, dict] = {}


@pytest.fixture(scope="session")
def interop_report() -> dict:
    """Per backend, what the comparison with Heat found (printed at the end)."""
    return _REPORT


def pytest_terminal_summary(terminalreporter):
    if not _REPORT:
        return
    terminalreporter.section("interop: convmig against Heat's own migration")
    for backend, found in _REPORT.items():
        for what, value in sorted(found.items()):
            terminalreporter.write_line(f"{backend}: {what}: {value}")
