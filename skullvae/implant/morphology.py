"""Binary morphology for the full-resolution implant clean-up.

The implant box of a large defect holds tens of millions of voxels of which a
few percent are bone, so these helpers avoid what costs most there: full-size
temporaries (shifted logical operations write into caller-owned buffers) and
label images of the whole box (``ndimage.label`` costs as much on empty space
as on bone): :func:`components` works on the foreground's runs,
:func:`fill_holes` only on the few background voxels that can be in a hole.
Every helper gives exactly the result of its scipy definition.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage, sparse
from scipy.sparse import csgraph

from skullvae.preprocessing.crop import nonzero_bbox

#: 6-connectivity (faces).
FACE = ndimage.generate_binary_structure(3, 1)

#: :func:`fill_holes` labels the background instead when it would enumerate more
#: voxels than this many (or 1/16 of the box: about half an int64 per voxel).
MAX_ENUMERATED = 1 << 16


def dilate(a: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Dilation by the 6-neighbourhood (shifted ORs: much faster than scipy for big boxes).

    Args:
        a: boolean array.
        out: optional boolean buffer of ``a``'s shape (not ``a`` itself) for the result.

    Returns:
        The dilated mask (``out`` when given).
    """
    return _shifted(np.logical_or, a, out)


def erode(a: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Erosion by the 6-neighbourhood (the box border counts as foreground).

    Shifted ANDs (``~dilate(~a)`` without the two full-size negations).

    Args:
        a: boolean array.
        out: optional boolean buffer of ``a``'s shape (not ``a`` itself) for the result.

    Returns:
        The eroded mask (``out`` when given).
    """
    return _shifted(np.logical_and, a, out)


def _shifted(op, a: np.ndarray, out: np.ndarray | None) -> np.ndarray:
    """``a`` combined by ``op`` with its six one-voxel shifts (the border keeps ``a``'s own value)."""
    out = _buffer(a, out)
    op(a[1:], a[:-1], out=out[1:])  # the copy and the first shift in one pass
    out[:1] = a[:1]
    for lo, hi in ((np.s_[:-1], np.s_[1:]), (np.s_[:, 1:], np.s_[:, :-1]), (np.s_[:, :-1], np.s_[:, 1:]),
                   (np.s_[:, :, 1:], np.s_[:, :, :-1]), (np.s_[:, :, :-1], np.s_[:, :, 1:])):
        op(out[lo], a[hi], out=out[lo])
    return out


def _buffer(a: np.ndarray, out: np.ndarray | None) -> np.ndarray:
    """``out``, checked, or a new array like ``a`` (same memory order)."""
    if out is None:
        return np.empty_like(a)
    if np.shares_memory(out, a) or out.shape != a.shape:
        raise ValueError("out must be a separate buffer of the input's shape")
    return out


def label(a: np.ndarray, structure: np.ndarray) -> tuple[np.ndarray, int]:
    """``ndimage.label`` run in memory order, with ``uint16`` labels when they fit.

    Scanning in memory order is twice as fast on Fortran-ordered boxes; the
    numbering may differ from a C-order scan, the components do not
    (``structure`` is symmetric). Labels are ``int32`` when there are more
    than 65535 components.

    Args:
        a: boolean array.
        structure: connectivity (symmetric).

    Returns:
        ``(labels, n)`` like ``ndimage.label``.
    """
    transposed = a.flags.f_contiguous and not a.flags.c_contiguous
    view, structure = (a.T, structure.T) if transposed else (a, structure)
    try:
        labels, n = ndimage.label(view, structure=structure, output=np.uint16)
    except RuntimeError:  # too many components for uint16
        labels, n = ndimage.label(view, structure=structure)
    return (labels.T if transposed else labels), n


def memory_view(a: np.ndarray) -> np.ndarray:
    """``a`` as a C-contiguous view in memory order (its transpose when Fortran-ordered).

    Raises:
        ValueError: ``a`` is not contiguous.
    """
    if a.flags.c_contiguous:
        return a
    if a.flags.f_contiguous:
        return a.T
    raise ValueError("expected a contiguous array")


def components(flat: np.ndarray, shape: tuple[int, ...]) -> tuple[np.ndarray, int]:
    """6-connected components of the foreground given by its flat indices (C order).

    Equal (up to numbering) to ``ndimage.label(a, FACE)``, whose cost is the whole
    box's, even where it is empty; this one costs the foreground's: the voxels are
    grouped in runs along the last axis, and runs in neighbouring lines that
    overlap are joined (a sparse graph).

    Args:
        flat: sorted flat indices of the foreground voxels in a C-ordered box.
        shape: the box's shape (3-D).

    Returns:
        ``(component, n)``: the component (``0 .. n-1``) of every voxel of ``flat``.
    """
    if flat.size == 0:
        return np.zeros(0, np.intp), 0
    n0, n1, n2 = shape
    line, pos = np.divmod(flat, n2)
    starts = np.empty(flat.size, bool)
    starts[0] = True
    np.not_equal(np.diff(flat), 1, out=starts[1:])
    starts[1:] |= pos[1:] == 0  # a line's first voxel follows the previous line's last
    first = np.flatnonzero(starts)
    last = np.append(first[1:], flat.size) - 1
    del starts, pos
    run_line = line[first]
    lo_key, hi_key = flat[first], flat[last]  # sorted: runs in (line, position) order
    n_runs = first.size
    src, dst = [], []
    # The next line along axis 1 (not past the plane's end) and along axis 0.
    for d, valid in ((1, run_line % n1 < n1 - 1), (n1, run_line < (n0 - 1) * n1)):
        shift = d * n2  # a run's span moved to the neighbouring line
        lo = np.searchsorted(hi_key, lo_key + shift, side="left")  # first run there ending at or after its start
        hi = np.searchsorted(lo_key, hi_key + shift, side="right")  # past the last run starting at or before its end
        count = np.where(valid, np.maximum(hi - lo, 0), 0)
        src.append(np.repeat(np.arange(n_runs), count))
        dst.append(np.repeat(lo - (np.cumsum(count) - count), count) + np.arange(int(count.sum())))
    rows, cols = np.concatenate(src), np.concatenate(dst)
    graph = sparse.coo_matrix((np.ones(rows.size, np.int8), (rows, cols)), shape=(n_runs, n_runs))
    n, run_component = csgraph.connected_components(graph, directed=False)
    return np.repeat(run_component, last - first + 1), int(n)


def fill_holes(a: np.ndarray, flat: np.ndarray | None = None) -> np.ndarray:
    """Fill the background cavities (6-connected) not connected to the box border.

    Equal to ``ndimage.binary_fill_holes(a, FACE)``, without labelling the background:
    a background voxel that does not have foreground on both sides along every
    axis sees the border along a straight background line. Only the other voxels
    (the *candidates*, usually few) can be in a hole, and a candidate component
    is a hole unless it is 6-adjacent to a non-candidate background voxel.

    Where the candidates would be too many (e.g. inside a closed shell), the
    background is labelled instead.

    Args:
        a: 3-D boolean array (any memory order).
        flat: the sorted flat indices of ``a``'s foreground in memory order, when known.

    Returns:
        ``a`` itself when it has no holes, else a filled copy (same memory order).
    """
    if a.size == 0:
        return a
    # Work on a C-contiguous view in memory order (reversed axes for a Fortran-ordered input).
    transposed = a.flags.f_contiguous and not a.flags.c_contiguous
    try:
        if flat is not None and not (a.flags.c_contiguous or a.flags.f_contiguous):
            flat = None  # the indices of a view are not those of its copy
        hole = _holes(a.T if transposed else np.ascontiguousarray(a), flat)
    except _TooMany:  # e.g. a closed shell: label the background instead
        return _fill_holes_by_labelling(a)
    if hole is None:
        return a
    out = a.copy(order="F" if transposed else "C")
    (out.T if transposed else out).reshape(-1)[hole] = True
    return out


class _TooMany(Exception):
    """More hole candidates than labelling the background would cost."""


def _fill_holes_by_labelling(a: np.ndarray) -> np.ndarray:
    """:func:`fill_holes` by labelling the background over the foreground's box plus one voxel."""
    box = tuple(slice(s, e) for s, e in zip(*nonzero_bbox(a, margin=1)))  # type: ignore[misc]  # a is not empty
    labels, n = label(~a[box], FACE)
    border = np.unique(np.concatenate([labels[[0, -1]].ravel(), labels[:, [0, -1]].ravel(), labels[:, :, [0, -1]].ravel()]))
    hole = np.ones(n + 1, bool)
    hole[border] = False  # label 0 is the foreground itself
    if not hole[1:].any():
        return a
    out = a.copy(order="K")
    out[box] |= hole[labels]
    return out


def _holes(v: np.ndarray, foreground: np.ndarray | None) -> np.ndarray | None:
    """Flat indices of the background voxels of ``v`` (C-contiguous) in cavities, or None."""
    flat = _candidates(v, foreground)
    if flat is None:
        return None
    # The candidates' 6-neighbours lie inside v (candidates never lie on its border),
    # so a neighbour's flat index is the candidate's plus or minus a stride; the
    # candidates' components come from the graph of their 6-adjacencies.
    n = flat.size
    strides = (v.shape[1] * v.shape[2], v.shape[2], 1)
    src, dst = [], []
    seed = np.zeros(n, bool)
    for stride in strides:
        for step in (-stride, stride):
            nb = flat + step
            at = np.minimum(np.searchsorted(flat, nb), n - 1)
            is_cand = flat[at] == nb
            # background that is not a candidate sees the border along a straight line
            seed |= ~is_cand & ~v.reshape(-1)[nb]
            if step > 0:
                src.append(np.flatnonzero(is_cand))
                dst.append(at[is_cand])
    rows, cols = np.concatenate(src), np.concatenate(dst)
    graph = sparse.coo_matrix((np.ones(rows.size, np.int8), (rows, cols)), shape=(n, n))
    _, component = csgraph.connected_components(graph, directed=False)
    is_open = np.zeros(component.max() + 1, bool)
    is_open[component[seed]] = True  # components with a seed reach the border
    hole = flat[~is_open[component]]
    return hole if hole.size else None


def _candidates(v: np.ndarray, flat: np.ndarray | None = None) -> np.ndarray | None:
    """Background voxels of ``v`` (C-contiguous) with foreground on both sides along every axis.

    The first and last foreground index of every line along every axis come from
    the foreground's flat indices; the voxels strictly between them are enumerated
    along the axis where they are fewest, then tested along the two others.

    Args:
        v: the box.
        flat: the sorted flat indices of its foreground, when known.

    Returns:
        The candidates' sorted flat indices, or None when there are none.
    """
    n0, n1, n2 = v.shape
    strides = (n1 * n2, n2, 1)
    flat = np.flatnonzero(v) if flat is None else flat
    if flat.size == 0:
        return None
    first, last = [], []
    for axis, (line, coord) in enumerate(_lines(flat, v.shape)):
        n_lines = v.size // v.shape[axis]
        f = np.full(n_lines, v.shape[axis], np.intp)
        l = np.full(n_lines, -1, np.intp)
        if axis == 2:  # lines in increasing order: their first and last entries
            start = np.flatnonzero(np.diff(line, prepend=-1))
            end = np.append(start[1:], line.size) - 1
            f[line[start]] = coord[start]
            l[line[end]] = coord[end]
        else:
            np.minimum.at(f, line, coord)
            np.maximum.at(l, line, coord)
        first.append(f)
        last.append(l)
    del flat, line, coord
    room = [np.maximum(l - f - 1, 0) for f, l in zip(first, last)]
    totals = [int(r.sum()) for r in room]
    axis = int(np.argmin(totals))
    if totals[axis] > max(v.size // 16, MAX_ENUMERATED):
        raise _TooMany
    lines = np.flatnonzero(room[axis])
    if lines.size == 0:
        return None
    counts = room[axis][lines]
    # flat index of the line's voxel 0: the line index spells the two other coordinates
    o1, o2 = [b for b in range(3) if b != axis]
    base = (lines // v.shape[o2]) * strides[o1] + (lines % v.shape[o2]) * strides[o2]
    base += (first[axis][lines] + 1 - (np.cumsum(counts) - counts)) * strides[axis]
    cand = np.repeat(base, counts)
    cand += np.arange(cand.size) * strides[axis]
    cand = cand[~v.reshape(-1)[cand]]
    keep = np.ones(cand.size, bool)
    for b, (line, coord) in enumerate(_lines(cand, v.shape)):
        if b != axis:
            keep &= (first[b][line] < coord) & (coord < last[b][line])
    cand = cand[keep]
    return np.sort(cand) if cand.size else None


def _lines(flat: np.ndarray, shape: tuple[int, ...]):
    """For axes 0, 1, 2: (line index over the two other axes, coordinate) of C-order flat indices."""
    n0, n1, n2 = shape
    p0, rest = np.divmod(flat, n1 * n2)
    yield rest, p0
    p01, p2 = np.divmod(flat, n2)
    p1 = p01 - p0 * n1
    yield p0 * n2 + p2, p1
    yield p01, p2
