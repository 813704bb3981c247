"""Tests for data manifests: schema, loader, missing files, split integrity, shipped manifests."""

from __future__ import annotations

import copy
import importlib.util
import json
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skullvae.data.manifest import (
    check_manifest_dict,
    load_manifest,
    manifest_from_dict,
    new_manifest,
    write_manifest,
)
from skullvae.data.schema_validation import load_schema, validate
from skullvae.data.splits import split_by_skull
from skullvae.errors import SkullVAEError

REPO = Path(__file__).resolve().parents[2]
MANIFESTS = REPO / "data_manifests"
REAL = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "real"

LAYOUT = {
    "complete": "complete/{skull_id}.nii.gz",
    "defective": "defective/{defect_type}/{skull_id}.nii.gz",
    "implant": "implant/{defect_type}/{skull_id}.nii.gz",
}


def small_manifest(n: int = 4, types=("bilateral", "skullfix")) -> dict:
    return new_manifest("tiny", [f"skull_{i:03d}" for i in range(n)], LAYOUT, list(types), seed=0)


def touch_all(manifest) -> None:
    for case in manifest.cases:
        for p in case.files():
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(b"x")


def error_of(data, label="m") -> str:
    with pytest.raises(SkullVAEError) as info:
        check_manifest_dict(data, label)
    msg = str(info.value)
    assert "\n" not in msg
    return msg


# ----------------------------------------------------------------------------- schema


def test_shipped_schema_is_draft_2020_12_and_accepts_shipped_manifests():
    schema = load_schema("manifest.schema.json")
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    for name in ("skullbreak.json", "skullfix.json", "synthetic.json"):
        data = json.loads((MANIFESTS / name).read_text(encoding="utf-8"))
        assert validate(data, schema) == [], name
        check_manifest_dict(data, name)


def test_missing_required_key_is_named():
    data = small_manifest()
    del data["layout"]
    assert "layout: required key is missing" in error_of(data)


def test_missing_case_field_is_named_with_index():
    data = small_manifest()
    del data["cases"][2]["split"]
    assert "cases[2].split: required key is missing" in error_of(data)


def test_wrong_type_is_named():
    data = small_manifest()
    data["cases"][1]["skull_id"] = 12
    msg = error_of(data)
    assert "cases[1].skull_id: expected string, got integer" in msg


def test_several_errors_in_one_line():
    data = small_manifest()
    data["defect_types"] = "bilateral"
    data["spacing_mm"] = [0.8, -1, 0.8]
    msg = error_of(data)
    assert "defect_types: expected array, got string" in msg
    assert "spacing_mm[1]: must be > 0" in msg


def test_unknown_schema_version_is_refused():
    data = small_manifest()
    data["schema_version"] = 2
    assert "unsupported schema_version 2" in error_of(data)
    del data["schema_version"]
    assert "schema_version: required key is missing" in error_of(data)


def test_unknown_layout_key_and_bad_identifier():
    data = small_manifest()
    data["layout"]["mask"] = "x/{skull_id}.nii.gz"
    data["cases"][0]["skull_id"] = "../evil"
    msg = error_of(data)
    assert "layout.mask: unknown key" in msg
    assert "cases[0].skull_id: '../evil' does not match" in msg


@pytest.mark.parametrize(
    "key, pattern, expected",
    [
        ("complete", "complete/{skul_id}.nii.gz", "layout.complete: bad placeholder"),
        ("complete", "complete/{defect_type}/{skull_id}.nrrd", "layout.complete: bad placeholder"),
        ("defective", "defective/{skull_id}}.nrrd", "layout.defective: bad placeholder"),
        ("implant", "implant/{skull_id}.nrrd", "layout.implant: needs {defect_type}"),
    ],
)
def test_layout_placeholders_are_checked(key, pattern, expected):
    data = small_manifest()
    data["layout"][key] = pattern
    assert expected in error_of(data)


