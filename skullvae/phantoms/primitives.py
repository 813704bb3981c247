"""Local solid primitives evaluated only inside their bounding box.

Each primitive knows its box in skull millimetres and a vectorised inside test, so a
small part (an orbit, a zygomatic arch) costs only the voxels around it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

Inside = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Primitive:
    """A solid part: ``op`` is ``"add"`` (union) or ``"cut"`` (subtract).

    Attributes:
        op: ``"add"`` or ``"cut"``.
        low: box corner (x, y, z) in skull millimetres.
        high: opposite box corner.
        inside: vectorised test ``inside(X, Y, Z) -> bool array``.
        name: for debugging.
    """

    op: str
    low: tuple[float, float, float]
    high: tuple[float, float, float]
    inside: Inside
    name: str = ""


def ellipsoid(op: str, centre, semi, name: str = "", power: float = 2.0) -> Primitive:
    """Axis-aligned ellipsoid (``power`` 2) or rounded box (``power`` 4) primitive."""
    c = np.asarray(centre, dtype=np.float32)
    s = np.asarray(semi, dtype=np.float32)

    def inside(X, Y, Z):
        u, v, w = (X - c[0]) / s[0], (Y - c[1]) / s[1], (Z - c[2]) / s[2]
        if power == 2.0:
            return u * u + v * v + w * w < 1.0
        return (u * u) ** 2 + (v * v) ** 2 + (w * w) ** 2 < 1.0

    return Primitive(op, tuple(c - s), tuple(c + s), inside, name)  # type: ignore[arg-type]


def capsule(op: str, p0, p1, radius: float, name: str = "", z_scale: float = 1.0) -> Primitive:
    """Capsule (segment ``p0``–``p1`` thickened by ``radius``); ``z_scale`` < 1 makes it taller than wide."""
    a = np.asarray(p0, dtype=np.float32)
    b = np.asarray(p1, dtype=np.float32)
    seg = b - a
    seg_len2 = float(seg @ seg)
    reach = radius / min(z_scale, 1.0)

    def inside(X, Y, Z):
        t = ((X - a[0]) * seg[0] + (Y - a[1]) * seg[1] + (Z - a[2]) * seg[2]) / seg_len2
        t = np.clip(t, 0.0, 1.0)
        dx = X - (a[0] + t * seg[0])
        dy = Y - (a[1] + t * seg[1])
        dz = (Z - (a[2] + t * seg[2])) * z_scale
        return dx * dx + dy * dy + dz * dz < radius * radius

    low = np.minimum(a, b) - reach
    high = np.maximum(a, b) + reach
    return Primitive(op, tuple(low), tuple(high), inside, name)  # type: ignore[arg-type]


def mirrored(make: Callable[[float], Primitive]) -> list[Primitive]:
    """Both sides of a bilateral part: ``make(+1)`` (left) and ``make(-1)`` (right)."""
    return [make(1.0), make(-1.0)]
