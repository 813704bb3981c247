"""DEV, latent optimisation and sampling against an analytic stand-in model."""

import numpy as np
import pytest
import torch

from skull_shapes import FakeModel, dice, shell_skull
from skullvae.completion.dev import complete_dev, dev_vector
from skullvae.completion.optimize import complete_optimize, data_weights
from skullvae.completion.sampling import implant_probability, sample_probabilities
from skullvae.errors import SkullVAEError
from skullvae.implant.extract import extract_implant
from skullvae.preprocessing.pipeline import prepare_case


@pytest.fixture(scope="module")
def case():
    defective, complete, truth = shell_skull()
    model = FakeModel(defective, complete)
    prepared = prepare_case(defective, model.config)
    return defective, truth, model, prepared


def test_dev_adds_gamma_times_the_dev_vector(case):
    defective, truth, model, prepared = case
    prob, z, _, info = complete_dev(model, prepared.grid_array, "parietotemporal", gamma=1.0)
    assert info["dev"] == "parietotemporal"
    assert z[0, 0].item() == pytest.approx(0.0, abs=0.05)  # enc(x) ≈ -1, + 1 × DEV
    implant = extract_implant(prob, prepared.frame, prepared.grid_array, defective)
    assert dice(implant.full(), truth.array) > 0.75
    assert not (implant.full() & defective.array).any()
    prob_half, z_half, _, _ = complete_dev(model, prepared.grid_array, None, gamma=0.5)
    assert z_half[0, 0].item() == pytest.approx(z[0, 0].item() - 0.5, abs=1e-5)


def test_gamma_zero_reconstructs_the_defect_and_finds_no_implant(case):
    defective, _, model, prepared = case
    prob, _, _, _ = complete_dev(model, prepared.grid_array, None, gamma=0.0)
    with pytest.raises(SkullVAEError, match="no defect"):
        extract_implant(prob, prepared.frame, prepared.grid_array, defective)


def test_unknown_defect_type_and_missing_devs_are_user_errors(case):
    _, _, model, _ = case
    with pytest.raises(SkullVAEError, match="unknown --defect-type 'frontal'.*parietotemporal"):
        dev_vector(model, "frontal")

    class NoDev:
        dev_vectors = {}

    with pytest.raises(SkullVAEError, match="no DEV"):
        dev_vector(NoDev(), None)


def test_data_weights_do_not_penalise_the_defect_region():
    grid = np.zeros((40, 40, 40), np.float32)
    grid[10:30, 10:30, 20] = 1.0
    w = data_weights(grid, voxel_mm=2.0, far_mm=20.0, near_weight=0.02)
    assert w[15, 15, 20] == 1.0  # bone
    assert w[15, 15, 25] == pytest.approx(0.02)  # 10 mm from bone: maybe a defect
    assert w[0, 0, 0] == 1.0  # clear background far away


def test_optimize_moves_towards_a_complete_skull_and_fits_the_bone(case):
    defective, truth, model, prepared = case
    prob, z, info = complete_optimize(model, prepared.grid_array, model.config["voxel_mm"], steps=40, lr=0.05)
    assert info["loss_end"] < info["loss_start"]
    assert z[0, 0].item() > -0.5  # started at enc(x) = -1, the prior pulls towards the complete skull
    bone = prepared.grid_array > 0.5
    assert (prob[bone] > 0.5).mean() > 0.97
    implant = extract_implant(prob, prepared.frame, prepared.grid_array, defective)
    assert dice(implant.full(), truth.array) > 0.6


def test_sampling_is_reproducible_and_uncertain_only_in_the_defect(case):
    _, _, model, prepared = case
    _, z, logvar, _ = complete_dev(model, prepared.grid_array, None)
    mean, std = sample_probabilities(model, z, logvar, samples=5, seed=3)
    mean2, _ = sample_probabilities(model, z, logvar, samples=5, seed=3)
    assert np.array_equal(mean, mean2)
    assert mean.shape == std.shape == tuple(model.config["grid"])
    cap = model.t_imp.numpy() > 0.5
    bone = prepared.grid_array > 0.5
    assert std[cap].mean() > 10 * std[bone].mean()
    p = implant_probability(mean, prepared.grid_array)
    solid = prepared.grid_array > 0.95
    assert p[cap].mean() > 0.8 and p[solid].max() < 0.1


class _MisfitModel(FakeModel):
    """Decodes every skull 6 voxels (21 mm) off: a model that does not know this skull."""

    def decode(self, z):
        return torch.roll(super().decode(z), shifts=6, dims=2)


def test_input_fit_is_reported_and_a_poor_fit_warns(caplog):
    from skullvae.completion.pipeline import MIN_INPUT_FIT_DICE, CompletionOptions, run_completion

    defective, complete, _ = shell_skull()
    opts = CompletionOptions(mode="dev", defect_type="parietotemporal")
    good = run_completion(prepare_case(defective, FakeModel(defective, complete).config), opts,
                          FakeModel(defective, complete))
    assert good.info["input_fit_dice"] > 0.9
    assert "reconstructs this skull poorly" not in caplog.text
    misfit = _MisfitModel(defective, complete)
    with caplog.at_level("WARNING", logger="skullvae"):
        bad = run_completion(prepare_case(defective, misfit.config), opts, misfit)
    assert bad.info["input_fit_dice"] < MIN_INPUT_FIT_DICE
    assert "reconstructs this skull poorly" in caplog.text


def test_input_fit_counts_only_what_the_scan_saw():
    from skullvae.completion.modes import input_fit_dice

    truth = np.zeros((20, 20, 20), np.float32)
    truth[5:15, 5:15, 2:18] = 1.0
    scan = truth.copy()
    scan[:, :, 12:] = 0.0  # the scan stops at slice 12: the top of the skull was never imaged
    seen = np.zeros(truth.shape, bool)
    seen[:, :, :12] = True
    assert input_fit_dice(truth, scan) < 0.8  # the model's vault top counted as a misfit
    assert input_fit_dice(truth, scan, seen) == 1.0
    wrong = np.roll(truth, 3, axis=0)  # a real misfit inside the scan still counts
    assert input_fit_dice(wrong, scan, seen) < 0.75


def test_auto_is_dev_for_a_known_skull_and_mirror_for_an_unknown_one(caplog):
    from skullvae.completion.pipeline import CompletionOptions, run_completion

    defective, complete, _ = shell_skull()
    opts = CompletionOptions(mode="auto", defect_type="parietotemporal")
    known = run_completion(prepare_case(defective, FakeModel(defective, complete).config), opts,
                           FakeModel(defective, complete))
    assert known.mode == "dev" and known.info["requested_mode"] == "auto" and "fallback" not in known.info
    misfit = _MisfitModel(defective, complete)
    with caplog.at_level("WARNING", logger="skullvae"):
        unknown = run_completion(prepare_case(defective, misfit.config), opts, misfit)
    assert unknown.mode == "mirror" and unknown.info["requested_mode"] == "auto"
    assert unknown.info["fallback"]["input_fit_dice"] < 0.7
    assert "the rim step chooses between the skull's mirror image and its own rim surfaces" in caplog.text
