#!/usr/bin/env python3
"""Drive OpenStack Heat's real engine, in one process, for convmig's interop suite.

This script runs INSIDE the Heat virtual environment (``openstack-heat`` pulls
SQLAlchemy 2.1, which convmig cannot share); the pytest suite calls it as a
subprocess and reads the JSON it prints on stdout. Heat's logs go to stderr (or
``--log FILE``).

What "in one process" means here: oslo.messaging's in-memory ``fake://``
transport carries Heat's RPC between a real ``EngineService`` (engine topic,
engine listener, convergence worker) and the RPC clients, exactly as between a
heat-api and heat-engines, but without a message bus. Keystone is replaced by
the fake client Heat itself ships for keystone-less deployments
(``keystone_backend = ...fake_keystoneclient.FakeKeystoneClient``) and a local
auth plugin, with ``deferred_auth_method = password`` so no trust is created.
Only resource types that need no other service are used.

Subcommands (each takes the database URL first; stack ids are root stacks):

  dbsync URL                      Heat's own schema migrations (alembic, db_sync)
  create URL                      the legacy fixture stacks; prints their ids and states
  heat-migrate URL ID...          Heat's own migration (Stack.migrate_to_convergence)
  converge-update URL ID...       convergence_engine=True: update every tree, wait
  converge-delete URL ID...       convergence_engine=True: delete every tree, wait
  legacy-update URL ID...         convergence_engine=False: the same, legacy engine
  legacy-delete URL ID...
  converge-retry URL ID...        update --existing (the stored template again), convergence engine
  legacy-retry URL ID...          the same, legacy engine
  states URL                      every stack and resource row (for debugging)
"""

from __future__ import annotations

import argparse
import json
import logging as pylogging
import os
import sys
import tempfile
import time
import traceback
import warnings

warnings.filterwarnings("ignore")  # eventlet, oslo and SQLAlchemy deprecations: not ours to fix

# Each Heat release starts its engine the way its heat/cmd/engine.py does, before
# importing anything that spawns threads: since 2025.2 oslo.service's threading
# backend; before it (2023.1's openstack-heat 20.0.x) eventlet's monkey-patching.
try:
    from oslo_service import backend as _oslo_backend
except ImportError:  # an eventlet release
    import eventlet

    eventlet.monkey_patch()
    THREADING = False
else:
    _oslo_backend.init_backend(_oslo_backend.BackendType.THREADING)
    THREADING = True

from oslo_config import cfg  # noqa: E402

import corpus  # noqa: E402 - this directory; the realistic networking corpus
import fake_cloud  # noqa: E402 - the cloud behind Heat, stubbed at the action handlers

CONF = cfg.CONF
PREFIX = "interop"
TENANT_ID = "interop-tenant-id"
# How long one scheduler step may sleep. Heat sleeps 1 s between the steps of a
# task (resource create, nested stack polling, ...); a shorter step keeps the
# suite fast without changing what the engine does, only how often it polls.
#: where the fake cloud keeps its state between runs (``--cloud``; None: nowhere)
CLOUD_PATH = None
STEP_SECONDS = float(os.environ.get("HEAT_DRIVER_STEP", "0.05"))
WAIT_SECONDS = float(os.environ.get("HEAT_DRIVER_TIMEOUT", "240"))


# --------------------------------------------------------------------------- templates

HOT = "2021-04-16"

LEVEL3 = {
    "heat_template_version": HOT,
    "parameters": {"seed": {"type": "string", "default": "s"}},
    "resources": {
        "r": {"type": "OS::Heat::RandomString", "properties": {"length": 6, "salt": {"get_param": "seed"}}},
        "n": {"type": "OS::Heat::None", "depends_on": "r"},
    },
    "outputs": {"out": {"value": {"get_attr": ["r", "value"]}}},
}


def level2(extra: bool = False) -> dict:
    """A provider template nesting level3.yaml (two more levels below the group)."""
    tmpl = {
        "heat_template_version": HOT,
        "parameters": {
            "index": {"type": "string", "default": "0"},
            "label": {"type": "string", "default": "l"},
        },
        "resources": {
            "inner": {"type": "level3.yaml", "properties": {"seed": {"get_param": "index"}}},
            "t": {
                "type": "OS::Heat::TestResource",
                "properties": {"value": {"str_replace": {
                    "template": "L-I",
                    "params": {"L": {"get_param": "label"}, "I": {"get_attr": ["inner", "out"]}},
                }}},
            },
        },
        "outputs": {"value": {"value": {"get_attr": ["t", "output"]}}},
    }
    if extra:
        tmpl["resources"]["more"] = {"type": "OS::Heat::None", "depends_on": ["t"]}
    return tmpl


def files(extra: bool = False) -> dict:
    return {"level3.yaml": json.dumps(LEVEL3), "level2.yaml": json.dumps(level2(extra))}


def deps_hot(step: int) -> tuple[dict, dict, dict]:
    """Every HOT dependency form: depends_on as a string and a list (also naming a
    resource a condition disables), get_resource, get_attr (with an attribute,
    inside str_replace, list_join and map_merge, without an attribute name),
    metadata references, conditions and ``if``.
    The environment enables ``g`` though the parameter default disables it, so a
    migration must read the stored environment."""
    res = {
        "a": {"type": "OS::Heat::None"},
        "b": {"type": "OS::Heat::RandomString", "properties": {"length": 8}},
        "c": {"type": "OS::Heat::TestResource", "depends_on": "a",
              "properties": {"value": {"get_resource": "b"}}},
        "d": {"type": "OS::Heat::Value", "depends_on": ["a", "c"],
              "properties": {"value": {"str_replace": {"template": "x-B", "params": {"B": {"get_attr": ["b", "value"]}}}}}},
        "e": {"type": "OS::Heat::TestResource",
              "properties": {"value": {"list_join": [",", [{"get_attr": ["c", "output"]}, "z"]]}}},
        "f": {"type": "OS::Heat::None", "metadata": {"ref": {"get_resource": "d"}}},
        "g": {"type": "OS::Heat::None", "condition": "g_on"},
        "h": {"type": "OS::Heat::TestResource", "condition": "big"},
        "i": {"type": "OS::Heat::TestResource",
              "properties": {"value": {"if": ["big", {"get_attr": ["h", "output"]}, {"get_attr": ["e", "output"]}]}}},
        "j": {"type": "OS::Heat::Value", "properties": {"type": "json", "value": {"get_attr": ["d"]}}},
        "k": {"type": "OS::Heat::None", "depends_on": ["g", "f"]},
        "m": {"type": "OS::Heat::None", "depends_on": ["h", "a"]},  # h is disabled: no edge
        "n": {"type": "OS::Heat::Value", "properties": {"type": "json", "value": {"map_merge": [
            {"e": {"get_attr": ["e", "output"]}}, {"m": {"get_resource": "m"}}]}}},
    }
    if step >= 1:  # the next update: change a property, add a resource, remove one
        res["c"]["properties"]["value"] = {"str_replace": {"template": "v2-B", "params": {"B": {"get_resource": "b"}}}}
        res["k"]["depends_on"] = ["g"]
        del res["f"]
        res["l"] = {"type": "OS::Heat::TestResource", "depends_on": "k",
                    "properties": {"value": {"get_attr": ["i", "output"]}}}
    tmpl = {
        "heat_template_version": HOT,
        "parameters": {
            "flavour": {"type": "string", "default": "small"},
            "with_g": {"type": "boolean", "default": False},
        },
        "conditions": {"g_on": {"get_param": "with_g"}, "big": {"equals": [{"get_param": "flavour"}, "big"]}},
        "resources": res,
        "outputs": {"i": {"value": {"get_attr": ["i", "output"]}}},
    }
    return tmpl, {"parameters": {"with_g": True}}, {}


