"""Keeping secrets out of output.

Heat stores secrets in a few columns: hidden parameter values in a template's
environment, user credentials, resource properties (legacy ``properties_data``
and ``resource_properties_data.data``) and resource_data values. Output shows
these only as a digest, so an operator can still tell whether two values
differ without reading them.
"""

from __future__ import annotations

import hashlib
from typing import Any

SECRET_COLUMNS = {
    "raw_template": {"environment"},
    "resource": {"properties_data"},
    "resource_properties_data": {"data"},
    "resource_data": {"value"},
    "user_creds": {"password", "trust_id"},
}


def digest(value: Any) -> str:
    """A short, stable stand-in for a secret value."""
    text = value if isinstance(value, str) else repr(value)
    return "sha256:" + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def redact_row(table: str, row: dict | None) -> dict | None:
    """A copy of ``row`` with the table's secret columns replaced by digests."""
    if row is None:
        return None
    secret = SECRET_COLUMNS.get(table, set())
    return {k: (digest(v) if k in secret and v is not None else v) for k, v in row.items()}
