"""convmig's append-only, hash-chained event log (imports nothing from migrator/ or rollback/).

    log = EventLog.open(url)                     # Heat's DB by default; creates convmig_ tables
    run = log.start_run(command="migrate", ...)  # a Run aggregate (unsaved)
    hist = log.stack_or_new(stack_id, name)      # a StackHistory aggregate
    hist.planned(run.id, direction="migrate", changes=[...], summary={...})
    run.cover([stack_id])                        # every stack the run records events for
    log.save(run, hist)                          # atomic; StackBusy if another process won
    ... apply in Heat's DB ...
    hist.applied(run.id); log.save(hist)

Modules: ``domain`` (aggregates and events), ``chain`` (canonical JSON and the
hash chain), ``store`` (the eventsourcing Application and storage config),
``index`` (small lookup tables kept beside the log), ``eventlog`` (the
``EventLog`` facade), ``report`` (``convmig log``), ``secrets`` (redaction).

Operating notes:

* Tables: ``convmig_events`` (the record), ``convmig_stacks`` and
  ``convmig_runs`` (an index, rebuildable with ``EventLog.rebuild_index``).
  The library only ever INSERTs events; ``convmig log --verify`` detects rows
  edited, deleted or reordered behind its back, and prints each chain's head:
  keep that output elsewhere, it is the only defence against cutting off the
  newest events together with the index.
* Encryption at rest (optional): ``pip install 'convmig[crypto]'`` (or have
  the ``cryptography`` package), then set ``CONVMIG_CIPHER_KEY`` to base64 of
  32 random bytes, or ``CONVMIG_CIPHER_KEY_FILE`` to a file holding it. The
  same key must be given to every later command; losing it loses the log.
* MySQL/MariaDB: strict ``sql_mode`` and ``max_allowed_packet`` >= 16 MiB are
  required; one stored (compressed) event can then be up to about 8 MB, which
  holds a template of tens of MB. An older ``convmig_events`` whose ``state``
  is BLOB/MEDIUMBLOB is refused with the ALTER TABLE to run.
"""

import importlib

#: Where each public name lives. Imported on first use (PEP 562), so a module that
#: only needs ``events.secrets`` (URL masking for Heat's connection) does not load
#: the event store and the eventsourcing library: ``convmig status`` stays light.
_HOME = {
    "GENESIS": "chain",
    "DIRECTIONS": "domain", "RECOVERY_OUTCOMES": "domain", "RUN_OUTCOMES": "domain", "Run": "domain",
    "StackHistory": "domain", "stack_aggregate_id": "domain",
    "EventStoreError": "errors", "HistoryUnverified": "errors", "NoEventLog": "errors", "StackBusy": "errors",
    "Unverified": "errors",
    "EventLog": "eventlog", "RunNotFound": "eventlog",
}


def __getattr__(name: str):
    if name in _HOME:
        value = getattr(importlib.import_module(f".{_HOME[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "RunNotFound",
    "DIRECTIONS",
    "GENESIS",
    "RECOVERY_OUTCOMES",
    "RUN_OUTCOMES",
    "EventLog",
    "EventStoreError",
    "HistoryUnverified",
    "NoEventLog",
    "Run",
    "StackBusy",
    "StackHistory",
    "Unverified",
    "stack_aggregate_id",
]
