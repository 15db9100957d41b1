"""Sample Heat databases: what a legacy Heat engine really leaves behind, fast.

``convmig demo``, the test-suite and the benchmarks all need a Heat database that
looks like one from a real cloud, not a toy: stacks of every state, nested trees
built the two ways Heat builds them (ResourceGroup and provider templates),
templates in both HOT and CFN with every way of expressing a dependency, stacks
that went through a legacy update, and the odd rows real databases accumulate
(stale rows, duplicate rows, backup stacks, very old rows, ...).
``build_sample`` writes such a database in one pass.

How the rows look follows what Heat itself writes (read from
``heat/engine/stack.py`` ``store``, ``heat/engine/resource.py`` ``store``,
``stack_resource.py`` and ``environment.py``; nothing copied):

* stack: ``convergence`` false, ``current_traversal`` NULL, ``current_deps`` the
  text ``null`` (Heat's Json type stores None that way), ``backup`` false,
  ``updated_at`` NULL until an update; nested stacks share their root's
  ``user_creds_id`` and have ``disable_rollback`` true.
* raw_template: ``template`` and ``environment`` as JSON text, ``files`` SQL NULL
  (Heat no longer writes it) and ``files_id`` pointing at a raw_template_files
  row. After a legacy update ``prev_raw_template_id`` points at a *copy of the new
  template* (``update_task`` stores ``bu_tmpl``), sharing the files row.
* resource: ``requires`` and ``needed_by`` ``[]``, ``properties_data`` ``null``,
  properties in a resource_properties_data row, ``atomic_key`` NULL unless
  attributes were cached (``attr_data_id``, atomic_key 1), ``engine_id`` and
  ``current_template_id`` NULL, ``root_stack_id`` the root's id.

Everything comes from one seeded ``random.Random`` and a fixed base time, so the
same seed gives the same database byte for byte, on SQLite, PostgreSQL and
MariaDB alike. Rows are buffered per table and written with executemany inserts,
one transaction per chunk of roots, so memory stays bounded however many roots
are asked for.
"""

from __future__ import annotations

import base64
import json
import random
import uuid
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterable

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from migrator.heat import schema
from migrator.heat.schema import create_schema, dump_json
from migrator.sample.catalogue import (
    PROVIDER_FILES,
    TEMPLATE_KINDS,
    _Kind,
    _ORDINARY,
    _kind_app,
    _kind_aws,
    _kind_config,
    _kind_deep,
    _kind_group,
    _kind_members,
    _kind_secret,
    _kind_switch,
    _kind_tiers,
    _kind_web,
)

__all__ = [
    "Sample",
    "build_sample",
    "SPECIAL_CASES",
    "STACK_STATES",
    "TEMPLATE_KINDS",
    "PROVIDER_FILES",
    "ENCRYPT_METHOD",
    "BASE_TIME",
]

#: Every timestamp of a sample is an offset from this (no wall clock).
BASE_TIME = datetime(2021, 3, 1, 8, 0, 0)

#: Heat's current encryption method name (``heat/common/crypt.py``).
ENCRYPT_METHOD = "cryptography_decrypt_v1"

#: Roots per transaction: bounds memory and keeps transactions reasonable.
CHUNK_ROOTS = 1000

#: The special cases, in the order they are built (``Sample.special`` keys).
SPECIAL_CASES = (
    "failed_root",
    "in_progress_root",
    "nested_in_progress",
    "backup_parent",
    "soft_deleted",
    "deleted_complete_rows",
    "stale_row",
    "duplicate_rows",
    "missing_row",
    "failed_resource",
    "updated",
    "shared_files",
    "deep_nested",
    "resource_group",
    "provider_template",
    "cfn",
    "conditions",
    "old_rows",
    "convergence_root",
    "legacy_root_with_convergence_child",
    "encrypted_condition",
)

_COMPLETE_STATES = [
    ("CREATE", "COMPLETE"),
    ("UPDATE", "COMPLETE"),
    ("ROLLBACK", "COMPLETE"),
    ("SUSPEND", "COMPLETE"),
    ("RESUME", "COMPLETE"),
    ("CHECK", "COMPLETE"),
    ("SNAPSHOT", "COMPLETE"),
]
_FAILED_STATES = [
    ("CREATE", "FAILED"),
    ("UPDATE", "FAILED"),
    ("DELETE", "FAILED"),
    ("ROLLBACK", "FAILED"),
    ("SUSPEND", "FAILED"),
    ("RESUME", "FAILED"),
    ("CHECK", "FAILED"),
    ("SNAPSHOT", "FAILED"),
]
_IN_PROGRESS_STATES = [
    ("CREATE", "IN_PROGRESS"),
    ("UPDATE", "IN_PROGRESS"),
    ("DELETE", "IN_PROGRESS"),
    ("SUSPEND", "IN_PROGRESS"),
]
#: Every (action, status) an ordinary legacy root takes when specials are on.
STACK_STATES = tuple(_COMPLETE_STATES + _FAILED_STATES + _IN_PROGRESS_STATES)

# Relative frequency of root states in ordinary roots (most COMPLETE, so a
# migration has work to do).
_COMPLETE_WEIGHTS = [60, 18, 3, 5, 3, 6, 2]

_FAILURES = [
    'ResourceInError: resources.{res}: Went to status ERROR due to "Message: No valid host was found. '
    'There are not enough hosts available., Code: 500"',
    "Conflict: resources.{res}: Quota exceeded for resources: ['port'].",
    "BadRequest: resources.{res}: Invalid input for operation: Requested subnet overlaps.",
    "NotFound: resources.{res}: Volume could not be found.",
    "ResourceFailure: resources.{res}: Timed out",
]

_TAGS = ["production", "staging", "team-a", "team-b", "billing:cc-4711", "tripleo", "k8s", "dr"]


# =========================================================================== result


@dataclass
class Sample:
    """What ``build_sample`` made: root ids, the special cases, rows per table."""

    roots: list[str]
    special: dict[str, str]
    counts: dict[str, int]


# =========================================================================== template analysis
#
# A small reading of a template, enough to know which resources exist (after
# conditions), in which order legacy Heat created them, what each explicitly
# depends on, and what value each property resolved to. The convergence rows the
# sample writes need the dependencies; the stored properties need the values.


@dataclass
class _Defn:
    name: str
    type: str
    properties: Any
    metadata: Any
    deps: tuple[str, ...]  # enabled resources this one depends on (template order)
    nested: str | None  # "group", a provider file name, or None


@dataclass
class _Plan:
    hot: bool
    defaults: dict  # parameter defaults of the template
    resource_names: frozenset  # every resource in the template, enabled or not
    order: list[_Defn]  # enabled resources in creation order
    attr_refs: dict  # resource name -> attribute names read by get_attr / Fn::GetAtt
    conditions: dict  # condition name -> bool


