"""Atomic file writes: write to a temporary sibling, then ``os.replace``.

A reader never sees a half-written output, and an error leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
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
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name.split('.')[0]}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        if tmp_path.exists():
            os.chmod(tmp_path, _default_file_mode())  # mkstemp makes 0600 files
        os.replace(tmp_path, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()


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
