"""Skull-base and facial parts of the synthetic skull, as local primitives.

All positions are millimetres in skull coordinates (x left, y posterior, z superior,
Frankfurt plane at z = 0), scaled from the skull's own length, breadth and face width.
"""

from __future__ import annotations

import numpy as np

from skullvae.phantoms.anatomy import SkullParameters
from skullvae.phantoms.primitives import Primitive, capsule, ellipsoid, mirrored


def base_parts(p: SkullParameters) -> list[Primitive]:
    """Foramen magnum, occipital condyles, clivus, mastoids, ear canals.

    Args:
        p: skull parameters.

    Returns:
        Primitives in application order.
    """
    y_fm = 0.07 * p.length  # centre of the foramen magnum
    y_ear = 0.02 * p.length
    wall = 0.39 * p.breadth  # half-width of the cranium near the ear
    parts = [
        capsule("add", (0.0, -p.front + 66.0, 4.0), (0.0, y_fm - 19.0, -17.0), 8.0, "clivus"),
        *mirrored(lambda s: ellipsoid("add", (s * 13.0, y_fm - 8.0, -21.0), (6.5, 11.0, 5.5), "condyle")),
        *mirrored(lambda s: ellipsoid("add", (s * (wall - 4.0), y_ear + 11.0, -13.0), (7.5, 10.0, 13.0), "mastoid")),
        ellipsoid("cut", (0.0, y_fm, -20.0), (15.0, 18.0, 16.0), "foramen magnum"),
        *mirrored(lambda s: capsule("cut", (s * (wall - 14.0), y_ear, -2.0), (s * (wall + 12.0), y_ear, -2.0), 4.5, "ear canal")),
    ]
    return parts


def _face_block(p: SkullParameters):
    """Solid facial mass: rounded, receding laterally, narrower toward the teeth."""
    yc = -p.front + 36.0 + p.face_depth
    top_half = p.face_width / 2.0 * 0.78

    def inside(X, Y, Z):
        half_w = top_half - 15.0 * (0.5 + 0.5 * np.tanh((-Z - 22.0) / 8.0))
        u = X / half_w
        v = (Y - 0.012 * X * X - yc) / 36.0
        w = (Z + 6.0) / 42.0
        u2, v2, w2 = u * u, v * v, w * w
        return 0.6 * np.sqrt(u2 + v2 + w2) + 0.4 * np.sqrt(np.sqrt(u2 * u2 + v2 * v2 + w2 * w2)) < 1.0

    return Primitive("add", (-top_half, yc - 37.0, -49.0), (top_half, yc + 37.0 + 0.012 * top_half**2, 37.0), inside, "face")


def _nasal_aperture(p: SkullParameters):
    """Pear-shaped opening of the nasal cavity."""
    front = -p.front + p.face_depth

    def inside(X, Y, Z):
        half_w = 8.5 + 4.5 * (0.5 + 0.5 * np.tanh((-Z - 8.0) / 6.0))
        return ((X / half_w) ** 2 + ((Z + 7.0) / 17.0) ** 2 < 1.0) & (Y < front + 32.0)

    return Primitive("cut", (-13.0, front - 20.0, -25.0), (13.0, front + 32.0, 11.0), inside, "nasal aperture")


def _mouth(p: SkullParameters):
    """Space below the palate inside the alveolar arch (leaves a U-shaped arch)."""
    front = -p.front + p.face_depth + 12.0

    def inside(X, Y, Z):
        return (Y - 0.045 * X * X > front) & (Z < -31.0)

    return Primitive("cut", (-40.0, front, -60.0), (40.0, front + 80.0, -31.0), inside, "mouth")


def face_parts(p: SkullParameters) -> list[Primitive]:
    """Facial skeleton: block, brow ridges, zygomas, arches, then cavities.

    Args:
        p: skull parameters.

    Returns:
        Primitives in application order (additions first, then cuts).
    """
    f = -p.front
    fd = p.face_depth
    zw = p.face_width / 2.0
    y_ear = 0.02 * p.length
    wall = 0.39 * p.breadth
    adds = [
        _face_block(p),
        *mirrored(lambda s: capsule("add", (s * 40.0, f + 14.0, 33.0), (0.0, f + 0.5 + fd / 2, 37.0), 4.5, "brow ridge")),
        capsule("add", (0.0, f + fd + 4.0, 27.0), (0.0, f + fd - 3.0, 9.0), 4.0, "nasal bones"),
        *mirrored(lambda s: ellipsoid("add", (s * (zw - 11.0), f + 33.0 + fd, 2.0), (8.0, 12.0, 13.0), "zygoma")),
        *mirrored(lambda s: capsule("add", (s * (zw - 9.0), f + 38.0, 0.0), (s * (zw - 3.0), y_ear - 14.0, 2.0), 3.6, "zygomatic arch", 0.55)),
        *mirrored(lambda s: capsule("add", (s * (zw - 3.0), y_ear - 14.0, 2.0), (s * (wall - 4.0), y_ear - 7.0, 3.0), 3.6, "arch root", 0.55)),
    ]
    cuts = [
        *mirrored(lambda s: ellipsoid("cut", (s * 30.0, f + 18.0 + fd, 16.0), (19.5, 26.0, 18.0), "orbit")),
        ellipsoid("cut", (0.0, f + fd + 38.0, -1.0), (10.5, 30.0, 25.0), "nasal cavity", power=4.0),
        _nasal_aperture(p),
        *mirrored(lambda s: ellipsoid("cut", (s * 26.0, f + 33.0 + fd, -11.0), (12.0, 15.0, 12.5), "maxillary sinus")),
        _mouth(p),
    ]
    return adds + cuts
