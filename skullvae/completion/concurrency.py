"""Two small tools to use both CPU cores while the outputs are written.

* :class:`BackgroundThread` runs a function in a thread and re-raises its error
  on :meth:`~BackgroundThread.join`. Worth it for work that releases the GIL
  (SimpleITK filters and writers, zlib, large NumPy copies).
* :class:`ForkedJob` runs GIL-bound work (matplotlib) in a forked child: the child
  prepares at once, then waits for one message from the parent before it
  finishes. Where ``fork`` is unavailable it does nothing and the caller runs the
  work itself.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import threading
import weakref
from typing import Any, Callable, Iterator

#: Threads started by :class:`BackgroundThread` (a child forked while one of them runs
#: could inherit a lock it holds, e.g. an import lock, so :class:`ForkedJob` then declines).
_THREADS: "weakref.WeakSet[threading.Thread]" = weakref.WeakSet()

#: Seconds :meth:`ForkedJob.wait` waits for the child before giving up on it.
CHILD_TIMEOUT_S = 120.0

#: Environment variable: comma-separated job names (or ``all``) to run in the calling
#: thread instead (``benchmarks/concurrency_savings.py`` measures what each job saves).
SERIAL_ENV = "SKULLVAE_SERIAL"


def runs_serially(name: str) -> bool:
    """Whether the job ``name`` is to run in the caller (see :data:`SERIAL_ENV`)."""
    wanted = {w.strip() for w in os.environ.get(SERIAL_ENV, "").split(",") if w.strip()}
    return "all" in wanted or name in wanted


class BackgroundThread:
    """Run ``fn()`` in a thread; :meth:`join` returns its result or raises its error.

    Args:
        fn: the function to run (no arguments).
        name: thread name (for debugging).
    """

    def __init__(self, fn: Callable[[], Any], name: str = "skullvae-background"):
        self._fn = fn
        self._result: Any = None
        self._error: BaseException | None = None
        #: Set when ``fn`` has returned or raised (wait on it without taking the result or error).
        self.done = threading.Event()
        self._thread = None
        if runs_serially(name):
            self._run()
            return
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        _THREADS.add(self._thread)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._result = self._fn()
        except BaseException as exc:  # noqa: BLE001 - handed to the joining thread
            self._error = exc
        finally:
            self.done.set()

    def join(self) -> Any:
        """Wait for the thread.

        Returns:
            What ``fn`` returned.

        Raises:
            Whatever ``fn`` raised.
        """
        if self._thread is not None:
            self._thread.join()
        if self._error is not None:
            raise self._error
        return self._result


def wait_for_background_threads(timeout: float = CHILD_TIMEOUT_S) -> None:
    """Wait for every running :class:`BackgroundThread` (their results and errors are dropped).

    Call it before an error leaves the library: a thread still inside a C++ library
    (ONNX Runtime creating a session, SimpleITK) while the interpreter shuts down
    can abort the whole process ("terminate called without an active exception",
    SIGABRT) instead of letting it exit with its error.

    Args:
        timeout: seconds to wait for each thread at most.
    """
    current = threading.current_thread()
    for thread in list(_THREADS):
        if thread is not current and thread.is_alive():
            thread.join(timeout)


class ForkedJob:
    """``finish = prepare()`` in a forked child, then ``finish(message)`` once the parent sends it.

    The child reports only success or failure (its exit status); on failure, or
    when no child was started (:attr:`started` is False: no ``fork`` on this
    platform, or a :class:`BackgroundThread` is still running), the parent should
    run the work itself to get the result or the error.

    Args:
        prepare: called in the child at once; returns the ``finish`` callable.
        nice: raise the child's niceness by this much (lower CPU priority), for
            work that only has to be ready by the time the parent waits for it.
        name: the job's name (see :func:`runs_serially`).
    """

    def __init__(self, prepare: Callable[[], Callable[[Any], None]], nice: int = 0, name: str = "skullvae-fork"):
        self._proc = None
        self._conn = None
        if runs_serially(name) or "fork" not in multiprocessing.get_all_start_methods() or any(t.is_alive() for t in list(_THREADS)):
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


@contextlib.contextmanager
def held_log_records(name: str = "skullvae") -> Iterator[None]:
    """Hold the records logged under ``name`` (from any thread) until the body ends.

    They are handled when the body succeeds and dropped when it raises, so that an
    error that explains everything (a corrupt input found by a check running
    beside the body) is not preceded by warnings that the corrupt data caused.

    Args:
        name: the logger whose records (and its children's) are held.
    """
    held: list[logging.LogRecord] = []
    seen: set[int] = set()
    lock = threading.Lock()

    class _Hold(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:
            if record.name != name and not record.name.startswith(name + "."):
                return True
            with lock:
                if id(record) not in seen:
                    seen.add(id(record))
                    held.append(record)
            return False

    hold = _Hold()
    handlers = []
    logger: logging.Logger | None = logging.getLogger(name)
    while logger is not None:
        handlers += logger.handlers
        logger = logger.parent if logger.propagate else None
    for handler in handlers:
        handler.addFilter(hold)
    try:
        yield
    finally:
        for handler in handlers:
            handler.removeFilter(hold)
    for record in held:  # reached only when the body succeeded
        logging.getLogger(record.name).handle(record)
