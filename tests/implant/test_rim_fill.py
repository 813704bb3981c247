"""The prior chooser's held-out ring: its width follows the defect's size."""

import numpy as np
import pytest

from skullvae.implant import rim_fill
from skullvae.implant.height_fields import RadialFrame, RadialProfile
from skullvae.implant.rim_fill import RING_MM, ring_width_mm
from skullvae.implant.sphere import CubeSphere

RADIUS = 80.0


def _profile_with_cap(cap_deg: float) -> tuple[RadialProfile, np.ndarray]:
    """A sphere of radius 80 mm whose cells within ``cap_deg`` of +L are unknown."""
    sphere = CubeSphere(48)
    frame = RadialFrame(np.zeros(3), np.eye(3), sphere)
    outer = np.full(sphere.size, RADIUS)
    profile = RadialProfile(frame, outer - 7.0, outer)
    angle = np.degrees(np.arccos(np.clip(sphere.directions[:, 0], -1.0, 1.0)))
    return profile, angle < cap_deg


def test_a_small_defect_keeps_the_fixed_ring():
    profile, unknown = _profile_with_cap(10.0)  # radius ≈ 14 mm: 0.3 of it is below 8 mm
    assert ring_width_mm(profile, unknown) == RING_MM


def test_a_large_defect_widens_the_ring_to_a_share_of_its_radius():
    profile, unknown = _profile_with_cap(45.0)
    # a spherical cap of half-angle 45° on an 80 mm sphere: area 2π r² (1 − cos 45°)
    equivalent = np.sqrt(2.0 * RADIUS**2 * (1.0 - np.cos(np.radians(45.0))))
    assert ring_width_mm(profile, unknown) == pytest.approx(rim_fill.RING_SHARE * equivalent, rel=0.05)
    assert ring_width_mm(profile, unknown) > 1.5 * RING_MM


def test_the_largest_of_several_defects_sets_the_width():
    profile, big = _profile_with_cap(45.0)
    small = np.degrees(np.arccos(np.clip(-profile.frame.sphere.directions[:, 0], -1.0, 1.0))) < 10.0
    assert ring_width_mm(profile, big | small) == pytest.approx(ring_width_mm(profile, big), rel=0.01)
    assert ring_width_mm(profile, np.zeros_like(big)) == RING_MM
