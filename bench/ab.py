"""Interleaved A/B of two convmig source trees on copies of one Heat database.

    git worktree add /tmp/base <commit>
    python bench/ab.py --base /tmp/base --head . --db /tmp/sample.sqlite --rounds 3

Each round runs, for the base tree and then the head tree, on a fresh copy of
``--db`` (SQLite file): ``migrate --all`` and then ``rollback --run`` of that
run, each as a subprocess with ``PYTHONPATH`` set to the tree, exactly as an
operator runs it. Alternating the two trees within every round spreads the
load of a shared machine over both, so the ratio of medians is meaningful
even where absolute seconds are not. Build the database with
``migrator.sample.build.build_sample`` (or take a copy of a real one).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def convmig(tree: Path, db: Path, *args: str) -> tuple[float, dict]:
    """Seconds taken and the JSON report of one convmig command run from ``tree``."""
    env = dict(os.environ, PYTHONPATH=str(tree))
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "migrator", "--db", f"sqlite:///{db}", *args, "--format", "json"],
                          cwd=tree, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        sys.exit(f"ab: {tree}: convmig {' '.join(args)} exited {proc.returncode}: {proc.stderr.strip()[-300:]}")
    return elapsed, json.loads(proc.stdout)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", type=Path, required=True, help="source tree of the commit before")
    parser.add_argument("--head", type=Path, default=Path("."), help="source tree of the commit after (default: .)")
    parser.add_argument("--db", type=Path, required=True, help="SQLite Heat database to copy for every run")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    trees = {"base": args.base.resolve(), "head": args.head.resolve()}
    times: dict[tuple[str, str], list[float]] = {(t, c): [] for t in trees for c in ("migrate", "rollback")}
    with tempfile.TemporaryDirectory(prefix="convmig-ab-") as work:
        copy = Path(work) / "copy.sqlite"
        for _ in range(args.rounds):
            for name, tree in trees.items():
                shutil.copy(args.db, copy)
                seconds, report = convmig(tree, copy, "migrate", "--all")
                times[(name, "migrate")].append(seconds)
                seconds, _ = convmig(tree, copy, "rollback", "--run", report["run_id"], "--yes")
                times[(name, "rollback")].append(seconds)
    print("| command | base median s | head median s | head / base |")
    print("|---|---|---|---|")
    for command in ("migrate", "rollback"):
        base, head = (statistics.median(times[(t, command)]) for t in ("base", "head"))
        print(f"| {command} | {base:.2f} | {head:.2f} | {head / base:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
