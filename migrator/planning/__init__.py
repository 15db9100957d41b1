"""Planning: from stored stacks to the row changes of a migration, with no writes.

``deps`` reads a stored template the way Heat's engine does (which resources exist,
what each one requires); ``plan`` turns one loaded tree into a ``TreePlan`` of
``changes.RowChange``s or a refusal; ``batch`` plans many trees with shared template
readings; ``selection`` says which roots a run covers. Apart from ``batch`` and
``selection`` reading the database, everything here is pure, so ``--dry-run`` is free.
"""
