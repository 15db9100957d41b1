"""Loading stack trees from Heat's database: the snapshot the planner works on.

A tree is a root stack plus every stack reached through ``owner_id``, skipping
backup and soft-deleted stacks, exactly as Heat's
``stack_get_all_by_root_owner_id`` walks it. The legacy backup stacks owned by
the tree's stacks (and their rows) are loaded beside it, for the migration to
finish them (``migrator.planning.failed``). Loading is batched: a fixed number
of queries per batch of trees (one per nesting level, one per table), never one
per resource, so planning tens of thousands of trees stays fast.

Rows are plain dicts keyed by column name, holding the values exactly as stored
(JSON columns as their raw text), so a before-image can be written back byte
for byte.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Iterable, Iterator

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from migrator.heat.schema import (
    raw_template,
    raw_template_files,
    resource,
    resource_data,
    resource_properties_data,
    event,
    stack,
)

#: Largest IN list sent at once (SQLite's variable limit is far above; MySQL's
#: packet size and PostgreSQL's planner both like moderate lists).
IN_CHUNK = 1000

#: Stacks Heat's walker follows: not soft-deleted and ``backup = False`` (which,
#: as in Heat's own query, also leaves out rows whose backup is NULL).
WALKED = sa.and_(stack.c.deleted_at.is_(None), stack.c.backup == sa.false())

#: Resource rows Heat calls active: everything but DELETE_COMPLETE.
ACTIVE = sa.or_(
    resource.c.action.is_(None),
    resource.c.status.is_(None),
    resource.c.action != "DELETE",
    resource.c.status != "COMPLETE",
)


@dataclass
class Tree:
    """A root stack and everything a migration of it reads."""

    root: dict
    stacks: list[dict]  # root first, then descendants depth-first
    resources: dict[str, list[dict]] = field(default_factory=dict)  # stack id -> active rows, by id
    templates: dict[int, dict] = field(default_factory=dict)  # raw_template rows (current and prev)
    files: dict[int, dict] = field(default_factory=dict)  # raw_template_files rows a deletion would orphan
    template_refs: dict[int, int] = field(default_factory=dict)  # prev template id -> references from elsewhere
    files_refs: dict[int, set[int]] = field(default_factory=dict)  # files id -> raw_template ids using it
    #: raw_template_files rows of the current templates that may need them (provider
    #: templates or get_file), for reading the templates as Heat loads them.
    stack_files: dict[int, dict] = field(default_factory=dict)
    prune: "PruneDetails | None" = None
    #: legacy backup stacks (``backup`` true, not deleted) by the id of the tree stack owning them
    backups: dict[str, list[dict]] = field(default_factory=dict)
    #: active resource rows of each backup stack, by backup stack id
    backup_resources: dict[str, list[dict]] = field(default_factory=dict)
    #: live stacks owned by a backup stack (nothing a migration can place), by backup stack id
    backup_children: dict[str, list[dict]] = field(default_factory=dict)

    @property
    def root_id(self) -> str:
        return self.root["id"]

    @property
    def stack_ids(self) -> list[str]:
        return [s["id"] for s in self.stacks]


@dataclass
class PruneDetails:
    """What deleting stale resource rows would also remove, and who else uses it."""

    resource_data: dict[int, list[dict]]  # resource id -> its resource_data rows
    properties: dict[int, dict]  # resource_properties_data rows referenced by pruned rows
    properties_refs: dict[int, int]  # rpd id -> references from rows not being pruned (resources, events)


@dataclass
class Missing:
    """A requested id that is not a loadable root: why, and the root to use instead."""

    stack_id: str
    reason: str  # "unknown" | "deleted" | "nested"
    row: dict | None = None
    root: dict | None = None


def chunks(items: list, size: int = IN_CHUNK) -> Iterator[list]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def rows_of(conn: Connection, query) -> list[dict]:
    """The result as plain dicts (zipping the keys once is ~40% cheaper than
    ``dict(mapping)`` per row, which counts at a hundred thousand rows). Rows are
    fetched with one ``fetchall``: iterating the result fetches them one by one
    through SQLAlchemy's Python layer."""
    result = conn.execute(query)
    keys = tuple(result.keys())
    return [dict(zip(keys, row)) for row in result.fetchall()]


