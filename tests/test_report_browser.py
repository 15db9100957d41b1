"""The change record in a real browser: Debian's headless ``chromium`` (tests/browser.py).

The pages of the demo's migrate run and of a dry run must load with no console
error, no exception, no Content-Security-Policy violation and no request but the
page itself; every migrated tree must be there by name with its graph, whose
resources and edges are counted independently in Heat's database. A screenshot
of each page is kept in ``tests/artifacts/`` (``CONVMIG_TEST_ARTIFACTS`` moves it).

Without chromium the tests skip; with ``CI`` set they fail (``.ci/run`` installs it).
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest
import sqlalchemy as sa

from browser import Chromium, find_chromium
from helpers import IN_CI
from helpers import cli, tree_members
from migrator.heat.connection import make_engine
from migrator.sample.build import build_sample

pytestmark = pytest.mark.slow

ARTIFACTS = Path(os.environ.get("CONVMIG_TEST_ARTIFACTS") or Path(__file__).parent / "artifacts")
HOSTILE = '<img src="http://127.0.0.1:9/x.png" onerror="window.pwned=1">'


@pytest.fixture(scope="module")
def chromium():
    binary = find_chromium()
    if binary is None:
        message = "chromium not found (apt-get install chromium, or set CONVMIG_CHROMIUM)"
        if IN_CI:
            pytest.fail(message + "; CI requires it")
        pytest.skip(message)
    return binary


def _load(binary: str, page: Path, shot: str) -> tuple[Chromium, dict]:
    """Open ``page`` with every tree opened (``#all``), take the screenshot, and read
    back per tree: name, outcome, resources and edges drawn (by kind)."""
    browser = Chromium(binary)
    browser.open(page.resolve().as_uri() + "#all")
    trees = browser.evaluate("""Array.from(document.querySelectorAll('details.tree')).map(d => ({
        id: d.dataset.stackId, open: d.open,
        name: d.querySelector('summary .name').textContent,
        outcome: d.querySelector('summary .outcome').textContent,
        nodes: d.querySelectorAll('svg.graph g.node').length,
        edges: Array.from(d.querySelectorAll('svg.graph path.edge')).map(p => p.dataset.kind)}))""")
    browser.evaluate("document.querySelectorAll('details.tree').forEach((d, i) => { d.open = i < 3; })")
    browser.screenshot(ARTIFACTS / shot)
    return browser, {t["id"]: t for t in trees}


def _assert_quiet(browser: Chromium, page: Path) -> None:
    own = page.resolve().as_uri()
    assert browser.log.errors == []
    assert [u for u in browser.log.requests if u.split("#")[0] != own] == []
    assert browser.evaluate("typeof window.pwned") == "undefined"


def _legacy_stacks(tmp_path, roots: int, seed: int) -> set[str]:
    """The stacks the demo's migration changes: its sample (same roots and seed,
    so the same ids) built again aside, before any migration."""
    engine = make_engine(f"sqlite:///{tmp_path / 'twin.sqlite'}", must_exist=False)
    try:
        build_sample(engine, roots=roots, seed=seed)
        with engine.connect() as conn:
            return {r[0] for r in conn.execute(sa.text("SELECT id FROM stack WHERE NOT convergence"))}
    finally:
        engine.dispose()


def _heat_graph(url: str, root: str, legacy: set[str]) -> tuple[int, int]:
    """(resources, requires edges) of one tree's formerly legacy stacks, from Heat's tables."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            members = [m for m in tree_members(conn, [root])[root] if m in legacy]
            rows = conn.execute(sa.text("SELECT requires, action, status FROM resource WHERE stack_id IN :ids")
                                .bindparams(sa.bindparam("ids", expanding=True)), {"ids": members}).all()
    finally:
        engine.dispose()
    active = [r for r in rows if (r.action, r.status) != ("DELETE", "COMPLETE")]
    return len(active), sum(len(json.loads(r.requires or "[]")) for r in active)


def test_the_harness_sees_console_errors_and_requests(chromium, tmp_path):
    """The oracle itself: a page that errs and fetches is caught."""
    page = tmp_path / "bad.html"
    page.write_text('<script>console.error("boom")</script><img src="http://127.0.0.1:9/x.png">')
    with Chromium(chromium) as browser:
        browser.open(page.as_uri())
        assert any("boom" in e for e in browser.log.errors)
        assert "http://127.0.0.1:9/x.png" in browser.log.requests


def test_the_demo_report_in_a_browser(chromium, tmp_path):
    db = tmp_path / "demo.sqlite"
    result = cli("demo", str(db), "--roots", "6")
    assert result.exit_code == 0, result.stderr
    page = tmp_path / "demo-report.html"
    assert f"written to {page}" in result.stderr
    url = f"sqlite:///{db}"
    browser, trees = _load(chromium, page, "report-demo.png")
    try:
        _assert_quiet(browser, page)
        assert browser.evaluate("document.getElementById('verified').textContent").strip().endswith("every hash chain is intact.")
    finally:
        browser.close()
    migrated = {sid: t for sid, t in trees.items() if t["outcome"] == "migrated"}
    engine = make_engine(url)
    with engine.connect() as conn:  # the demo's oracle: which roots convmig's log says it applied
        applied = {r[0]: r[1] for r in conn.execute(sa.text(
            "SELECT stack_id, stack_name FROM convmig_stacks WHERE state IN ('migrated', 'rolled_back')"))}
    engine.dispose()
    assert {sid: t["name"] for sid, t in migrated.items()} == applied
    for sid, tree in migrated.items():
        assert tree["open"] and tree["nodes"] > 0
    legacy = _legacy_stacks(tmp_path, roots=6, seed=1)
    still = [sid for sid in migrated if _heat_graph(url, sid, legacy)[1]]  # the rolled-back tree lost its requires
    assert len(still) == len(migrated) - 1
    for sid in still:
        assert (migrated[sid]["nodes"], len(migrated[sid]["edges"])) == _heat_graph(url, sid, legacy), migrated[sid]["name"]
    # template edges, and the plugins' implicit ones (the demo has networking trees)
    assert {k for t in migrated.values() for k in t["edges"]} == {"explicit", "implicit"}


