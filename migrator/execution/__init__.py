"""Execution: the write-ahead run that changes Heat's database.

``runner`` records each batch's plans in the event log before anything is written,
takes Heat's stack locks, applies, records the outcome and recovers interrupted runs;
``apply`` is the compare-and-swap that writes a batch in one transaction; ``faults``
holds the failpoints the crash tests use; ``verify`` checks migrated trees against the
invariants of a correct migration.
"""
