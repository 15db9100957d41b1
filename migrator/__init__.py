"""convmig: move OpenStack Heat stacks from the legacy engine to convergence, offline,
with an append-only event log that makes every change auditable and reversible."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("convmig")
except PackageNotFoundError:  # running from a source tree without install
    __version__ = "0+unknown"
