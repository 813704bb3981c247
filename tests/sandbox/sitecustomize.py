"""A sandbox for one Python process (and the children it forks), loaded through PYTHONPATH.

It stands in for ``docker run --network none --read-only --tmpfs /tmp -v in:/input:ro``
where no Docker engine runs (tests/test_docker_entrypoint.py):

* **no network**: creating an internet socket (``AF_INET``, ``AF_INET6``) or looking up a
  host name fails with ``ENETUNREACH``, as under ``--network none``;
* **writes only where allowed**: a Python audit hook sees every ``open`` for writing,
  ``mkdir``, ``rename``, ``remove``, ``link``, ``chmod`` ...; one whose path is not under
  ``SANDBOX_WRITABLE`` (``os.pathsep``-separated folders) is refused with ``EROFS``.

Every refusal is also appended to ``SANDBOX_LOG``, so a refusal that some library
catches and hides still fails the test. (Running as root, ``chmod`` alone would not stop
a write; native code that writes without Python's ``open`` is not seen by the hook,
which is why the test also checks that the read-only folders are unchanged.)
"""

from __future__ import annotations

import errno
import os
import socket
import sys

_ALLOWED = [os.path.realpath(p) for p in os.environ.get("SANDBOX_WRITABLE", "").split(os.pathsep) if p]
_LOG_FD = os.open(os.environ["SANDBOX_LOG"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600) \
    if os.environ.get("SANDBOX_LOG") else None
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
_PATH_EVENTS = {  # audit event -> indices of the path arguments that get written
    "os.mkdir": (0,), "os.rename": (0, 1), "os.remove": (0,), "os.rmdir": (0,), "os.link": (1,),
    "os.symlink": (1,), "os.chmod": (0,), "os.chown": (0,), "os.truncate": (0,), "os.utime": (0,),
    "shutil.copyfile": (1,), "shutil.copytree": (1,), "shutil.rmtree": (0,), "shutil.move": (0, 1),
}
_NET_FAMILIES = {socket.AF_INET, socket.AF_INET6}


def _refuse(code: int, message: str):
    if _LOG_FD is not None:
        os.write(_LOG_FD, f"{os.getpid()} {message}\n".encode())
    raise OSError(code, message)


def _allowed(path) -> bool:
    if isinstance(path, int) or path is None:
        return True  # a file descriptor opened earlier (checked then)
    text = os.fsdecode(path)
    if text in (os.devnull, "/dev/stdout", "/dev/stderr"):
        return True
    real = os.path.realpath(text)
    return any(real == root or real.startswith(root + os.sep) for root in _ALLOWED)


def _hook(event: str, args: tuple) -> None:
    if event == "open":
        path, mode, flags = args
        writes = any(c in mode for c in "wax+") if isinstance(mode, str) else bool((flags or 0) & _WRITE_FLAGS)
        if writes and not _allowed(path):
            _refuse(errno.EROFS, f"sandbox: write outside the writable folders: {os.fsdecode(path)}")
    elif event in _PATH_EVENTS:
        for k in _PATH_EVENTS[event]:
            if k < len(args) and not _allowed(args[k]):
                _refuse(errno.EROFS, f"sandbox: {event} outside the writable folders: {os.fsdecode(args[k])}")
    elif event == "socket.__new__" and len(args) > 1 and args[1] in _NET_FAMILIES:
        _refuse(errno.ENETUNREACH, "sandbox: network disabled (internet socket)")
    elif event in ("socket.getaddrinfo", "socket.gethostbyname", "socket.gethostbyname_ex", "socket.gethostbyaddr"):
        _refuse(errno.ENETUNREACH, f"sandbox: network disabled ({event} {args[0]!r})")
    elif event == "socket.connect":
        _refuse(errno.ENETUNREACH, f"sandbox: network disabled (connect to {args[1]!r})")


sys.addaudithook(_hook)