def _sections(t: dict) -> dict:
    if "heat_template_version" in t:
        return dict(hot=True, res="resources", type="type", props="properties", meta="metadata", deps="depends_on",
                    cond="condition", conds="conditions", params="parameters", default="default", outputs="outputs",
                    value="value")
    return dict(hot=False, res="Resources", type="Type", props="Properties", meta="Metadata", deps="DependsOn",
                cond="Condition", conds="Conditions", params="Parameters", default="Default", outputs="Outputs",
                value="Value")


def _analyse(t: dict, env_params: dict, registry: dict, files: dict | None) -> _Plan:
    """Evaluate conditions, find each enabled resource's explicit dependencies
    (only the taken branch of ``if``; references to disabled resources dropped)
    and order the resources as legacy Heat created them (dependencies first,
    template order otherwise)."""
    s = _sections(t)
    hot = s["hot"]
    defaults = {name: p.get(s["default"]) for name, p in (t.get(s["params"]) or {}).items()}
    params = {**defaults, **env_params}
    resources = t.get(s["res"]) or {}
    names = frozenset(resources)
    cond_defs = t.get(s["conds"]) or {}
    conds: dict[str, bool] = {}

    def value(x):
        if isinstance(x, dict) and len(x) == 1:
            (fn, arg), = x.items()
            if fn in ("get_param", "Ref"):
                return params.get(arg if isinstance(arg, str) else arg[0])
        return x

    def cond(expr) -> bool:
        if isinstance(expr, bool):
            return expr
        if isinstance(expr, str):
            if expr not in conds:
                conds[expr] = cond(cond_defs[expr])
            return conds[expr]
        (fn, arg), = expr.items()
        if fn in ("equals", "Fn::Equals"):
            return value(arg[0]) == value(arg[1])
        if fn in ("not", "Fn::Not"):
            return not cond(arg[0] if isinstance(arg, list) else arg)
        if fn in ("and", "Fn::And"):
            return all(cond(a) for a in arg)
        if fn in ("or", "Fn::Or"):
            return any(cond(a) for a in arg)
        if fn == "Condition":
            return cond(arg)
        raise ValueError(f"unsupported condition function {fn}")

    for name in cond_defs:
        cond(name)
    enabled = [n for n, r in resources.items() if s["cond"] not in r or cond(r[s["cond"]])]
    enabled_set = set(enabled)
    attr_refs: dict[str, list[str]] = {}

    def walk(node, out: set):
        if isinstance(node, dict):
            if len(node) == 1:
                (fn, arg), = node.items()
                if hot and fn == "get_resource":
                    out.add(arg)
                    return
                if (hot and fn == "get_attr") or (not hot and fn == "Fn::GetAtt"):
                    target = arg[0]
                    out.add(target)
                    if target in enabled_set:
                        attrs = attr_refs.setdefault(target, [])
                        key = arg[1] if len(arg) > 1 else "show"
                        if isinstance(key, str) and key not in attrs:
                            attrs.append(key)
                    for a in arg[1:]:
                        walk(a, out)
                    return
                if not hot and fn == "Ref":
                    if arg in names:
                        out.add(arg)
                    return
                if fn in ("if", "Fn::If"):
                    walk(arg[1] if cond(arg[0]) else arg[2], out)
                    return
            for v in node.values():
                walk(v, out)
        elif isinstance(node, list):
            for v in node:
                walk(v, out)

    deps: dict[str, list[str]] = {}
    for name in enabled:
        r = resources[name]
        found: set[str] = set()
        walk(r.get(s["props"]), found)
        walk(r.get(s["meta"]), found)
        explicit = r.get(s["deps"]) or []
        if isinstance(explicit, str):
            explicit = [explicit]
        found.update(explicit)
        unknown = found - names
        if unknown:
            raise ValueError(f"template references unknown resources {sorted(unknown)}")
        deps[name] = [n for n in resources if n in found and n in enabled_set and n != name]
    for out in (t.get(s["outputs"]) or {}).values():
        if s["cond"] in out and not cond(out[s["cond"]]):
            continue
        walk(out.get(s["value"]), set())

    order: list[str] = []
    placed: set[str] = set()
    while len(order) < len(enabled):
        for name in enabled:
            if name not in placed and all(d in placed for d in deps[name]):
                order.append(name)
                placed.add(name)
                break
        else:
            raise ValueError("dependency cycle in sample template")

    def nested_of(rtype: str) -> str | None:
        if rtype == "OS::Heat::ResourceGroup":
            return "group"
        rtype = registry.get(rtype, rtype)
        if files and rtype in files:
            return rtype
        return None

    defns = [
        _Defn(n, resources[n][s["type"]], resources[n].get(s["props"]), resources[n].get(s["meta"]), tuple(deps[n]),
              nested_of(resources[n][s["type"]]))
        for n in order
    ]
    return _Plan(hot, defaults, names, defns, attr_refs, conds)


def _fake_attr(phys: str | None, path: list) -> Any:
    """A deterministic attribute value, shaped by the attribute asked for."""
    keys = [p for p in path if isinstance(p, str)]
    key = keys[-1] if keys else "show"
    h = zlib.crc32(f"{phys}/{key}".encode())
    if "address" in key or key in ("PublicIp", "first_address", "fixed_ips", "ip"):
        return f"10.{(h >> 16) & 0xFF}.{(h >> 8) & 0xFF}.{h & 0xFF or 1}"
    if key == "show":
        return {"id": phys, "status": "ACTIVE"}
    if key == "value":
        return f"{h:08x}{zlib.crc32(str(phys).encode()):08x}"
    return f"{key}-{h:08x}"


def _resolve(node: Any, plan: _Plan, values: dict, phys: dict) -> Any:
    """Property values as Heat stores them (functions resolved), good enough to
    look real: parameters substituted (``values``), references replaced by
    physical ids (``phys``), attributes by plausible values."""
    if isinstance(node, dict):
        if len(node) == 1:
            (fn, arg), = node.items()
            if fn == "get_param":
                return values.get(arg if isinstance(arg, str) else arg[0])
            if fn == "get_resource":
                return phys.get(arg) or arg
            if fn == "Ref":
                if arg in plan.resource_names:
                    return phys.get(arg) or arg
                return values.get(arg)
            if fn in ("get_attr", "Fn::GetAtt"):
                return _fake_attr(phys.get(arg[0]), list(arg[1:]))
            if fn == "str_replace":
                text = str(_resolve(arg["template"], plan, values, phys))
                for k, v in (arg.get("params") or {}).items():
                    text = text.replace(k, str(_resolve(v, plan, values, phys)))
                return text
            if fn in ("list_join", "Fn::Join"):
                sep, items = arg[0], _resolve(arg[1], plan, values, phys)
                return sep.join(json.dumps(i) if isinstance(i, (dict, list)) else str(i) for i in items)
            if fn == "Fn::Base64":
                return _resolve(arg, plan, values, phys)
            if fn in ("if", "Fn::If"):
                taken = plan.conditions.get(arg[0], False) if isinstance(arg[0], str) else bool(arg[0])
                return _resolve(arg[1] if taken else arg[2], plan, values, phys)
        return {k: _resolve(v, plan, values, phys) for k, v in node.items()}
    if isinstance(node, list):
        return [_resolve(v, plan, values, phys) for v in node]
    return node


