"""The package layout is the architecture: imports point one way.

cli -> execution / rollback -> planning -> heat -> errors; ``sample`` builds on
``heat`` alone; ``report`` (the change record) on planning, heat and events; ``events`` imports nothing of ``migrator`` or ``rollback``. A module
that imports up the layering fails here, naming the module and the import.
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# What each part may import (besides itself and the standard library / third parties).
ALLOWED = {
    "migrator": set(),                      # the package face: version only
    "migrator.errors": set(),
    "migrator.heat": {"migrator.errors", "events"},  # URL masking and driver timeouts are shared with the event store
    "migrator.planning": {"migrator.heat", "migrator.errors"},
    "migrator.sample": {"migrator.heat", "migrator.errors"},
    # the change record: reads plans and the log; the cli writes it
    "migrator.report": {"migrator", "migrator.planning", "migrator.heat", "migrator.errors", "events"},
    "migrator.execution": {"migrator", "migrator.planning", "migrator.heat", "migrator.errors", "events"},
    "rollback": {"migrator.execution", "migrator.planning", "migrator.heat", "migrator.errors", "events"},
    "migrator.cli": {"migrator", "migrator.execution", "rollback", "migrator.planning", "migrator.heat",
                     "migrator.sample", "migrator.report", "migrator.errors", "events"},
    "migrator.__main__": {"migrator.cli"},
    "events": set(),
}


def part_of(module: str) -> str | None:
    """The layer a dotted module name belongs to (the longest ALLOWED key that prefixes it)."""
    best = None
    for key in ALLOWED:
        if module == key or module.startswith(key + "."):
            if best is None or len(key) > len(best):
                best = key
    return best


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported(path: Path, module: str) -> set[str]:
    """Every module a file imports, at top level or inside functions, made absolute."""
    tree = ast.parse(path.read_text(), str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            found.add(name)
            found.update(f"{name}.{alias.name}" for alias in node.names)  # `from pkg import module`
    return found


def source_files():
    for top in ("migrator", "events", "rollback"):
        for path in sorted((REPO / top).rglob("*.py")):
            yield module_name(path), path


def upward_imports(files) -> list[str]:
    """Each import, in (module, path) pairs, that its layer may not make."""
    wrong = []
    for module, path in files:
        own = part_of(module)
        assert own is not None, f"{path}: no layer in ALLOWED"
        for name in sorted(imported(path, module)):
            target = part_of(name)
            if target is None or target == own:
                continue
            if target not in ALLOWED[own]:
                wrong.append(f"{module} imports {name} ({own} may not use {target})")
    return wrong


def test_imports_point_one_way():
    wrong = upward_imports(source_files())
    assert not wrong, "\n".join(wrong)


def test_at_most_five_modules_directly_in_migrator():
    top = sorted(p.name for p in (REPO / "migrator").glob("*.py"))
    assert len(top) <= 5, top


def test_layer_check_catches_upward_imports(tmp_path):
    """The checker itself: planning using execution, and events using migrator, are reported."""
    probe = tmp_path / "probe.py"
    probe.write_text("from migrator.execution.runner import Runner\n"
                     "def later():\n    from ..heat import schema\n")
    assert upward_imports([("migrator.planning.probe", probe)]) == [
        "migrator.planning.probe imports migrator.execution.runner (migrator.planning may not use migrator.execution)",
        "migrator.planning.probe imports migrator.execution.runner.Runner (migrator.planning may not use migrator.execution)",
    ]
    events_probe = tmp_path / "ev.py"
    events_probe.write_text("def f():\n    from migrator.heat.schema import metadata\n")
    assert len(upward_imports([("events.ev", events_probe)])) == 2


def test_no_test_module_imports_another():
    """Shared code lives in tests/helpers.py (fixtures in conftest.py) and, for
    the interop suites, tests/interop/world.py: a test module importing another
    test module or a conftest, absolutely or relatively, fails here."""
    wrong = []
    for path in sorted((REPO / "tests").rglob("*.py")):
        module = ".".join(path.relative_to(REPO).with_suffix("").parts)
        for name in sorted(imported(path, module)):
            if any(part.startswith("test_") or part == "conftest" for part in name.split(".")):
                wrong.append(f"{path.relative_to(REPO)} imports {name}")
    assert not wrong, "\n".join(wrong)
