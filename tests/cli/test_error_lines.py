"""Issue 10: every failure is one ``skullvae: error:`` line (CLI papercuts, OS errors, GDCM noise)."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "completion"))
from cli_runner import run_cli  # noqa: E402
from skull_shapes import shell_skull  # noqa: E402

from skullvae import __version__
from skullvae.io import write_volume
from skullvae_cli.app import os_error_message


def assert_one_error_line(code: int, err: str, *words: str) -> None:
    """Exit 2 and exactly one ``skullvae: error:`` line on stderr (containing ``words``)."""
    assert code == 2, err
    assert err.startswith("skullvae: error:") and err.count("\n") == 1, err
    assert "Traceback" not in err
    for word in words:
        assert word in err, (word, err)


@pytest.fixture(scope="module")
def skull(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("skull")
    defective, _, _ = shell_skull(shape=(70, 84, 64), spacing=(2.4, 2.4, 2.4))
    return write_volume(defective, folder / "case.nii.gz")


def test_version(capsys):
    code, out, err = run_cli(["--version"], capsys)
    assert code == 0 and out.strip() == f"skullvae {__version__}" and err == ""


def test_flags_have_no_bool_metavar_and_a_value_gets_one_line(skull, tmp_path, capsys):
    code, out, _ = run_cli(["complete", "--help"], capsys)
    assert code == 0 and "--overwrite" in out and "<bool>" not in out
    code, _, err = run_cli(["complete", skull, "-o", tmp_path / "o", "--overwrite", "true"], capsys)
    assert_one_error_line(code, err, "unexpected extra argument", "flags", "complete --help")
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("argv, words", [
    (["info"], ["Missing argument"]),
    (["nosuchcommand"], ["No such command"]),
    (["info", "x.nii.gz", "--no-such-option"], ["No such option"]),
    (["complete", "x.nii.gz", "--mode", "magic"], ["--mode"]),
])
def test_usage_errors_are_one_line(argv, words, capsys):
    code, out, err = run_cli(argv, capsys)
    assert_one_error_line(code, err, *words)
    assert out == ""


def test_align_help_describes_what_it_does(capsys):
    _, out, _ = run_cli(["complete", "--help"], capsys)
    text = " ".join(out.replace("│", " ").split())
    assert "principal axes" not in text and "symmetry plane" in text


def test_output_that_is_not_a_terminal_is_not_hard_wrapped(skull, capsys):
    code, out, _ = run_cli(["export-stl", skull, skull.parent / "wide.stl"], capsys)
    assert code == 0
    lines = out.splitlines()
    assert len(lines) == 1 and len(lines[0]) > 80 and "watertight=True" in lines[0]


def test_irregular_dicom_refusal_names_the_option(real_data, capsys):
    code, _, err = run_cli(["info", real_data / "ge_head_ct_dicom", "--refuse-irregular"], capsys)
    assert_one_error_line(code, err, "--refuse-irregular", "gantry tilt")
    assert "irregular=" not in err


def test_folder_that_is_not_dicom_gives_only_our_line(tmp_path):
    folder = tmp_path / "notdicom"
    folder.mkdir()
    for k in range(3):
        (folder / f"f{k}.dcm").write_bytes(os.urandom(1000))
    exe = [sys.executable, "-m", "skullvae_cli", "info", str(folder)]  # GDCM writes to fd 2 itself: a subprocess
    proc = subprocess.run(exe, capture_output=True, text=True, timeout=120)
    assert_one_error_line(proc.returncode, proc.stderr, "no DICOM series", "3 files")


# -- OS errors: one line, exit 2, nothing left behind ------------------------------------------


def _commands(skull: Path, blocked: Path, manifest: Path) -> list[list]:
    """Every command that writes, each told to write below ``blocked`` (a regular file)."""
    return [["complete", skull, "--mode", "mirror", "-o", blocked / "out"],
            ["export-stl", skull, blocked / "implant.stl"],
            ["preview", skull, "-o", blocked / "view.png"],
            ["synth", blocked / "data", "--n", "1", "--seed", "0", "--shape", "48", "--spacing", "4.5"],
            ["train", "--stage", "1", "--data", manifest, "--out", blocked / "run", "--grid", "16", "--voxel-mm", "14",
             "--epochs", "1", "--quiet", "--device", "cpu"],
            ["defect", skull, "--type", "bilateral", "--seed", "0", "-o", blocked / "d"]]


def test_every_writing_command_reports_an_os_error_in_one_line(skull, tmp_path, capsys):
    from skullvae.training.toy_data import make_toy_dataset

    manifest = make_toy_dataset(tmp_path / "toy", n=4, shape=32, spacing=6.0)
    blocked = tmp_path / "a_file"
    blocked.write_text("not a folder")
    for argv in _commands(skull, blocked, manifest):
        code, stdout, err = run_cli(argv, capsys)
        assert_one_error_line(code, err, f"cannot create {blocked}", "a file is in the way")
        assert stdout == "", argv
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file", "toy"]


@pytest.mark.parametrize("err_no, words", [(errno.EACCES, ["Permission denied", "permissions"]),
                                           (errno.ENOSPC, ["cannot write", "No space left", "free some space"]),
                                           (errno.EROFS, ["read-only"])])
def test_permission_and_disk_errors_name_the_output(skull, tmp_path, monkeypatch, capsys, err_no, words):
    out = tmp_path / "out"

    def refuse(src, dst):
        raise OSError(err_no, os.strerror(err_no), str(dst))

    monkeypatch.setattr(os, "replace", refuse)  # the final move of every atomic write
    code, stdout, err = run_cli(["complete", skull, "--mode", "mirror", "-o", out], capsys)
    assert_one_error_line(code, err, str(out), *words)
    assert stdout == "" and list(tmp_path.iterdir()) == []  # the staging folder was removed too


def test_os_error_message_without_a_file_name():
    assert os_error_message(OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))).startswith("No space left")


def test_a_full_disk_during_complete_is_one_line_and_leaves_nothing(skull, tmp_path):
    """A real write failure: the file size limit (Python ignores SIGXFSZ, so writes fail with EFBIG)."""
    import resource

    out = tmp_path / "out"

    def limit():
        resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))

    proc = subprocess.run([sys.executable, "-m", "skullvae_cli", "complete", str(skull), "--mode", "mirror",
                           "-o", str(out)], capture_output=True, text=True, timeout=300, preexec_fn=limit)
    assert_one_error_line(proc.returncode, proc.stderr, str(out))
    assert list(tmp_path.iterdir()) == []


# -- batch: each failed input named with its reason -------------------------------------------


def test_batch_names_each_failed_input_and_its_reason(skull, tmp_path, capsys):
    import numpy as np

    from skullvae.io import Volume

    inp = tmp_path / "in"
    inp.mkdir()
    (inp / "a_good.nii.gz").write_bytes(skull.read_bytes())
    write_volume(Volume(np.zeros((20, 20, 20), np.uint8)), inp / "b_empty.nii.gz")
    lost = shell_skull(shape=(70, 84, 64), spacing=(2.4, 2.4, 2.4))[0]
    write_volume(Volume(lost.array, (20.0, 20.0, 20.0)), inp / "c_lost_spacing.nii.gz")
    code, out, err = run_cli(["complete", "--input-dir", inp, "--output-dir", tmp_path / "batch", "--mode", "mirror"],
                             capsys)
    assert code == 1
    lines = err.splitlines()
    assert any(ln.startswith("skullvae: error: b_empty.nii.gz: no bone found") for ln in lines), err
    assert any(ln.startswith("skullvae: error: c_lost_spacing.nii.gz: the bone is") for ln in lines), err
    assert lines[-1] == "skullvae: 2 of 3 cases failed: b_empty.nii.gz, c_lost_spacing.nii.gz"
    assert "Traceback" not in err and "a_good.nii.gz" in out


# -- temporaries of a killed run are removed by a later run ------------------------------------

_KILLED = """
import os, signal, sys
from skullvae.io.atomic import atomic_path, staged_folder
target = sys.argv[1]
with staged_folder(os.path.join(target, "out")) as tmp:
    open(os.path.join(tmp, "implant.stl"), "w").write("partial")
    with atomic_path(os.path.join(target, "model.safetensors")) as part:
        os.kill(os.getpid(), signal.SIGKILL)
