"""One-line messages for errors that are not :class:`~skullvae.errors.SkullVAEError`."""

from __future__ import annotations

import errno


def os_error_message(exc: OSError) -> str:
    """One line for an error of the file system (permission, disk full, ...), with what to do."""
    where = "" if exc.filename is None else str(exc.filename)
    if exc.filename2 is not None:
        where = f"{where} -> {exc.filename2}"
    what = exc.strerror or str(exc) or type(exc).__name__
    space = "free some space or write to another disk"
    permission = "check the permissions or choose another output folder"
    hint = {errno.ENOSPC: space, errno.EDQUOT: space, errno.EFBIG: "a file size limit is set (ulimit -f)",
            errno.EACCES: permission, errno.EPERM: permission,
            errno.EROFS: "the file system is read-only: choose another output folder"}.get(exc.errno)
    if exc.errno in (errno.EEXIST, errno.ENOTDIR) and where:
        return f"cannot create {where}: {what} (a file is in the way of the folder; choose another output path)"
    verb = "cannot write " if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS) else ""
    text = f"{verb}{where}: {what}" if where else what
    return f"{text} ({hint})" if hint else text


def case_error_message(exc: BaseException) -> str:
    """The one-line reason a batch case failed."""
    from skullvae.errors import SkullVAEError

    if isinstance(exc, SkullVAEError):
        return str(exc)
    if isinstance(exc, MemoryError):
        return "out of memory"
    if isinstance(exc, OSError):
        return os_error_message(exc)
    return " ".join(f"{type(exc).__name__}: {exc}".split())
