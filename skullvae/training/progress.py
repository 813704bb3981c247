"""Rich progress bars shared by training and data preparation."""

from __future__ import annotations

import contextlib

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn


class _NullProgress:
    def add_task(self, *args, **kwargs) -> int:
        return 0

    def advance(self, *args, **kwargs) -> None:
        pass

    def update(self, *args, **kwargs) -> None:
        pass


@contextlib.contextmanager
def make_progress(enabled: bool = True):
    """A rich :class:`Progress` (``{task.fields[info]}`` shows live losses), or a no-op.

    Args:
        enabled: False gives an object with the same methods that prints nothing (so does
            an stderr that is not a terminal).

    Yields:
        The progress object.
    """
    console = Console(stderr=True)
    if not enabled or not console.is_terminal:  # no bar in logs and pipes (rich would print its last state)
        yield _NullProgress()
        return
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  TimeRemainingColumn(), TextColumn("{task.fields[info]}"), transient=False, console=console) as bar:
        original = bar.add_task

        def add_task(description, *args, **kwargs):
            kwargs.setdefault("info", "")
            return original(description, *args, **kwargs)

        bar.add_task = add_task  # type: ignore[method-assign]
        yield bar
