"""Heat's database and how to reach it: the tables convmig reads and writes (schema),
the connection and heat.conf (connection), loading stack trees (tree), Heat's stack
locks (locks), the engines' heartbeats (engines) and which columns hold secrets (redact).

Nothing here decides what a migration writes; that is ``migrator.planning``.
"""