def test_unknown_defect_type_in_override():
    data = small_manifest()
    data["cases"][0]["files"] = {"defective": {"frontal": "x.nrrd"}}
    assert "cases[0].files.defective.frontal: unknown defect type" in error_of(data)


def test_validator_refuses_unsupported_schema_keyword():
    with pytest.raises(ValueError, match="not supported"):
        validate({}, {"type": "object", "oneOf": []})


# ----------------------------------------------------------------------------- loading


def test_load_manifest_file_errors(tmp_path):
    with pytest.raises(SkullVAEError, match="manifest not found"):
        load_manifest(tmp_path / "nope.json")
    bad = tmp_path / "bad.json"
    bad.write_text('{"schema_version": 1,\n "name": }', encoding="utf-8")
    with pytest.raises(SkullVAEError, match=r"not valid JSON.*line 2"):
        load_manifest(bad)
    top = tmp_path / "list.json"
    top.write_text("[]", encoding="utf-8")
    with pytest.raises(SkullVAEError, match="expected a JSON object"):
        load_manifest(top)


def test_load_resolves_paths_relative_to_manifest_folder_or_root(tmp_path):
    data = small_manifest(3)
    path = write_manifest(data, tmp_path / "ds" / "manifest.json")
    m = load_manifest(tmp_path / "ds")  # a folder means folder/manifest.json
    assert m.root == tmp_path / "ds"
    case = m.case("skull_001")
    assert case.complete == tmp_path / "ds" / "complete" / "skull_001.nii.gz"
    assert case.defective["skullfix"] == tmp_path / "ds" / "defective" / "skullfix" / "skull_001.nii.gz"
    assert case.implant["bilateral"] == tmp_path / "ds" / "implant" / "bilateral" / "skull_001.nii.gz"
    other = load_manifest(path, root=tmp_path / "elsewhere")
    assert other.case("skull_001").complete == tmp_path / "elsewhere" / "complete" / "skull_001.nii.gz"
    assert m.defect_types == ("bilateral", "skullfix")
    assert [c.skull_id for c in m.cases] == ["skull_000", "skull_001", "skull_002"]


def test_null_layout_and_per_case_overrides(tmp_path):
    data = small_manifest(3)
    data["layout"]["implant"] = None
    data["cases"][0]["files"] = {"complete": "elsewhere/full.nrrd", "defective": {"bilateral": None}}
    data["cases"][1]["files"] = {"complete": None, "defective": None}
    m = manifest_from_dict(data, root=tmp_path)
    c0, c1, c2 = m.cases
    assert c0.complete == tmp_path / "elsewhere" / "full.nrrd"
    assert set(c0.defective) == {"skullfix"}
    assert c1.complete is None and c1.defective == {}
    assert all(c.implant == {} for c in m.cases)
    assert set(c2.defective) == {"bilateral", "skullfix"}
    assert m.pairs() == [(c0, "skullfix"), (c2, "bilateral"), (c2, "skullfix")]


def test_split_and_pairs(tmp_path):
    data = small_manifest(10)
    m = manifest_from_dict(data, root=tmp_path)
    by_split = {name: m.split(name) for name in m.split_names}
    assert sum(len(v) for v in by_split.values()) == 10
    assert {c.split for c in m.split("train")} == {"train"}
    assert len(m.pairs("train")) == 2 * len(m.split("train"))
    with pytest.raises(SkullVAEError, match="unknown split 'vall'"):
        m.split("vall")
    data = small_manifest(3)
    for case in data["cases"]:
        case["split"] = "train"
    assert manifest_from_dict(data, root=tmp_path).split("val") == []


# ----------------------------------------------------------------------------- missing files


def test_validate_names_every_missing_file(tmp_path):
    m = manifest_from_dict(small_manifest(3), root=tmp_path)
    touch_all(m)
    assert m.validate() is m
    gone = [m.cases[0].complete, m.cases[2].implant["skullfix"], m.cases[1].defective["bilateral"]]
    for p in gone:
        p.unlink()
    with pytest.raises(SkullVAEError) as info:
        m.validate()
    msg = str(info.value)
    assert "\n" not in msg
    assert msg.startswith("3 file(s) missing")
    for rel in ("complete/skull_000.nii.gz", "implant/skullfix/skull_002.nii.gz", "defective/bilateral/skull_001.nii.gz"):
        assert rel in msg
    assert set(m.missing_files()) == set(gone)


