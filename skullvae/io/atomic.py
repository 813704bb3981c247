"""Atomic file writes: write to a temporary sibling, then ``os.replace``.

A reader never sees a half-written output, and an error leaves nothing behind.

Temporary names carry the writer's process id and host,
``.<name>.tmp-<pid>-<host>-<random>[suffix]``, so that a process killed before it
could clean up (SIGKILL, power loss) leaves temporaries that a later write of the
same output can prove stale and remove: same host, that process no longer exists,
and untouched for :data:`STALE_AGE_S` seconds (see :func:`remove_stale_temporaries`).
"""

from __future__ import annotations

import contextlib
import errno
import os
import platform
import re
import shutil
import tempfile
import time
from pathlib import Path
from typing import Iterator

from skullvae.errors import SkullVAEError


def check_writable(path: str | os.PathLike, overwrite: bool = False) -> Path:
    """Refuse to clobber an existing output unless ``overwrite`` is set.

    Args:
        path: output path.
        overwrite: allow replacing an existing file.

    Returns:
        The path as a :class:`Path`.
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise SkullVAEError(f"output exists: {path} (pass --overwrite to replace it)")
    if path.is_dir():
        raise SkullVAEError(f"output is a directory: {path}")
    return path


#: A temporary of a dead process is removed once untouched for this long (seconds).
STALE_AGE_S = 600.0


def _host_tag() -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", platform.node() or "host")[:40]


def temp_prefix(base: str, kind: str = "tmp") -> str:
    """``.<base>.<kind>-<pid>-<host>-``: the prefix of this process's temporaries for ``base``."""
    return f".{base}.{kind}-{os.getpid()}-{_host_tag()}-"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def remove_stale_temporaries(folder: str | os.PathLike, base: str, suffix: str = "",
                             max_age_s: float = STALE_AGE_S) -> list[Path]:
    """Remove temporaries of ``base`` in ``folder`` left by processes that no longer exist.

    Only names made by :func:`temp_prefix` are considered (``.<base>.tmp-`` or
    ``.<base>.old-``, then pid, host, random part, then ``suffix``), and only those
    of this host whose process is gone and which nobody touched for ``max_age_s``
    seconds. Anything else (other names, live processes, other hosts, fresh
    files) is left alone.

    Args:
        folder: the folder that holds the output.
        base: the output's base name (what :func:`temp_prefix` was given).
        suffix: the temporaries' suffix (e.g. ``.safetensors``), for files.
        max_age_s: minimum age (seconds since the last modification).

    Returns:
        The removed paths.
    """
    pattern = re.compile(rf"^\.{re.escape(base)}\.(?:tmp|old)-(\d+)-([A-Za-z0-9_]+)-[A-Za-z0-9_]+{re.escape(suffix)}$")
    host, now, removed = _host_tag(), time.time(), []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        match = pattern.match(entry.name)
        if match is None or match.group(2) != host:
            continue
        pid = int(match.group(1))
        if pid == os.getpid() or _pid_alive(pid):
            continue
        try:
            if now - entry.stat(follow_symlinks=False).st_mtime < max_age_s:
                continue
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path)
            else:
                os.unlink(entry.path)
        except OSError:  # gone already, or not ours to remove after all
            continue
        removed.append(Path(entry.path))
    return removed


def _with_filename(exc: OSError, path: Path) -> OSError:
    """``exc`` naming ``path`` when it names no file (or only a temporary)."""
    if exc.filename is None or (Path(str(exc.filename)).name.startswith(".") and Path(str(exc.filename)).parent == path.parent):
        new = OSError(exc.errno, exc.strerror or str(exc), str(path))
        return new
    return exc


def disk_full(path: str | os.PathLike, needed_bytes: int = 1 << 20) -> bool:
    """True when the file system holding ``path`` has less than ``needed_bytes`` free."""
    try:
        return shutil.disk_usage(Path(path).parent if not Path(path).is_dir() else path).free < needed_bytes
    except OSError:
        return False


def disk_full_error(path: str | os.PathLike) -> OSError:
    """The ``OSError`` (ENOSPC) of a write to ``path`` that ran out of space."""
    return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, overwrite: bool = True) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; move it into place on success.

    The temporary name keeps the full suffix (``.nii.gz``) so that writers that
    dispatch on the extension still work.

    Args:
        path: final output path.
        overwrite: allow replacing an existing file.

    Yields:
        Temporary path to write to.
    """
    path = check_writable(path, overwrite)
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = "".join(path.suffixes) or ".tmp"
    base = path.name.split(".")[0]
    remove_stale_temporaries(path.parent, base, suffix)
    try:
        fd, tmp = tempfile.mkstemp(prefix=temp_prefix(base), suffix=suffix, dir=path.parent)
    except OSError as exc:
        raise _with_filename(exc, path) from None
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        if tmp_path.exists():
            os.chmod(tmp_path, _default_file_mode())  # mkstemp makes 0600 files
        os.replace(tmp_path, path)
    except OSError as exc:
        raise _with_filename(exc, path) from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()


@contextlib.contextmanager
def staged_folder(out_dir: str | os.PathLike) -> Iterator[Path]:
    """A temporary folder beside ``out_dir`` that replaces it when the body succeeds.

    On an error (or interrupt) the temporary folder is removed and ``out_dir`` is
    untouched; a process killed outright leaves it behind under a name that a
    later call for the same ``out_dir`` recognises and removes (see
    :func:`remove_stale_temporaries`).

    Args:
        out_dir: the final output folder (its parent is created).

    Yields:
        The temporary folder to fill.
    """
    out_dir = Path(out_dir)
    try:
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(out_dir.parent, out_dir.name)
        tmp = Path(tempfile.mkdtemp(prefix=temp_prefix(out_dir.name), dir=out_dir.parent))
    except OSError as exc:
        raise _with_filename(exc, out_dir) from None
    tmp.chmod(0o777 & ~_umask())  # mkdtemp makes it private; give it normal folder permissions
    try:
        try:
            yield tmp
            old = None
            if out_dir.exists():
                old = Path(tempfile.mkdtemp(prefix=temp_prefix(out_dir.name, "old"), dir=out_dir.parent))
                os.replace(out_dir, old / "x")
            os.replace(tmp, out_dir)
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
        except OSError as exc:
            if exc.filename is not None and str(exc.filename).startswith(str(tmp)):  # name the final path
                raise OSError(exc.errno, exc.strerror or str(exc), str(exc.filename).replace(str(tmp), str(out_dir), 1)) from None
            raise _with_filename(exc, out_dir) from None
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


def _default_file_mode() -> int:
    """Mode of a newly created file under the current umask (e.g. 0644)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def atomic_write_bytes(path: str | os.PathLike, data: bytes, overwrite: bool = True) -> Path:
    """Write ``data`` to ``path`` atomically.

    Args:
        path: output path.
        data: bytes to write.
        overwrite: allow replacing an existing file.

    Returns:
        The final path.
    """
    with atomic_path(path, overwrite) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def atomic_write_text(path: str | os.PathLike, text: str, overwrite: bool = True) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically.

    Args:
        path: output path.
        text: text to write.
        overwrite: allow replacing an existing file.

    Returns:
        The final path.
    """
    return atomic_write_bytes(path, text.encode("utf-8"), overwrite)