def deps_cfn(step: int) -> tuple[dict, dict, dict]:
    """The CFN forms: DependsOn (string and list, and on a disabled resource), Ref
    to a resource and to a parameter, Fn::GetAtt inside Fn::Join and Fn::Select,
    Metadata, Conditions and Fn::If."""
    res = {
        "A": {"Type": "OS::Heat::RandomString"},
        "B": {"Type": "OS::Heat::TestResource", "DependsOn": "A", "Properties": {"value": {"Ref": "Mode"}}},
        "C": {"Type": "OS::Heat::TestResource", "DependsOn": ["A", "B"],
              "Properties": {"value": {"Fn::Join": ["-", [{"Ref": "A"}, {"Fn::GetAtt": ["B", "output"]}]]}}},
        "D": {"Type": "OS::Heat::None", "Condition": "IsOn", "Metadata": {"x": {"Ref": "C"}}},
        "E": {"Type": "OS::Heat::TestResource", "Properties": {"value": {"Fn::If": ["IsOn", {"Ref": "D"}, "off"]}}},
        "F": {"Type": "OS::Heat::None", "Condition": "IsOff"},
        "H": {"Type": "OS::Heat::None", "DependsOn": "F",
              "Metadata": {"sel": {"Fn::Select": ["1", ["x", {"Fn::GetAtt": ["A", "value"]}]]}}},
    }
    if step >= 1:
        res["B"]["Properties"]["value"] = "changed"
        del res["E"]
        res["G"] = {"Type": "OS::Heat::None", "DependsOn": "D"}
    tmpl = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Parameters": {"Mode": {"Type": "String", "Default": "on"}},
        "Conditions": {"IsOn": {"Fn::Equals": [{"Ref": "Mode"}, "on"]}, "IsOff": {"Fn::Not": ["IsOn"]}},
        "Resources": res,
    }
    return tmpl, {}, {}


def nested(step: int) -> tuple[dict, dict, dict]:
    """Three levels below the root: a ResourceGroup of a provider template (by
    registry name) that nests another provider template (by file name), and the
    same provider template used directly."""
    res = {
        "grp": {"type": "OS::Heat::ResourceGroup", "properties": {
            "count": 2,
            "resource_def": {"type": "My::Level2", "properties": {"index": "%index%", "label": "one"}}}},
        "prov": {"type": "level2.yaml", "properties": {"label": "solo"}},
        "out": {"type": "OS::Heat::Value",
                "properties": {"type": "comma_delimited_list", "value": {"get_attr": ["grp", "value"]}}},
        "tail": {"type": "OS::Heat::None", "depends_on": ["prov", "out"]},
    }
    if step >= 1:  # grow the group, change a member property, add a resource, remove one
        res["grp"]["properties"]["count"] = 3
        res["grp"]["properties"]["resource_def"]["properties"]["label"] = "two"
        res["tail"]["depends_on"] = ["out"]
        del res["prov"]
        res["extra"] = {"type": "OS::Heat::TestResource",
                        "properties": {"value": {"list_join": ["+", {"get_attr": ["out", "value"]}]}}}
    tmpl = {"heat_template_version": HOT, "resources": res,
            "outputs": {"values": {"value": {"get_attr": ["grp", "value"]}}}}
    return tmpl, {"resource_registry": {"My::Level2": "level2.yaml"}}, files(extra=step >= 1)


def updated(step: int) -> tuple[dict, dict, dict]:
    """Created, then updated once by the legacy engine (so it has a previous
    raw template, and so has its nested stack)."""
    res = {
        "a": {"type": "OS::Heat::None"},
        "b": {"type": "OS::Heat::TestResource", "depends_on": "a", "properties": {"value": "one"}},
        "gone": {"type": "OS::Heat::None", "depends_on": "b"},
        "sub": {"type": "level3.yaml", "properties": {"seed": "x"}},
    }
    if step >= 1:  # the legacy update
        res["b"]["properties"]["value"] = "two"
        del res["gone"]
        res["sub"]["properties"]["seed"] = "y"
        res["c"] = {"type": "OS::Heat::TestResource", "properties": {"value": {"get_attr": ["sub", "out"]}}}
    if step >= 2:  # the update after migration
        res["b"]["properties"]["value"] = "three"
        del res["c"]
        res["d"] = {"type": "OS::Heat::None", "depends_on": ["b", "sub"]}
    return {"heat_template_version": HOT, "resources": res}, {}, files()


def rolledback(step: int) -> tuple[dict, dict, dict]:
    """A legacy update that fails and is rolled back: ROLLBACK_COMPLETE."""
    res = {
        "a": {"type": "OS::Heat::None"},
        "b": {"type": "OS::Heat::TestResource", "depends_on": "a", "properties": {"value": "one"}},
    }
    if step == 1:  # the failing update
        res["b"]["properties"]["value"] = "two"
        res["x"] = {"type": "OS::Heat::TestResource", "depends_on": "b", "properties": {"fail": True}}
    if step >= 2:
        res["b"]["properties"]["value"] = "three"
        res["c"] = {"type": "OS::Heat::None", "depends_on": ["b"]}
    return {"heat_template_version": HOT, "resources": res}, {}, {}


