"""The image's ENTRYPOINT, run outside Docker as ``docker run --network none --read-only`` would run it.

The command and the run-time environment are read from docker/Dockerfile (ENTRYPOINT, ENV),
with ``/input``, ``/output`` and ``/tmp`` mapped to folders of the test. The process runs
in the sandbox of ``tests/sandbox/sitecustomize.py``: internet sockets and host lookups fail,
and every write outside the output folder and the private /tmp is refused and logged. The
input folder, HOME, the XDG folders and the working folder are read-only and must stay as
they were; the package itself (the "root filesystem") must get no new files.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent / "completion"))
from skull_shapes import shell_skull  # noqa: E402

from skullvae.io import write_volume

REPO = Path(__file__).resolve().parents[1]
SANDBOX = Path(__file__).resolve().parent / "sandbox"

_spec = importlib.util.spec_from_file_location("check_image", REPO / "docker" / "check_image.py")
check_image = importlib.util.module_from_spec(_spec)
sys.modules.setdefault("check_image", check_image)
_spec.loader.exec_module(check_image)

OBLIQUE = np.array([[np.cos(0.3), -np.sin(0.3), 0.0], [np.sin(0.3), np.cos(0.3), 0.0], [0.0, 0.0, 1.0]])


def _image_command() -> tuple[list[str], dict[str, str]]:
    instructions = check_image.parse_dockerfile((REPO / "docker" / "Dockerfile").read_text())
    entry = json.loads([i for i in instructions if i.keyword == "ENTRYPOINT"][-1].args)
    return entry, check_image.image_environment(instructions)


def _snapshot(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
            for p in sorted(folder.rglob("*"))}


def _read_only(folder: Path) -> None:
    for p in [*folder.rglob("*"), folder]:
        p.chmod(stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH | (stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH if p.is_dir() else 0))


def _package_files() -> set[str]:
    return {str(p) for root in ("skullvae", "cli") for p in (REPO / root).rglob("*")}


def test_entrypoint_completes_a_read_only_folder_without_network_or_stray_writes(tmp_path):
    entry, image_env = _image_command()
    assert entry[:2] == ["skullvae", "complete"]
    inp, out, tmp = tmp_path / "input", tmp_path / "output", tmp_path / "tmp"
    locked = {name: tmp_path / name for name in ("home", "xdg_cache", "xdg_config", "cwd")}
    for folder in (inp, out, tmp, *locked.values()):
        folder.mkdir()
    # two small cases: an upright skull in LPS at 2 mm, an oblique one at 1.6 mm
    write_volume(shell_skull()[0], inp / "case_a.nii.gz")
    write_volume(shell_skull(spacing=(1.6,) * 3, shape=(100, 116, 96), direction=OBLIQUE)[0], inp / "case_b.nrrd")
    before = {name: _snapshot(folder) for name, folder in {"input": inp, **locked}.items()}
    package_before = _package_files()
    for folder in (inp, *locked.values()):
        _read_only(folder)

    mapped = {"/input": str(inp), "/output": str(out), "/tmp": str(tmp)}

    def to_host(value: str) -> str:
        for inside, outside in mapped.items():
            if value == inside or value.startswith(inside + "/"):
                return outside + value[len(inside):]
        return value

    env = {k: v for k, v in os.environ.items() if not k.startswith(("MPL", "XDG_", "TORCH", "OMP_"))}
    # ORT_DISABLE_TELEMETRY is left out: skullvae itself must keep ONNX Runtime from writing to the cache
    env.update({k: to_host(v) for k, v in image_env.items() if k not in ("PATH", "VIRTUAL_ENV", "ORT_DISABLE_TELEMETRY")})
    env.pop("ORT_DISABLE_TELEMETRY", None)
    env.update({"HOME": str(locked["home"]), "XDG_CACHE_HOME": str(locked["xdg_cache"]),
                "XDG_CONFIG_HOME": str(locked["xdg_config"]), "PYTHONPATH": str(SANDBOX),
                "SANDBOX_WRITABLE": os.pathsep.join([str(out), str(tmp)]), "SANDBOX_LOG": str(tmp_path / "sandbox.log"),
                "OMP_NUM_THREADS": "1"})
    argv = [sys.executable, "-m", "skullvae_cli", *[to_host(a) for a in entry[1:]]]
    proc = subprocess.run(argv, cwd=locked["cwd"], env=env, capture_output=True, text=True, timeout=300)

    log = (tmp_path / "sandbox.log").read_text() if (tmp_path / "sandbox.log").exists() else ""
    assert log == "", log
    assert proc.returncode == 0, proc.stderr
    for case, ext in (("case_a", ".nii.gz"), ("case_b", ".nrrd")):
        names = {p.name for p in (out / case).iterdir()}
        assert {f"implant{ext}", "implant.stl", "preview.png", "report.json"} <= names, names
        assert (out / "implants" / f"{case}{ext}").is_file()
        report = json.loads((out / case / "report.json").read_text())
        assert report["implant"]["volume_cm3"] > 1.0 and report["mesh"]["watertight"]
    for name, folder in {"input": inp, **locked}.items():
        assert _snapshot(folder) == before[name], f"{name} folder changed"
    assert _package_files() == package_before  # nothing written into the installed package
    # the sandbox is real: the same interpreter cannot open a socket or write to the input
    probe = subprocess.run(
        [sys.executable, "-c", "import socket\ntry:\n socket.create_connection(('127.0.0.1', 9), 1)\n"
         "except OSError as e: print('net', e.errno)\n"
         f"try:\n open({str(inp / 'x')!r}, 'w')\nexcept OSError as e: print('write', e.errno)"],
        env=env, capture_output=True, text=True, timeout=60)
    assert probe.stdout.split() == ["net", str(__import__("errno").ENETUNREACH), "write", str(__import__("errno").EROFS)]