def _select_in(conn: Connection, table: sa.Table, column: sa.Column, values: Iterable, *where) -> list[dict]:
    """SELECT * WHERE column IN values, chunked."""
    values = sorted(set(v for v in values if v is not None))
    out: list[dict] = []
    for part in chunks(values):
        out += rows_of(conn, sa.select(table).where(column.in_(part), *where))
    return out


def find_root(conn: Connection, row: dict) -> dict:
    """Walk owner links up to the root stack row (one query per level)."""
    seen = {row["id"]}
    while row.get("owner_id"):
        parent = conn.execute(sa.select(stack).where(stack.c.id == row["owner_id"])).mappings().first()
        if parent is None or parent["id"] in seen:
            break
        seen.add(parent["id"])
        row = dict(parent)
    return row


def load_trees(conn: Connection, root_ids: list[str]) -> tuple[list[Tree], list[Missing]]:
    """Load the trees of ``root_ids`` (in the given order) with a bounded number of queries."""
    by_id = {r["id"]: r for r in _select_in(conn, stack, stack.c.id, root_ids)}
    trees, missing = [], []
    for sid in dict.fromkeys(root_ids):
        row = by_id.get(sid)
        if row is None:
            missing.append(Missing(sid, "unknown"))
        elif row["deleted_at"] is not None:
            missing.append(Missing(sid, "deleted", row))
        elif row["owner_id"]:
            missing.append(Missing(sid, "nested", row, find_root(conn, row)))
        else:
            trees.append(Tree(root=row, stacks=[row]))
    if trees:
        _load_descendants(conn, trees)
        _load_backups(conn, trees)
        _load_resources(conn, trees)
        _load_templates(conn, trees)
    return trees, missing


def _load_descendants(conn: Connection, trees: list[Tree]) -> None:
    """Breadth-first by level over owner_id, then ordered depth-first per tree."""
    children: dict[str, list[dict]] = defaultdict(list)
    frontier = [t.root_id for t in trees]
    seen = set(frontier)
    while frontier:
        level = _select_in(conn, stack, stack.c.owner_id, frontier, WALKED)
        frontier = []
        for row in sorted(level, key=lambda r: (r["created_at"] is None, r["created_at"], r["id"])):
            if row["id"] in seen:  # a corrupt owner loop must not hang us
                continue
            seen.add(row["id"])
            children[row["owner_id"]].append(row)
            frontier.append(row["id"])
    for tree in trees:
        tree.stacks = [tree.root] + list(_depth_first(tree.root_id, children))


def _depth_first(stack_id: str, children: dict[str, list[dict]]) -> Iterator[dict]:
    for child in children.get(stack_id, ()):
        yield child
        yield from _depth_first(child["id"], children)


#: Legacy backup stacks: Heat's walker skips them, a migration must not (see
#: ``migrator.planning.failed``).
BACKUPS = sa.and_(stack.c.deleted_at.is_(None), stack.c.backup == sa.true())


def _load_backups(conn: Connection, trees: list[Tree]) -> None:
    """The live backup stacks owned by each tree's stacks, and any live stack a
    backup owns in turn (two queries per batch)."""
    owner = {s["id"]: t for t in trees for s in t.stacks}
    found = _select_in(conn, stack, stack.c.owner_id, owner, BACKUPS)
    for row in sorted(found, key=lambda r: r["id"]):
        owner[row["owner_id"]].backups.setdefault(row["owner_id"], []).append(row)
    by_backup = {r["id"]: owner[r["owner_id"]] for r in found}
    for row in sorted(_select_in(conn, stack, stack.c.owner_id, by_backup, stack.c.deleted_at.is_(None)),
                      key=lambda r: r["id"]):
        by_backup[row["owner_id"]].backup_children.setdefault(row["owner_id"], []).append(row)


