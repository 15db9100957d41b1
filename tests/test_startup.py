"""Start-up: each command imports only what it uses. The imported modules are
``sys.modules`` as the process exits (``-X importtime`` would miss the commands,
which are loaded with ``importlib.import_module``). No timing is checked:
wall clock is not a pass/fail criterion; docs/PERFORMANCE.md has the figures."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys

import click
import pytest

from migrator.cli import COMMANDS, SHORT_HELP


#: ``python -m migrator`` that prints every imported module's name on stderr as it exits.
PROBE = """
import atexit, sys
atexit.register(lambda: print("\\n".join(sys.modules), file=sys.stderr))
sys.argv[0] = "convmig"
import runpy
runpy.run_module("migrator", run_name="__main__")
"""


def imported(*args: str) -> set[str]:
    """Every module ``convmig ARGS`` imported."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONVMIG_")}
    proc = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return set(proc.stderr.split())


def roots(modules: set[str]) -> set[str]:
    return {m.split(".")[0] for m in modules}


def test_help_imports_neither_sqlalchemy_nor_any_command():
    mods = imported("--help")
    assert not roots(mods) & {"sqlalchemy", "eventsourcing", "rollback", "oslo_config", "tabulate", "yaql"}
    # of the event log only the light, dependency-free modules the error handler uses
    assert {m for m in mods if m.split(".")[0] == "events"} <= {"events", "events.chain", "events.errors",
                                                                  "events.secrets", "events.timeouts"}
    assert not {m for m in mods if m.startswith(("migrator.cli.commands.", "migrator.heat", "migrator.planning",
                                                   "migrator.execution", "migrator.sample"))}


@pytest.mark.parametrize("command, unwanted", [
    ("log", ("migrator.planning", "migrator.execution", "migrator.sample", "rollback", "yaql")),
    # status plans every legacy tree (it names every blocker a migrate would meet): the planner, not the log
    ("status", ("events.eventlog", "events.store", "eventsourcing", "migrator.execution", "migrator.sample", "rollback")),
])
def test_log_and_status_import_only_what_they_use(command, unwanted):
    mods = imported(command, "--help")
    assert f"migrator.cli.commands.{command}" in mods
    assert not {m for m in mods if m.startswith(unwanted)}
    others = {f"migrator.cli.commands.{c}" for c in COMMANDS if c != command}
    assert not mods & others


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_listed_help_is_the_commands_own(name):
    """``convmig --help`` lists commands from SHORT_HELP without importing them:
    it must say what each command's own help says."""
    assert set(SHORT_HELP) == set(COMMANDS)
    cli = importlib.import_module(COMMANDS[name]).cli
    for limit in (30, 45, 70, 1000):
        listed = click.Command(name, help=SHORT_HELP[name]).get_short_help_str(limit)
        assert listed == cli.get_short_help_str(limit)
