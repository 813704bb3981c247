"""``--align`` with the bundled model: a skull tilted in the scanner is completed as if upright."""

import numpy as np
import pytest

from skullvae.io import Volume
from skullvae.model.locate import bundled_names


def _tilt(yaw_deg, roll_deg):
    a, b = np.radians([yaw_deg, roll_deg])
    rz = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
    ry = np.array([[np.cos(b), 0, np.sin(b)], [0, 1, 0], [-np.sin(b), 0, np.cos(b)]])
    return rz @ ry


@pytest.mark.skipif("synthetic-64" not in bundled_names(), reason="no bundled model")
def test_alignment_rescues_a_tilted_skull():
    from skullvae.completion.engine import load_completion_model
    from skullvae.completion.pipeline import CompletionOptions, run_completion
    from skullvae.defects import inject_defect
    from skullvae.implant.extract import extract_implant
    from skullvae.phantoms import synth_skull
    from skullvae.preprocessing.pipeline import load_mask

    skull = synth_skull(3, shape=128, spacing=1.6)
    defective, implant = inject_defect(skull, "parietotemporal", 3)
    # the same voxels with a turned (12°) and sideways-tilted (8°) patient axis system
    tilted = Volume(defective.array, defective.spacing, defective.origin, _tilt(12, 8) @ np.asarray(defective.direction))
    truth = implant.array > 0
    model = load_completion_model("synthetic-64", "cpu", "auto", "dev")
    scores = {}
    for align in ("none", "axes", "register"):
        case = load_mask(tilted)
        result = run_completion(case, CompletionOptions(mode="dev", align=align), model)
        full = extract_implant(result.probability, result.frame, result.defective, case.mask,
                               core_mm=result.core_mm).full().astype(bool)
        scores[align] = (result.info["input_fit_dice"], 2 * (full & truth).sum() / (full.sum() + truth.sum()))
    assert scores["none"][0] < 0.7  # the tilt alone puts the skull outside what the model knows
    for align in ("axes", "register"):
        assert scores[align][0] > 0.75, scores
        assert scores[align][1] > scores["none"][1] + 0.25, scores
