"""Heat's database and how to reach it: the tables convmig reads and writes (schema),
the connection and heat.conf (connection), loading stack trees (tree), Heat's stack
locks (locks) and the engines' heartbeats (engines). Which columns hold secrets is
``events.secrets``: one rule for the log and for every message that shows row values.

Nothing here decides what a migration writes; that is ``migrator.planning``.
"""
