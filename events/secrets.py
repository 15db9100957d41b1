"""What counts as a secret, and how it is kept out of the log and the report.

Two places need this. A run records the operator's arguments for ever, so
passwords in them (a ``--db`` URL, an option named like a password) are
replaced before the event exists. The audit report shows recorded row images,
which can hold Heat's secrets (a template environment with hidden parameters,
``user_creds.password``, redacted resource data), so those values are shown as
a digest unless the operator asks for them.
"""

from __future__ import annotations

import re
from typing import Any

from .chain import value_digest

REDACTED = "<redacted>"

#: Column or argument names whose values are secret wherever they appear.
_SECRET_NAME = re.compile(r"pass(word|wd|phrase)?$|password|secret|token|credential|private_key|cipher_key|trust_id", re.I)

#: Heat columns that can carry secrets although their names do not say so:
#: template environments (hidden parameter values), files (environment files),
#: and resource property data (hidden properties, e.g. admin_pass).
_SECRET_COLUMNS = {
    "environment",
    "files",
    "properties_data",
    ("resource_properties_data", "data"),
}

#: ``scheme://user:password@host`` in any string.
_URL_PASSWORD = re.compile(r"(?P<head>[a-zA-Z][a-zA-Z0-9+.\-]*://[^/:@\s]*:)(?P<pw>\S*)@")
#: Everything between ``://`` and the last ``@`` (greedy: a password may hold ``@`` and ``/``).
_URL_USERINFO = re.compile(r"^(?P<scheme>[a-zA-Z][a-zA-Z0-9+.\-]*://)(?P<userinfo>.*)@(?P<rest>[^@]*)$", re.S)
#: C0 and C1 control characters but tab and newline: what a terminal would act on.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def display_url(text: str, render=None) -> str:
    """A URL as it may be shown. A clean one (``user:password@`` with no ``@``,
    ``/``, ``?`` or ``#`` inside) shows its user and ``***`` for the password
    (``render`` does that, from a parsed URL); whenever the part between ``://``
    and the host cannot be parsed cleanly, all of it becomes ``***``, so a
    password holding an unencoded ``@`` or ``/`` shows none of its characters."""
    found = _URL_USERINFO.match(text)
    if found is None:
        return render() if render is not None else text
    if url_is_clean(text) and render is not None:
        try:
            return render()
        except Exception:  # noqa: BLE001 - fall through to the blunt mask
            pass
    return f"{found.group('scheme')}***@{found.group('rest')}"


def url_is_clean(text: str) -> bool:
    """Does the part between ``://`` and the host parse one way only? A password
    holding an unencoded ``@``, ``/``, ``?`` or ``#`` is split at the wrong place
    (part of it taken for the host), so such a URL is refused, not guessed at."""
    found = _URL_USERINFO.match(text)
    return found is None or not set(found.group("userinfo")) & set("@/?#")


def terminal_text(text: str) -> str:
    """``text`` without control characters: a stack or resource name from Heat's
    database holding an escape sequence must not reach a terminal raw."""
    return _CONTROL.sub("", text)


def is_secret_name(name: str) -> bool:
    """True for names like ``password``, ``db_pass``, ``client_secret``, ``trust_id``."""
    return bool(_SECRET_NAME.search(name))


def mask_urls(text: str) -> str:
    """Replace the password of every URL in ``text`` by ``***``."""
    return _URL_PASSWORD.sub(lambda m: m.group("head") + "***@", text)


def redact(value: Any, name: str = "") -> Any:
    """A copy of ``value`` fit to be recorded: secret-named entries replaced, URL passwords masked."""
    if name and is_secret_name(name) and value not in (None, "", False):
        return REDACTED
    if isinstance(value, str):
        return mask_urls(value)
    if isinstance(value, dict):
        return {k: redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact(v, name) for v in value]
    return value


def is_secret_column(table: str, column: str, row: dict | None = None) -> bool:
    """Whether a recorded column value must be shown only as a digest.

    ``resource_data.value`` is secret when its row is flagged ``redact``, as
    Heat itself treats it, and also when the flag is not at hand (an update's
    image, a drift message): unknown means secret.
    """
    if column in _SECRET_COLUMNS or (table, column) in _SECRET_COLUMNS or is_secret_name(column):
        return True
    return table == "resource_data" and column == "value" and bool((row or {}).get("redact", True))


def redact_row(table: str, row: dict | None, show_secrets: bool = False, whole: dict | None = None) -> dict | None:
    """A copy of a row image of ``table`` with every secret column as a digest.

    The one rule for every place that prints row values (plans, drift
    refusals, recovery verdicts, ``log --changes``): an operator can still see
    whether two values differ, never what they are. ``whole`` is the fuller
    row when ``row`` is part of one (an update's after-image lacks the
    ``redact`` flag that decides ``resource_data.value``).
    """
    if row is None:
        return None
    context = {**(whole or {}), **row}
    return {k: shown(v, not show_secrets and is_secret_column(table, k, context)) for k, v in row.items()}


def shown(value: Any, secret: bool) -> Any:
    """The value itself, or its digest when it is secret (NULL stays NULL)."""
    if secret and value is not None:
        return value_digest(value)
    return value