def failed(step: int) -> tuple[dict, dict, dict]:
    res = {
        "a": {"type": "OS::Heat::None"},
        "bad": {"type": "OS::Heat::TestResource", "depends_on": "a", "properties": {"fail": True}},
    }
    return {"heat_template_version": HOT, "resources": res}, {}, {}


def inprogress(step: int) -> tuple[dict, dict, dict]:
    """Created normally; its nested stack is then left UPDATE_IN_PROGRESS, as an
    engine that died during an update leaves it."""
    res = {"a": {"type": "OS::Heat::None"}, "sub": {"type": "level3.yaml"}}
    return {"heat_template_version": HOT, "resources": res}, {}, files()


def checked(step: int) -> tuple[dict, dict, dict]:
    """Created, then checked by the legacy engine: CHECK_COMPLETE."""
    res = {
        "a": {"type": "OS::Heat::RandomString"},
        "b": {"type": "OS::Heat::TestResource", "properties": {"value": {"get_attr": ["a", "value"]}}},
    }
    if step >= 1:
        res["b"]["properties"]["value"] = "changed"
        res["c"] = {"type": "OS::Heat::None", "depends_on": "b"}
    return {"heat_template_version": HOT, "resources": res}, {}, {}


def stale(step: int) -> tuple[dict, dict, dict]:
    """Created normally; then, through Heat's own DB API, given the rows older
    releases left behind (Story 2004071): a row whose name is not in the template
    and a second, FAILED row of an existing name. Heat's migration raises
    KeyError on them; convmig refuses unless --prune-orphans."""
    res = {
        "a": {"type": "OS::Heat::None"},
        "b": {"type": "OS::Heat::TestResource", "depends_on": "a", "properties": {"value": "one"}},
        "c": {"type": "OS::Heat::None", "depends_on": "b"},
    }
    if step >= 1:
        res["b"]["properties"]["value"] = "two"
        res["d"] = {"type": "OS::Heat::None", "depends_on": ["c"]}
    return {"heat_template_version": HOT, "resources": res}, {}, {}


def mixed(step: int) -> tuple[dict, dict, dict]:
    """A legacy stack whose second nested stack was added by a legacy update run
    while the engine had convergence_engine = true: nested stacks take the option
    at their own creation, so that child is convergence under a legacy parent
    (both migrations must skip it, after checking its state)."""
    res = {
        "a": {"type": "OS::Heat::None"},
        "sub": {"type": "level3.yaml", "properties": {"seed": "one"}},
    }
    if step >= 1:
        res["sub2"] = {"type": "level3.yaml", "properties": {"seed": "two"}}
        res["b"] = {"type": "OS::Heat::TestResource", "properties": {"value": {"get_attr": ["sub2", "out"]}}}
    if step >= 2:
        del res["sub"]
        res["b"]["properties"]["value"] = {"list_join": ["-", ["v3", {"get_attr": ["sub2", "out"]}]]}
        res["c"] = {"type": "OS::Heat::None", "depends_on": ["b", "a"]}
    return {"heat_template_version": HOT, "resources": res}, {}, files()


# --------------------------------------------------------------------------- FAILED shapes (issue 19)
#
# The cloud fails the create of every resource named "broken" while the legacy
# engine builds these (fake_cloud.Cloud.failing), then heals: a retry after the
# migration can complete, as it would once an operator fixed the cause.
# Step 0 is what the legacy create makes, 1 the legacy update (where there is
# one), 2 the update after migration.

BROKEN = "broken"


def f_create(step: int) -> tuple[dict, dict, dict]:
    """CREATE_FAILED: a network created, the one after it fails."""
    res = {"net": {"type": "OS::Neutron::Net", "properties": {"name": "ok"}},
           BROKEN: {"type": "OS::Neutron::Net", "depends_on": "net", "properties": {"name": "broken"}}}
    if step >= 2:
        res["extra"] = {"type": "OS::Heat::None", "depends_on": BROKEN}
    return {"heat_template_version": HOT, "resources": res}, {}, {}


F_INNER = {"heat_template_version": HOT, "resources": {
    "net": {"type": "OS::Neutron::Net"},
    BROKEN: {"type": "OS::Neutron::Net", "depends_on": "net"}}}


def f_deep(step: int) -> tuple[dict, dict, dict]:
    """CREATE_FAILED root and nested stack: the failure is one level down."""
    res = {"a": {"type": "OS::Heat::None"}, "sub": {"type": "inner.yaml", "depends_on": "a"}}
    if step >= 2:
        res["extra"] = {"type": "OS::Heat::None", "depends_on": "sub"}
    return {"heat_template_version": HOT, "resources": res}, {}, {"inner.yaml": json.dumps(F_INNER)}


def f_update_empty(step: int) -> tuple[dict, dict, dict]:
    """UPDATE_FAILED (disable_rollback): the update adds a resource whose create
    fails; the legacy backup stack stays, empty."""
    res = {"net": {"type": "OS::Neutron::Net"}}
    if step >= 1:
        res[BROKEN] = {"type": "OS::Neutron::Net", "depends_on": "net"}
    if step >= 2:
        res["extra"] = {"type": "OS::Heat::None"}
    return {"heat_template_version": HOT, "resources": res}, {}, {}


def f_update_backup(step: int) -> tuple[dict, dict, dict]:
    """UPDATE_FAILED (disable_rollback) after a replacement: the subnet's cidr
    cannot change in place, so the legacy engine creates a new subnet and moves
    the old one into the backup stack; then the resource after it fails. The old
    subnet still exists in the cloud and still needs the network."""
    res = {"net": {"type": "OS::Neutron::Net"},
           "sub": {"type": "OS::Neutron::Subnet",
                   "properties": {"network": {"get_resource": "net"}, "cidr": "10.1.0.0/24"}}}
    if step >= 1:
        res["sub"]["properties"]["cidr"] = "10.2.0.0/24"
        res[BROKEN] = {"type": "OS::Neutron::Net", "depends_on": "sub"}
    if step >= 2:
        res["extra"] = {"type": "OS::Heat::None", "depends_on": "sub"}
    return {"heat_template_version": HOT, "resources": res}, {}, {}


