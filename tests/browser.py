"""A real browser for the report tests: Debian's ``chromium``, headless, driven over
the DevTools protocol on ``--remote-debugging-pipe``.

Why the pipe: the protocol then needs no port, no websocket client and no
browser download (Playwright and Selenium fetch their own); the messages are
JSON separated by NUL bytes on file descriptors 3 (to the browser) and 4 (from
it). Why the protocol rather than ``--dump-dom``/``--screenshot``: only it
reports every console message, uncaught exception, Content-Security-Policy
violation and network request of the page as events, so "no console error,
no network request" is observed rather than guessed from stderr.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

CANDIDATES = ("chromium", "chromium-browser", "google-chrome")
TIMEOUT = 60.0


def find_chromium() -> str | None:
    """``CONVMIG_CHROMIUM`` or the first browser on PATH."""
    explicit = os.environ.get("CONVMIG_CHROMIUM")
    if explicit:
        return explicit
    return next((p for p in map(shutil.which, CANDIDATES) if p), None)


@dataclass
class PageLog:
    """What a page did while loading and being driven."""

    console: list[dict] = field(default_factory=list)  # console API calls (any level)
    errors: list[str] = field(default_factory=list)  # console errors, exceptions, log errors (CSP)
    requests: list[str] = field(default_factory=list)  # every URL the page asked for


class Chromium:
    """One headless browser process with one page, driven over the DevTools pipe."""

    def __init__(self, binary: str, width: int = 1280, height: int = 900):
        self.profile = tempfile.TemporaryDirectory(prefix="convmig-chromium-")
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()
        args = [binary, "--headless", "--no-sandbox", "--disable-gpu", "--remote-debugging-pipe",
                "--no-first-run", "--no-default-browser-check", "--disable-extensions",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                f"--user-data-dir={self.profile.name}", f"--window-size={width},{height}", "about:blank"]

        def wire():
            """In the child: the browser reads commands on fd 3 and writes answers on fd 4.
            Both ends are first moved above 10, so neither is overwritten by the other's
            dup2; Python's own descriptors are close-on-exec, so nothing else leaks."""
            high = [fcntl.fcntl(fd, fcntl.F_DUPFD, 10) for fd in (to_browser_r, from_browser_w)]
            os.dup2(high[0], 3)
            os.dup2(high[1], 4)
            for fd in high:
                os.close(fd)

        self.proc = subprocess.Popen(args, preexec_fn=wire, close_fds=False,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._buffer = b""
        self._next = 0
        self.log = PageLog()
        self.session = None
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.call(f"{domain}.enable")

    # -- the protocol ---------------------------------------------------------------

    def call(self, method: str, params: dict | None = None, *, timeout: float = TIMEOUT) -> dict:
        """Send one command (to the page once attached) and wait for its answer."""
        self._next += 1
        message = {"id": self._next, "method": method, "params": params or {}}
        if self.session and not method.startswith(("Target.", "Browser.")):
            message["sessionId"] = self.session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._receive(deadline)
            if reply.get("id") == self._next:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self._observe(reply)

    def wait_for(self, event: str, *, timeout: float = TIMEOUT) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            message = self._receive(deadline)
            self._observe(message)
            if message.get("method") == event:
                return message.get("params", {})

    def _receive(self, deadline: float) -> dict:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._from_browser], [], [], left)[0]:
                raise TimeoutError("chromium did not answer in time")
            chunk = os.read(self._from_browser, 1 << 20)
            if not chunk:
                raise RuntimeError("chromium closed the DevTools pipe")
            self._buffer += chunk
        raw, _, self._buffer = self._buffer.partition(b"\0")
        return json.loads(raw)

    def _observe(self, message: dict) -> None:
        """Keep what the assertions look at: console, exceptions, log errors, requests."""
        method, params = message.get("method"), message.get("params", {})
        if method == "Runtime.consoleAPICalled":
            text = " ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", []))
            self.log.console.append({"type": params.get("type"), "text": text})
            if params.get("type") in ("error", "assert"):
                self.log.errors.append(f"console.{params.get('type')}: {text}")
        elif method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            self.log.errors.append(f"exception: {details.get('exception', {}).get('description') or details.get('text')}")
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            entry = params["entry"]
            self.log.errors.append(f"{entry.get('source')}: {entry.get('text')}")
        elif method == "Network.requestWillBeSent":
            self.log.requests.append(params.get("request", {}).get("url", ""))

    # -- what the tests do ----------------------------------------------------------

    def open(self, url: str) -> None:
        """Load ``url`` and wait until its load event (the page's script has run)."""
        self.call("Page.navigate", {"url": url})
        self.wait_for("Page.loadEventFired")

    def evaluate(self, expression: str):
        """The value of a JavaScript expression in the page (JSON-serialisable)."""
        result = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True})
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails'].get('text')}")
        return result["result"].get("value")

    def screenshot(self, path: Path, *, full_page: bool = True) -> Path:
        """A PNG of the page (the whole page, up to 16,000 pixels high)."""
        params: dict = {"format": "png"}
        if full_page:
            size = self.call("Page.getLayoutMetrics")["cssContentSize"]
            params.update(captureBeyondViewport=True, clip={"x": 0, "y": 0, "width": size["width"],
                                                            "height": min(size["height"], 16000), "scale": 1})
        data = self.call("Page.captureScreenshot", params)["data"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))
        return path

    def close(self) -> None:
        try:
            self.call("Browser.close", timeout=10)
        except (RuntimeError, TimeoutError, OSError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for fd in (self._to_browser, self._from_browser):
            try:
                os.close(fd)
            except OSError:
                pass
        self.profile.cleanup()

    def __enter__(self) -> "Chromium":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