def test_validate_many_missing_gives_count_and_first_twenty(tmp_path):
    m = manifest_from_dict(small_manifest(30), root=tmp_path)
    with pytest.raises(SkullVAEError) as info:
        m.validate()
    msg = str(info.value)
    n = 30 * 5
    assert msg.startswith(f"{n} file(s) missing")
    assert f"and {n - 20} more" in msg
    assert msg.count(".nii.gz") == 20
    assert "\n" not in msg


def test_validate_missing_root(tmp_path):
    m = manifest_from_dict(small_manifest(2), root=tmp_path / "absent")
    with pytest.raises(SkullVAEError, match="data root .* not found"):
        m.validate()


# ----------------------------------------------------------------------------- split integrity


def test_skull_in_two_splits_is_refused():
    data = small_manifest(4)
    dup = copy.deepcopy(data["cases"][0])
    dup["split"] = "test" if dup["split"] != "test" else "train"
    data["cases"].append(dup)
    msg = error_of(data)
    assert f"skull '{dup['skull_id']}' appears in two splits" in msg


def test_skull_twice_in_one_split_is_refused():
    data = small_manifest(4)
    data["cases"].append(copy.deepcopy(data["cases"][1]))
    assert "appears twice" in error_of(data)


def test_same_file_under_two_ids_in_two_splits_is_refused(tmp_path):
    data = small_manifest(2)
    data["cases"][0]["split"], data["cases"][1]["split"] = "train", "test"
    data["cases"][1]["files"] = {"complete": "complete/skull_000.nii.gz"}
    with pytest.raises(SkullVAEError, match="splits must not share skulls"):
        manifest_from_dict(data, root=tmp_path)


def test_split_by_skull_deterministic_and_complete():
    ids = [f"s{i}" for i in range(200)]
    a = split_by_skull(ids, seed=3)
    assert a == split_by_skull(list(reversed(ids)), seed=3)
    assert a != split_by_skull(ids, seed=4)
    assert set(a) == set(ids)
    counts = Counter(a.values())
    assert counts == {"train": 140, "val": 30, "test": 30}


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True), min_size=3, max_size=60, unique=True),
    st.integers(0, 1000),
)
def test_manifest_splits_never_leak(ids, seed):
    data = new_manifest("p", ids, LAYOUT, ["bilateral", "random_1"], seed=seed)
    again = new_manifest("p", ids, LAYOUT, ["bilateral", "random_1"], seed=seed)
    assert data == again
    m = manifest_from_dict(data, root=Path("/nonexistent"))
    # Every defect pair of a skull lands in the split of that skull, and nowhere else.
    owner = {}
    for name in m.split_names:
        for case, _ in m.pairs(name):
            assert owner.setdefault(case.skull_id, name) == name
    assert set(owner) == set(ids)
    assert all(len(m.split(s)) >= 1 for s in ("train", "val", "test"))


# ----------------------------------------------------------------------------- writing


def test_write_manifest_roundtrip_and_refusals(tmp_path):
    data = small_manifest(5)
    out = tmp_path / "m.json"
    write_manifest(data, out)
    assert json.loads(out.read_text(encoding="utf-8")) == data
    assert oct(out.stat().st_mode & 0o777) != oct(0o600)
    with pytest.raises(SkullVAEError, match="output exists"):
        write_manifest(data, out)
    write_manifest(data, out, overwrite=True)
    bad = copy.deepcopy(data)
    bad["cases"][0]["split"] = 7
    target = tmp_path / "bad.json"
    with pytest.raises(SkullVAEError, match=r"cases\[0\]\.split"):
        write_manifest(bad, target)
    assert list(tmp_path.iterdir()) == [out]  # nothing partial left behind


