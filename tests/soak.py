"""Crash soak: many runs of `migrate --all` and `rollback --run` killed with
SIGKILL at random failpoints, each followed by a re-run, compared with an
undisturbed run, checked with `verify` and `log --verify`.

Not collected by pytest (the crash tests in test_crash.py cover every failpoint
on every database in CI); this is the larger, random version whose figures go
into docs/RELIABILITY.md.

    python tests/soak.py --iterations 60 --backends sqlite,postgresql,mariadb
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from helpers import comparable, dump, make_db_url  # noqa: E402
from migrator.heat.connection import make_engine  # noqa: E402
from migrator.sample.build import build_sample  # noqa: E402

POINTS = ["before-record", "after-record", "before-commit", "after-apply", "after-outcome"]


def convmig(url: str, *args: str, failpoint: str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONVMIG_")}
    if failpoint:
        env["CONVMIG_FAILPOINT"] = failpoint
    return subprocess.run([sys.executable, "-m", "migrator", "--db", url, *args],
                          capture_output=True, text=True, env=env, timeout=600)


def fresh(backend: str, workdir: Path, name: str, roots: int, seed: int):
    path = workdir / name
    path.mkdir(parents=True, exist_ok=True)
    url, drop = make_db_url(backend, path)
    engine = make_engine(url, must_exist=False)
    build_sample(engine, roots=roots, seed=seed)
    engine.dispose()
    return url, drop


def one_iteration(backend: str, workdir: Path, rng: random.Random, roots: int, seed: int, expected) -> dict:
    """Kill a migrate and a rollback at random places; re-run both; compare."""
    url, drop = fresh(backend, workdir, f"it{rng.randrange(10**9)}", roots, seed)
    record = {"backend": backend, "kills": 0, "ok": False}
    try:
        before = dump(url)
        batch = str(rng.choice([1, 2, 3, 500]))
        point = f"{rng.choice(POINTS)}:{rng.randint(1, 3)}"
        record["migrate_failpoint"] = point
        killed = convmig(url, "migrate", "--all", "--batch-size", batch, failpoint=point)
        record["kills"] += killed.returncode == -9
        rerun = convmig(url, "migrate", "--all", "--format", "json")
        assert rerun.stdout.startswith("{"), rerun.stderr
        record["migrate_matches"] = comparable(url) == expected
        record["verify"] = convmig(url, "verify", "--all").returncode == 0
        point = f"{rng.choice(POINTS)}:{rng.randint(1, 2)}"
        record["rollback_failpoint"] = point
        # roll back everything migrated, by the runs that did it
        migrated_runs = _migrate_runs(url)
        for rid in migrated_runs:
            k = convmig(url, "rollback", "--run", rid, "--yes", "--batch-size", batch, failpoint=point)
            record["kills"] += k.returncode == -9
            point = None  # kill only the first rollback
        for rid in migrated_runs:
            convmig(url, "rollback", "--run", rid, "--yes")
        record["rollback_restores"] = dump(url) == before
        record["log_clean"] = convmig(url, "log", "--verify").returncode == 0
        record["ok"] = all(record[k] for k in ("migrate_matches", "verify", "rollback_restores", "log_clean"))
    finally:
        drop()
    return record


def _migrate_runs(url: str) -> list[str]:
    out = convmig(url, "log", "--event", "run-started", "--format", "json", "--limit", "100000").stdout
    return [e["run"] for e in json.loads(out) if e["command"] == "migrate"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iterations", type=int, default=20, help="per backend")
    parser.add_argument("--backends", default="sqlite")
    parser.add_argument("--roots", type=int, default=6)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workdir", default=None, help="where SQLite files go (default: a new temporary folder)")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="convmig-soak-"))
    totals = []
    for backend in args.backends.split(","):
        url, drop = fresh(backend, workdir, "reference", args.roots, 71)
        convmig(url, "migrate", "--all")
        expected = comparable(url)
        drop()
        started = time.monotonic()
        records = [one_iteration(backend, workdir, rng, args.roots, 71, expected) for _ in range(args.iterations)]
        failed = [r for r in records if not r["ok"]]
        kills = sum(r["kills"] for r in records)
        totals.append((backend, len(records), kills, len(failed), time.monotonic() - started))
        for r in failed:
            print(f"FAILED {json.dumps(r)}", file=sys.stderr)
    print("| backend | iterations | SIGKILLs survived | mismatches | seconds |")
    print("| --- | --- | --- | --- | --- |")
    for backend, n, kills, bad, secs in totals:
        print(f"| {backend} | {n} | {kills} | {bad} | {secs:.0f} |")
    return 1 if any(t[3] for t in totals) else 0


if __name__ == "__main__":
    sys.exit(main())