def test_a_dry_run_report_in_a_browser(chromium, tmp_path):
    url = f"sqlite:///{tmp_path / 'heat.sqlite'}"
    engine = make_engine(url, must_exist=False)
    sample = build_sample(engine, roots=5, seed=4)
    with engine.begin() as conn:  # a stack name no page may execute
        conn.execute(sa.text("UPDATE stack SET name = :n WHERE id = :i"), {"n": HOSTILE, "i": sample.roots[0]})
    engine.dispose()
    page = tmp_path / "plan.html"
    result = cli("--db", url, "migrate", "--dry-run", "--all", "--report", str(page))
    assert result.exit_code in (0, 1, 3), result.stderr
    browser, trees = _load(chromium, page, "report-dry-run.png")
    try:
        _assert_quiet(browser, page)
        first = browser.evaluate("document.querySelector('header .banner').textContent")
        assert first.strip().startswith("Dry run: nothing was changed.")
        pdf = base64.b64decode(browser.call("Page.printToPDF", {"printBackground": True})["data"])
        assert pdf.startswith(b"%PDF") and browser.log.errors == []  # printable, as the page promises
        (ARTIFACTS / "report-dry-run.pdf").write_bytes(pdf)
    finally:
        browser.close()
    planned = {sid: t for sid, t in trees.items() if t["outcome"] == "to migrate"}
    assert HOSTILE in {t["name"] for t in trees.values()}  # shown as text, never run
    assert planned
    compared = 0
    for sid, tree in planned.items():
        nodes, edges = _dry_graph(url, sid)
        assert tree["nodes"] == nodes, tree["name"]
        if edges is not None:
            assert len(tree["edges"]) == edges, tree["name"]
            compared += 1
    assert compared >= 3


def _dry_graph(url: str, root: str) -> tuple[int, int | None]:
    """What a migration would draw, read independently of convmig: the tree's
    active resource rows, and the edges its templates name, read by hand (None
    for templates with conditions, which this reading does not evaluate)."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            members = tree_members(conn, [root])[root]
            backups = conn.execute(sa.text("SELECT id FROM stack WHERE backup AND deleted_at IS NULL AND owner_id IN :ids")
                                   .bindparams(sa.bindparam("ids", expanding=True)), {"ids": members}).scalars().all()
            stacks = conn.execute(sa.text("SELECT s.id, t.template FROM stack s JOIN raw_template t ON t.id = s.raw_template_id"
                                          " WHERE s.id IN :ids AND NOT s.convergence").bindparams(sa.bindparam("ids", expanding=True)), {"ids": members}).all()
            names = conn.execute(sa.text("SELECT stack_id, name FROM resource WHERE stack_id IN :ids AND NOT (action = 'DELETE' AND status = 'COMPLETE')")
                                 .bindparams(sa.bindparam("ids", expanding=True)), {"ids": members + backups}).all()
            owner_of = dict(conn.execute(sa.text("SELECT id, owner_id FROM stack WHERE id IN :ids")
                                         .bindparams(sa.bindparam("ids", expanding=True)), {"ids": backups or ["-"]}).all())
    finally:
        engine.dispose()
    legacy = {sid for sid, _text in stacks}  # a convergence stack in the tree is left alone
    # a legacy backup stack's rows are adopted into its owner (issue 19): drawn there
    names = [(owner_of.get(sid, sid), name) for sid, name in names if owner_of.get(sid, sid) in legacy]
    present: dict[str, set[str]] = {}
    for sid, name in names:
        present.setdefault(sid, set()).add(name)
    edges = 0
    beyond = ('"conditions"', '"Conditions"', '"if"', '"Fn::If"', "yaql",  # conditions, and types with
              "OS::Neutron::", "OS::Nova::Server", "AWS::EC2::")  # implicit plugin edges: not read by hand here
    if any(word in text for _sid, text in stacks for word in beyond):
        return len(names), None  # beyond this hand reading: the node count only
    for sid, text in stacks:
        resources = json.loads(text).get("resources") or json.loads(text).get("Resources") or {}
        for name, body in resources.items():
            if name in present.get(sid, ()):
                edges += len(_named(body, set(resources)) & present[sid] - {name})
    return len(names), edges


def _named(body, resources: set[str]) -> set[str]:
    """Resource names a definition refers to (depends_on, get_resource, get_attr, Ref, Fn::GetAtt)."""
    found: set[str] = set()
    if isinstance(body, dict):
        for key, value in body.items():
            if key in ("depends_on", "DependsOn"):
                found |= {value} if isinstance(value, str) else set(value)
            elif key in ("get_resource", "Ref") and isinstance(value, str) and value in resources:
                found.add(value)
            elif key in ("get_attr", "Fn::GetAtt") and isinstance(value, list) and value and value[0] in resources:
                found.add(value[0])
            else:
                found |= _named(value, resources)
    elif isinstance(body, list):
        for item in body:
            found |= _named(item, resources)
    return found