def f_reset(step: int) -> tuple[dict, dict, dict]:
    """An update left IN_PROGRESS by a dead engine, then ``heat-manage
    reset_stack_status`` (Heat's own code): UPDATE_FAILED, nested stack too."""
    res = {"net": {"type": "OS::Neutron::Net"}, "sub": {"type": "inner_ok.yaml"}}
    if step >= 2:
        res["extra"] = {"type": "OS::Heat::None", "depends_on": "net"}
    inner = {"heat_template_version": HOT, "resources": {"n": {"type": "OS::Neutron::Net"}}}
    return {"heat_template_version": HOT, "resources": res}, {}, {"inner_ok.yaml": json.dumps(inner)}


FAILED_KINDS = {
    "f_create": (f_create, "failed create", False),
    "f_deep": (f_deep, "failed create one level down", False),
    "f_update_empty": (f_update_empty, "failed update, empty backup", False),
    "f_update_backup": (f_update_backup, "failed update after a replacement kept in the backup", False),
    "f_reset": (f_reset, "dead engine's update, reset_stack_status", False),
}


#: kind -> (template function, how it is made, whether a migration accepts it)
KINDS = {
    "deps_hot": (deps_hot, "create", True),
    "deps_cfn": (deps_cfn, "create", True),
    "nested": (nested, "create", True),
    "updated": (updated, "create+update", True),
    "rolledback": (rolledback, "create+failed update", True),
    "failed": (failed, "failed create", False),
    "inprogress": (inprogress, "nested left in progress", False),
    "checked": (checked, "create+check", True),
    "stale": (stale, "create+stale rows", False),
    "mixed": (mixed, "create+update adding a convergence child", True),
}

#: the realistic networking corpus (tests/interop/corpus.py): created, nothing else
CORPUS_KINDS = {kind: (fn, "create", True) for kind, fn in corpus.CORPUS.items()}
#: which kinds each fixture set holds
SETS = {"fixtures": KINDS, "corpus": CORPUS_KINDS, "failed": FAILED_KINDS}
ALL_KINDS = {**KINDS, **CORPUS_KINDS, **FAILED_KINDS}

#: the template step each kind is updated to after migration (or rollback)
NEXT_STEP = {"deps_hot": 1, "deps_cfn": 1, "nested": 1, "updated": 2, "rolledback": 2, "checked": 1, "stale": 1, "mixed": 2,
             **{kind: 1 for kind in CORPUS_KINDS}, **{kind: 2 for kind in FAILED_KINDS}}
#: extra create arguments (stack tags live in their own table; no migration may touch them)
CREATE_ARGS = {"deps_hot": {"tags": ["interop", "tagged"]}}


def kind_of(name: str) -> str:
    return name[len(PREFIX) + 1:]


# --------------------------------------------------------------------------- Heat in-process


