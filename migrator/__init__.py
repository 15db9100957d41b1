"""convmig: move OpenStack Heat stacks from the legacy engine to convergence, offline,
with an append-only event log that makes every change auditable and reversible."""


def __getattr__(name: str) -> str:
    """``__version__`` on first use: importlib.metadata costs start-up that
    ``convmig --help`` should not pay."""
    if name != "__version__":
        raise AttributeError(f"module 'migrator' has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        value = version("convmig")
    except PackageNotFoundError:  # running from a source tree without install
        value = "0+unknown"
    globals()["__version__"] = value
    return value
