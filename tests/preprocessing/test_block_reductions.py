"""Fast block reductions equal their straightforward definitions exactly."""

import numpy as np
import pytest

from skullvae import Volume
from skullvae.preprocessing.cleanup import _block_max
from skullvae.preprocessing.model_grid import block_reduce


def _layouts(a: np.ndarray):
    return [a, np.asfortranarray(a), np.asfortranarray(np.pad(a, 2))[2:-2, 2:-2, 2:-2], a[::-1, 1:, :]]


@pytest.mark.parametrize("factor", [2, 3, 4])
def test_block_max_equals_reduceat(factor):
    rng = np.random.default_rng(factor)
    for shape in [(10, 11, 12), (7, 8, 9), (31, 5, 17)]:
        for a in _layouts(rng.random(shape) < 0.05):
            expected = a
            for axis in range(3):  # the definition: OR over [0, f), [f, 2f), ... (the last block partial)
                expected = np.logical_or.reduceat(expected, np.arange(0, expected.shape[axis], factor), axis=axis)
            np.testing.assert_array_equal(_block_max(a, factor), expected)


@pytest.mark.parametrize("factors", [(2, 3, 1), (2, 2, 2), (3, 3, 3), (1, 4, 2)])
def test_block_mean_of_a_mask_equals_the_float_sum(factors):
    rng = np.random.default_rng(sum(factors))
    for a in _layouts(rng.random((37, 41, 29)) < 0.3):
        got = block_reduce(Volume(a, (0.4, 0.5, 0.6)), factors)
        shape = [s // f * f for s, f in zip(a.shape, factors)]
        cut = a[: shape[0], : shape[1], : shape[2]]
        expected = np.zeros([s // f for s, f in zip(shape, factors)], np.float32)
        for i in range(factors[0]):
            for j in range(factors[1]):
                for k in range(factors[2]):
                    expected += cut[i :: factors[0], j :: factors[1], k :: factors[2]]
        expected /= float(np.prod(factors))
        np.testing.assert_array_equal(got.array, expected)
        np.testing.assert_allclose(got.spacing, np.array([0.4, 0.5, 0.6]) * factors)
