"""Take the README's screenshot of a report: the top of the page, one tree opened.

    convmig demo /tmp/demo.sqlite --force          # writes /tmp/demo-report.html
    python docs/screenshot.py /tmp/demo-report.html deep-nested docs/report.png

Opens the page in headless chromium (``tests/browser.py``), types NAME into the
page's own Find box and opens the tree it leaves, as a reader would, then
captures the page from the top down to the end of that tree.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from browser import Chromium, find_chromium  # noqa: E402


def main(page: str, name: str, out: str) -> None:
    with Chromium(find_chromium() or "chromium", width=1100, height=900) as b:
        b.open(Path(page).resolve().as_uri())
        bottom = b.evaluate(f"""(() => {{
            const box = document.getElementById('filter');
            box.value = {json.dumps(name)}; box.dispatchEvent(new Event('input'));
            const tree = Array.from(document.querySelectorAll('details.tree')).find(d => !d.hidden);
            tree.open = true; tree.dispatchEvent(new Event('toggle'));
            const graph = tree.querySelector('svg.graph').getBoundingClientRect();
            return Math.ceil(graph.bottom + window.scrollY + 12); }})()""")
        assert not b.log.errors, b.log.errors
        data = b.call("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True,
                                                 "clip": {"x": 0, "y": 0, "width": 1100, "height": bottom, "scale": 1}})["data"]
    import base64

    Path(out).write_bytes(base64.b64decode(data))


if __name__ == "__main__":
    main(*sys.argv[1:4])
