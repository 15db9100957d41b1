"""How big and how slow the change record is for a large run (docs/PERFORMANCE.md).

    python bench/report.py --roots 1000                 # SQLite, about a minute
    python bench/report.py --roots 10000 --browser      # and how long chromium takes to open it

Builds ``build_sample(specials=False)`` with ``--roots`` roots in a fresh SQLite
file, then runs as subprocesses, as an operator would (``bench/bench.py``'s
launcher, so each time includes the process start-up and each peak RSS is the
command's own):

* ``migrate --dry-run --all --report`` (planning plus the report);
* ``migrate --dry-run --all`` (the same without it, so the report's own cost is
  the difference);
* ``migrate --all``, then ``report RUN`` (reads the run and every history it
  touched from the log, verifies their chains, reads the templates, writes).

With ``--browser``, Debian's headless chromium (``tests/browser.py``) opens
the run's report and the time to its load event, and to draw one opened tree,
are measured too. Prints one JSON object; ``--out FILE`` keeps it.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))

import bench  # noqa: E402  (the launcher and the sample builder's settings)
from bench import build_sample, convmig, expect, make_engine, stop_launcher  # noqa: E402


def measure(roots: int, workdir: Path, browser: bool) -> dict:
    db = workdir / "heat.sqlite"
    url = f"sqlite:///{db}"
    engine = make_engine(url, must_exist=False)
    try:
        counts = build_sample(engine, roots, seed=1, specials=False).counts
    finally:
        engine.dispose()
    result: dict = {"roots": roots, "stacks": counts.get("stack"), "resources": counts.get("resource")}
    plain = convmig(url, "migrate", "--dry-run", "--all")
    expect(plain, "migrate --dry-run")
    dry_page = workdir / "dry.html"
    dry = convmig(url, "migrate", "--dry-run", "--all", "--report", str(dry_page))
    expect(dry, "migrate --dry-run --report")
    result["dry_run"] = {"seconds": round(plain.wall, 2), "rss_mb": round(plain.rss_mb)}
    result["dry_run_report"] = {"seconds": round(dry.wall, 2), "rss_mb": round(dry.rss_mb),
                                "mb": round(dry_page.stat().st_size / 1e6, 1)}
    migrated = convmig(url, "migrate", "--all", "--format", "json")
    expect(migrated, "migrate --all")
    run_id = json.loads(migrated.stdout)["run_id"]
    page = workdir / "run.html"
    report = convmig(url, "report", run_id, "-o", str(page))
    expect(report, "report")
    result["migrate_seconds"] = round(migrated.wall, 2)
    result["report"] = {"seconds": round(report.wall, 2), "rss_mb": round(report.rss_mb),
                        "mb": round(page.stat().st_size / 1e6, 1)}
    if browser:
        result["browser"] = open_in_chromium(page)
    return result


def open_in_chromium(page: Path) -> dict:
    """Seconds to the load event, and to open and draw the last tree, in headless chromium."""
    from browser import Chromium, find_chromium

    binary = find_chromium()
    if binary is None:
        return {"skipped": "chromium not found"}
    with Chromium(binary) as b:
        t0 = time.perf_counter()
        b.open(page.resolve().as_uri())
        loaded = time.perf_counter() - t0
        t0 = time.perf_counter()
        drawn = b.evaluate("""(() => { const all = document.querySelectorAll('details.tree');
            const d = all[all.length - 1]; d.open = true; d.dispatchEvent(new Event('toggle'));
            return d.querySelectorAll('svg.graph g.node').length; })()""")
        opened = time.perf_counter() - t0
        errors = list(b.log.errors)
    return {"load_seconds": round(loaded, 2), "open_tree_seconds": round(opened, 3), "nodes_drawn": drawn, "errors": errors}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--roots", type=int, default=1000)
    parser.add_argument("--browser", action="store_true", help="also open the run's report in headless chromium")
    parser.add_argument("--out", help="write the JSON result here too")
    args = parser.parse_args()
    try:
        with tempfile.TemporaryDirectory(prefix="convmig-bench-report-") as tmp:
            result = measure(args.roots, Path(tmp), args.browser)
    finally:
        stop_launcher()
    result["machine"] = {"python": platform.python_version(), "cpus": bench.os.cpu_count()}
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
