"""The cube-sphere direction grid and the smooth fill on it."""

import numpy as np
import pytest

from skullvae.implant.height_fields import fill_fields
from skullvae.implant.sphere import CubeSphere


@pytest.fixture(scope="module")
def sphere():
    return CubeSphere(24)


def test_every_cell_centre_maps_to_its_own_cell(sphere):
    assert np.array_equal(sphere.cell_of(sphere.directions), np.arange(sphere.size))
    assert np.allclose(np.linalg.norm(sphere.directions, axis=1), 1.0)


def test_neighbours_are_adjacent_and_symmetric_across_seams(sphere):
    nb = sphere.neighbours
    d = sphere.directions
    angle = np.degrees(np.arccos(np.clip(np.einsum("ij,ij->i", np.repeat(d, 4, axis=0), d[nb.reshape(-1)]), -1, 1)))
    assert angle.max() < 1.6 * sphere.cell_deg and angle.min() > 0.4 * sphere.cell_deg
    # the graph is connected and (after symmetrising) every cell has about four neighbours
    count, _ = sphere.components(np.ones(sphere.size, bool))
    assert count == 1
    degree = sphere.laplacian.diagonal()
    assert degree.min() >= 3 and degree.max() <= 5


def test_cells_are_nearly_equal_in_angle(sphere):
    rng = np.random.default_rng(0)
    v = rng.normal(size=(2_000_000, 3))
    counts = np.bincount(sphere.cell_of(v), minlength=sphere.size)
    assert counts.min() > 0.5 * counts.mean() and counts.max() < 1.5 * counts.mean()


def test_components_split_two_caps(sphere):
    d = sphere.directions
    caps = (d @ [0, 0, 1] > 0.95) | (d @ [1, 0, 0] > 0.95)
    count, labels = sphere.components(caps)
    assert count == 2 and np.all(labels[~caps] == -1)


@pytest.mark.parametrize("order", [1, 2])
def test_fill_reproduces_a_constant_and_stays_within_the_rim_values(sphere, order):
    d = sphere.directions
    hole = d @ np.array([0.0, 0.6, 0.8]) > 0.9
    values = np.where(hole, np.nan, 70.0)
    assert np.allclose(fill_fields(sphere, values, hole, order)[hole], 70.0)
    smooth = 80.0 + 5.0 * d[:, 0]
    filled = fill_fields(sphere, np.where(hole, np.nan, smooth), hole, order)
    assert np.abs(filled[hole] - smooth[hole]).max() < 1.0
