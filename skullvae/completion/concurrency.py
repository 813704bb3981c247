""":class:`ForkedJob`: GIL-bound work (matplotlib's preview) in a forked child.

The child prepares at once, then waits for one message from the parent before it
finishes. Where ``fork`` is unavailable, or the job is named in
:data:`SERIAL_ENV`, it does nothing and the caller runs the work itself. It is the
only job ``complete`` runs beside its stages: it saves 26 % of a 512³ case's wall
time (``benchmarks/concurrency_savings.py``); threads for the integrity check, the
model load, imports and volume writes saved less and were removed.
"""

from __future__ import annotations

import multiprocessing
import os
from typing import Any, Callable

#: Seconds :meth:`ForkedJob.wait` waits for the child before giving up on it.
CHILD_TIMEOUT_S = 120.0

#: Environment variable: comma-separated job names (or ``all``) to run in the calling
#: thread instead (``benchmarks/concurrency_savings.py`` measures what each job saves).
SERIAL_ENV = "SKULLVAE_SERIAL"


def runs_serially(name: str) -> bool:
    """Whether the job ``name`` is to run in the caller (see :data:`SERIAL_ENV`)."""
    wanted = {w.strip() for w in os.environ.get(SERIAL_ENV, "").split(",") if w.strip()}
    return "all" in wanted or name in wanted


class ForkedJob:
    """``finish = prepare()`` in a forked child, then ``finish(message)`` once the parent sends it.

    The child reports only success or failure (its exit status); on failure, or
    when no child was started (:attr:`started` is False: no ``fork`` on this
    platform, or the job runs serially), the parent should run the work itself to
    get the result or the error. Start it before any thread: a child forked while
    another thread holds a lock (an import lock) could inherit it.

    Args:
        prepare: called in the child at once; returns the ``finish`` callable.
        nice: raise the child's niceness by this much (lower CPU priority), for
            work that only has to be ready by the time the parent waits for it.
        name: the job's name (see :func:`runs_serially`).
    """

    def __init__(self, prepare: Callable[[], Callable[[Any], None]], nice: int = 0, name: str = "skullvae-fork"):
        self._proc = None
        self._conn = None
        if runs_serially(name) or "fork" not in multiprocessing.get_all_start_methods():
            return
        ctx = multiprocessing.get_context("fork")
        receive, self._conn = ctx.Pipe(duplex=False)
        self._proc = ctx.Process(target=_child_main, args=(prepare, receive, self._conn, nice), daemon=True)
        self._proc.start()
        receive.close()

    @property
    def started(self) -> bool:
        """Whether a child is running the job."""
        return self._proc is not None

    def send(self, message: Any) -> None:
        """Let the child finish with ``message`` (picklable)."""
        if self._conn is not None:
            try:
                self._conn.send(message)
            except OSError:  # the child is gone; wait() reports the failure
                pass

    def wait(self, timeout: float = CHILD_TIMEOUT_S) -> bool:
        """Wait for the child (at most ``timeout`` s); True when it finished the job successfully."""
        if self._proc is None:
            return False
        self._proc.join(timeout)
        if self._proc.exitcode is None:  # stuck: give up on it
            self.cancel()
            return False
        self._close()
        return self._proc.exitcode == 0

    def cancel(self) -> None:
        """Stop the child (if any) and wait for it."""
        if self._proc is None:
            return
        if self._proc.is_alive():
            self._proc.kill()
        self._proc.join()
        self._close()

    def _close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def _child_main(prepare, receive, send_end, nice: int) -> None:
    send_end.close()  # the parent's end: a closed pipe then means the parent is gone
    code = 1
    if nice:
        try:
            os.nice(nice)
        except OSError:  # not permitted here: same priority
            pass
    try:
        finish = prepare()
        message = receive.recv()
        finish(message)
        code = 0
    except BaseException:  # noqa: BLE001 - the parent re-runs the job to report the error
        pass
    os._exit(code)  # no atexit handlers of the parent's state in the child