def _replace_index(node: Any, index: int) -> Any:
    """ResourceGroup's ``%index%`` substitution in a member definition."""
    if isinstance(node, str):
        return node.replace("%index%", str(index))
    if isinstance(node, dict):
        return {k: _replace_index(v, index) for k, v in node.items()}
    if isinstance(node, list):
        return [_replace_index(v, index) for v in node]
    return node


# =========================================================================== bulk writer


#: Insert order that satisfies every foreign key.
_TABLE_ORDER = (
    schema.user_creds,
    schema.raw_template_files,
    schema.raw_template,
    schema.stack,
    schema.resource_properties_data,
    schema.resource,
    schema.resource_data,
    schema.event,
    schema.stack_tag,
    schema.stack_lock,
    schema.snapshot,
    schema.service,
    schema.sync_point,
)

#: Tables with an integer ``id`` primary key (explicit ids, sequences to fix).
_INT_ID_TABLES = (
    schema.user_creds,
    schema.raw_template_files,
    schema.raw_template,
    schema.resource_properties_data,
    schema.resource,
    schema.resource_data,
    schema.event,
    schema.stack_tag,
)


class _Writer:
    """Row buffers per table, flushed as executemany inserts in FK order.

    Every row carries every column (executemany needs uniform keys), so a row
    starts as a copy of the table's all-NULL template. Rows stay mutable dicts
    until the flush, which lets the special cases adjust what the generic tree
    builder made."""

    def __init__(self, bind: Engine):
        self.bind = bind
        self.rows: dict[str, list[dict]] = {t.name: [] for t in _TABLE_ORDER}
        self.counts: dict[str, int] = {t.name: 0 for t in _TABLE_ORDER}
        self._blank = {t.name: {c.name: None for c in t.columns} for t in _TABLE_ORDER}
        self._next_id: dict[str, int] = {}
        with bind.connect() as conn:
            for t in _INT_ID_TABLES:
                self._next_id[t.name] = (conn.execute(sa.select(sa.func.max(t.c.id))).scalar() or 0) + 1

    def next_id(self, table: str) -> int:
        value = self._next_id[table]
        self._next_id[table] = value + 1
        return value

    def add(self, table: str, **values: Any) -> dict:
        row = dict(self._blank[table])
        row.update(values)
        self.rows[table].append(row)
        return row

    def drop(self, table: str, keep: Callable[[dict], bool]) -> None:
        self.rows[table] = [r for r in self.rows[table] if keep(r)]

    def flush(self) -> None:
        """Write every buffered row in one transaction and empty the buffers."""
        with self.bind.begin() as conn:
            for t in _TABLE_ORDER:
                rows = self.rows[t.name]
                for start in range(0, len(rows), 20000):
                    conn.execute(t.insert(), rows[start:start + 20000])
                self.counts[t.name] += len(rows)
                self.rows[t.name] = []

    def fix_sequences(self) -> None:
        """PostgreSQL keeps a sequence per SERIAL column that explicit ids do not
        advance; move each past the highest id so Heat's (and convmig's) next
        insert without an id gets a fresh one. MariaDB's AUTO_INCREMENT and
        SQLite's rowid follow explicit ids by themselves."""
        if self.bind.dialect.name != "postgresql":
            return
        with self.bind.begin() as conn:
            for t in _INT_ID_TABLES:
                seq = conn.execute(sa.text("SELECT pg_get_serial_sequence(:t, 'id')"), {"t": t.name}).scalar()
                if seq:
                    conn.execute(
                        sa.text(f"SELECT setval(:seq, COALESCE((SELECT MAX(id) FROM {t.name}), 0) + 1, false)"),
                        {"seq": seq},
                    )


# =========================================================================== trees


@dataclass
class _Tree:
    """What every stack of one root's tree shares."""

    root_id: str
    tenant_id: str
    tenant_name: str
    username: str
    creds_id: int | None
    stack_user_project_id: str | None
    created: datetime
    updated: datetime | None  # time of the last legacy update, if any
    events: bool
    timeout: int | None
    disable_rollback: bool
    creds_deleted: bool = False  # the whole tree was deleted, credentials with it


@dataclass
class _StackRec:
    """The rows of one stack, still in the writer's buffers (mutable)."""

    id: str
    root_id: str
    name: str
    row: dict
    template: dict
    prev_template: dict | None
    plan: _Plan
    kind: _Kind
    values: dict  # parameter values of this stack
    resources: dict[str, dict] = field(default_factory=dict)
    children: dict[str, "_StackRec"] = field(default_factory=dict)


