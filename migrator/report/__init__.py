"""The change record: a self-contained HTML page of a run or a dry run.

``kinds`` reads which edges a template names; ``graph`` turns a plan's row
images into a layered dependency graph; ``model`` is the page's data;
``build`` makes that data from a recorded run (``events.runrecord``) or from a
dry run's plans; ``render`` writes it through the Jinja2 template in
``templates/`` (autoescaped; style and script inlined).
"""
