#!/usr/bin/env python3
"""Heat's own answer for ``implicit_cases``: run INSIDE Heat's venv.

Reads a JSON list of cases on stdin ({template, environment, files,
physical_ids}); for each, stores the stack with Heat's objects in an in-memory
SQLite database (rows CREATE_COMPLETE, the given physical ids), loads it back
with ``Stack.load`` and runs Heat's own ``Stack.migrate_to_convergence``; prints
each resource's ``requires`` as names (or {"error": ...}).
"""

import json
import logging
import os
import sys
import tempfile
import warnings

warnings.filterwarnings("ignore")
logging.disable(logging.CRITICAL)

from oslo_config import cfg  # noqa: E402
from oslo_db import options  # noqa: E402

from heat.common import config  # noqa: E402,F401  (registers Heat's options)
from heat.engine.clients.os.keystone import heat_keystoneclient  # noqa: E402,F401

CONF = cfg.CONF
CONF([], project="heat", default_config_files=[], default_config_dirs=[])
CONF.set_override("deferred_auth_method", "password")
CONF.set_override("keystone_backend", "heat.engine.clients.os.keystone.fake_keystoneclient.FakeKeystoneClient")
_env_dir = os.path.join(tempfile.gettempdir(), "convmig-implicit-oracle-env")  # no global environment
os.makedirs(_env_dir, exist_ok=True)
CONF.set_override("environment_dir", _env_dir)
options.set_defaults(CONF, connection="sqlite://")

from keystoneauth1 import plugin  # noqa: E402

from heat.common import context  # noqa: E402
try:  # heat.db.api since 2024.1, heat.db.sqlalchemy.api (and .models) before
    from heat.db import api as db_api, models  # noqa: E402
except ImportError:
    from heat.db.sqlalchemy import api as db_api, models  # noqa: E402
from heat.engine import environment, stack as parser, template as templatem  # noqa: E402
from heat.objects import resource as resource_objects  # noqa: E402


class _Access:
    role_names = ["member"]
    user_domain_id = project_domain_id = "default"


class _LocalAuth(plugin.BaseAuthPlugin):
    """No Keystone (as tests/interop/heat_driver.py)."""

    def get_token(self, session, **kw):
        return "t"

    def get_endpoint(self, session, **kw):
        return "http://127.0.0.1:1/v1"

    def get_user_id(self, session, **kw):
        return "u"

    def get_project_id(self, session, **kw):
        return "oracle-tenant"

    def get_access(self, session):
        return _Access()

    def get_auth_ref(self, session, **kw):
        return _Access()


context.RequestContext._create_auth_plugin = lambda self: _LocalAuth()
models.BASE.metadata.create_all(db_api.get_engine())


def _context():
    return context.RequestContext.from_dict({
        "tenant_id": "oracle-tenant", "tenant": "oracle", "username": "u", "user_id": None, "password": "",
        "roles": [], "is_admin": False, "auth_url": "http://127.0.0.1:1/v3", "auth_token": "t",
        "trust_id": None, "region_name": None})


def run(case: dict) -> dict:
    ctx = _context()
    tmpl = templatem.Template(case["template"], files=case.get("files") or {},
                              env=environment.Environment(case.get("environment") or {}))
    st = parser.Stack(ctx, case.get("name", "oracle"), tmpl)
    st.store()
    pids = case.get("physical_ids") or {}
    for name, res in st.resources.items():
        res.store()
        if pids.get(name) is not None:
            res.resource_id_set(pids[name])
        res.state_set(res.CREATE, res.COMPLETE)
    st.state_set(st.CREATE, st.COMPLETE, "stored by the oracle")
    parser.Stack.load(ctx, stack_id=st.id).migrate_to_convergence()
    rows = resource_objects.Resource.get_all_by_stack(ctx, st.id)
    names = {r.id: r.name for r in rows.values()}
    return {r.name: sorted(names[i] for i in r.requires) for r in rows.values()}


def main() -> None:
    out = []
    for case in json.load(sys.stdin):
        try:
            out.append(run(case))
        except Exception as exc:  # reported, compared as a failure by the caller
            out.append({"error": f"{type(exc).__name__}: {exc}"})
    json.dump(out, sys.stdout, sort_keys=True)


if __name__ == "__main__":
    main()