class _Builder:
    """Builds trees of stacks into a ``_Writer`` from one seeded generator."""

    def __init__(self, writer: _Writer, rng: random.Random, tenants: int, now: datetime | None, live_engine: bool):
        self.w = writer
        self.rng = rng
        self.now = now
        self.live_engine = live_engine
        self.tenants = [
            (uuid.UUID(int=rng.getrandbits(128), version=4).hex, f"project-{i}", [f"user-{i}-{j}" for j in range(2)])
            for i in range(max(1, tenants))
        ]
        self.engines: list[str] = []
        self.lock_engine: str | None = None
        self._plans: dict[str, _Plan] = {}
        self._file_kinds: dict[str, _Kind] = {}
        self._root_index = 0

    # ------------------------------------------------------------ small values

    def uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def short_id(self) -> str:
        return base64.b32encode(self.rng.getrandbits(60).to_bytes(8, "big")).decode()[:12].lower()

    def secret(self, n: int = 16) -> str:
        alphabet = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
        return "".join(self.rng.choice(alphabet) for _ in range(n))

    def encrypted(self, plaintext_len: int, when: datetime) -> str:
        """A Fernet-shaped token (``gAAAAA...``) as Heat's crypt.encrypt stores:
        version byte, timestamp, IV, AES blocks, HMAC. Random bytes, so nothing
        in the sample can be decrypted, as in a dump of a real database."""
        ts = int((when - datetime(1970, 1, 1)).total_seconds())
        blocks = (plaintext_len // 16 + 1) * 16
        raw = b"\x80" + ts.to_bytes(8, "big") + self.rng.randbytes(16 + blocks + 32)
        return base64.urlsafe_b64encode(raw).decode()

    # ------------------------------------------------------------ per-root context

    def new_tree(self, *, events: bool | None = None, updated: bool = False, trust: bool | None = None) -> _Tree:
        """Owner, credentials and clock of a new root. Roots are created a few
        minutes apart; an update happens days to months later."""
        rng = self.rng
        tenant_id, tenant_name, users = rng.choice(self.tenants)
        username = rng.choice(users)
        created = BASE_TIME + timedelta(minutes=7 * self._root_index + rng.randrange(7))
        self._root_index += 1
        tree = _Tree(
            root_id=self.uuid(),
            tenant_id=tenant_id,
            tenant_name=tenant_name,
            username=username,
            creds_id=None,
            stack_user_project_id=uuid.UUID(int=rng.getrandbits(128), version=4).hex if rng.random() < 0.3 else None,
            created=created,
            updated=created + timedelta(days=rng.randrange(1, 300), seconds=rng.randrange(86400)) if updated else None,
            events=rng.random() < 0.3 if events is None else events,
            timeout=rng.choice([None, 60, 60, 120]),
            disable_rollback=rng.random() < 0.7,
        )
        tree.creds_id = self.user_creds(tree, trust=rng.random() < 0.25 if trust is None else trust)
        return tree

    def user_creds(self, tree: _Tree, *, trust: bool) -> int:
        """Heat stores the requester's credentials once per root (nested stacks
        reuse the id). With ``deferred_auth_method = password`` that is the
        encrypted password; with trusts, an encrypted trust id instead."""
        cid = self.w.next_id("user_creds")
        common = dict(
            id=cid,
            created_at=tree.created,
            region_name="RegionOne",
            decrypt_method=ENCRYPT_METHOD,
            tenant=tree.tenant_name,
            auth_url="http://keystone.example.org:5000/v3",
            tenant_id=tree.tenant_id,
        )
        if trust:
            self.w.add("user_creds", **common, trust_id=self.encrypted(32, tree.created),
                       trustor_user_id=uuid.UUID(int=self.rng.getrandbits(128), version=4).hex)
        else:
            self.w.add("user_creds", **common, username=tree.username, password=self.encrypted(16, tree.created))
        return cid

    # ------------------------------------------------------------ templates

    def plan(self, kind: _Kind, params: dict) -> _Plan:
        """Analysis of a kind, cached when it cannot depend on per-stack values."""
        cacheable = kind.prefix != "members"
        if cacheable and kind.key in self._plans:
            return self._plans[kind.key]
        plan = _analyse(kind.template, params, kind.registry, kind.files)
        if cacheable:
            self._plans[kind.key] = plan
        return plan

    def environment(self, kind: _Kind, params: dict, when: datetime) -> str:
        """The environment as ``Environment.env_as_dict`` stores it; parameters
        listed in ``encrypted_param_names`` hold ``[method, token]``."""
        stored = {}
        for name, value in params.items():
            stored[name] = [ENCRYPT_METHOD, self.encrypted(len(str(value)), when)] if name in kind.encrypted else value
        env = {
            "resource_registry": {"resources": {}, **kind.registry},
            "parameters": stored,
            "parameter_defaults": {},
            "event_sinks": [],
            "encrypted_param_names": list(kind.encrypted),
        }
        return dump_json(env)

    def files_row(self, files: dict, when: datetime) -> int:
        fid = self.w.next_id("raw_template_files")
        self.w.add("raw_template_files", id=fid, files=dump_json(files), created_at=when)
        return fid

    def raw_template(self, kind: _Kind, env_text: str, files_id: int | None, when: datetime) -> dict:
        return self.w.add("raw_template", id=self.w.next_id("raw_template"), created_at=when,
                          template=kind.text, environment=env_text, files_id=files_id)

    # ------------------------------------------------------------ resources

    def row_states(self, state: tuple[str, str], n: int, updated: bool) -> list[tuple[str, str] | None]:
        """Resource states consistent with the stack's state. A legacy CREATE
        or DELETE walks the graph in order, so resources after the one that
        failed (or is running) have no row yet / any more."""
        action, status = state
        rng = self.rng

        def settled():
            if updated:
                return ("UPDATE", "COMPLETE") if rng.random() < 0.35 else ("CREATE", "COMPLETE")
            return ("CREATE", "COMPLETE")

        if status == "COMPLETE":
            if action in ("CREATE", "UPDATE", "ROLLBACK"):
                return [settled() for _ in range(n)]
            return [(action, "COMPLETE")] * n
        hot = rng.randrange(n)
        if action in ("CREATE", "DELETE"):
            return [settled() for _ in range(hot)] + [(action, status)] + [None] * (n - hot - 1)
        states: list[tuple[str, str] | None] = [settled() for _ in range(n)]
        if action in ("SUSPEND", "RESUME", "CHECK", "SNAPSHOT"):
            states = [(action, "COMPLETE") for _ in range(n)]
        states[hot] = (action, status)
        return states

    def physical_id(self, rtype: str, stack_name: str, stack_id: str, tree: _Tree, name: str) -> str | None:
        """``nova_instance`` as the plugin sets it: a cloud uuid, a physical
        name, an address, or nothing."""
        if rtype in ("OS::Heat::Value", "OS::Heat::None", "OS::Heat::WaitCondition"):
            return None
        if rtype in ("OS::Heat::RandomString", "AWS::CloudFormation::WaitCondition", "AWS::EC2::EIPAssociation"):
            return f"{stack_name}-{name}-{self.short_id()}"
        if rtype == "AWS::EC2::EIP":
            return f"172.24.4.{self.rng.randrange(2, 250)}"
        if rtype == "AWS::CloudFormation::WaitConditionHandle":
            return (f"http://heat-cfn.example.org:8000/v1/waitcondition/arn%3Aopenstack%3Aheat%3A%3A{tree.tenant_id}"
                    f"%3Astacks%2F{stack_name}%2F{stack_id}%2Fresources%2F{name}")
        if rtype == "OS::Neutron::RouterInterface":
            return f"{self.uuid()}:subnet_id={self.uuid()}"
        return self.uuid()

    def resource_data(self, rid: int, rtype: str, when: datetime) -> None:
        """resource_data a plugin keeps: generated secrets (redacted, i.e.
        encrypted) and signal credentials."""
        items: list[tuple[str, str, bool]] = []
        if rtype == "OS::Heat::RandomString":
            items = [("value", self.secret(24), True)]
        elif rtype == "OS::Heat::WaitConditionHandle":
            items = [("endpoint", "http://heat-api.example.org:8004/v1/signal", False), ("token", self.secret(32), True)]
        elif rtype == "AWS::CloudFormation::WaitConditionHandle":
            items = [("user_id", uuid.UUID(int=self.rng.getrandbits(128)).hex, False),
                     ("access_key", self.secret(20), False), ("secret_key", self.secret(40), True)]
        elif rtype == "OS::Heat::SoftwareDeployment":
            items = [("user_id", uuid.UUID(int=self.rng.getrandbits(128)).hex, False), ("password", self.secret(20), True)]
        for key, value, redact in items:
            self.w.add("resource_data", id=self.w.next_id("resource_data"), created_at=when, key=key,
                       value=self.encrypted(len(value), when) if redact else value, redact=redact,
                       decrypt_method=ENCRYPT_METHOD if redact else None, resource_id=rid)

    def event(self, stack_id: str, when: datetime, action: str, status: str, reason: str, name: str,
              phys: str | None, rtype: str, rpd_id: int | None) -> None:
        self.w.add("event", id=self.w.next_id("event"), uuid=self.uuid(), stack_id=stack_id, created_at=when,
                   resource_action=action, resource_status=status, resource_name=name, physical_resource_id=phys,
                   resource_status_reason=reason[:255], resource_type=rtype, rsrc_prop_data_id=rpd_id)

    def failure(self, res: str) -> str:
        return self.rng.choice(_FAILURES).format(res=res)

    # ------------------------------------------------------------ one stack, recursively

    def stack(
        self,
        kind: _Kind,
        tree: _Tree,
        *,
        name: str,
        state: tuple[str, str],
        stack_id: str | None = None,
        params: dict | None = None,
        owner: _StackRec | None = None,
        parent_resource: str | None = None,
        depth: int = 0,
        files_id: int | None = None,
        convergence: bool = False,
        child_convergence: bool | None = None,
        deleted: datetime | None = None,
        skip: Iterable[str] = (),
        old_rows: bool = False,
    ) -> _StackRec:
        """One stack with its templates and resource rows, then its nested
        stacks (built while their parent resource is written, as Heat does).

        ``convergence`` writes the stack as the convergence engine leaves it after
        a completed traversal (``requires`` filled, ``current_template_id`` and
        ``current_traversal`` set). ``deleted`` makes it a soft-deleted stack:
        DELETE_COMPLETE, ``deleted_at`` set, resources gone but nested stacks
        (themselves soft-deleted) still there. ``skip`` names template resources
        left without a row; ``old_rows`` writes rows as pre-Ocata Heat did."""
        w = self.w
        sid = stack_id or (tree.root_id if owner is None else self.uuid())
        params = dict(kind.params if params is None else params)
        for p, v in list(params.items()):
            if v is None:  # per-stack secret (hidden parameter in plaintext)
                params[p] = self.secret(14)
        plan = self.plan(kind, params)
        updated = tree.updated is not None and state[0] not in ("CREATE",)
        if deleted:
            state = ("DELETE", "COMPLETE")
        created = tree.created + timedelta(seconds=3 * depth)
        t_when = tree.updated if updated else created
        if kind.files and files_id is None:
            files_id = self.files_row(kind.files, t_when)
        env_text = self.environment(kind, params, t_when)
        tmpl = self.raw_template(kind, env_text, files_id, t_when)
        prev = self.raw_template(kind, env_text, files_id, t_when) if updated and not convergence else None

        values = {**plan.defaults, **params}
        rec = _StackRec(sid, tree.root_id, name, {}, tmpl, prev, plan, kind, values)
        skip = set(skip)
        states = [None] * len(plan.order) if deleted else self.row_states(state, len(plan.order), updated)
        # A legacy DELETE removes rows from the end of the creation order; the
        # nested stacks of resources it already removed stay, soft-deleted.
        hot = next((i for i, st in enumerate(states) if st == state), len(states))
        gone = {d.name for d in plan.order[hot + 1:]} if state[0] == "DELETE" and not deleted else set()
        phys: dict[str, str | None] = {}
        child_ids: dict[str, str] = {}
        for defn, st in zip(plan.order, states):
            if defn.name in skip:
                continue
            if defn.nested and (st is not None or deleted or defn.name in gone):
                child_ids[defn.name] = phys[defn.name] = self.uuid()
            elif st is not None:
                phys[defn.name] = self.physical_id(defn.type, name, sid, tree, defn.name)
        ids: dict[str, int] = {}
        edges: list = []
        for k, (defn, st) in enumerate(zip(plan.order, states)):
            when = created + timedelta(seconds=5 * (k + 1) + 3 * depth)
            if defn.name in child_ids:
                self.nested(rec, defn, tree, child_ids[defn.name], st or ("DELETE", "COMPLETE"), phys, depth,
                            files_id, child_convergence if child_convergence is not None else convergence,
                            deleted or (when + timedelta(days=30) if defn.name in gone else None))
            if st is None or defn.name in skip:
                continue
            row = self.resource(rec, defn, tree, st, when, phys, ids, convergence, old_rows, updated)
            if convergence:
                requires = json.loads(row["requires"])
                edges.extend([[[row["id"], True], [r, True]] for r in requires] or [[[row["id"], True], None]])

        action, status = state
        culprit = plan.order[hot].name if hot < len(plan.order) else plan.order[0].name
        reason = {"COMPLETE": f"Stack {action} completed successfully", "IN_PROGRESS": f"Stack {action} started"}.get(
            status, f"Resource {action} failed: {self.failure(culprit)}")
        rec.row = w.add(
            "stack",
            id=sid,
            created_at=created,
            updated_at=tree.updated if updated else None,
            deleted_at=deleted,
            name=name,
            raw_template_id=tmpl["id"],
            prev_raw_template_id=prev["id"] if prev else None,
            user_creds_id=None if tree.creds_deleted else tree.creds_id,
            username=tree.username,
            owner_id=owner.id if owner else None,
            action=action,
            status=status,
            status_reason=reason,
            timeout=tree.timeout,
            tenant=tree.tenant_id,
            disable_rollback=True if owner else tree.disable_rollback,
            stack_user_project_id=tree.stack_user_project_id,
            backup=False,
            nested_depth=depth,
            convergence=convergence,
            current_traversal=self.uuid() if convergence else None,
            current_deps=dump_json({"edges": edges} if convergence else None),
            parent_resource_name=parent_resource,
        )
        if status == "IN_PROGRESS":
            self.lock(sid, tree.updated or created)
        if tree.events:
            self.event(sid, created, action, "IN_PROGRESS", f"Stack {action} started", name, sid,
                       "OS::Heat::Stack", None)
            if status != "IN_PROGRESS":
                self.event(sid, tree.updated or created + timedelta(minutes=3), action, status,
                           reason, name, sid, "OS::Heat::Stack", None)
        return rec

    def resource(self, rec: _StackRec, defn: _Defn, tree: _Tree, st: tuple[str, str], when: datetime, phys: dict,
                 ids: dict, convergence: bool, old_rows: bool, updated: bool) -> dict:
        """One resource row, its properties data, cached attributes, resource
        data and events."""
        w = self.w
        action, status = st
        props = _resolve(defn.properties or {}, rec.plan, rec.values, phys)
        metadata = _resolve(defn.metadata, rec.plan, rec.values, phys) if defn.metadata else {}
        rid = w.next_id("resource")
        ids[defn.name] = rid
        rpd_id = attr_id = None
        atomic = None
        complete = status == "COMPLETE"
        if not old_rows:
            rpd_id = w.next_id("resource_properties_data")
            w.add("resource_properties_data", id=rpd_id, data=dump_json(props), encrypted=False, created_at=when)
            attrs = rec.plan.attr_refs.get(defn.name)
            if attrs and complete and action != "DELETE":
                attr_id = w.next_id("resource_properties_data")
                w.add("resource_properties_data", id=attr_id, created_at=when, encrypted=False,
                      data=dump_json({a: _fake_attr(phys.get(defn.name), [a]) for a in attrs}))
                atomic = 1
        if convergence:
            atomic = (atomic or 0) + 2  # lock acquire + release per traversal
        reason = "state changed" if status != "FAILED" else self.failure(defn.name)
        deps = sorted((ids[d] for d in defn.deps if d in ids), reverse=True)
        row = w.add(
            "resource",
            id=rid,
            uuid=self.uuid(),
            nova_instance=phys.get(defn.name),
            name=defn.name,
            created_at=when,
            updated_at=(tree.updated if updated and action != "CREATE" else None),
            action=action,
            status=status,
            status_reason=reason,
            stack_id=rec.id,
            rsrc_metadata=dump_json(metadata),
            properties_data=dump_json(props) if old_rows else dump_json(None),
            properties_data_encrypted=False if old_rows else None,
            engine_id=None,
            atomic_key=atomic,
            needed_by=None if old_rows else dump_json([]),
            requires=None if old_rows else dump_json(deps if convergence else []),
            replaces=None,
            replaced_by=None,
            current_template_id=rec.template["id"] if convergence else None,
            root_stack_id=rec.root_id,
            rsrc_prop_data_id=rpd_id,
            attr_data_id=attr_id,
        )
        rec.resources[defn.name] = row
        if action != "DELETE" or status != "COMPLETE":
            self.resource_data(rid, defn.type, when)
        if tree.events:
            self.event(rec.id, when, action, "IN_PROGRESS", "state changed", defn.name, phys.get(defn.name),
                       defn.type, None)
            if status != "IN_PROGRESS":
                self.event(rec.id, when + timedelta(seconds=2), action, status, reason, defn.name,
                           phys.get(defn.name), defn.type, rpd_id)
        return row

    def nested(self, parent: _StackRec, defn: _Defn, tree: _Tree, child_id: str, st: tuple[str, str], phys: dict,
               depth: int, files_id: int | None, convergence: bool, deleted: datetime | None) -> None:
        """The nested stack behind a ResourceGroup or a provider resource. Its
        raw_template shares the parent's files row (Heat passes the parent's
        TemplateFiles down), its name is Heat's physical resource name."""
        props = _resolve(defn.properties or {}, parent.plan, parent.values, phys)
        kind = parent.kind
        if defn.nested == "group":
            rdef = props.get("resource_def", {})
            member_props = [_replace_index(rdef.get("properties", {}), i) for i in range(int(props.get("count", 1)))]
            child_kind = _kind_members(rdef.get("type", "OS::Heat::None"), member_props, kind.files, kind.file_templates)
            params: dict = {}
        else:
            child_kind = self.file_kind(kind, defn.type, defn.nested)
            params = dict(props)  # the provider's properties are the child's parameters
        rec = self.stack(
            child_kind,
            tree,
            name=f"{parent.name}-{defn.name}-{self.short_id()}",
            state=st,
            stack_id=child_id,
            params=params,
            owner=parent,
            parent_resource=defn.name,
            depth=depth + 1,
            files_id=files_id,
            convergence=convergence,
            deleted=deleted,
        )
        parent.children[defn.name] = rec

    def file_kind(self, parent: _Kind, rtype: str, fname: str) -> _Kind:
        """The kind of a provider-template child. Its environment inherits the
        parent's registry minus the mapping that led to it (as Heat's
        ``get_child_environment`` does, against recursion)."""
        registry = {k: v for k, v in parent.registry.items() if k != rtype}
        key = f"file-{fname}-" + ",".join(sorted(registry))
        if key not in self._file_kinds:
            self._file_kinds[key] = _Kind(key, "file", parent.file_templates[fname], files=parent.files,
                                          file_templates=parent.file_templates, registry=registry)
        return self._file_kinds[key]

    def lock(self, stack_id: str, when: datetime) -> None:
        """A legacy action holds the stack's lock for as long as it runs."""
        self.w.add("stack_lock", stack_id=stack_id, engine_id=self.lock_engine, created_at=when)

    # ------------------------------------------------------------ roots

    def root(self, kind: _Kind, state: tuple[str, str], *, name: str | None = None, tree: _Tree | None = None,
             tags: bool | None = None, **kw: Any) -> _StackRec:
        """A root stack and its whole tree, plus what only roots have (tags,
        snapshots)."""
        action = state[0]
        if tree is None:
            tree = self.new_tree(updated=action in ("UPDATE", "ROLLBACK") or (
                action in ("SUSPEND", "RESUME", "CHECK", "SNAPSHOT") and self.rng.random() < 0.3))
        name = name or f"{kind.prefix}-{self._root_index:05d}"
        rec = self.stack(kind, tree, name=name, state=state, **kw)
        if tags if tags is not None else self.rng.random() < 0.25:
            for tag in self.rng.sample(_TAGS, self.rng.randint(1, 2)):
                self.w.add("stack_tag", id=self.w.next_id("stack_tag"), created_at=tree.created, tag=tag,
                           stack_id=rec.id)
        if action == "SNAPSHOT":
            self.snapshot(rec, tree, state[1])
        return rec

    def snapshot(self, rec: _StackRec, tree: _Tree, status: str) -> None:
        """Legacy ``stack snapshot`` keeps the stack's abandon data in a row."""
        when = (tree.updated or tree.created) + timedelta(hours=1)
        data = {
            "id": rec.id,
            "name": rec.name,
            "action": "SNAPSHOT",
            "status": status,
            "template": rec.kind.template,
            "project_id": tree.tenant_id,
            "stack_user_project_id": tree.stack_user_project_id,
            "resources": {
                n: {"name": n, "resource_id": r["nova_instance"], "action": r["action"], "status": r["status"],
                    "metadata": json.loads(r["rsrc_metadata"]), "resource_data": {}}
                for n, r in rec.resources.items()
            },
        }
        self.w.add("snapshot", id=self.uuid(), stack_id=rec.id, name=f"{rec.name}-snap", created_at=when,
                   status=status, status_reason=rec.row["status_reason"][:255], data=dump_json(data),
                   tenant=tree.tenant_id, action="CREATE")

    def ordinary_root(self, state: tuple[str, str]) -> str:
        kinds, weights = zip(*_ORDINARY)
        make = self.rng.choices(kinds, weights)[0]
        return self.root(make(self.rng), state).id

    # ------------------------------------------------------------ engines

    def services(self) -> None:
        """heat-engine heartbeats: two workers on each of three controllers,
        all stale (engines stopped, as for an offline migration), one
        soft-deleted leftover, and with ``live_engine`` one fresh heartbeat."""
        stale = (self.now - timedelta(hours=6)) if self.now else datetime(2024, 5, 1, 12, 0, 0)
        for host in ("ctl-0", "ctl-1", "ctl-2"):
            for _ in range(2):
                eid = self.uuid()
                self.engines.append(eid)
                self.w.add("service", id=self.uuid(), engine_id=eid, host=host, hostname=host, binary="heat-engine",
                           topic="engine", report_interval=60, created_at=BASE_TIME - timedelta(days=30),
                           updated_at=stale)
        self.w.add("service", id=self.uuid(), engine_id=self.uuid(), host="ctl-old", hostname="ctl-old",
                   binary="heat-engine", topic="engine", report_interval=60,
                   created_at=BASE_TIME - timedelta(days=400), updated_at=BASE_TIME - timedelta(days=200),
                   deleted_at=BASE_TIME - timedelta(days=199))
        self.lock_engine = self.engines[0]
        if self.live_engine:
            now = self.now or datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)
            eid = self.uuid()
            self.w.add("service", id=self.uuid(), engine_id=eid, host="ctl-live", hostname="ctl-live",
                       binary="heat-engine", topic="engine", report_interval=60,
                       created_at=now - timedelta(days=1), updated_at=now)
            self.lock_engine = eid


