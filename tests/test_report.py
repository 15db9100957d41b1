"""The data behind ``convmig report`` and ``migrate --dry-run --report``: graphs,
edge kinds, row values, the run's record, and the page's escaping.

Expected values are written by hand (graphs, digests) or read back from Heat's
database and the event rows (which trees moved, what a tampered row does); none
comes from the report code itself. The browser tests are in test_report_browser.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
import zlib

import pytest
import sqlalchemy as sa

from events import EventLog, stack_aggregate_id
from events.runrecord import gather
from helpers import cli, dump
from migrator.heat.connection import make_engine
from migrator.report import graph as graphs
from migrator.report.build import MAX_VALUE, change_groups, restored
from migrator.report.kinds import ExplicitEdges
from migrator.report.model import Fact, Report, TreeView
from migrator.report.render import render

# --------------------------------------------------------------------------- graphs


def _stack(sid, name, owner=None, template=7):
    return {"table": "stack", "pk": {"id": sid}, "op": "update",
            "before": {"name": name, "owner_id": owner, "raw_template_id": template, "convergence": False},
            "after": {"convergence": True}}


def _res(rid, name, stack_id, requires, before_requires="[]"):
    return {"table": "resource", "pk": {"id": rid}, "op": "update",
            "before": {"name": name, "stack_id": stack_id, "requires": before_requires, "current_template_id": None},
            "after": {"requires": json.dumps(requires), "current_template_id": 7}}


TREE = [
    _stack("s1", "root"), _stack("s2", "root-app-x", owner="s1"),
    _res(1, "net", "s1", []), _res(2, "subnet", "s1", [1]), _res(3, "server", "s1", [2, 1]),
    _res(4, "inner", "s2", []), _res(5, "other", "s2", [4]),
]
EXPLICIT = {"s1": {"subnet": frozenset({"net"}), "server": frozenset({"subnet"})}}


def _edges(g: graphs.Graph) -> set[tuple[str, str, str]]:
    return {(g.nodes[e.source].name, g.nodes[e.target].name, e.kind) for e in g.edges}


def test_graph_groups_nested_stacks_layers_resources_and_tells_edge_kinds_apart():
    g = graphs.from_changes(TREE, [("s1", "root"), ("s2", None)], explicit_of=EXPLICIT.get)
    assert [(x.stack_id, x.name, x.depth) for x in g.groups] == [("s1", "root", 0), ("s2", "root-app-x", 1)]
    placed = {n.name: (g.groups[n.group].stack_id, n.layer) for n in g.nodes}
    assert placed == {"net": ("s1", 0), "subnet": ("s1", 1), "server": ("s1", 2), "inner": ("s2", 0), "other": ("s2", 1)}
    assert _edges(g) == {
        ("subnet", "net", "explicit"), ("server", "subnet", "explicit"),
        ("server", "net", "implicit"),  # written, but not named by the template
        ("other", "inner", "unknown"),  # no template reading for s2
    }
    assert g.kinds() == {"explicit": 2, "implicit": 1, "unknown": 1}


def test_graph_of_a_rollback_draws_the_requires_it_removed():
    change = _res(2, "subnet", "s1", [], before_requires="[1]")
    g = graphs.from_changes([change], [("s1", "root")], image="before")
    assert _edges(g) == {("subnet", "id 1", "unknown")}  # row 1 is known only as a target
    assert graphs.from_changes([change], [("s1", "root")], image="after").edges == []


def test_graph_with_a_cycle_is_drawn_flat():
    g = graphs.from_changes([_res(1, "a", "s1", [2]), _res(2, "b", "s1", [1])], [("s1", "r")])
    assert g.cyclic and {n.layer for n in g.nodes} == {0}


@pytest.mark.parametrize("text, ids", [("[3, 1]", [3, 1]), ("null", []), ("not json", []), ([5], [5]), ('[1, "x", true]', [1])])
def test_requires_ids(text, ids):
    assert graphs.requires_ids(text) == ids


def test_explicit_edges_come_from_the_stored_template():
    template = {"heat_template_version": "2018-08-31", "resources": {
        "net": {"type": "OS::Neutron::Net"},
        "subnet": {"type": "OS::Neutron::Subnet", "properties": {"network": {"get_resource": "net"}}},
        "port": {"type": "OS::Neutron::Port", "depends_on": ["subnet"]},
    }}
    reader = ExplicitEdges({"s1": {"id": "s1", "name": "n", "tenant": "t", "raw_template_id": 9}},
                           {9: {"template": json.dumps(template), "environment": "{}"}})
    assert reader("s1") == {"net": frozenset(), "subnet": frozenset({"net"}), "port": frozenset({"subnet"})}
    assert reader("unknown-stack") is None


# --------------------------------------------------------------------------- row values


def test_row_values_show_secrets_as_digests_and_cut_long_values():
    environment = '{"parameters": {"db_password": "hunter2"}}'
    template = "x" * (MAX_VALUE + 500)
    change = {"table": "raw_template", "pk": {"id": 4}, "op": "delete",
              "before": {"id": 4, "template": template, "environment": environment}, "after": None}
    [[table, key, op, columns]] = change_groups([change])
    assert (table, key, op) == ("raw_template", "id=4", "delete")
    shown = {c: before for c, before, _after in columns}
    assert shown["environment"] == "sha256:" + hashlib.sha256(environment.encode()).hexdigest()
    assert "hunter2" not in json.dumps(columns)
    assert len(shown["template"]) < MAX_VALUE + 100 and f"{len(template):,} characters" in shown["template"]


def test_what_a_rollback_restored():
    changes = [
        {"table": "stack", "pk": {"id": "s1"}, "op": "update", "before": {"name": "web", "convergence": True}, "after": {"convergence": False}},
        {"table": "resource", "pk": {"id": 3}, "op": "update", "before": {"requires": "[1]"}, "after": {"requires": "[]", "needed_by": "[]"}},
        {"table": "raw_template", "pk": {"id": 12}, "op": "insert", "before": None, "after": {"id": 12}},
    ]
    assert restored(changes) == ["stack web (s1) back on the legacy engine", "raw_template id=12 re-inserted",
                                 "1 resource row: needed_by, requires as before"]


# --------------------------------------------------------------------------- the page


HOSTILE = '</script><script>window.pwned=1</script><img src=x onerror="window.pwned=2">'


def _hostile_report() -> Report:
    payload = json.dumps({"graph": graphs.from_changes([_res(1, HOSTILE, "s1", [])], [("s1", HOSTILE)]).payload(),
                          "image": "after", "changes": change_groups([_res(1, HOSTILE, "s1", [])])})
    tree = TreeView("s1", HOSTILE, "migrated", "ok", reason=HOSTILE, notes=[HOSTILE], payload=payload)
    return Report(title=HOSTILE, dry_run=False, facts=[Fact("Operator", HOSTILE)], counts=[(HOSTILE, 1)], trees=[tree], chains=[])


def test_every_value_is_escaped_and_only_the_pages_own_script_may_run():
    page = render(_hostile_report())
    scripts = re.findall(r"<script\b[^>]*>", page)
    assert scripts == ['<script type="application/json" class="data">', "<script>"]
    assert "<img" not in page and "onerror=\"" not in page
    data = re.search(r'<script type="application/json" class="data">(.*?)</script>', page, re.S).group(1)
    assert json.loads(data)["graph"]["nodes"][0][1] == HOSTILE  # intact once parsed, inert in the page
    script = re.search(r"<script>(.*)</script>", page, re.S).group(1)
    digest = __import__("base64").b64encode(hashlib.sha256(script.encode()).digest()).decode()
    policy = html.unescape(re.search(r'http-equiv="Content-Security-Policy" content="([^"]*)"', page).group(1))
    assert f"script-src 'sha256-{digest}'" in policy and "default-src 'none'" in policy


# --------------------------------------------------------------------------- a recorded run


def _run_id(url: str, command: str) -> str:
    with EventLog.open(url) as log:
        return str(log.last_run(command).id)


def _converged_roots(url: str, convergence: bool = True) -> set[str]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT id FROM stack WHERE owner_id IS NULL AND deleted_at IS NULL"
                                        " AND convergence = :t"), {"t": convergence})
            return {r[0] for r in rows}
    finally:
        engine.dispose()


def test_the_record_of_a_run_matches_heats_database(make_sample, tmp_path):
    url, sample = make_sample(roots=4, seed=3)
    already, legacy = _converged_roots(url), _converged_roots(url, False)
    result = cli("--db", url, "migrate", "--all")
    run_id = _run_id(url, "migrate")
    moved = _converged_roots(url) - already
    with EventLog.open(url) as log:
        record = gather(log, run_id[:8])
    by_outcome = {t.stack_id: t for t in record.trees}
    assert {s for s, t in by_outcome.items() if t.outcome == "applied"} == moved
    assert moved < set(by_outcome) <= legacy  # every legacy root --all took up, some refused
    for tree in by_outcome.values():
        if tree.outcome != "applied":
            assert tree.outcome == "skipped"
            assert tree.kind and tree.reason and tree.name, tree  # why, in words, as the run printed it
    # a fresh database: the run's own chain and one per tree it planned (all applied)
    assert record.verified and sorted(c.id for c in record.chains if c.kind == "stack") == sorted(moved)
    assert result.exit_code in (0, 1, 3)
    out = tmp_path / "r.html"
    written = cli("--db", url, "report", run_id[:8], "-o", str(out))
    assert written.exit_code == 0, written.stderr
    assert str(out) in written.stderr and out.read_text().startswith("<!DOCTYPE html>")
    nowhere = cli("--db", url, "report", run_id[:8], "-o", str(tmp_path / "missing" / "r.html"))
    assert nowhere.exit_code == 2 and "does not exist" in nowhere.stderr


def test_a_tampered_history_shows_in_the_record(make_sample):
    url, _ = make_sample(roots=2, seed=5)
    already = _converged_roots(url)
    cli("--db", url, "migrate", "--all")
    run_id = _run_id(url, "migrate")
    root = sorted(_converged_roots(url) - already)[0]
    with EventLog.open(url) as log:  # edit the stored plan of one tree behind the log's back
        t = log.table
        with log.app.engine.begin() as conn:
            row = conn.execute(sa.select(t.c.id, t.c.state).where(
                t.c.originator_id == stack_aggregate_id(root), t.c.originator_version == 2)).one()
            body = json.loads(zlib.decompress(row.state))
            body["summary"]["stacks"] = ["forged"]
            conn.execute(t.update().where(t.c.id == row.id).values(state=zlib.compress(json.dumps(body).encode())))
    with EventLog.open(url) as log:
        record = gather(log, run_id)
    broken = [c for c in record.chains if c.findings]
    assert [c.id for c in broken] == [root] and not record.verified


def test_a_rollback_record_says_what_it_restored(make_sample):
    url, sample = make_sample(roots=2, seed=5)
    already = _converged_roots(url)
    cli("--db", url, "migrate", "--all")
    root = sorted(_converged_roots(url) - already)[0]
    cli("--db", url, "rollback", root, "--yes")
    with EventLog.open(url) as log:
        record = gather(log, _run_id(url, "rollback"))
    from migrator.report.build import from_run

    page = from_run(record, lambda _sid: None)
    [tree] = page.trees
    assert tree.outcome == "rolled back" and tree.stack_id == root
    assert any(line.endswith("back on the legacy engine") for line in tree.restored)


# --------------------------------------------------------------------------- the commands


def test_dry_run_report_changes_nothing_and_says_so(make_sample, tmp_path):
    url, _ = make_sample(roots=3, seed=2)
    before = dump(url)
    out = tmp_path / "plan.html"
    result = cli("--db", url, "migrate", "--dry-run", "--all", "--report", str(out))
    assert result.exit_code in (0, 1, 3)
    assert dump(url) == before
    engine = make_engine(url)
    try:
        assert "convmig_events" not in sa.inspect(engine).get_table_names()
    finally:
        engine.dispose()
    page = out.read_text()
    assert page.index("Dry run: nothing was changed") < page.index('id="run"')


@pytest.mark.parametrize("args, code, words", [
    (["report", "ffffffff"], 1, "no run ffffffff"),
    (["report", "ab"], 1, "at least its first 4 characters"),
    (["migrate", "--all", "--report", "x.html"], 2, "--report goes with --dry-run"),
])
def test_bad_report_requests_fail_in_one_line(sqlite_url, args, code, words):
    from migrator.sample.build import build_sample

    engine = make_engine(sqlite_url, must_exist=False)
    build_sample(engine, roots=1, seed=1)
    engine.dispose()
    result = cli("--db", sqlite_url, *args)
    assert result.exit_code == code and words in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_a_run_recorded_before_skips_were_noted_does_not_call_its_skipped_trees_done(sqlite_url):
    """Logs written by an earlier convmig have no run-skipped events: the record
    must not guess that an unplanned tree was already done."""
    with EventLog.open(sqlite_url) as log:
        run = log.start_run(command="migrate", arguments={}, selection={"all": True}, operator="alice",
                            host="h", pid=1, version="0.0.9")
        run.cover(["a", "b"])
        run.finish("partial", {"skipped: locked": 1, "already done": 1})
        log.save(run)
        record = gather(log, str(run.id))
    assert {(t.stack_id, t.outcome) for t in record.trees} == {("a", "not planned"), ("b", "not planned")}


def test_a_record_read_in_chunks_is_the_record_read_whole(make_sample, monkeypatch):
    """``convmig report`` hands the trees on a chunk at a time and drops their plans;
    the page must not change for it."""
    import events.runrecord as runrecord
    from migrator.report.build import RunReport, from_run

    url, _ = make_sample(roots=3, seed=7)
    cli("--db", url, "migrate", "--all")
    run_id = _run_id(url, "migrate")
    with EventLog.open(url) as log:
        whole = from_run(gather(log, run_id), lambda _sid: None)
        monkeypatch.setattr(runrecord, "CHUNK", 2)
        builder = RunReport(lambda _chunk: (lambda _sid: None))
        record = gather(log, run_id, on_trees=builder.trees)
    assert all("changes" not in (t.plan or {}) for t in record.trees)
    chunked = builder.report(record)
    assert [vars(v) for v in chunked.trees] == [vars(v) for v in whole.trees]
    assert sum(1 for v in whole.trees if v.payload) > 2
