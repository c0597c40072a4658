"""Sub-commands of the ``videosense`` command line that work on stored results (``find``,
``faces``). Each module adds its parser and runs it, returning the exit code."""

from __future__ import annotations

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def error(message: str) -> None:
    """Report a problem on stderr, in the command line's one-line format."""
    import sys

    print(f"videosense: error: {message}", file=sys.stderr, flush=True)
