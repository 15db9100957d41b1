"""The per-aggregate hash chain: canonical JSON, event digests, and verification.

Why a chain: the database lets anyone with write access UPDATE or DELETE event
rows, and the library notices neither. Every recorded event therefore carries
``prev_hash``, the digest of the event before it in the same aggregate, and the
aggregate's ``head`` is the digest of its newest event. Recomputing the chain
from the stored rows shows an edited, deleted or reordered event.

Why canonical JSON of the *domain* payload (not the stored bytes): stored bytes
change with compression and with AES-GCM's random nonce, so the same event would
hash differently in two stores. The canonical form here is pinned by a test;
changing it invalidates every existing chain.

This module knows nothing about the database: verification takes decoded events
(with their stored position) and returns findings, so it is testable alone.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, Iterable, Iterator
from uuid import UUID

#: ``prev_hash`` of the first event of every aggregate.
GENESIS = "0" * 64
#: The hash format new events are recorded with (see ``link``). Every event
#: records its own in ``hash_format``; events recorded before formats existed
#: have none and are format 1, so logs of every earlier version still verify.
HASH_FORMAT = 2
#: The running head once an event could not be decoded: nothing after it can be checked.
UNKNOWN = "?" * 64


def _tag(value: Any) -> Any:
    """JSON for the types JSON lacks, tagged so ``b"x"`` and ``"x"`` (or a date
    and its ISO string) hash apart. ``datetime`` is checked before ``date``
    because it is a subclass of it; the freezegun fakes are subclasses too and
    so hash exactly like real values."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"$bytes": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, date):
        return {"$date": value.isoformat()}
    if isinstance(value, time):
        return {"$time": value.isoformat()}
    if isinstance(value, timedelta):
        return {"$timedelta": [value.days, value.seconds, value.microseconds]}
    if isinstance(value, Decimal):
        return {"$decimal": str(value)}
    if isinstance(value, UUID):
        return {"$uuid": str(value)}
    raise TypeError(f"cannot hash a value of type {type(value).__name__}")


