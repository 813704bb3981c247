"""The implant morphology helpers equal their scipy definitions (random masks, hypothesis)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import ndimage

from skullvae.implant import morphology
from skullvae.implant.morphology import FACE, components, dilate, erode, fill_holes, label, memory_view


@st.composite
def masks(draw, max_side: int = 12):
    """Random boolean boxes in C or Fortran order (or a strided view), dense to sparse."""
    shape = tuple(draw(st.lists(st.integers(1, max_side), min_size=3, max_size=3)))
    seed = draw(st.integers(0, 2**32 - 1))
    density = draw(st.sampled_from([0.1, 0.3, 0.5, 0.7, 0.9]))
    rng = np.random.default_rng(seed)
    a = rng.random(shape) < density
    if draw(st.booleans()):  # smooth blobs: shells and cavities rather than noise
        a = ndimage.gaussian_filter(rng.random(shape), 1.0) > 0.5 - 0.02 * (density - 0.5)
    layout = draw(st.sampled_from(["C", "F", "view"]))
    if layout == "F":
        a = np.asfortranarray(a)
    elif layout == "view":
        a = np.pad(a, 1)[1:-1, ::1, 1:-1]
    return a


def _shell(shape=(30, 28, 26), radius=(10.0, 8.0)) -> np.ndarray:
    """A closed spherical shell (one big cavity) plus a small closed box."""
    grid = np.indices(shape) - (np.asarray(shape)[:, None, None, None] - 1) / 2
    r = np.sqrt((grid**2).sum(axis=0))
    a = (r <= radius[0]) & (r >= radius[1])
    a[1:6, 1:6, 1:6] = True
    a[2:5, 2:5, 2:5] = False
    return a


@settings(max_examples=300, deadline=None)
@given(masks())
def test_fill_holes_equals_binary_fill_holes(a):
    expected = ndimage.binary_fill_holes(a, structure=FACE)
    got = fill_holes(a)
    np.testing.assert_array_equal(got, expected)
    assert got.flags.f_contiguous == a.flags.f_contiguous or got is a


def test_fill_holes_fills_a_closed_shell_and_keeps_open_ones():
    a = _shell()
    for arr in (a, np.asfortranarray(a)):
        got = fill_holes(arr)
        np.testing.assert_array_equal(got, ndimage.binary_fill_holes(arr, structure=FACE))
        assert got.sum() > arr.sum() + 1000
    opened = a.copy()
    opened[14, 14, :] = False  # a tunnel through both walls: the cavity is no longer closed
    assert fill_holes(opened) is opened or np.array_equal(fill_holes(opened), ndimage.binary_fill_holes(opened, FACE))


def test_fill_holes_labels_the_background_when_candidates_are_many(monkeypatch):
    a = _shell()
    monkeypatch.setattr(morphology, "MAX_ENUMERATED", 0)
    called = []
    original = morphology._fill_holes_by_labelling
    monkeypatch.setattr(morphology, "_fill_holes_by_labelling", lambda x: called.append(1) or original(x))
    for arr in (a, np.asfortranarray(a), a[::-1]):
        np.testing.assert_array_equal(fill_holes(arr), ndimage.binary_fill_holes(arr, structure=FACE))
    assert len(called) == 3
    no_hole = np.zeros((20, 20, 20), bool)
    no_hole[5:15, 5:15, 5:15] = True
    no_hole[8:12, 8:12, 5:12] = False  # a pit open at one end
    assert original(no_hole) is no_hole


def test_fill_holes_of_empty_and_flat_boxes():
    for shape in [(0, 3, 3), (1, 5, 5), (4, 4, 4)]:
        a = np.zeros(shape, bool)
        assert fill_holes(a) is a


@settings(max_examples=100, deadline=None)
@given(masks())
def test_dilate_and_erode_equal_scipy(a):
    np.testing.assert_array_equal(dilate(a), ndimage.binary_dilation(a, FACE))
    np.testing.assert_array_equal(erode(a), ndimage.binary_erosion(a, FACE, border_value=1))
    out = np.empty_like(a)
    assert dilate(a, out=out) is out
    np.testing.assert_array_equal(out, ndimage.binary_dilation(a, FACE))
    assert erode(a, out=out) is out
    np.testing.assert_array_equal(out, ndimage.binary_erosion(a, FACE, border_value=1))


def test_dilate_refuses_its_input_as_output():
    a = np.ones((3, 3, 3), bool)
    with pytest.raises(ValueError):
        dilate(a, out=a)


def test_label_falls_back_to_int32_beyond_65535_components():
    a = np.zeros((84, 84, 84), bool)
    a[::2, ::2, ::2] = True  # 42³ isolated voxels
    labels, n = label(np.asfortranarray(a), FACE)
    assert n == 42**3 and labels.dtype == np.int32
    np.testing.assert_array_equal(labels > 0, a)
    small, m = label(a[:20], FACE)
    assert small.dtype == np.uint16 and m == 10 * 42 * 42


@settings(max_examples=300, deadline=None)
@given(masks())
def test_components_equal_ndimage_label(a):
    v = np.ascontiguousarray(a)
    flat = np.flatnonzero(v)
    got, n = components(flat, v.shape)
    expected, m = ndimage.label(v, structure=FACE)
    assert n == m
    assert got.shape == flat.shape
    if n:
        # the same partition: every component maps to exactly one label and back
        pairs = np.unique(np.stack([got, expected.reshape(-1)[flat]]), axis=1)
        assert pairs.shape[1] == n
        assert got.min() == 0 and got.max() == n - 1


def test_components_do_not_join_across_line_and_plane_ends():
    v = np.zeros((3, 4, 5), bool)
    v[0, 0, 4] = v[0, 1, 0] = True  # consecutive flat indices, different lines
    v[0, 3, 2] = v[1, 0, 2] = True  # last line of a plane, first line of the next
    v[2, 3, 4] = True
    component, n = components(np.flatnonzero(v), v.shape)
    assert n == 5


def test_memory_view():
    a = np.zeros((2, 3, 4), bool, order="F")
    assert memory_view(a).flags.c_contiguous and memory_view(a).shape == (4, 3, 2)
    c = np.zeros((2, 3, 4), bool)
    assert memory_view(c) is c
    with pytest.raises(ValueError):
        memory_view(c[:, :, ::2])


@settings(max_examples=100, deadline=None)
@given(masks())
def test_fill_holes_with_known_foreground_indices(a):
    flat = np.flatnonzero(memory_view(a)) if (a.flags.c_contiguous or a.flags.f_contiguous) else np.flatnonzero(a)
    np.testing.assert_array_equal(fill_holes(a, flat), ndimage.binary_fill_holes(a, structure=FACE))
