"""Write volumes atomically with exact geometry."""

from __future__ import annotations

import contextlib
import gzip
import os
import struct
import sys
import tempfile
import threading
from pathlib import Path
from typing import Iterator

import numpy as np

from skullvae.errors import SkullVAEError
from skullvae.io.atomic import atomic_path, disk_full, disk_full_error
from skullvae.io.formats import volume_extension
from skullvae.io.volume import Volume


def write_volume(volume: Volume, path: str | os.PathLike, overwrite: bool = False, compress: bool = True) -> Path:
    """Write ``volume`` to ``path`` (format from the extension), atomically.

    Boolean arrays are stored as uint8. ``.nhdr``/``.mhd`` (detached headers) are
    written with their data file beside them.

    Args:
        volume: the volume to write.
        path: output file; its extension selects the format.
        overwrite: replace an existing file.
        compress: gzip-compress where the format allows it.

    Returns:
        The written path.
    """
    image = volume.to_sitk() if volume.array.dtype != bool else volume.with_array(volume.array.astype(np.uint8)).to_sitk()
    return write_image(image, path, overwrite, compress)


def write_image(image, path: str | os.PathLike, overwrite: bool = False, compress: bool = True) -> Path:
    """Write a ``SimpleITK.Image`` atomically, exactly as :func:`write_volume` writes a volume.

    For callers that assemble the image directly (e.g. by pasting a small box into
    an image), which saves the full-size NumPy copies.

    Args:
        image: a 3D SimpleITK image.
        path: output file; its extension selects the format.
        overwrite: replace an existing file.
        compress: gzip-compress where the format allows it.

    Returns:
        The written path.
    """
    import SimpleITK as sitk

    path = Path(path)
    ext = volume_extension(path)
    if ext in (".nhdr", ".mhd"):
        # Detached header + data file: write both into a temp folder, then move.
        if path.exists() and not overwrite:
            raise SkullVAEError(f"output exists: {path} (pass --overwrite to replace it)")
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=path.parent, prefix=".tmp-") as tmpdir:
            tmp = Path(tmpdir) / path.name
            _write_checked(image, tmp, path, compress)
            produced = sorted(Path(tmpdir).iterdir(), key=lambda p: p == tmp)  # header last
            for item in produced:
                os.replace(item, path.parent / item.name)
        return path
    with atomic_path(path, overwrite=overwrite) as tmp:
        _write_checked(image, tmp, path, compress and ext != ".nii")
        if ext in (".nii", ".nii.gz"):
            _check_nifti_written(tmp, path, image)
    return path


def _write_checked(image, tmp: Path, path: Path, compress: bool) -> None:
    """``sitk.WriteImage`` with its failure as one error naming ``path`` (ITK's own lines are dropped)."""
    import SimpleITK as sitk

    with _c_stderr_dropped():
        try:
            sitk.WriteImage(image, str(tmp), useCompression=compress)
        except RuntimeError as exc:
            if disk_full(path, _image_bytes(image)):
                raise disk_full_error(path) from None
            lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
            raise SkullVAEError(f"cannot write {path}: {(lines[-1] if lines else 'write failed')[:160]}") from None


def _image_bytes(image) -> int:
    return int(np.prod(image.GetSize(), dtype=np.int64)) * image.GetNumberOfComponentsPerPixel() * \
        int(image.GetSizeOfPixelComponent())


def _check_nifti_written(tmp: Path, path: Path, image) -> None:
    """Refuse a NIfTI file that ITK left incomplete without an error (it does when the disk fills up)."""
    try:
        if tmp.suffix == ".gz":
            with open(tmp, "rb") as f:
                f.seek(-4, os.SEEK_END)
                stored = struct.unpack("<I", f.read(4))[0]  # gzip trailer: uncompressed size mod 2**32
            with gzip.open(tmp, "rb") as g:
                head = g.read(544)
        else:
            stored = tmp.stat().st_size
            with open(tmp, "rb") as f:
                head = f.read(544)
        if struct.unpack("<i", head[:4])[0] == 540:  # NIfTI-2: int64 vox_offset at byte 168
            offset = int(struct.unpack("<q", head[168:176])[0])
        else:  # NIfTI-1: float vox_offset at byte 108
            offset = max(int(struct.unpack("<f", head[108:112])[0]), 352)
        needed = offset + _image_bytes(image)
        complete = stored == needed % (1 << 32) if tmp.suffix == ".gz" else stored >= needed
    except (OSError, EOFError, struct.error):
        complete = False
    if not complete:
        if disk_full(path, _image_bytes(image)):
            raise disk_full_error(path)
        raise SkullVAEError(f"cannot write {path}: the file came out incomplete (disk full or a file size limit?)")


_STDERR_LOCK = threading.RLock()


@contextlib.contextmanager
def _c_stderr_dropped() -> Iterator[None]:
    """Drop what C libraries (ITK's NIfTI and NRRD writers) print on file descriptor 2.

    Their failures are reported as one error instead. Our own lines (``skullvae: ...``,
    e.g. a warning logged by another thread in the meantime) are written out afterwards.
    """
    try:
        fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # no real stderr (e.g. captured by a test)
        yield
        return
    with _STDERR_LOCK:
        sys.stderr.flush()
        saved = os.dup(fd)
        with tempfile.TemporaryFile() as sink:
            os.dup2(sink.fileno(), fd)
            try:
                yield
            finally:
                sys.stderr.flush()
                os.dup2(saved, fd)
                os.close(saved)
                sink.seek(0)
                kept = [ln for ln in sink.read().decode("utf-8", "replace").splitlines(True) if ln.startswith("skullvae:")]
                if kept:
                    sys.stderr.write("".join(kept))
                    sys.stderr.flush()