# ----------------------------------------------------------------------------- shipped manifests


def _fake_tree(name: str, tmp_path: Path):
    m = load_manifest(MANIFESTS / name, root=tmp_path)
    touch_all(m)
    return m


def test_skullbreak_manifest_against_fake_tree(tmp_path):
    m = _fake_tree("skullbreak.json", tmp_path)
    assert m.validate() is m
    assert m.defect_types == ("bilateral", "frontoorbital", "parietotemporal", "random_1", "random_2")
    training = [c for c in m.cases if c.split in ("train", "val")]
    assert len(training) == 114 and len(m.split("test")) == 20
    assert len(m.pairs()) == 114 * 5 and m.pairs("test") == []
    assert all(c.complete is None and c.implant == {} and len(c.defective) == 5 for c in m.split("test"))
    assert (tmp_path / "training/defective_skull/random_2/113.nrrd").is_file()
    assert (tmp_path / "test/defective_skull/frontoorbital/019.nrrd").is_file()
    assert sum(1 for p in tmp_path.rglob("*.nrrd")) == 114 * 11 + 20 * 5
    (tmp_path / "training/implant/bilateral/042.nrrd").unlink()
    (tmp_path / "test/defective_skull/random_1/007.nrrd").unlink()
    with pytest.raises(SkullVAEError, match=r"^2 file\(s\) missing.*training/implant/bilateral/042\.nrrd.*test/defective_skull/random_1/007\.nrrd"):
        m.validate()
    with pytest.raises(SkullVAEError, match=r"^1 file\(s\) missing .* split 'test' .*random_1/007\.nrrd$"):
        m.validate("test")
    # Only the training archive at hand: training splits still validate on their own.
    for p in (tmp_path / "test").rglob("*.nrrd"):
        p.unlink()
    skull = next(c for c in m.cases if c.implant.get("bilateral") == tmp_path / "training/implant/bilateral/042.nrrd")
    other = "val" if skull.split == "train" else "train"
    assert m.validate(other) is m


def test_skullfix_manifest_against_fake_tree(tmp_path):
    m = _fake_tree("skullfix.json", tmp_path)
    m.validate()
    assert m.defect_types == ("skullfix",)
    assert len(m.pairs()) == 100 and len(m.split("test")) == 110
    assert (tmp_path / "training_set/implant/099.nrrd").is_file()
    assert (tmp_path / "additional_test_set_for_participants/009.nrrd").is_file()
    assert len(list((tmp_path / "test_set_for_participants").iterdir())) == 100


def test_synthetic_template_matches_agreed_layout(tmp_path):
    m = _fake_tree("synthetic.json", tmp_path)
    m.validate()
    assert m.data["layout"] == LAYOUT
    assert m.defect_types == ("bilateral", "frontoorbital", "parietotemporal", "random_1", "random_2", "skullfix")
    assert len(m.pairs()) == 10 * 6
    assert {"train", "val", "test"} == set(m.split_names)


def test_shipped_manifests_are_reproducible():
    spec = importlib.util.spec_from_file_location("build_manifests", MANIFESTS / "build_manifests.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for name, data in module.build_all().items():
        assert module.render(data) == (MANIFESTS / name).read_text(encoding="utf-8"), name


@pytest.mark.real_data
def test_real_skullbreak_sample_as_a_test_case():
    sample = REAL / "skullbreak_parietotemporal_001.nii.gz"
    if not sample.is_file():
        pytest.skip("../shared/data/real is not available")
    data = {
        "schema_version": 1,
        "name": "real-sample",
        "layout": {"complete": None, "defective": "{file_id}.nii.gz", "implant": None},
        "defect_types": ["parietotemporal"],
        "cases": [{"skull_id": "sb001", "split": "test", "file_id": "skullbreak_parietotemporal_001"}],
    }
    m = manifest_from_dict(data, root=REAL).validate()
    assert m.case("sb001").defective["parietotemporal"] == sample
    assert m.pairs() == []