def _load_resources(conn: Connection, trees: list[Tree]) -> None:
    owner = {s["id"]: t for t in trees for s in t.stacks}
    backup_owner = {b["id"]: t for t in trees for rows in t.backups.values() for b in rows}
    for tree in trees:
        tree.resources = {sid: [] for sid in tree.stack_ids}
        tree.backup_resources = {b["id"]: [] for rows in tree.backups.values() for b in rows}
    rows = _select_in(conn, resource, resource.c.stack_id, [*owner, *backup_owner], ACTIVE)
    for row in sorted(rows, key=lambda r: r["id"]):
        sid = row["stack_id"]
        if sid in owner:
            owner[sid].resources[sid].append(row)
        else:
            backup_owner[sid].backup_resources[sid].append(row)


def _load_templates(conn: Connection, trees: list[Tree]) -> None:
    """Current and previous raw templates, plus who else references the previous ones."""
    wanted = {s[c] for t in trees for s in t.stacks for c in ("raw_template_id", "prev_raw_template_id")}
    rows = {r["id"]: r for r in _select_in(conn, raw_template, raw_template.c.id, wanted)}
    prev_ids = {s["prev_raw_template_id"] for t in trees for s in t.stacks if s["prev_raw_template_id"]}
    refs = _template_refs(conn, trees, prev_ids)
    files_users = _files_users(conn, {rows[p]["files_id"] for p in prev_ids if p in rows})
    current = {s["raw_template_id"] for t in trees for s in t.stacks}
    needed = {rows[i]["files_id"] for i in current if i in rows and _may_need_files(rows[i])}
    files_rows = {r["id"]: r for r in _select_in(conn, raw_template_files, raw_template_files.c.id,
                                                 set(files_users) | needed)}
    for tree in trees:
        ids = {s[c] for s in tree.stacks for c in ("raw_template_id", "prev_raw_template_id") if s[c]}
        tree.templates = {i: rows[i] for i in ids if i in rows}
        tree.template_refs = {i: refs.get(i, 0) for i in ids if i in prev_ids}
        fids = {tree.templates[i]["files_id"] for i in tree.template_refs if i in tree.templates}
        tree.files = {f: files_rows[f] for f in fids if f in files_rows}
        tree.files_refs = {f: files_users.get(f, set()) for f in fids if f is not None}
        own = {rows[s["raw_template_id"]]["files_id"] for s in tree.stacks if s["raw_template_id"] in rows}
        tree.stack_files = {f: files_rows[f] for f in own & needed if f in files_rows}


#: Text that shows a template or environment may read its files map: a provider
#: template (``*.yaml`` / ``*.template`` type or registry entry) or ``get_file``.
_FILES_HINTS = (".yaml", ".template", "get_file")


def _may_need_files(row: dict) -> bool:
    """Whether the implicit-dependency rules may need this template's files: a
    substring test, so that templates without them do not load their files rows."""
    if row["files_id"] is None:
        return False
    text = f"{row['template'] or ''}{row['environment'] or ''}"
    return any(hint in text for hint in _FILES_HINTS)


def _template_refs(conn: Connection, trees: list[Tree], prev_ids: set[int]) -> dict[int, int]:
    """References to each previous template other than its own stack's prev link and
    the active rows of its tree (which the migration repoints to the current template)."""
    if not prev_ids:
        return {}
    own_prev = {(s["id"], s["prev_raw_template_id"]) for t in trees for s in t.stacks}
    repointed = {r["id"] for t in trees for rows in t.resources.values() for r in rows}
    counts: dict[int, int] = defaultdict(int)
    stack_cols = (stack.c.raw_template_id, stack.c.prev_raw_template_id)
    for col in stack_cols:
        for r in _select_in(conn, stack, col, prev_ids):
            for c in ("raw_template_id", "prev_raw_template_id"):
                tid = r[c]
                if tid in prev_ids and not (c == "prev_raw_template_id" and (r["id"], tid) in own_prev):
                    counts[tid] += 1
    for part in chunks(sorted(prev_ids)):
        q = sa.select(resource.c.id, resource.c.current_template_id).where(resource.c.current_template_id.in_(part))
        for rid, tid in conn.execute(q):
            if rid not in repointed:
                counts[tid] += 1
    return dict(counts)


