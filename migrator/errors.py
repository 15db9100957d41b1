"""The one user-facing error type and the exit codes.

Every refusal or failure an operator should read ends up as a ``ConvmigError``
carrying a one-line message and an exit code; the CLI catches it in exactly one
place and prints it to stderr. Anything else reaching the top is a bug.
"""

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_PARTIAL = 3
#: A read-only command (log, verify, rollback --dry-run) found no event log: it created none.
EXIT_NO_LOG = 4
#: Stopped by SIGINT (128 + 2) or SIGTERM (128 + 15) at a safe point.
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143


class ConvmigError(Exception):
    """A problem the operator can act on: one line, what is wrong and what to do."""

    def __init__(self, message: str, exit_code: int = EXIT_FAILED):
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code

    def __str__(self) -> str:
        return self.message


class UsageError(ConvmigError):
    """Bad options or arguments (exit 2)."""

    def __init__(self, message: str):
        super().__init__(message, EXIT_USAGE)


class Interrupted(ConvmigError):
    """A signal asked the run to stop; it stopped between batches (exit 130 or 143)."""

    def __init__(self, signame: str, code: int):
        super().__init__(f"stopped by {signame} at a safe point: no batch half-done, locks released, "
                         "run recorded as interrupted; re-run (or --retry) to continue", code)


def exit_code(retryable: "list[bool]") -> int:
    """The documented exit code for a run whose skipped or failed trees are listed
    by whether a later run can clear them: 0 none, 3 all of them, 1 otherwise."""
    if not retryable:
        return EXIT_OK
    return EXIT_PARTIAL if all(retryable) else EXIT_FAILED
