"""Progress on stderr, only when stderr is a terminal (nothing on a pipe or in CI)."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    """``done/total trees  rate/s  ETA`` on one rewritten line."""

    def __init__(self, total: int | None, label: str = "trees", stream: TextIO | None = None):
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty()
        self.total = total
        self.label = label
        self.done = 0
        self.started = time.monotonic()

    def advance(self, n: int) -> None:
        self.done += n
        if not self.enabled:
            return
        elapsed = max(time.monotonic() - self.started, 1e-6)
        rate = self.done / elapsed
        line = f"{self.done}"
        if self.total:
            remaining = max(self.total - self.done, 0)
            eta = remaining / rate if rate else 0
            line += f"/{self.total} {self.label}  {rate:,.0f}/s  ETA {int(eta // 60)}m{int(eta % 60):02d}s"
        else:
            line += f" {self.label}  {rate:,.0f}/s"
        self.stream.write("\r" + line.ljust(60))
        self.stream.flush()

    def close(self) -> None:
        if self.enabled and self.done:
            self.stream.write("\n")
            self.stream.flush()