class Heat:
    """Heat's engine service in this process, with in-memory RPC."""

    def __init__(self, url: str, convergence: bool, log: str | None, threads: bool = True):
        self.url = heat_url(url)
        self.convergence = convergence
        self._configure(log)
        self.cloud = fake_cloud.install(CLOUD_PATH)
        if threads:
            self._sqlite_transactions()
        self.srv = None

    # -- configuration -------------------------------------------------------
    def _configure(self, log: str | None) -> None:
        from oslo_log import log as oslo_logging

        oslo_logging.register_options(CONF)
        # Import what registers the options set below.
        from heat.common import config  # noqa: F401

        db_api()  # registers the [database] options
        from heat.engine.clients.os.keystone import heat_keystoneclient  # noqa: F401

        CONF([], project="heat", prog="heat-engine", default_config_files=[], default_config_dirs=[])
        handler = pylogging.FileHandler(log) if log else pylogging.StreamHandler(sys.stderr)
        handler.setFormatter(pylogging.Formatter("%(asctime)s %(threadName)s %(levelname)s %(name)s: %(message)s"))
        root = pylogging.getLogger()
        root.handlers[:] = [handler]
        root.setLevel(pylogging.INFO if log else pylogging.WARNING)
        for noisy in ("oslo_messaging", "oslo.messaging", "stevedore", "oslo_policy", "keystoneauth", "alembic", "oslo_db"):
            pylogging.getLogger(noisy).setLevel(pylogging.WARNING)

        CONF.set_override("connection", self.url, group="database")
        CONF.set_override("convergence_engine", self.convergence)
        CONF.set_override("deferred_auth_method", "password")
        CONF.set_override("keystone_backend", "heat.engine.clients.os.keystone.fake_keystoneclient.FakeKeystoneClient")
        empty_env_dir = os.path.join(tempfile.gettempdir(), "convmig-interop-heat-env")  # no global environment files
        os.makedirs(empty_env_dir, exist_ok=True)
        CONF.set_override("environment_dir", empty_env_dir)
        CONF.set_override("error_wait_time", 1)
        CONF.set_override("host", "interop-host")
        self._patch_auth()
        self._patch_sleep()

    def _sqlite_transactions(self) -> None:
        """Heat runs its engine threads against one database; SQLite allows one
        writer, and a transaction that starts reading and then writes fails at
        once (SQLITE_BUSY, no waiting) when another thread wrote meanwhile. On
        SQLite only, every transaction therefore takes the write lock when it
        begins (BEGIN IMMEDIATE instead of oslo.db's BEGIN) and waits for it:
        Heat's transactions are serialised instead of failing. PostgreSQL and
        MariaDB are untouched. (Not for db_sync: alembic opens a second
        connection inside its own transaction.)"""
        if not self.url.startswith("sqlite"):
            return
        import sqlalchemy as sa

        engine = db_api().get_engine()

        @sa.event.listens_for(engine, "connect")
        def _connect(dbapi_conn, _record):
            dbapi_conn.isolation_level = None  # no implicit BEGIN from pysqlite
            dbapi_conn.execute("PRAGMA busy_timeout = 60000")

        # oslo.db emits its own plain (deferred) BEGIN from a "begin" listener:
        # make that statement BEGIN IMMEDIATE.
        @sa.event.listens_for(engine, "before_cursor_execute", retval=True)
        def _immediate(conn, cursor, statement, parameters, context, executemany):
            if statement.strip().upper() == "BEGIN":
                statement = "BEGIN IMMEDIATE"
            return statement, parameters

    @staticmethod
    def _patch_auth() -> None:
        """No Keystone: every context authenticates through this local plugin
        (Heat's unit tests stub the same method)."""
        from keystoneauth1 import plugin

        from heat.common import context

        class LocalAuth(plugin.BaseAuthPlugin):
            def get_token(self, session, **kwargs):
                return "interop-token"

            def get_endpoint(self, session, **kwargs):
                return "http://127.0.0.1:1/v1"

            def get_user_id(self, session, **kwargs):
                return "interop-user-id"

            def get_project_id(self, session, **kwargs):
                return TENANT_ID

            def get_access(self, session):
                return LocalAccess()

            def get_auth_ref(self, session, **kwargs):
                return LocalAccess()

        class LocalAccess:
            role_names = ["member"]
            user_domain_id = "default"
            project_domain_id = "default"

        context.RequestContext._create_auth_plugin = lambda self: LocalAuth()

    @staticmethod
    def _patch_sleep() -> None:
        from heat.engine import scheduler

        original = scheduler.TaskRunner._sleep

        def short_sleep(self, wait_time):
            return original(self, None if wait_time is None else min(wait_time, STEP_SECONDS))

        scheduler.TaskRunner._sleep = short_sleep

    # -- the service ---------------------------------------------------------
    def start(self) -> None:
        """What EngineService.start does, less the heartbeat (a ``service`` row
        that would make convmig see a live engine) and less the start-up reset
        of IN_PROGRESS stacks (which would turn the in-progress fixture into
        FAILED): the engine RPC server, its listener and the convergence worker."""
        import oslo_messaging

        from heat.common import messaging, service_utils
        from heat.engine import service, worker
        from heat.rpc import api as rpc_api
        from heat.rpc import worker_api

        messaging.setup("fake://")
        srv = service.EngineService(CONF.host, rpc_api.ENGINE_TOPIC)
        srv.engine_id = service_utils.generate_engine_id()
        srv.thread_group_mgr = service.ThreadGroupManager()
        srv.listener = service.EngineListener(srv.host, srv.engine_id, srv.thread_group_mgr)
        srv.listener.start()
        srv.worker_service = worker.WorkerService(
            host=srv.host, topic=worker_api.TOPIC, engine_id=srv.engine_id, thread_group_mgr=srv.thread_group_mgr
        )
        srv.worker_service.start()
        srv.target = oslo_messaging.Target(version=srv.RPC_API_VERSION, server=srv.host, topic=srv.topic)
        srv._rpc_server = messaging.get_rpc_server(srv.target, srv)
        srv._rpc_server.start()
        srv._client = messaging.get_rpc_client(version=srv.RPC_API_VERSION)
        self.srv = srv

    def stop(self) -> None:
        """Drain: stop the RPC servers (waiting for messages in hand) and wait for
        every stack thread, as a graceful engine shutdown does."""
        srv = self.srv
        if srv is None:
            return
        srv._stop_rpc_server()
        srv.listener.stop()
        srv.worker_service.stop()
        for stack_id in list(srv.thread_group_mgr.groups):
            srv.thread_group_mgr.stop(stack_id, True)
        from heat.common import messaging

        messaging.cleanup()
        self.srv = None

    def client(self):
        from heat.rpc import client as rpc_client

        return rpc_client.EngineClient()

    @staticmethod
    def user_context():
        """The request context heat-api would build for a project member."""
        from heat.common import context

        return context.RequestContext.from_dict({
            "tenant_id": TENANT_ID,
            "tenant": "interop",
            "user_id": "interop-user-id",
            "username": "interop-user",
            "password": "interop-password",
            "roles": ["member"],
            "is_admin": False,
            "auth_url": "http://127.0.0.1:1/v3",
            "auth_token": "interop-token",
        })

    @staticmethod
    def admin_context():
        from heat.common import context

        return context.get_admin_context()


def db_api():
    """Heat's DB API module: heat.db.api since 2024.1, heat.db.sqlalchemy.api before."""
    try:
        from heat.db import api
    except ImportError:
        from heat.db.sqlalchemy import api
    return api


def heat_release() -> str:
    from importlib import metadata

    return metadata.version("openstack-heat")


def heat_url(url: str) -> str:
    """Heat (oslo.db) uses psycopg2 for PostgreSQL; convmig's URLs name psycopg 3."""
    return url.replace("postgresql+psycopg://", "postgresql+psycopg2://").replace(
        "postgresql://", "postgresql+psycopg2://")


# --------------------------------------------------------------------------- reading the database


def _rows(sql: str, **params) -> list[dict]:
    import sqlalchemy as sa

    with db_api().get_engine().connect() as conn:
        return [dict(r) for r in conn.execute(sa.text(sql), params).mappings()]


def all_stacks() -> list[dict]:
    return _rows("SELECT id, name, owner_id, action, status, status_reason, convergence, backup, "
                 "nested_depth, deleted_at, raw_template_id, prev_raw_template_id FROM stack")


def tree_ids(root_id: str, stacks: list[dict], include_deleted: bool = True) -> list[str]:
    """The root and its descendants through owner_id (backup stacks included)."""
    children: dict[str, list[dict]] = {}
    for s in stacks:
        children.setdefault(s["owner_id"], []).append(s)
    out, todo = [], [root_id]
    while todo:
        sid = todo.pop()
        out.append(sid)
        for c in children.get(sid, []):
            if include_deleted or c["deleted_at"] is None:
                todo.append(c["id"])
    return out


def enabled_resources(stack_id: str) -> list[str] | None:
    """The resource names Heat enables in the stack's current template (what a
    finished operation must have left as rows), or None when it cannot load."""
    from heat.common import context
    from heat.engine import stack as parser

    try:
        stk = parser.Stack.load(context.get_admin_context(), stack_id=stack_id)
        return sorted(stk.defn.enabled_rsrc_names())
    except Exception as exc:  # noqa: BLE001 - reported, the caller asserts on it
        return [f"<cannot load: {type(exc).__name__}: {exc}>"]


