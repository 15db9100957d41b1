#!/usr/bin/env python3
"""Where a ``migrate --all`` spends its CPU time, phase by phase.

    python bench/phases.py sqlite:////tmp/copy.sqlite     # a copy: it migrates it

Runs convmig in this process with the runner's and planner's phases wrapped
in ``time.process_time`` counters (start-up, loading trees, reading templates
and planning, normalising plans into events, saving to the log, applying),
then prints the totals on stderr; convmig's own report goes to stdout. CPU
time rather than wall time, because this machine is shared; a sampling
profiler (py-spy, pyinstrument) attributes within a phase, but its overhead
inflates Python-heavy code, which these counters barely touch.
"""

from __future__ import annotations

import collections
import functools
import sys
import time

TOTALS: collections.Counter = collections.Counter()


def wrap(owner, name: str, label: str) -> None:
    """Replace ``owner.name`` by a wrapper adding its CPU time to ``TOTALS[label]``."""
    inner = getattr(owner, name)

    @functools.wraps(inner)
    def timed(*args, **kwargs):
        started = time.process_time()
        try:
            return inner(*args, **kwargs)
        finally:
            TOTALS[label] += time.process_time() - started

    setattr(owner, name, timed)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    started = time.process_time()
    import events.domain as domain
    import migrator.execution.runner as runner
    import migrator.heat.tree as tree
    import migrator.planning.batch as batch
    import migrator.planning.plan as plan
    from migrator.cli import main as convmig

    wrap(tree, "load_trees", "load trees")
    batch.load_trees = tree.load_trees
    wrap(plan, "analyse", "read templates (analyse)")
    batch.analyse = plan.analyse
    wrap(plan, "plan_tree", "plan")
    batch.plan_tree = plan.plan_tree
    wrap(domain.StackHistory, "planned", "normalise plans into events")
    wrap(runner.Runner, "_save", "save to the log")
    wrap(runner.Runner, "_apply_batch", "apply (compare-and-swap, writes)")
    wrap(runner.Runner, "process", "all batches")
    sys.argv = ["convmig", "--db", argv[0], "migrate", "--all", "--format", "json"]
    imported = time.process_time()
    try:
        convmig()
    except SystemExit:
        pass
    TOTALS["imports (before the command)"] = imported - started
    TOTALS["total"] = time.process_time() - started
    for label, seconds in sorted(TOTALS.items(), key=lambda kv: -kv[1]):
        print(f"{label:36s} {seconds:7.3f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
