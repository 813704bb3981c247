"""A fronto-orbital defect, no hint: the rim step sees it is not a vault shell and takes the model's bone."""

import json

import numpy as np

from skullvae.completion.pipeline import complete_case
from skullvae.defects import inject_defect
from skullvae.io.readers import read_volume
from skullvae.io.writers import write_volume
from skullvae.phantoms import synth_skull


def test_a_fronto_orbital_defect_takes_the_fronto_orbital_dev_completion(tmp_path):
    skull = synth_skull(7, shape=128, spacing=1.6)
    defective, truth = inject_defect(skull, "frontoorbital", 3)
    write_volume(defective, tmp_path / "fo.nii.gz")
    report = complete_case(tmp_path / "fo.nii.gz", tmp_path / "out")  # bundled model, default options
    saved = json.loads((tmp_path / "out" / "report.json").read_text())
    bone = saved["completion"]["rim"]["bone_prior"]
    assert saved["completion"]["input_fit_dice"] >= 0.7  # the model knows this skull
    assert bone["shell_error_mm"]["0"] > bone["max_shell_error_mm"]
    # of the DEV completions, the fronto-orbital one fills the hole; the others reproduce it
    assert bone["skull"] == "frontoorbital"
    assert [d["implant_from"] for d in report["defects"]] == ["frontoorbital"]
    implant = np.asarray(read_volume(tmp_path / "out" / "implant.nii.gz").array) > 0
    gt = np.asarray(truth.array) > 0
    assert 2 * (implant & gt).sum() / (implant.sum() + gt.sum()) > 0.7  # the rim's shell alone: < 0.5
    assert not (implant & (np.asarray(defective.array) > 0)).any()
