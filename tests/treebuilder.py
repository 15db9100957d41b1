"""In-memory Heat trees for planner tests: rows shaped exactly like the database's."""

from __future__ import annotations

import itertools
import json
from datetime import datetime

from migrator.heat.tree import Tree

_ids = itertools.count(1)


def stack_row(sid, name, tmpl_id, *, owner=None, status="COMPLETE", action="CREATE", convergence=False,
              prev=None, backup=False, tenant="t1"):
    return {
        "id": sid, "name": name, "raw_template_id": tmpl_id, "prev_raw_template_id": prev,
        "owner_id": owner, "status": status, "action": action, "convergence": convergence,
        "backup": backup, "tenant": tenant, "deleted_at": None, "created_at": datetime(2024, 1, 1),
        "updated_at": None, "current_traversal": None, "current_deps": "null", "user_creds_id": None,
        "username": "demo", "status_reason": "", "timeout": None, "disable_rollback": True,
        "stack_user_project_id": None, "nested_depth": 0, "parent_resource_name": None,
    }


def resource_row(rid, stack_id, name, *, status="COMPLETE", action="CREATE", requires="[]", needed_by="[]",
                 replaced_by=None, updated_at=None, rsrc_prop_data_id=None, attr_data_id=None):
    return {
        "id": rid, "uuid": f"u-{rid}", "name": name, "stack_id": stack_id, "status": status, "action": action,
        "requires": requires, "needed_by": needed_by, "current_template_id": None, "replaces": None,
        "replaced_by": replaced_by, "engine_id": None, "atomic_key": 1, "root_stack_id": stack_id,
        "rsrc_prop_data_id": rsrc_prop_data_id, "attr_data_id": attr_data_id, "updated_at": updated_at,
        "created_at": datetime(2024, 1, 1), "nova_instance": None, "status_reason": "", "rsrc_metadata": "{}",
        "properties_data": None, "properties_data_encrypted": None,
    }


def template_row(tid, template, environment=None, files_id=None):
    return {"id": tid, "template": json.dumps(template), "environment": json.dumps(environment or {}),
            "files": None, "files_id": files_id, "created_at": None, "updated_at": None}


def hot(resources, version="2018-08-31", **sections):
    return {"heat_template_version": version, "resources": resources, **sections}


def single_stack_tree(template, names, *, sid="s1", status="COMPLETE", extra_rows=()):
    """A one-stack tree whose active rows are ``names`` (ids 1..n in order)."""
    st = stack_row(sid, "web", 10, status=status)
    rows = [resource_row(i + 1, sid, n) for i, n in enumerate(names)] + list(extra_rows)
    return Tree(root=st, stacks=[st], resources={sid: rows}, templates={10: template_row(10, template)})