def canonical(value: Any) -> bytes:
    """The one byte string a payload hashes as: sorted keys, no spaces, UTF-8.
    (The C encoder walks the payload; ``_tag`` is called only for the rare
    non-JSON values, which keeps hashing cheap for large plans.)"""
    return json.dumps(
        value, default=_tag, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def canonical_v2(value: Any) -> bytes:
    """Format 2: the same sorted keys and the same tags for bytes, dates, times,
    timedeltas and decimals as format 1, encoded by orjson (a tenth of the
    instructions of the standard library's encoder, which was the largest single
    cost of recording a plan). orjson writes a UUID as its plain string rather
    than a ``$uuid`` tag; UUIDs sit only in fields whose type the event class
    fixes. A value orjson refuses (an integer beyond 64 bits, a non-string key)
    falls back to format 1's bytes, so the digest stays a function of the value."""
    import orjson

    try:
        return orjson.dumps(value, default=_tag, option=orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_DATETIME)
    except orjson.JSONEncodeError:
        return canonical(value)


#: Hash format -> the canonical encoding it hashes.
ENCODINGS = {1: canonical, 2: canonical_v2}


def event_fields(event: Any) -> dict[str, Any]:
    """What an event's digest covers: every field but its own link.

    ``originator_id`` and ``originator_version`` are included so an event
    cannot be moved to another aggregate or position unnoticed; the timestamp
    is included so back-dating is caught too.
    """
    fields = dict(vars(event))
    fields.pop("prev_hash", None)
    return fields


def event_kind(event: Any) -> str:
    """The event's class as the digest names it (stable across modules moves)."""
    return type(event).__qualname__


def link(prev_hash: str, kind: str, fields: dict[str, Any], hash_format: int = 1) -> str:
    """The digest of one event given the digest before it, in its hash format."""
    encode = ENCODINGS.get(hash_format)
    if encode is None:
        raise ValueError(f"hash format {hash_format!r} is unknown to this convmig: verify with the version that wrote it")
    return hashlib.sha256(encode({"prev": prev_hash, "kind": kind, "fields": fields})).hexdigest()


def event_hash(event: Any) -> str:
    """Digest of a decoded (or just triggered) event carrying ``prev_hash``, in
    the format it records (1 when it records none: written before formats)."""
    return link(event.prev_hash, event_kind(event), event_fields(event), getattr(event, "hash_format", 1))


def value_digest(value: Any) -> str:
    """``sha256:<hex>`` of one value: raw bytes of str/bytes, else canonical JSON.

    Used where a secret must be comparable but not shown.
    """
    if isinstance(value, str):
        data = value.encode("utf-8")
    elif isinstance(value, (bytes, bytearray, memoryview)):
        data = bytes(value)
    else:
        data = canonical(value)
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class StoredItem:
    """One stored row of an aggregate, as verification sees it.

    ``event`` is the decoded event, or None when the row could not be decoded
    (``error`` then says why: an edit that broke the compression or cipher).
    """

    position: int
    version: int
    event: Any | None
    error: str | None = None


@dataclass(frozen=True)
class Finding:
    """One problem in one chain: which aggregate, where, what kind, in words."""

    aggregate_id: UUID
    version: int
    position: int | None
    kind: str  # "edited" | "deleted" | "reordered" | "unreadable" | "truncated"
    detail: str


@dataclass
class ChainResult:
    """The outcome of checking one aggregate's chain."""

    aggregate_id: UUID
    head: str
    version: int
    findings: list[Finding]


def verify_chain(aggregate_id: UUID, items: Iterable[StoredItem]) -> ChainResult:
    """Recompute one aggregate's chain from its stored rows, in version order.

    Detects: a missing version (deleted), a link that does not match the
    recomputed digest of the event before it (edited), positions that do not
    grow with versions (reordered), and rows that cannot be decoded.
    """
    head, expect, previous, findings = GENESIS, 1, None, []
    for item in items:
        gap = list(_gap(aggregate_id, expect, item))
        findings.extend(gap)
        findings.extend(_order(aggregate_id, previous, item))
        if item.event is None:
            findings.append(Finding(aggregate_id, item.version, item.position, "unreadable", item.error or "cannot decode"))
            head = UNKNOWN  # every later link is unverifiable
        else:
            if not gap:  # after a gap the broken link is expected, not news
                findings.extend(_link(aggregate_id, head, previous, item))
            head = event_hash(item.event)
        expect, previous = item.version + 1, item
    return ChainResult(aggregate_id, head, expect - 1, findings)



def _gap(aggregate_id: UUID, expect: int, item: StoredItem) -> Iterator[Finding]:
    """A version jump means rows were deleted (or renumbered)."""
    if item.version > expect:
        missing = f"v{expect}" if item.version == expect + 1 else f"v{expect}..v{item.version - 1}"
        yield Finding(aggregate_id, expect, item.position, "deleted", f"{missing} missing before v{item.version}")


def _order(aggregate_id: UUID, previous: StoredItem | None, item: StoredItem) -> Iterator[Finding]:
    """Events are appended in version order, so positions must grow with versions."""
    if previous is not None and item.position < previous.position:
        yield Finding(
            aggregate_id,
            item.version,
            item.position,
            "reordered",
            f"v{item.version} is at position {item.position}, before v{previous.version} at position {previous.position}",
        )


def _link(aggregate_id: UUID, head: str, previous: StoredItem | None, item: StoredItem) -> Iterator[Finding]:
    """The stored link must equal the recomputed digest of the previous event.

    A mismatch is reported at the previous event (its content no longer hashes
    to what its successor recorded), which is where an edit usually is.
    """
    prev = getattr(item.event, "prev_hash", None)
    if prev is None:
        yield Finding(aggregate_id, item.version, item.position, "edited", f"v{item.version} carries no prev_hash")
    elif head != UNKNOWN and prev != head:
        if previous is None:
            yield Finding(aggregate_id, item.version, item.position, "edited", f"v{item.version} does not start the chain")
        else:
            yield Finding(
                aggregate_id,
                previous.version,
                previous.position,
                "edited",
                f"v{previous.version} no longer hashes to the prev_hash v{item.version} recorded "
                f"(v{previous.version} was edited, or v{item.version}'s link was)",
            )
