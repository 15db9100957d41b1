"""The benchmark keeps working: ``bench/bench.py --smoke`` on SQLite, in seconds.

No timing is asserted (machines are noisy); only that it runs, its checks pass
(the floor equals convmig's result, rollback restores every Heat table) and it
prints the results table with a ratio to the floor.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "bench" / "bench.py"


def test_bench_smoke_runs_and_prints_the_table(tmp_path):
    out = tmp_path / "results.json"
    proc = subprocess.run(
        [sys.executable, str(BENCH), "--smoke", "--backends", "sqlite", "--out", str(out), "--workdir", str(tmp_path / "w")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]

    lines = proc.stdout.splitlines()
    header = next(line for line in lines if line.startswith("| backend | roots | stacks"))
    columns = [c.strip() for c in header.strip("|").split("|")]
    assert "ratio" in columns and "trees/s" in columns and "floor s" in columns
    row = next(line for line in lines if line.startswith("| sqlite | 20 |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert len(cells) == len(columns)
    assert float(cells[columns.index("ratio")]) > 0

    doc = json.loads(out.read_text())
    (result,) = doc["results"]
    assert result["backend"] == "sqlite" and result["roots"] == 20
    assert any("floor result equals convmig's" in c for c in result["checks"])
    assert sum("Heat's schema" in c for c in result["checks"]) == 2  # after migrate and after rollback
    assert result["cpu_s"]["migrate"]["median"] > 0
    assert any("rollback restored" in c for c in result["checks"])
    assert result["floor"]["rows"]["stack"]["updated"] == result["counts"]["stack"]
    assert doc["errors"] == []
