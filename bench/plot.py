#!/usr/bin/env python3
"""Per-tree cost against cloud size, from the JSON files ``bench/bench.py --out`` writes.

Prints a Markdown table (ms per tree for migrate, rollback and the floor, peak
memory) and draws a PNG: ms per tree against roots (log scale), one line per
backend and command. Flat lines mean the cost per tree does not grow with the
cloud. ``bench.py --plot PNG`` calls this on its own results; to combine runs
made separately (one backend or size at a time):

  python bench/plot.py r10k.json r100k.json --png docs/perf-per-tree.png
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

COLOURS = {"sqlite": "tab:blue", "postgresql": "tab:orange", "mariadb": "tab:green"}
STYLES = {"migrate": "-", "rollback": "--", "floor": ":"}


def per_tree_ms(result: dict, measure: str) -> float:
    return result["timings"][measure]["median"] / result["roots"] * 1000.0


def series(result: dict) -> str:
    """A line of the plot: the backend, and the variant of its setup if any
    (``bench.py --variant``, e.g. a server setting)."""
    variant = result.get("variant")
    return f"{result['backend']} ({variant})" if variant else result["backend"]


def cpu_ms(result: dict, command: str) -> str:
    """convmig's own CPU per tree (user + system, load-independent), if recorded."""
    cpu = (result.get("cpu_s") or {}).get(command)
    return f"{cpu['median'] / result['roots'] * 1000.0:.2f}" if cpu else "—"


def load(paths: list[str]) -> list[dict]:
    """Every result of every file; a later file's (series, roots) wins."""
    found: dict[tuple[str, int], dict] = {}
    for path in paths:
        doc = json.loads(Path(path).read_text())
        for r in doc["results"]:
            r = {**r, "startup_s": (doc.get("startup") or {}).get("median"), "commit": doc.get("git", {}).get("head", "")[:7]}
            found[(series(r), r["roots"])] = r
    return sorted(found.values(), key=lambda r: (series(r), r["roots"]))


def table(results: list[dict]) -> str:
    head = ["backend", "roots", "stacks", "resources", "migrate s", "migrate ms/tree", "migrate CPU ms/tree", "rollback s",
            "rollback ms/tree", "rollback / migrate", "floor s", "floor ms/tree", "migrate / floor",
            "peak RSS MB migrate / rollback"]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] * len(head)) + "|"]
    for r in results:
        t = r["timings"]
        m, rb, fl = t["migrate"]["median"], t["rollback"]["median"], t["floor"]["median"]
        lines.append("| " + " | ".join([
            series(r), f"{r['roots']:,}", f"{r['counts']['stack']:,}", f"{r['counts']['resource']:,}",
            f"{m:.1f}", f"{per_tree_ms(r, 'migrate'):.2f}", cpu_ms(r, "migrate"), f"{rb:.1f}", f"{per_tree_ms(r, 'rollback'):.2f}",
            f"{rb / m:.2f}", f"{fl:.2f}", f"{per_tree_ms(r, 'floor'):.3f}", f"{m / fl:.1f}",
            f"{r['rss_mb']['migrate']['max']:.0f} / {r['rss_mb']['rollback']['max']:.0f}",
        ]) + " |")
    return "\n".join(lines)


def growth(results: list[dict]) -> str:
    """Per backend: ms per tree at the largest size over the smallest."""
    lines = []
    by: dict[str, list[dict]] = {}
    for r in results:
        by.setdefault(series(r), []).append(r)
    for backend, rs in by.items():
        if len(rs) < 2:
            continue
        lo, hi = rs[0], rs[-1]
        for m in ("migrate", "rollback"):
            lines.append(f"- {backend} {m}: {per_tree_ms(hi, m) / per_tree_ms(lo, m):.2f}× the per-tree cost "
                         f"from {lo['roots']:,} to {hi['roots']:,} roots")
    return "\n".join(lines)


def plot(results: list[dict], png: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 6.5), dpi=110)
    by: dict[str, list[dict]] = {}
    for r in results:
        by.setdefault(series(r), []).append(r)
    for name, rs in sorted(by.items()):
        xs = [r["roots"] for r in rs]
        variant = bool(rs[0].get("variant"))
        for measure, style in STYLES.items():
            ax.plot(xs, [per_tree_ms(r, measure) for r in rs], style, marker="s" if variant else "o",
                    color=COLOURS.get(rs[0]["backend"]), alpha=0.55 if variant else 1.0, label=f"{name} {measure}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("root stacks in the cloud")
    ax.set_ylabel("ms per tree (wall, incl. start-up)")
    ax.set_title("convmig: cost per tree against cloud size (flat = linear)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, ncol=3, loc="upper center", bbox_to_anchor=(0.5, -0.13))  # below: the lines stay visible
    fig.tight_layout()
    Path(png).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="bench/plot.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("results", nargs="+", metavar="JSON", help="files written by bench/bench.py --out")
    p.add_argument("--png", metavar="FILE", help="draw the plot into FILE")
    args = p.parse_args(argv)
    try:
        results = load(args.results)
    except (OSError, ValueError, KeyError) as exc:
        print(f"plot: cannot read the results: {exc}", file=sys.stderr)
        return 2
    print(table(results))
    print()
    print(growth(results))
    if args.png:
        plot(results, args.png)
        print(f"plot: wrote {args.png}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
