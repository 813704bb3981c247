"""The image's ENTRYPOINT, run outside Docker as ``docker run --network none --read-only`` would run it.

See tests/entrypoint_sandbox.py for how (the ``entrypoint_run`` fixture of conftest.py): the
Dockerfile's own ENTRYPOINT and ENV, two small cases, no network, writes only to the output
and a private /tmp, read-only input, HOME, XDG folders and working folder.
"""

from __future__ import annotations

import errno
import json
import subprocess
import sys

from entrypoint_sandbox import CASES, image_command, snapshot


def test_the_entrypoint_is_skullvae_complete_on_input_and_output():
    entry, env = image_command()
    assert entry == ["skullvae", "complete", "--input-dir", "/input", "--output-dir", "/output"]
    assert env["HOME"] == "/tmp" and env["MPLCONFIGDIR"].startswith("/tmp/")


def test_entrypoint_completes_a_read_only_folder_without_network_or_stray_writes(entrypoint_run):
    run = entrypoint_run
    assert run.sandbox_log == "", run.sandbox_log
    assert run.proc.returncode == 0, run.proc.stderr
    assert f"{len(CASES)} cases" in run.proc.stdout
    for case in CASES:
        names = {p.name for p in (run.output / case).iterdir()}
        assert {"implant.nii.gz", "completed.nii.gz", "implant.stl", "preview.png", "report.json"} <= names, names
        assert (run.output / "implants" / f"{case}.nii.gz").is_file()
        report = json.loads((run.output / case / "report.json").read_text())
        assert report["implant"]["volume_cm3"] > 1.0 and report["mesh"]["watertight"]
    for name, folder in {"input": run.input, **run.locked}.items():
        assert snapshot(folder) == run.before[name], f"{name} folder changed"
    assert run.package_after == run.package_before  # nothing written into the installed package


def test_the_sandbox_blocks_network_and_writes(entrypoint_run):
    """The sandbox is real: in it, the same interpreter can neither connect nor write to the input."""
    code = ("import socket\ntry:\n socket.create_connection(('127.0.0.1', 9), 1)\nexcept OSError as e: print('net', e.errno)\n"
            f"try:\n open({str(entrypoint_run.input / 'x')!r}, 'w')\nexcept OSError as e: print('write', e.errno)")
    probe = subprocess.run([sys.executable, "-c", code], env=entrypoint_run.env, capture_output=True, text=True, timeout=60)
    assert probe.stdout.split() == ["net", str(errno.ENETUNREACH), "write", str(errno.EROFS)]
