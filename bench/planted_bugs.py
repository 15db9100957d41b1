#!/usr/bin/env python3
"""Planted bugs: each promise's bug, planted one at a time, must make its tests fail.

    python bench/planted_bugs.py            # every bug (about two minutes)
    python bench/planted_bugs.py tenant     # those whose name contains "tenant"

Each entry replaces one exact piece of product code, runs the tests that
guard that promise, prints CAUGHT or SURVIVED, and puts the file back (also
on Ctrl-C). A SURVIVED line means a promise lost its test. Do not run it
beside another test run of the same checkout: the planted file is live.
The list is the audit of issue 20; docs/TESTING.md explains it.
"""

import os
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
P = "tests/test_promises.py"
BUGS = [
 ("write-ahead swallowed", [("migrator/execution/runner.py", "                self._save(*histories.values(), self.run)\n                return histories",
  "                try:\n                    self._save(*histories.values(), self.run)\n                except ConvmigError:\n                    pass\n                return histories")], P + " -k event_log_failing"),
 ("locks kept on error (both releases)", [
   ("migrator/execution/runner.py",
    "            failpoint(\"after-outcome\")\n        finally:\n            self.locks.release(",
    "            failpoint(\"after-outcome\")\n        except BaseException:\n            raise\n        else:\n            self.locks.release("),
   ("migrator/execution/runner.py",
    "            if self.locks is not None:\n                self.locks.release()",
    "            if self.locks is not None and not interrupted:\n                self.locks.release()")],
  P + " -k locks_are or event_log_failing"),
 ("drifted recorded as applied", [("migrator/execution/runner.py", 'return "drifted", "the tree', 'return "applied", "the tree')], P + " -k recovery_drifted"),
 ("not-applied of named run not taken up", [("migrator/cli/commands/migrate.py", "            runner.process(again, planner, precheck=precheck)", "            pass")], P + " -k recovery_not_applied"),
 ("dry run writes a run", [("migrator/cli/commands/migrate.py", "    counts, refused = dry_run(settings, selection, emit)",
  "    from events import EventLog\n    _log = EventLog.open(settings.event_store_url)\n    _log.save(_log.start_run(command='migrate', arguments={}, selection={}, operator='x', host='h', pid=1, version='0', retry_of=None))\n    _log.close()\n    counts, refused = dry_run(settings, selection, emit)")], P + " -k dry_run"),
 ("--tenant ignored", [("migrator/planning/selection.py", "tenant=self.tenant, limit", "tenant=None, limit")], P + " -k tenant"),
 ("--limit ignored", [("migrator/planning/selection.py", "limit=self.limit, batch", "limit=None, batch")], P + " -k limit"),
 ("retry not linked", [("migrator/cli/commands/migrate.py", "selection=selection.as_dict(), online=online, retry_of=retry_of)",
  "selection=selection.as_dict(), online=online, retry_of=None)")], P + " -k retry"),
 ("stack image loses updated_at", [("migrator/planning/plan.py", 'STACK_IMAGE = ("name", "action", "status", "updated_at", ',
  'STACK_IMAGE = ("name", "action", "status", ')], P + " -k compared_column"),
 ("rollback ignores added nested stack", [("rollback/plan.py", '        diffs += [Difference(f"stack[id={s}]", None, "no nested stack", "a nested stack created since") for s in sorted(now - expected)]\n', "")], P + " -k nested"),
 ("prune deletes shared properties data", [("migrator/planning/plan.py", "if p in details.properties and not details.properties_refs.get(p)", "if p in details.properties")], P + " -k prune"),
 ("resource_data.value not secret", [("events/secrets.py", 'return table == "resource_data" and column == "value"', 'return False and table == "resource_data" and column == "value"')], "tests/test_secrets_in_messages.py"),
 ("user_creds password not secret", [("events/secrets.py", "pass(word|wd|phrase)?$|password|secret", "pass(wd|phrase)?$|secret")], "tests/test_secrets_in_messages.py"),
 ("deps ignore metadata references", [("migrator/planning/deps/explicit.py",
   "    for key in (dialect.props_key, dialect.meta_key):\n        if key in snippet:\n            rv.walk",
   "    for key in (dialect.props_key,):\n        if key in snippet:\n            rv.walk")],
  "tests/test_migrate.py -k invariants"),
 ("drift message shows raw values", [("migrator/execution/apply.py",
   'return f"{self.where}.{self.column}: expected {expected!r}, found {actual!r}"',
   'return f"{self.where}.{self.column}: expected {self.expected!r}, found {self.actual!r}"')],
  "tests/test_secrets_in_messages.py"),
]

def main(only: list[str]) -> int:
    survived = 0
    for name, edits, tests in BUGS:
        if only and not any(o in name for o in only):
            continue
        survived += not plant(name, edits, tests)
    return 1 if survived else 0


def plant(name: str, edits: list, tests: str) -> bool:
    """True when the planted bug (one or more edits) made its tests fail."""
    originals = {}
    for path, old, new in edits:
        f = ROOT / path
        originals.setdefault(f, f.read_text())
        text = f.read_text()
        assert text.count(old) == 1, f"{name}: the code to plant into changed; update this entry"
        f.write_text(text.replace(old, new))
    try:
        args = tests.split(" -k ")
        cmd = [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", args[0]] + (["-k", args[1]] if len(args) > 1 else [])
        r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
        last = r.stdout.strip().splitlines()[-1] if r.stdout.strip() else r.stderr[-300:]
        verdict = "CAUGHT  " if r.returncode == 1 else "SURVIVED" if r.returncode == 0 else f"rc {r.returncode}  "
        print(f"{verdict} {name}: {last}", flush=True)
        return r.returncode == 1
    finally:
        for f, text in originals.items():
            f.write_text(text)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