def describe_tree(root_id: str, include_deleted: bool = True) -> list[dict]:
    """Every stack of the tree with its state and resource rows; live stacks also
    with the resource names their template enables."""
    stacks = all_stacks()
    by_id = {s["id"]: s for s in stacks}
    ids = tree_ids(root_id, stacks, include_deleted)
    resources = _rows("SELECT id, stack_id, name, action, status, status_reason FROM resource")
    out = []
    for sid in ids:
        s = by_id[sid]
        out.append({
            "id": sid, "name": s["name"], "owner_id": s["owner_id"], "depth": s["nested_depth"],
            "state": f"{s['action']}_{s['status']}", "reason": s["status_reason"],
            "convergence": bool(s["convergence"]), "backup": bool(s["backup"]), "deleted": s["deleted_at"] is not None,
            "template_resources": None if s["deleted_at"] is not None else enabled_resources(sid),
            "resources": sorted(
                ({"id": r["id"], "name": r["name"], "state": f"{r['action']}_{r['status']}", "reason": r["status_reason"]}
                 for r in resources if r["stack_id"] == sid), key=lambda r: r["id"]),
        })
    return out


def wait_for(root_ids: list[str], done, what: str) -> None:
    """Poll until ``done(stack_row)`` holds for every root, then until every stack
    of every tree has left IN_PROGRESS (nested stacks finish around their parent)."""
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        stacks = {s["id"]: s for s in all_stacks()}
        roots_done = all(done(stacks[r]) for r in root_ids)
        if roots_done:
            busy = [s for r in root_ids for sid in tree_ids(r, list(stacks.values()), include_deleted=False)
                    if (s := stacks[sid])["status"] == "IN_PROGRESS" and not s["backup"]]  # a legacy backup stays so
            if not busy:
                return
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out after {WAIT_SECONDS:.0f}s waiting for {what}: " + json.dumps(
                {r: f"{stacks[r]['action']}_{stacks[r]['status']}" for r in root_ids}))
        time.sleep(0.1)


# --------------------------------------------------------------------------- subcommands


def cmd_dbsync(args) -> dict:
    """Heat's own schema: alembic since 2023.2, sqlalchemy-migrate before."""
    Heat(args.url, False, args.log, threads=False)
    try:
        from heat.db import migration
    except ImportError:  # sqlalchemy-migrate (2023.1 and older)
        api = db_api()
        api.db_sync(api.get_engine())
        return {"version": api.db_version(api.get_engine()), "heat": heat_release()}
    migration.db_sync()
    return {"version": migration.db_version(), "heat": heat_release()}


def _identity(stack_row: dict) -> dict:
    return {"stack_name": stack_row["name"], "stack_id": stack_row["id"], "tenant": TENANT_ID, "path": ""}


def learn_graphs(root_ids: list[str]) -> None:
    """Teach the fake cloud Heat's own dependency graph of every live stack of
    these trees (which resources need which)."""
    from heat.common import context
    from heat.engine import stack as parser

    stacks = all_stacks()
    admin = context.get_admin_context()
    for root in root_ids:
        for sid in tree_ids(root, stacks, include_deleted=False):
            fake_cloud.CLOUD.learn_graph(parser.Stack.load(admin, stack_id=sid))


def cmd_create(args) -> dict:
    if args.set == "corpus":
        return create_corpus(args)
    if args.set == "failed":
        return create_failed(args)
    heat = Heat(args.url, False, args.log)
    heat.start()
    try:
        ctx, client = heat.user_context(), heat.client()
        ids = {}
        for kind in KINDS:
            tmpl, env, fmap = KINDS[kind][0](0)
            args_ = {"disable_rollback": True, "timeout_mins": 10, **CREATE_ARGS.get(kind, {})}
            ident = client.create_stack(ctx, f"{PREFIX}-{kind}", tmpl, env, fmap, args_)
            ids[kind] = ident["stack_id"]
        wait_for(list(ids.values()), lambda s: s["status"] != "IN_PROGRESS", "the legacy creates")

        # One legacy update that succeeds (a previous raw template stays behind)
        # and one that fails and is rolled back (ROLLBACK_COMPLETE).
        rows = {s["id"]: s for s in all_stacks()}
        for kind, rollback in (("updated", False), ("rolledback", True)):
            tmpl, env, fmap = KINDS[kind][0](1)
            client.update_stack(ctx, _identity(rows[ids[kind]]), tmpl, env, fmap,
                                {"disable_rollback": not rollback, "timeout_mins": 10})
        client.stack_check(ctx, _identity(rows[ids["checked"]]))
        wait_for([ids["updated"], ids["rolledback"]],
                 lambda s: s["status"] != "IN_PROGRESS" and s["action"] in ("UPDATE", "ROLLBACK"), "the legacy updates")
        wait_for([ids["checked"]], lambda s: s["status"] != "IN_PROGRESS" and s["action"] == "CHECK", "the legacy check")

        # The mixed tree: a legacy update while nested stacks are created on convergence.
        CONF.set_override("convergence_engine", True)
        tmpl, env, fmap = KINDS["mixed"][0](1)
        client.update_stack(ctx, _identity(rows[ids["mixed"]]), tmpl, env, fmap, {"disable_rollback": True, "timeout_mins": 10})
        wait_for([ids["mixed"]], lambda s: s["status"] != "IN_PROGRESS" and s["action"] == "UPDATE", "the mixed update")
        CONF.set_override("convergence_engine", False)

        # Leave the nested stack of "inprogress" UPDATE_IN_PROGRESS, through Heat's
        # own object layer, as an engine that died mid-update leaves it.
        from heat.objects import stack as stack_object

        admin = heat.admin_context()
        stacks = all_stacks()
        child = next(s for s in stacks if s["owner_id"] == ids["inprogress"])
        stack_object.Stack.update_by_id(admin, child["id"], {"action": "UPDATE", "status": "IN_PROGRESS",
                                                              "status_reason": "engine went away (interop fixture)"})
        _add_stale_rows(admin, ids["stale"])
    finally:
        heat.stop()
    learn_graphs([sid for kind, sid in ids.items() if KINDS[kind][2]])
    rows = {s["id"]: s for s in all_stacks()}
    return {
        "stacks": {
            kind: {"id": sid, "name": rows[sid]["name"], "state": f"{rows[sid]['action']}_{rows[sid]['status']}",
                   "how": KINDS[kind][1], "migratable": KINDS[kind][2], "tree": describe_tree(sid)}
            for kind, sid in ids.items()
        }
    }


