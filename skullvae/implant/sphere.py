"""Directions around the cranial centre as a grid of cells on the sphere.

The vault's outer and inner surfaces are radial height fields around the cranial
centre: one radius per direction. This module gives the directions a grid: a cube
map (six faces of ``n × n`` cells) with the *equi-angular* parametrisation
``u = tan(π s / 4)``, so every cell spans about ``90° / n`` and there is no pole
(defects at the vertex are as well resolved as any other). It maps directions to
cells and back, gives each cell its four neighbours (across face seams too), and
builds the graph Laplacian that :mod:`skullvae.implant.height_fields` solves on.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
from scipy import sparse

__all__ = ["CubeSphere"]

#: Face f has its major axis ``f // 2`` and sign ``+`` for even f; the other two axes, in order.
_OTHER = ((1, 2), (2, 0), (0, 1))


@dataclass(frozen=True)
class CubeSphere:
    """An equi-angular cube-map grid of ``6 n²`` cells on the unit sphere.

    Args:
        n: cells along each face edge.
    """

    n: int

    @property
    def size(self) -> int:
        """Number of cells."""
        return 6 * self.n * self.n

    @property
    def cell_deg(self) -> float:
        """Angular size of a cell (degrees, approximately)."""
        return 90.0 / self.n

    def face_coords(self, d: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(face, s, t)`` of directions ``d`` (``(N, 3)``, any length): s, t in [-1, 1]."""
        d = np.asarray(d, dtype=np.float64).reshape(-1, 3)
        x, y, z = d[:, 0], d[:, 1], d[:, 2]
        ax, ay, az = np.abs(x), np.abs(y), np.abs(z)
        axis = np.where((ax >= ay) & (ax >= az), 0, np.where(ay >= az, 1, 2))
        major = np.choose(axis, (x, y, z))
        face = 2 * axis + (major < 0)
        inv = 1.0 / np.abs(major)
        u = np.choose(axis, (y, z, x)) * inv  # _OTHER[axis][0]
        v = np.choose(axis, (z, x, y)) * inv  # _OTHER[axis][1]
        s = np.arctan(u) * (4.0 / np.pi)
        t = np.arctan(v) * (4.0 / np.pi)
        return face, s, t

    def cell_of(self, d: np.ndarray) -> np.ndarray:
        """Cell index of each direction in ``d`` (``(..., 3)``)."""
        face, s, t = self.face_coords(d)
        n = self.n
        i = np.clip(((s + 1.0) * 0.5 * n).astype(np.int64), 0, n - 1)
        j = np.clip(((t + 1.0) * 0.5 * n).astype(np.int64), 0, n - 1)
        return (face * n + i) * n + j

    def direction_at(self, face: np.ndarray, s: np.ndarray, t: np.ndarray) -> np.ndarray:
        """Unit directions at face coordinates ``(face, s, t)`` (``s``/``t`` may leave [-1, 1])."""
        face = np.asarray(face)
        axis = face // 2
        sign = np.where(face % 2 == 0, 1.0, -1.0)
        u = np.tan(np.pi / 4.0 * np.asarray(s, dtype=np.float64))
        v = np.tan(np.pi / 4.0 * np.asarray(t, dtype=np.float64))
        d = np.zeros(np.broadcast(axis, u, v).shape + (3,))
        for a, (p, q) in enumerate(_OTHER):
            sel = axis == a
            d[sel, a] = sign[sel] if np.ndim(sign) else sign
            d[sel, p] = np.broadcast_to(u, sel.shape)[sel]
            d[sel, q] = np.broadcast_to(v, sel.shape)[sel]
        return d / np.linalg.norm(d, axis=-1, keepdims=True)

    def _cell_coords(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        n = self.n
        face, i, j = np.unravel_index(np.arange(self.size), (6, n, n))
        return face, (i + 0.5) * 2.0 / n - 1.0, (j + 0.5) * 2.0 / n - 1.0

    @cached_property
    def directions(self) -> np.ndarray:
        """``(size, 3)`` unit direction of every cell centre."""
        return self.direction_at(*self._cell_coords())

    @cached_property
    def neighbours(self) -> np.ndarray:
        """``(size, 4)`` indices of the cells one step away in ±s and ±t (across seams too)."""
        face, s, t = self._cell_coords()
        h = 2.0 / self.n
        steps = [(h, 0.0), (-h, 0.0), (0.0, h), (0.0, -h)]
        return np.stack([self.cell_of(self.direction_at(face, s + ds, t + dt)) for ds, dt in steps], axis=1)

    @cached_property
    def laplacian(self) -> sparse.csr_matrix:
        """Graph Laplacian ``D - A`` of the (symmetrised) four-neighbour graph."""
        rows = np.repeat(np.arange(self.size), 4)
        cols = self.neighbours.reshape(-1)
        keep = rows != cols
        adj = sparse.coo_matrix((np.ones(int(keep.sum())), (rows[keep], cols[keep])), shape=(self.size,) * 2).tocsr()
        adj = ((adj + adj.T) > 0).astype(np.float64)
        degree = np.asarray(adj.sum(axis=1)).ravel()
        return (sparse.diags(degree) - adj).tocsr()

    def grow(self, cells: np.ndarray, steps: int = 1) -> np.ndarray:
        """The boolean cell set ``cells`` grown by ``steps`` neighbour steps."""
        out = np.asarray(cells, dtype=bool).copy()
        for _ in range(steps):
            out = out | out[self.neighbours].any(axis=1)
        return out

    def components(self, cells: np.ndarray) -> tuple[int, np.ndarray]:
        """Connected components of a boolean cell set: ``(count, labels)`` (-1 outside the set)."""
        from scipy.sparse.csgraph import connected_components

        idx = np.flatnonzero(cells)
        labels = np.full(self.size, -1, dtype=np.int64)
        if idx.size == 0:
            return 0, labels
        local = np.full(self.size, -1, dtype=np.int64)
        local[idx] = np.arange(idx.size)
        nb = local[self.neighbours[idx]]
        rows = np.repeat(np.arange(idx.size), 4)
        cols = nb.reshape(-1)
        ok = cols >= 0
        graph = sparse.coo_matrix((np.ones(int(ok.sum())), (rows[ok], cols[ok])), shape=(idx.size, idx.size))
        count, lab = connected_components(graph, directed=False)
        labels[idx] = lab
        return int(count), labels

    def cell_area_mm2(self, radius_mm: float) -> float:
        """Mean area of one cell on a sphere of ``radius_mm``."""
        return 4.0 * np.pi * radius_mm * radius_mm / self.size