"""


def test_temporaries_of_a_killed_run_are_removed_once_provably_stale(tmp_path):
    from skullvae.io import atomic

    proc = subprocess.run([sys.executable, "-c", _KILLED, str(tmp_path)], capture_output=True, timeout=120)
    assert proc.returncode == -9
    left = sorted(p.name for p in tmp_path.iterdir())
    assert len(left) == 2 and left[0].startswith(".model.tmp-") and left[1].startswith(".out.tmp-"), left
    assert left[0].endswith(".safetensors")
    # Too fresh: a later run leaves them alone (the killed process might be a live one elsewhere).
    assert atomic.remove_stale_temporaries(tmp_path, "out") == []
    old = atomic.time.time() - atomic.STALE_AGE_S - 60
    for name in left:
        os.utime(tmp_path / name, (old, old))
    # A live process's temporary of the same age is kept, and so is an unrelated hidden name.
    live = tmp_path / f".out.tmp-{os.getppid()}-{atomic._host_tag()}-abcdefgh"
    live.mkdir()
    unrelated = tmp_path / ".out.tmp-something"
    unrelated.mkdir()
    for path in (live, unrelated):
        os.utime(path, (old, old))
    with atomic.staged_folder(tmp_path / "out") as staging:
        (staging / "x").write_text("done")
    with atomic.atomic_path(tmp_path / "model.safetensors") as part:
        part.write_bytes(b"weights")
    names = sorted(p.name for p in tmp_path.iterdir())
    assert not any(n.startswith(".model.tmp-") for n in names)
    assert [n for n in names if n.startswith(".out.")] == sorted([live.name, unrelated.name])
    assert (tmp_path / "out" / "x").read_text() == "done"



_WRITE_BIG = """
import sys
import numpy as np
from skullvae.errors import SkullVAEError
from skullvae.io import Volume, write_volume
try:
    write_volume(Volume(np.random.default_rng(0).random((100, 100, 100))), sys.argv[1])
except (SkullVAEError, OSError) as exc:
    print(type(exc).__name__, exc)
    sys.exit(2)
"""


@pytest.mark.parametrize("name", ["big.nii.gz", "big.nii", "big.nrrd"])
def test_a_volume_write_cut_short_is_an_error_not_a_partial_file(tmp_path, name):
    """ITK's NIfTI writer reports a short write only on stderr ("** ERROR: NWAD"); the file must not appear."""
    import resource

    def limit():
        resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, 200_000))

    proc = subprocess.run([sys.executable, "-c", _WRITE_BIG, str(tmp_path / name)], capture_output=True, text=True,
                          timeout=120, preexec_fn=limit)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert str(tmp_path / name) in proc.stdout and proc.stderr == ""
    assert list(tmp_path.iterdir()) == []
