"""Run the Docker image's ENTRYPOINT outside Docker, as ``docker run --network none --read-only`` would.

The command and the run-time environment are read from docker/Dockerfile (ENTRYPOINT, ENV),
with ``/input``, ``/output`` and ``/tmp`` mapped to folders of the test. The process runs in
the sandbox of ``tests/sandbox/sitecustomize.py``: internet sockets and host lookups fail, and
every write outside the output folder and the private /tmp is refused and logged. The input
folder, HOME, the XDG folders and the working folder are made read-only (and snapshotted, so
a test can check that they are unchanged: as root, ``chmod`` alone stops nothing).

The two cases are the geometries users most often report as "rotated 180°" in 3D Slicer: a
RAS-stored NIfTI (ITK direction diag(-1, -1, 1)) and an oblique, flipped grid, so that the
Slicer alignment test can check the same outputs (tests/cli/test_slicer_alignment.py).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import stat
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent / "completion"))
from skull_shapes import shell_skull  # noqa: E402

from skullvae import Volume  # noqa: E402
from skullvae.io import write_volume  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SANDBOX = Path(__file__).resolve().parent / "sandbox"


def _rotation(axis: int, deg: float) -> np.ndarray:
    a = np.radians(deg)
    i, j = [k for k in range(3) if k != axis]
    rot = np.eye(3)
    rot[i, i] = rot[j, j] = np.cos(a)
    rot[i, j], rot[j, i] = -np.sin(a), np.sin(a)
    return rot


#: name -> (direction, spacing mm, shape): small shell skulls (see tests/completion/skull_shapes.py)
CASES = {
    "ras_stored": (np.diag([-1.0, -1.0, 1.0]), 2.0, (80, 96, 76)),
    "oblique_flipped": (_rotation(2, 25.0) @ _rotation(0, 15.0) @ np.diag([1.0, 1.0, -1.0]), 2.5, (64, 78, 62)),
}


def load_check_image():
    """docker/check_image.py as a module."""
    if "check_image" in sys.modules:
        return sys.modules["check_image"]
    spec = importlib.util.spec_from_file_location("check_image", REPO / "docker" / "check_image.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["check_image"] = module  # dataclasses look the module up
    spec.loader.exec_module(module)
    return module


def image_command() -> tuple[list[str], dict[str, str]]:
    """The Dockerfile's ENTRYPOINT (exec form) and the ENV of its final stage."""
    check_image = load_check_image()
    instructions = check_image.parse_dockerfile((REPO / "docker" / "Dockerfile").read_text())
    entry = json.loads([i for i in instructions if i.keyword == "ENTRYPOINT"][-1].args)
    return entry, check_image.image_environment(instructions)


def snapshot(folder: Path) -> dict[str, str]:
    """SHA-256 of every file (``"dir"`` for folders) under ``folder``, by relative path."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
            for p in sorted(folder.rglob("*"))}


def _read_only(folder: Path) -> None:
    for p in [*folder.rglob("*"), folder]:
        p.chmod(stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH | (stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH if p.is_dir() else 0))


def package_files() -> set[str]:
    """Every path of the installed package's source folders."""
    return {str(p) for root in ("skullvae", "cli") for p in (REPO / root).rglob("*")}


@dataclass
class EntrypointRun:
    """What :func:`run_entrypoint` did and found."""

    proc: subprocess.CompletedProcess
    input: Path
    output: Path
    locked: dict[str, Path]
    before: dict[str, dict[str, str]]
    package_before: set[str]
    package_after: set[str]
    sandbox_log: str
    env: dict[str, str]
    truths: dict[str, Volume]


def run_entrypoint(root: Path) -> EntrypointRun:
    """Write the :data:`CASES` into ``root/input`` and run the image's entrypoint on them in the sandbox.

    Args:
        root: an empty folder.

    Returns:
        The run (process, folders, snapshots before, sandbox log).
    """
    entry, image_env = image_command()
    inp, out, tmp = root / "input", root / "output", root / "tmp"
    locked = {name: root / name for name in ("home", "xdg_cache", "xdg_config", "cwd")}
    for folder in (inp, out, tmp, *locked.values()):
        folder.mkdir()
    truths = {}
    for name, (direction, spacing, shape) in CASES.items():
        defective, _, truths[name] = shell_skull(spacing=(spacing,) * 3, shape=shape, direction=direction)
        write_volume(defective, inp / f"{name}.nii.gz")
    before = {name: snapshot(folder) for name, folder in {"input": inp, **locked}.items()}
    package_before = package_files()
    for folder in (inp, *locked.values()):
        _read_only(folder)
    mapped = {"/input": str(inp), "/output": str(out), "/tmp": str(tmp)}

    def to_host(value: str) -> str:
        for inside, outside in mapped.items():
            if value == inside or value.startswith(inside + "/"):
                return outside + value[len(inside):]
        return value

    env = {k: v for k, v in os.environ.items() if not k.startswith(("MPL", "XDG_", "TORCH", "OMP_", "ORT_"))}
    # ORT_DISABLE_TELEMETRY is left out: skullvae itself must keep ONNX Runtime from writing to the cache
    env.update({k: to_host(v) for k, v in image_env.items() if k not in ("PATH", "VIRTUAL_ENV", "ORT_DISABLE_TELEMETRY")})
    env.update({"HOME": str(locked["home"]), "XDG_CACHE_HOME": str(locked["xdg_cache"]),
                "XDG_CONFIG_HOME": str(locked["xdg_config"]), "PYTHONPATH": str(SANDBOX),
                "SANDBOX_WRITABLE": os.pathsep.join([str(out), str(tmp)]), "SANDBOX_LOG": str(root / "sandbox.log"),
                "OMP_NUM_THREADS": "1"})
    argv = [sys.executable, "-m", "skullvae_cli", *[to_host(a) for a in entry[1:]]]
    proc = subprocess.run(argv, cwd=locked["cwd"], env=env, capture_output=True, text=True, timeout=300)
    log = (root / "sandbox.log").read_text() if (root / "sandbox.log").exists() else ""
    return EntrypointRun(proc, inp, out, locked, before, package_before, package_files(), log, env, truths)