def create_corpus(args) -> dict:
    """The realistic networking corpus, each tree a legacy stack of its own."""
    heat = Heat(args.url, False, args.log)
    heat.start()
    try:
        ctx, client = heat.user_context(), heat.client()
        ids = {}
        for kind, (fn, _how, _ok) in CORPUS_KINDS.items():
            tmpl, env, fmap = fn(0)
            ident = client.create_stack(ctx, f"{PREFIX}-{kind}", tmpl, env, fmap,
                                        {"disable_rollback": True, "timeout_mins": 10})
            ids[kind] = ident["stack_id"]
        wait_for(list(ids.values()), lambda s: s["status"] != "IN_PROGRESS", "the legacy creates")
    finally:
        heat.stop()
    learn_graphs(list(ids.values()))
    rows = {s["id"]: s for s in all_stacks()}
    return {
        "heat": heat_release(),
        "stacks": {
            kind: {"id": sid, "name": rows[sid]["name"], "state": f"{rows[sid]['action']}_{rows[sid]['status']}",
                   "how": "create", "migratable": True, "tree": describe_tree(sid)}
            for kind, sid in ids.items()
        },
        "cloud": {"live": len(fake_cloud.CLOUD.live),
                  "needs": {fake_cloud.CLOUD.names.get(k, str(k)): sorted(fake_cloud.CLOUD.names.get(u, str(u)) for u in v)
                            for k, v in fake_cloud.CLOUD.needs.items()}},
    }


def create_failed(args) -> dict:
    """Issue 19's FAILED shapes, made by the legacy engine (see FAILED_KINDS)."""
    from heat.common import context
    from heat.objects import stack as stack_object

    heat = Heat(args.url, False, args.log)
    fake_cloud.CLOUD.failing = {BROKEN}
    heat.start()
    try:
        ctx, client = heat.user_context(), heat.client()
        ids = {}
        for kind, (fn, _how, _ok) in FAILED_KINDS.items():
            tmpl, env, fmap = fn(0)
            ident = client.create_stack(ctx, f"{PREFIX}-{kind}", tmpl, env, fmap,
                                        {"disable_rollback": True, "timeout_mins": 10})
            ids[kind] = ident["stack_id"]
        wait_for(list(ids.values()), lambda s: s["status"] != "IN_PROGRESS", "the legacy creates")
        rows = {s["id"]: s for s in all_stacks()}
        for kind in ("f_update_empty", "f_update_backup"):
            tmpl, env, fmap = FAILED_KINDS[kind][0](1)
            client.update_stack(ctx, _identity(rows[ids[kind]]), tmpl, env, fmap,
                                {"disable_rollback": True, "timeout_mins": 10})
        updates = [ids["f_update_empty"], ids["f_update_backup"]]
        wait_for(updates, lambda s: s["status"] != "IN_PROGRESS" and s["action"] == "UPDATE", "the legacy updates")
        # A dead engine's update: root and nested stack UPDATE_IN_PROGRESS, then the
        # operator's reset through Heat's own code (heat-manage reset_stack_status).
        admin = context.get_admin_context()
        for sid in tree_ids(ids["f_reset"], all_stacks(), include_deleted=False):
            stack_object.Stack.update_by_id(admin, sid, {"action": "UPDATE", "status": "IN_PROGRESS",
                                                         "status_reason": "engine went away (interop fixture)"})
        db_api().reset_stack_status(admin, ids["f_reset"])
    finally:
        heat.stop()
    fake_cloud.CLOUD.failing = set()  # the cause is fixed: a retry can complete
    learn_graphs(list(ids.values()))
    _backup_rows_need_what_their_replacements_need()
    rows = {s["id"]: s for s in all_stacks()}
    return {
        "heat": heat_release(),
        "stacks": {
            kind: {"id": sid, "name": rows[sid]["name"], "state": f"{rows[sid]['action']}_{rows[sid]['status']}",
                   "how": FAILED_KINDS[kind][1], "migratable": False, "tree": describe_tree(sid)}
            for kind, sid in ids.items()
        },
        "live": live_rows(),
    }


def _backup_rows_need_what_their_replacements_need() -> None:
    """A row a legacy update moved into a backup stack is the object it replaced:
    it still needs what its replacement needs (the old subnet still sits on the
    network), so the cloud refuses to delete those first. Heat's graph of the
    backup stack cannot say so (the backup has no rows for them)."""
    stacks = all_stacks()
    rows = _rows("SELECT id, stack_id, name FROM resource")
    cloud = fake_cloud.CLOUD
    for b in (s for s in stacks if s["backup"] and s["deleted_at"] is None):
        for old in (r for r in rows if r["stack_id"] == b["id"]):
            new = next((r for r in rows if r["stack_id"] == b["owner_id"] and r["name"] == old["name"]), None)
            for target, users in cloud.needs.items():
                if new is not None and new["id"] in users:
                    users.add(old["id"])
            cloud.names.setdefault(old["id"], f"{b['name']}/{old['name']} (replaced)")


def live_rows() -> dict[str, str]:
    """The cloud's live objects: resource row id -> stack/name (type)."""
    cloud = fake_cloud.CLOUD
    return {str(i): cloud.names.get(i, str(i)) for i in sorted(cloud.live)}


def _add_stale_rows(ctx, stack_id: str) -> None:
    """What releases before Story 2004071's fix could leave in a legacy stack,
    written through Heat's own DB API: a COMPLETE row whose name the template no
    longer has, and a FAILED second row of resource "b"."""
    common = {"stack_id": stack_id, "root_stack_id": stack_id, "requires": [], "needed_by": [],
              "properties_data": {}, "rsrc_metadata": {}}
    db_api().resource_create(ctx, {**common, "name": "retired", "action": "CREATE", "status": "COMPLETE",
                                 "status_reason": "left by an earlier update (interop fixture)", "nova_instance": "retired-1"})
    db_api().resource_create(ctx, {**common, "name": "b", "action": "UPDATE", "status": "FAILED",
                                 "status_reason": "interrupted replacement (interop fixture)"})


