"""Defects that are not a vault shell take a completed skull's own bone (skullvae.implant.bone_prior)."""

import numpy as np
import pytest

from skullvae.defects import inject_defect
from skullvae.errors import SkullVAEError
from skullvae.implant.bone_prior import SHELL_MAX_ERROR_MM, BonePrior
from skullvae.implant.extract import Implant
from skullvae.implant.rim_implant import rim_implant
from skullvae.phantoms import synth_skull
from skullvae.preprocessing.crop import nonzero_bbox

PLANE = {"normal": [1.0, 0.0, 0.0], "offset_mm": 0.0}


@pytest.fixture(scope="module")
def skull():
    return synth_skull(7, shape=128, spacing=1.6)


def _truth_prior(skull, defective, implant, calls):
    """A bone prior that knows the intact skull, plus a second one that reproduces the hole."""
    def skulls():
        calls.append("skulls")
        return {"hole": defective, "truth": skull}

    def extract(name):
        calls.append(name)
        source = implant if name == "truth" else defective.with_array(np.zeros(defective.shape, np.uint8))
        lo, hi = nonzero_bbox(np.asarray(implant.array), margin=1)
        box = tuple(slice(int(a), int(b)) for a, b in zip(lo, hi))
        return Implant(np.asarray(source.array)[box].astype(bool), lo, hi, defective)

    return BonePrior(skulls, extract)


def _dice(result, truth):
    pred = np.zeros(truth.shape, bool)
    pred[result.implant.box] = result.implant.array
    gt = np.asarray(truth.array) > 0
    return 2 * (pred & gt).sum() / (pred.sum() + gt.sum())


def test_a_fronto_orbital_defect_takes_the_filling_skull_s_bone(skull):
    defective, implant = inject_defect(skull, "frontoorbital", 3)
    calls = []
    result = rim_implant(defective, nonzero_bbox(np.asarray(defective.array)), PLANE, priors=("none",),
                         bone_prior=_truth_prior(skull, defective, implant, calls))
    info = result.info["bone_prior"]
    assert info["shell_error_mm"]["0"] > SHELL_MAX_ERROR_MM  # the orbits and the face are not one shell
    assert info["skull"] == "truth"  # the skull that fills the missing rays, not the one with the hole
    assert info["share_of_missing_rays_filled"]["hole"] < 0.1 < info["share_of_missing_rays_filled"]["truth"]
    assert [c["implant_from"] for c in result.components] == ["truth"]
    assert _dice(result, implant) > 0.95
    assert not (result.implant.full().astype(bool) & (np.asarray(defective.array) > 0)).any()


def test_a_vault_defect_keeps_the_shell_and_decodes_nothing(skull):
    defective, implant = inject_defect(skull, "skullfix", 3)
    calls = []
    result = rim_implant(defective, nonzero_bbox(np.asarray(defective.array)), PLANE, priors=("none",),
                         bone_prior=_truth_prior(skull, defective, implant, calls))
    assert result.info["bone_prior"]["shell_error_mm"]["0"] < 1.0
    assert calls == []  # the model's completions are not even asked for
    assert [c["implant_from"] for c in result.components] == ["rim surfaces"]
    assert _dice(result, implant) > 0.9


def test_a_patch_the_model_leaves_open_is_not_filled(skull):
    """A model that knows the skull and adds no bone there: an opening of the face, not a defect."""
    defective, implant = inject_defect(skull, "frontoorbital", 3)

    def skulls():
        return {"hole": defective}

    def extract(name):
        raise SkullVAEError("no defect found: the completed skull adds no bone to the input")

    with pytest.raises(SkullVAEError, match="no defect found"):
        rim_implant(defective, nonzero_bbox(np.asarray(defective.array)), PLANE, priors=("none",),
                    bone_prior=BonePrior(skulls, extract))
    # without a model, the rim's own surfaces still fill it
    plain = rim_implant(defective, nonzero_bbox(np.asarray(defective.array)), PLANE, priors=("none",))
    assert [c["implant_from"] for c in plain.components] == ["rim surfaces"]


def test_every_cell_goes_to_its_nearest_defect():
    from skullvae.implant.bone_prior import nearest_defect
    from skullvae.implant.sphere import CubeSphere

    sphere = CubeSphere(24)
    d = sphere.directions
    labels = np.full(sphere.size, -1)
    labels[d[:, 2] > 0.95] = 0  # a cap at the vertex
    labels[d[:, 0] > 0.95] = 1  # a cap at the left
    owner = nearest_defect(sphere, labels)
    assert (owner >= 0).all()
    assert (owner[labels >= 0] == labels[labels >= 0]).all()
    clear = np.abs(d[:, 2] - d[:, 0]) > 0.2  # away from the bisecting plane
    assert (owner[clear] == np.where(d[clear, 2] > d[clear, 0], 0, 1)).all()