# =========================================================================== special cases


class _Specials:
    """One method per special case; each builds a tree (or adjusts a generic
    one before it is flushed) and returns the root id recorded in
    ``Sample.special``. Every case has exactly one oddity, so a test about it
    is not disturbed by another."""

    def __init__(self, b: _Builder):
        self.b = b
        self.w = b.w

    def build(self) -> dict[str, str]:
        return {key: getattr(self, key)() for key in SPECIAL_CASES}

    # -- helpers

    def _set_state(self, rec: _StackRec, action: str, status: str, when: datetime) -> None:
        reason = {"COMPLETE": f"Stack {action} completed successfully", "IN_PROGRESS": f"Stack {action} started"}
        rec.row.update(action=action, status=status, status_reason=reason.get(status, f"Stack {action} failed"),
                       updated_at=when)

    def _set_row(self, row: dict, action: str, status: str, when: datetime, reason: str = "state changed") -> None:
        """Change a resource row's state as Heat's ``state_set`` would: a row
        that is no longer COMPLETE loses its cached attributes."""
        row.update(action=action, status=status, status_reason=reason, updated_at=when)
        if status != "COMPLETE" and row["attr_data_id"] is not None:
            attr_id = row["attr_data_id"]
            self.w.drop("resource_properties_data", lambda r: r["id"] != attr_id)
            row["attr_data_id"] = None

    def _extra_row(self, rec: _StackRec, name: str, action: str, status: str, when: datetime,
                   reason: str = "state changed") -> dict:
        """A resource row the template does not explain (same shape as any)."""
        rpd = self.w.next_id("resource_properties_data")
        self.w.add("resource_properties_data", id=rpd, data=dump_json({"name": name}), encrypted=False,
                   created_at=when)
        row = self.w.add(
            "resource", id=self.w.next_id("resource"), uuid=self.b.uuid(), nova_instance=self.b.uuid(), name=name,
            created_at=when, updated_at=when if action != "CREATE" else None, action=action, status=status,
            status_reason=reason, stack_id=rec.id, rsrc_metadata=dump_json({}), properties_data=dump_json(None),
            needed_by=dump_json([]), requires=dump_json([]), root_stack_id=rec.root_id, rsrc_prop_data_id=rpd,
        )
        return row

    # -- cases

    def failed_root(self) -> str:
        """CREATE_FAILED: one row failed, those after it were never created."""
        return self.b.root(_kind_web(), ("CREATE", "FAILED"), name="failed-root").id

    def in_progress_root(self) -> str:
        """UPDATE_IN_PROGRESS with its stack_lock held by an engine."""
        return self.b.root(_kind_app(), ("UPDATE", "IN_PROGRESS"), name="in-progress-root").id

    def nested_in_progress(self) -> str:
        """A CREATE_COMPLETE root whose provider child is UPDATE_IN_PROGRESS
        (and locked): the root looks migratable, the tree is not."""
        rec = self.b.root(_kind_app(), ("CREATE", "COMPLETE"), name="nested-in-progress")
        child = rec.children["app"]
        when = rec.row["created_at"] + timedelta(days=2)
        self._set_state(child, "UPDATE", "IN_PROGRESS", when)
        self._set_row(child.resources["server"], "UPDATE", "IN_PROGRESS", when)
        self.b.lock(child.id, when)
        return rec.id

    def backup_parent(self) -> str:
        """ROLLBACK_COMPLETE root whose failed legacy update left its backup
        stack ``name*`` (backup=1, owner_id = root, CREATE_IN_PROGRESS as
        ``Stack.__init__`` defaults it) holding the server row the update
        replaced (its own physical server, which the legacy engine would delete
        with the backup)."""
        b = self.b
        rec = b.root(_kind_web(), ("ROLLBACK", "COMPLETE"), name="backup-parent")
        tree_when = rec.row["updated_at"]
        tmpl = b.raw_template(rec.kind, rec.template["environment"], None, tree_when)
        backup_id = b.uuid()
        self.w.add("stack", id=backup_id, created_at=tree_when, name=rec.name + "*", raw_template_id=tmpl["id"],
                   user_creds_id=rec.row["user_creds_id"], username=rec.row["username"], owner_id=rec.id,
                   action="CREATE", status="IN_PROGRESS", status_reason="", timeout=rec.row["timeout"],
                   tenant=rec.row["tenant"], disable_rollback=rec.row["disable_rollback"],
                   stack_user_project_id=rec.row["stack_user_project_id"], backup=True,
                   nested_depth=rec.row["nested_depth"], convergence=False, current_deps=dump_json(None))
        src = rec.resources["server"]
        rpd = self.w.next_id("resource_properties_data")
        self.w.add("resource_properties_data", id=rpd, data=dump_json({"image": "cirros-0.6.2"}), encrypted=False,
                   created_at=tree_when)
        self.w.add("resource", **{**src, "id": self.w.next_id("resource"), "uuid": b.uuid(), "stack_id": backup_id,
                                  "nova_instance": b.uuid(), "created_at": tree_when, "rsrc_prop_data_id": rpd, "attr_data_id": None,
                                  "atomic_key": None})
        return rec.id

    def soft_deleted(self) -> str:
        """A deleted root: DELETE_COMPLETE, ``deleted_at`` set, no resource rows
        and no credentials left, its nested stack soft-deleted with it."""
        b = self.b
        tree = b.new_tree(events=True)
        tree.creds_deleted = True
        when = tree.created + timedelta(days=20)
        rec = b.root(_kind_app(), ("DELETE", "COMPLETE"), name="soft-deleted", tree=tree, deleted=when)
        self.w.drop("user_creds", lambda r: r["id"] != tree.creds_id)  # Heat deletes them with the stack
        return rec.id

    def deleted_complete_rows(self) -> str:
        """DELETE_COMPLETE rows beside active ones: one with a template name
        (not a duplicate: it is not active), one with a name the template lost."""
        rec = self.b.root(_kind_config(), ("UPDATE", "COMPLETE"), name="deleted-complete-rows")
        when = rec.row["updated_at"]
        self._extra_row(rec, "seed", "DELETE", "COMPLETE", when)
        self._extra_row(rec, "old_handle", "DELETE", "COMPLETE", when)
        return rec.id

    def stale_row(self) -> str:
        """An active CREATE_COMPLETE row whose name is not in the template (a
        resource an earlier update removed but failed to delete)."""
        rec = self.b.root(_kind_web(), ("UPDATE", "COMPLETE"), name="stale-row")
        self._extra_row(rec, "legacy_lb", "CREATE", "COMPLETE", rec.row["created_at"] + timedelta(seconds=90))
        return rec.id

    def duplicate_rows(self) -> str:
        """Two active rows named ``server``: the older CREATE_FAILED, the newer
        UPDATE_COMPLETE (``_get_best_existing_rsrc_db`` prefers the latter)."""
        rec = self.b.root(_kind_web(), ("UPDATE", "COMPLETE"), name="duplicate-rows")
        self._set_row(rec.resources["server"], "CREATE", "FAILED", rec.row["created_at"] + timedelta(minutes=1),
                      self.b.failure("server"))
        self._extra_row(rec, "server", "UPDATE", "COMPLETE", rec.row["updated_at"])
        return rec.id

    def missing_row(self) -> str:
        """A template resource (``volume``, required by ``attach``) without a row."""
        return self.b.root(_kind_web(), ("CREATE", "COMPLETE"), name="missing-row", skip=["volume"]).id

    def failed_resource(self) -> str:
        """A CREATE_COMPLETE stack with a resource marked unhealthy (CHECK_FAILED)."""
        rec = self.b.root(_kind_tiers(), ("CREATE", "COMPLETE"), name="failed-resource")
        self._set_row(rec.resources["server1"], "CHECK", "FAILED", rec.row["created_at"] + timedelta(days=3),
                      "Marked unhealthy by operator")
        return rec.id

    def updated(self) -> str:
        """UPDATE_COMPLETE after a legacy update: prev template present and
        sharing the files row with the current one; nested stacks updated too;
        plus the soft-deleted nested stack of a resource the update removed."""
        b = self.b
        tree = b.new_tree(updated=True)
        rec = b.root(_kind_app(), ("UPDATE", "COMPLETE"), name="updated", tree=tree)
        b.stack(b.file_kind(rec.kind, "My::DB", "db.yaml"), tree, name=f"{rec.name}-olddb-{b.short_id()}", state=("CREATE", "COMPLETE"), owner=rec,
                parent_resource="olddb", depth=1, files_id=rec.template["files_id"], deleted=tree.updated)
        return rec.id

    def shared_files(self) -> str:
        """One raw_template_files row used by the root's current and previous
        templates and by its nested stacks' templates (across stacks)."""
        b = self.b
        return b.root(_kind_deep(), ("UPDATE", "COMPLETE"), name="shared-files",
                      tree=b.new_tree(updated=True)).id

    def deep_nested(self) -> str:
        """Three nesting levels: provider -> ResourceGroup -> provider members."""
        return self.b.root(_kind_deep(), ("CREATE", "COMPLETE"), name="deep-nested").id

    def resource_group(self) -> str:
        return self.b.root(_kind_group(4), ("CREATE", "COMPLETE"), name="resource-group").id

    def provider_template(self) -> str:
        return self.b.root(_kind_app(), ("CREATE", "COMPLETE"), name="provider-template").id

    def cfn(self) -> str:
        return self.b.root(_kind_aws(True), ("CREATE", "COMPLETE"), name="cfn").id

    def conditions(self) -> str:
        return self.b.root(_kind_switch("prod"), ("CREATE", "COMPLETE"), name="conditions").id

    def old_rows(self) -> str:
        """Rows as Heat wrote them before Ocata: ``requires`` and ``needed_by``
        NULL, properties inline in ``properties_data``, no properties data row."""
        return self.b.root(_kind_config(), ("CREATE", "COMPLETE"), name="old-rows", old_rows=True).id

    def convergence_root(self) -> str:
        """Already on convergence (root and nested stacks)."""
        return self.b.root(_kind_app(), ("CREATE", "COMPLETE"), name="convergence-root", convergence=True).id

    def legacy_root_with_convergence_child(self) -> str:
        """A legacy root updated after ``convergence_engine`` was switched on:
        the nested stacks that update created are convergence stacks."""
        b = self.b
        return b.root(_kind_app(), ("UPDATE", "COMPLETE"), name="legacy-root-with-convergence-child",
                      tree=b.new_tree(updated=True), child_convergence=True).id

    def encrypted_condition(self) -> str:
        return self.b.root(_kind_secret(), ("CREATE", "COMPLETE"), name="encrypted-condition").id


