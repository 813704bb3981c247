"""Regenerate the shipped manifests (skullbreak.json, skullfix.json, synthetic.json).

The JSON files in this folder are the source of truth for users; this script documents
exactly how their case lists and splits were made, and the test suite checks that it
reproduces them byte for byte.

Usage:
    python data_manifests/build_manifests.py [--overwrite]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from skullvae.data.manifest import new_manifest, write_manifest

HERE = Path(__file__).resolve().parent

KODYM_2021 = (
    "O. Kodym, J. Li, A. Pepe, C. Gsaxner, S. Chilamkurthy, J. Egger, M. Španěl. SkullBreak / SkullFix - "
    "Dataset for automatic cranial implant design and a benchmark for volumetric shape learning tasks. "
    "Data in Brief 35:106902, 2021. doi:10.1016/j.dib.2021.106902"
)
SKULLBREAK_TYPES = ["bilateral", "frontoorbital", "parietotemporal", "random_1", "random_2"]
SYNTHETIC_TYPES = SKULLBREAK_TYPES + ["skullfix"]
SPLIT_SEED = 0
TRAIN_VAL = {"train": 0.85, "val": 0.15}


def _with_fixed_test(data: dict, test_cases: list[dict]) -> dict:
    data["splits"]["fixed"] = ["test"]
    data["cases"].extend(test_cases)
    return data


def skullbreak() -> dict:
    """SkullBreak: 114 training skulls x 5 defect types + the official 20-skull test set."""
    data = new_manifest(
        "skullbreak",
        [f"train_{i:03d}" for i in range(114)],
        layout={
            "complete": "training/complete_skull/{file_id}.nrrd",
            "defective": "training/defective_skull/{defect_type}/{file_id}.nrrd",
            "implant": "training/implant/{defect_type}/{file_id}.nrrd",
        },
        defect_types=SKULLBREAK_TYPES,
        seed=SPLIT_SEED,
        fractions=TRAIN_VAL,
        description=(
            "SkullBreak (Kodym et al. 2021): binary skull masks from CQ500 head CTs. Training set: 114 complete "
            "skulls, each with 5 defective skulls and implants; official test set: 20 skulls x 5 defective skulls "
            "(no complete skulls or implants given to challenge participants). Unzip the training archive into "
            "<root>/training and the test archive into <root>/test."
        ),
        spacing_mm=[0.4, 0.4, 0.4],
        shape=[512, 512, 512],
        source=(
            "training: https://www.fit.vutbr.cz/~ikodym/skullbreak_training.zip ; test: AutoImplant 2021 "
            "challenge task 1, https://autoimplant2021.grand-challenge.org/"
        ),
        licence="CC BY 4.0 (SkullBreak); derived from the CQ500 head CT collection (CC BY-NC-SA 4.0)",
        citation=KODYM_2021,
        notes=(
            "Training skulls are split train/val by skull id (all 5 defects of a skull stay together); the official "
            "test set is its own split. Files are named 000.nrrd, 001.nrrd, ... in every folder (file_id). "
            "See data_manifests/README.md for what was verified."
        ),
    )
    for case in data["cases"]:
        case["file_id"] = case["skull_id"].split("_", 1)[1]
    tests = [
        {
            "skull_id": f"test_{i:03d}",
            "split": "test",
            "files": {
                "complete": None,
                "defective": {t: f"test/defective_skull/{t}/{i:03d}.nrrd" for t in SKULLBREAK_TYPES},
                "implant": None,
            },
        }
        for i in range(20)
    ]
    return _with_fixed_test(data, tests)


def skullfix() -> dict:
    """SkullFix: 100 training triplets + 100 + 10 official test skulls (defective only)."""
    data = new_manifest(
        "skullfix",
        [f"train_{i:03d}" for i in range(100)],
        layout={
            "complete": "training_set/complete_skull/{file_id}.nrrd",
            "defective": "training_set/defective_skull/{file_id}.nrrd",
            "implant": "training_set/implant/{file_id}.nrrd",
        },
        defect_types=["skullfix"],
        seed=SPLIT_SEED,
        fractions=TRAIN_VAL,
        description=(
            "SkullFix (MICCAI AutoImplant 2020 challenge; Kodym et al. 2021): binary skull masks from CQ500 head "
            "CTs, one rectangular-ish defect on the vault per skull. 100 training triplets (complete, defective, "
            "implant); 110 test skulls (100 + 10 additional) with defective skulls only, ground truth held by the "
            "organisers. Unzip so that <root> holds training_set/, test_set_for_participants/ and "
            "additional_test_set_for_participants/."
        ),
        spacing_mm=[None, None, None],
        shape=[512, 512, None],
        source=(
            "https://figshare.com/articles/dataset/14161307 (SkullFix - MICCAI AutoImplant 2020 Challenge Dataset); "
            "https://autoimplant.grand-challenge.org/"
        ),
        licence="CC BY 4.0 (SkullFix, per Kodym et al. 2021); derived from the CQ500 head CT collection (CC BY-NC-SA 4.0)",
        citation=(
            KODYM_2021 + " ; J. Li, J. Egger. Dataset descriptor for the AutoImplant cranial implant design challenge. "
            "Cranial Implant Design Challenge (AutoImplant 2020), LNCS 12439, pp. 10-15, Springer, 2020"
        ),
        notes=(
            "Volumes are 512 x 512 x Z with anisotropic spacing that varies per case (about 0.45 mm in-plane); "
            "read the spacing from each header. Test file names are not verified (assumed 000.nrrd ...)."
        ),
    )
    for case in data["cases"]:
        case["file_id"] = case["skull_id"].split("_", 1)[1]

    def test_case(skull_id: str, folder: str, i: int) -> dict:
        return {
            "skull_id": skull_id,
            "split": "test",
            "files": {"complete": None, "defective": {"skullfix": f"{folder}/{i:03d}.nrrd"}, "implant": None},
        }

    tests = [test_case(f"test_{i:03d}", "test_set_for_participants", i) for i in range(100)]
    tests += [test_case(f"test_extra_{i:03d}", "additional_test_set_for_participants", i) for i in range(10)]
    return _with_fixed_test(data, tests)


def synthetic() -> dict:
    """Template of what ``skullvae synth OUT --n 10 --seed 0`` writes as OUT/manifest.json."""
    return new_manifest(
        "synthetic",
        [f"skull_{i:03d}" for i in range(10)],
        layout={
            "complete": "complete/{skull_id}.nii.gz",
            "defective": "defective/{defect_type}/{skull_id}.nii.gz",
            "implant": "implant/{defect_type}/{skull_id}.nii.gz",
        },
        defect_types=SYNTHETIC_TYPES,
        seed=SPLIT_SEED,
        description=(
            "Synthetic adult skulls with SkullBreak- and SkullFix-style defects made by skullvae synth. TEMPLATE: "
            "the real manifest.json is written by skullvae.phantoms.synthesize_dataset next to the files; this "
            "copy shows the layout for 10 skulls."
        ),
        spacing_mm=[0.8, 0.8, 0.8],
        shape=[256, 256, 256],
        source="skullvae synth (skullvae.phantoms.synthesize_dataset); no patient data",
        licence="Apache-2.0 (generated by skullvae)",
        citation="skullvae synthetic skull phantoms (this repository, skullvae.phantoms)",
    )


def build_all() -> dict[str, dict]:
    """All shipped manifests, file name -> dict."""
    return {"skullbreak.json": skullbreak(), "skullfix.json": skullfix(), "synthetic.json": synthetic()}


def render(data: dict) -> str:
    """The exact text written for a manifest dict."""
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--overwrite", action="store_true", help="replace the existing JSON files")
    args = parser.parse_args()
    for name, data in build_all().items():
        print(write_manifest(data, HERE / name, overwrite=args.overwrite))


if __name__ == "__main__":
    main()
