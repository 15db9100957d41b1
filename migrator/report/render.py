"""The page: a ``Report`` through one Jinja2 template, autoescaped, into one file.

The file is self-contained: its stylesheet and script are inlined from package
data, it loads nothing (a Content-Security-Policy of ``default-src 'none'``
lets only the page's own style and script run, pinned by their digests), so
it reads offline and prints to PDF. Row values reach the page only through
autoescaped expressions and ``tojson`` (which escapes ``<``, ``>``, ``&`` and
``'``), and the script writes them with ``textContent``, never as markup.

The page is written as the template generates it, tree by tree, so a
10,000-tree report is never held as one string.
"""

from __future__ import annotations

import base64
import hashlib
from importlib import resources
from typing import IO

import jinja2
from markupsafe import Markup

from migrator.report.model import Report

TEMPLATE = "report.html.j2"


def _asset(name: str) -> str:
    return resources.files("migrator.report").joinpath("templates", name).read_text(encoding="utf-8")


def _digest(text: str) -> str:
    """The CSP source expression that allows exactly this inline text."""
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii") + "'"


def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("migrator.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["json_script"] = json_script
    return env


#: Characters that could end a <script> element or start markup, as JSON escapes:
#: in JSON text they occur only inside strings, where the escape means the same.
_SCRIPT_SAFE = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "'": "\\u0027"})


def json_script(text: str) -> Markup:
    """JSON text made safe inside ``<script type="application/json">`` (what
    Jinja2's ``tojson`` does to the JSON it makes itself)."""
    return Markup(text.translate(_SCRIPT_SAFE))


def write(report: Report, out: IO[str]) -> None:
    """Render ``report`` into the open text file ``out``."""
    style, script = _asset("report.css"), _asset("report.js")
    template = environment().get_template(TEMPLATE)
    csp = f"default-src 'none'; style-src {_digest(style)}; script-src {_digest(script)}; img-src data:"
    for chunk in template.generate(report=report, style=style, script=script, csp=csp):
        out.write(chunk)


def render(report: Report) -> str:
    """The whole page as one string (tests and small reports)."""
    import io

    buffer = io.StringIO()
    write(report, buffer)
    return buffer.getvalue()
