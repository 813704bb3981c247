"""Background work of ``complete``: threads, the forked preview job, deferred input checks."""

from pathlib import Path

import numpy as np
import pytest

from skullvae.completion.concurrency import ForkedJob
from skullvae.completion.pipeline import CompletionOptions, complete_case
from skullvae.errors import SkullVAEError
from skullvae.io import Volume, write_volume


def _write_prepared(path: Path):
    def prepare():
        def finish(message):
            if message == "fail":
                raise RuntimeError("child failure")
            path.write_text(str(message))
        return finish
    return prepare


def test_forked_job_finishes_with_the_message_and_reports_failure(tmp_path):
    job = ForkedJob(_write_prepared(tmp_path / "ok.txt"))
    if not job.started:
        pytest.skip("no fork on this platform")
    job.send(123)
    assert job.wait() and (tmp_path / "ok.txt").read_text() == "123"
    job = ForkedJob(_write_prepared(tmp_path / "never.txt"))
    job.send("fail")
    assert not job.wait() and not (tmp_path / "never.txt").exists()
    job = ForkedJob(_write_prepared(tmp_path / "cancelled.txt"))
    job.cancel()
    assert not (tmp_path / "cancelled.txt").exists()


def test_a_job_named_in_skullvae_serial_runs_in_the_caller(tmp_path, monkeypatch):
    monkeypatch.setenv("SKULLVAE_SERIAL", "skullvae-preview")
    assert not ForkedJob(_write_prepared(tmp_path / "x.txt"), name="skullvae-preview").started
    assert not (tmp_path / "x.txt").exists()


def _bad_input(kind: str, folder: Path) -> Path:
    rng = np.random.default_rng(0)
    shell = np.zeros((40, 40, 40), np.uint8)
    shell[5:35, 5:35, 5:35] = rng.integers(0, 2, (30, 30, 30))  # 30 % bone: passes the mask checks
    path = write_volume(Volume(shell), folder / f"{kind}.nii.gz")
    data = path.read_bytes()
    if kind == "truncated":
        path.write_bytes(data[: len(data) // 2])
    else:  # a flipped byte in the deflate stream: the CRC check fails
        mid = len(data) // 2
        path.write_bytes(data[:mid] + bytes([data[mid] ^ 0xFF]) + data[mid + 1:])
    return path


@pytest.mark.parametrize("kind, message", [("truncated", "corrupt gzip|truncated"), ("corrupt", "corrupt gzip")])
def test_the_integrity_check_still_decides_the_error_and_nothing_is_written(kind, message, tmp_path):
    bad = _bad_input(kind, tmp_path)
    out = tmp_path / "out"
    with pytest.raises(SkullVAEError, match=message):
        complete_case(bad, out, CompletionOptions(mode="mirror"))
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == [bad.name]


def test_a_model_error_comes_before_a_preprocessing_error(tmp_path):
    empty = write_volume(Volume(np.zeros((20, 20, 20), np.uint8)), tmp_path / "empty.nii.gz")
    with pytest.raises(SkullVAEError, match="no run folder or bundled model"):
        complete_case(empty, tmp_path / "out", CompletionOptions(mode="dev", model=str(tmp_path / "no_model")))
    with pytest.raises(SkullVAEError, match="no bone"):
        complete_case(empty, tmp_path / "out", CompletionOptions(mode="mirror"))


def test_an_error_while_meshing_stops_the_background_writers_and_leaves_nothing(tmp_path, monkeypatch):
    import multiprocessing
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from skull_shapes import shell_skull

    import skullvae.implant.mesh as mesh_module

    defective, _, _ = shell_skull()
    src = write_volume(defective, tmp_path / "case.nii.gz")

    def broken(*args, **kwargs):
        raise SkullVAEError("could not make the implant mesh watertight")

    monkeypatch.setattr(mesh_module, "mask_to_mesh", broken)
    with pytest.raises(SkullVAEError, match="watertight"):
        complete_case(src, tmp_path / "out", CompletionOptions(mode="mirror"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["case.nii.gz"]
    assert not multiprocessing.active_children()