# =========================================================================== entry point


def build_sample(
    bind: Engine,
    roots: int = 50,
    *,
    seed: int = 1,
    tenants: int = 3,
    create: bool = True,
    now: datetime | None = None,
    live_engine: bool = False,
    specials: bool = True,
) -> Sample:
    """Write a sample Heat database into ``bind`` and describe it.

    ``roots`` ordinary root stacks are built (with their nested stacks); with
    ``specials`` the special cases of ``SPECIAL_CASES`` are built on top of
    them, and ordinary roots take every state of ``STACK_STATES`` (mostly
    COMPLETE). Without ``specials`` every root is an ordinary, migratable,
    COMPLETE legacy tree (for benchmarks). ``create`` first creates Heat's
    tables. ``now`` places the engines' heartbeats (stale by default; one fresh
    one with ``live_engine``); nothing else reads the clock, so a seed always
    yields the same rows. Integer ids continue after any rows already present.
    """
    if create:
        create_schema(bind)
    rng = random.Random(seed)
    writer = _Writer(bind)
    b = _Builder(writer, rng, tenants, now, live_engine)
    b.services()
    ids: list[str] = []
    special: dict[str, str] = {}
    if specials:
        special = _Specials(b).build()
        ids.extend(special.values())
    states = list(STACK_STATES)
    in_chunk = len(ids)
    for i in range(roots):
        if not specials:
            state = rng.choices(_COMPLETE_STATES, _COMPLETE_WEIGHTS)[0]
        elif i < len(states):
            state = states[i]
        else:
            r = rng.random()
            if r < 0.85:
                state = rng.choices(_COMPLETE_STATES, _COMPLETE_WEIGHTS)[0]
            elif r < 0.95:
                state = rng.choice(_FAILED_STATES)
            else:
                state = rng.choice(_IN_PROGRESS_STATES)
        ids.append(b.ordinary_root(state))
        in_chunk += 1
        if in_chunk >= CHUNK_ROOTS:
            writer.flush()
            in_chunk = 0
    writer.flush()
    writer.fix_sequences()
    return Sample(roots=ids, special=special, counts=dict(writer.counts))
