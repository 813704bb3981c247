"""Rich consoles for command output: wrapped for a terminal, never hard-wrapped otherwise.

Rich wraps at 80 columns when the stream is not a terminal, which splits numbers
across lines in logs and pipes; there a line is kept whole.
"""

from __future__ import annotations

import sys

from rich.console import Console

#: Width used when the output is not a terminal (wide enough that no line wraps).
PIPE_WIDTH = 10_000


def make_console(stderr: bool = False) -> Console:
    """A console on stdout (or stderr) that hard-wraps only on a terminal.

    Args:
        stderr: write to stderr instead of stdout.

    Returns:
        The console.
    """
    stream = sys.stderr if stderr else sys.stdout
    isatty = getattr(stream, "isatty", None)
    if isatty is not None and isatty():
        return Console(stderr=stderr)
    return Console(stderr=stderr, width=PIPE_WIDTH, soft_wrap=True)