def cmd_heat_migrate(args) -> dict:
    """EngineService.migrate_convergence_1, step for step, minus its
    ``with ctxt.session.begin():`` line, which raises NoEngineContextEstablished
    on every release since 2024.1 (reference §1.3). Without it each DB API call
    commits on its own, as Heat's HEAD would do if that line were removed."""
    heat = Heat(args.url, False, args.log)
    from heat.common import exception, service_utils
    from heat.engine import stack as parser
    from heat.engine import stack_lock
    from heat.objects import stack as stack_object

    ctxt = heat.admin_context()  # heat-manage sends an admin context
    engine_id = service_utils.generate_engine_id()
    results = {}
    for stack_id in args.stack_ids:
        try:
            parent_stack = parser.Stack.load(ctxt, stack_id=stack_id, show_deleted=False)
            if parent_stack.owner_id is not None:
                raise exception.NotSupported(feature=f"Migration of nested stack {stack_id}")
            if parent_stack.convergence:
                results[stack_id] = {"result": "already convergence"}
                continue
            if parent_stack.status != parent_stack.COMPLETE:
                raise exception.ActionNotComplete(stack_name=parent_stack.name, action=parent_stack.action)
            db_stacks = stack_object.Stack.get_all_by_root_owner_id(ctxt, parent_stack.id)
            stacks = [parser.Stack.load(ctxt, stack_id=st.id, stack=st) for st in db_stacks]
            for st in stacks:
                if st.status != st.COMPLETE:
                    raise exception.ActionNotComplete(stack_name=st.name, action=st.action)
            stacks.append(parent_stack)
            locks = []
            try:
                for st in stacks:
                    lock = stack_lock.StackLock(ctxt, st.id, engine_id)
                    locks.append(lock)
                    lock.acquire()
                with _heat_transaction(ctxt):
                    for st in stacks:
                        if not st.convergence:
                            st.migrate_to_convergence()
            finally:
                for lock in locks:
                    lock.release()
            results[stack_id] = {"result": "migrated", "stacks": len(stacks)}
        except Exception as exc:  # noqa: BLE001 - reported to the caller as data
            results[stack_id] = {"result": "error", "error": type(exc).__name__, "message": str(exc),
                                 "traceback": traceback.format_exc(limit=4)}
    return {"results": results}


def _heat_transaction(ctxt):
    """Releases before 2024.1 (openstack-heat 22) wrap the conversion in one
    session transaction, as their migrate_convergence_1 does; later ones cannot
    (the line that would raises, reference §1.3)."""
    import contextlib

    if int(heat_release().split(".")[0]) < 22:
        return ctxt.session.begin()
    return contextlib.nullcontext()


def _operate(args, convergence: bool, operation: str) -> dict:
    heat = Heat(args.url, convergence, args.log)
    heat.start()
    try:
        ctx, client = heat.user_context(), heat.client()
        rows = {s["id"]: s for s in all_stacks()}
        before = {sid: describe_tree(sid, include_deleted=False) for sid in args.stack_ids}
        errors = {}
        for sid in args.stack_ids:
            row = rows[sid]
            try:
                if operation == "retry":  # openstack stack update --existing: the stored template again
                    client.update_stack(ctx, _identity(row), None, {}, None,
                                        {"existing": True, "disable_rollback": True, "timeout_mins": 10})
                elif operation == "update":
                    kind = kind_of(row["name"])
                    tmpl, env, fmap = ALL_KINDS[kind][0](NEXT_STEP[kind])
                    client.update_stack(ctx, _identity(row), tmpl, env, fmap, {"disable_rollback": True, "timeout_mins": 10})
                else:
                    client.delete_stack(ctx, _identity(row))
            except Exception as exc:  # noqa: BLE001
                errors[sid] = f"{type(exc).__name__}: {exc}"
        started = [s for s in args.stack_ids if s not in errors]
        if operation in ("update", "retry"):
            wait_for(started, lambda s: s["action"] in ("UPDATE", "ROLLBACK") and s["status"] != "IN_PROGRESS",
                     f"the {'convergence' if convergence else 'legacy'} updates")
        else:
            wait_for(started, lambda s: s["action"] == "DELETE" and s["status"] != "IN_PROGRESS",
                     f"the {'convergence' if convergence else 'legacy'} deletes")
    finally:
        heat.stop()
    if operation in ("update", "retry"):
        learn_graphs(started)
    return {
        "engine": "convergence" if convergence else "legacy",
        "conflicts": fake_cloud.CLOUD.conflicts,
        "live": live_rows(),
        "operation": operation,
        "errors": errors,
        "before": before,
        "after": {sid: describe_tree(sid) for sid in args.stack_ids},
    }


def cmd_states(args) -> dict:
    Heat(args.url, False, args.log)
    return {"stacks": all_stacks(), "resources": _rows("SELECT * FROM resource")}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--log", help="write Heat's log (INFO) to this file instead of warnings to stderr")
    parser.add_argument("--cloud", help="the fake cloud's state file (which resources exist, which need which)")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("dbsync", "create", "states"):
        p = sub.add_parser(name)
        p.add_argument("url")
        if name == "create":
            p.add_argument("--set", choices=sorted(SETS), default="fixtures")
    for name in ("heat-migrate", "converge-update", "converge-delete", "legacy-update", "legacy-delete",
                 "converge-retry", "legacy-retry"):
        p = sub.add_parser(name)
        p.add_argument("url")
        p.add_argument("stack_ids", nargs="+")
    args = parser.parse_args(argv)
    global CLOUD_PATH
    CLOUD_PATH = args.cloud
    handlers = {
        "dbsync": cmd_dbsync,
        "create": cmd_create,
        "states": cmd_states,
        "heat-migrate": cmd_heat_migrate,
        "converge-update": lambda a: _operate(a, True, "update"),
        "converge-delete": lambda a: _operate(a, True, "delete"),
        "legacy-update": lambda a: _operate(a, False, "update"),
        "legacy-delete": lambda a: _operate(a, False, "delete"),
        "converge-retry": lambda a: _operate(a, True, "retry"),
        "legacy-retry": lambda a: _operate(a, False, "retry"),
    }
    try:
        result = handlers[args.command](args)
        if fake_cloud.CLOUD is not None:
            fake_cloud.CLOUD.save()
        json.dump(result, sys.stdout, default=str, indent=1, sort_keys=True)
        sys.stdout.write("\n")
        code = 0
    except BaseException:  # noqa: BLE001 - reported, then the process ends at once
        traceback.print_exc()
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    pylogging.shutdown()
    # Heat's threads (RPC servers, timers, pools) are not all daemons: a normal
    # interpreter exit could wait for them, so end here.
    os._exit(code)


if __name__ == "__main__":
    main()
