"""Sample legacy Heat databases for the demo, the tests and the benchmarks.

``build`` writes the stacks, resources and templates; ``catalogue`` holds the
templates it draws from (every dependency form, nesting and special case).
"""