def _files_users(conn: Connection, files_ids: set) -> dict[int, set[int]]:
    """files id -> ids of every raw_template row that uses it."""
    users: dict[int, set[int]] = defaultdict(set)
    for part in chunks(sorted(f for f in files_ids if f is not None)):
        q = sa.select(raw_template.c.id, raw_template.c.files_id).where(raw_template.c.files_id.in_(part))
        for tid, fid in conn.execute(q):
            users[fid].add(tid)
    return dict(users)


def load_prune_details(conn: Connection, resource_rows: list[dict]) -> PruneDetails:
    """For rows about to be pruned: their resource_data, and the properties data rows
    (``rsrc_prop_data_id``, ``attr_data_id``) with their references from anything else."""
    ids = [r["id"] for r in resource_rows]
    data: dict[int, list[dict]] = defaultdict(list)
    for row in sorted(_select_in(conn, resource_data, resource_data.c.resource_id, ids), key=lambda r: r["id"]):
        data[row["resource_id"]].append(row)
    rpd_ids = {r[c] for r in resource_rows for c in ("rsrc_prop_data_id", "attr_data_id") if r[c]}
    props = {r["id"]: r for r in _select_in(conn, resource_properties_data, resource_properties_data.c.id, rpd_ids)}
    pruned = set(ids)
    refs: dict[int, int] = defaultdict(int)
    for col in (resource.c.rsrc_prop_data_id, resource.c.attr_data_id):
        for part in chunks(sorted(rpd_ids)):
            for rid, pid in conn.execute(sa.select(resource.c.id, col).where(col.in_(part))):
                if rid not in pruned:
                    refs[pid] += 1
    for part in chunks(sorted(rpd_ids)):
        q = sa.select(event.c.rsrc_prop_data_id).where(event.c.rsrc_prop_data_id.in_(part))
        for (pid,) in conn.execute(q):
            refs[pid] += 1
    return PruneDetails(dict(data), props, dict(refs))


def on_engine(convergence: bool = False):
    """The stack rows of one engine: legacy (``convergence`` false or NULL) or convergence."""
    legacy = sa.or_(stack.c.convergence.is_(None), stack.c.convergence == sa.false())
    return stack.c.convergence == sa.true() if convergence else legacy


def legacy_root_ids(conn: Connection, *, tenant: str | None = None, after: str | None = None, limit: int = 1000,
                    convergence: bool = False) -> list[str]:
    """A page of root stack ids of one engine (legacy unless ``convergence``) in id
    order (keyset paging keeps memory flat)."""
    q = sa.select(stack.c.id).where(stack.c.owner_id.is_(None), stack.c.deleted_at.is_(None), on_engine(convergence))
    if tenant:
        q = q.where(stack.c.tenant == tenant)
    if after:
        q = q.where(stack.c.id > after)
    return list(conn.execute(q.order_by(stack.c.id).limit(limit)).scalars())


def tree_stacks(conn: Connection, root_ids: list[str]) -> dict[str, list[dict]]:
    """Light rows (id, name, owner, state, convergence) of each root's tree, root
    first, walked as Heat walks it; only existing, live, non-nested roots appear."""
    cols = (stack.c.id, stack.c.name, stack.c.owner_id, stack.c.action, stack.c.status,
            stack.c.convergence, stack.c.deleted_at)
    roots = [dict(r) for part in chunks(sorted(set(root_ids))) for r in
             conn.execute(sa.select(*cols).where(stack.c.id.in_(part))).mappings()]
    result = {r["id"]: [r] for r in roots if r["deleted_at"] is None and not r["owner_id"]}
    top = {r: r for r in result}
    frontier = list(result)
    while frontier:
        rows = [dict(r) for part in chunks(sorted(set(frontier))) for r in
                conn.execute(sa.select(*cols).where(stack.c.owner_id.in_(part), WALKED)).mappings()]
        frontier = []
        for row in rows:
            if row["id"] in top:
                continue
            top[row["id"]] = top[row["owner_id"]]
            result[top[row["id"]]].append(row)
            frontier.append(row["id"])
    return result
