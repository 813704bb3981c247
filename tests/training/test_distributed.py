"""DDP: the training command under torchrun with 2 CPU processes (gloo)."""

import json
import os
import signal
import socket
import subprocess
import sys

import pytest
import torch

from skullvae.model import load_model
from skullvae.training.distributed import DistInfo
from skullvae.training.loop import epoch_batches
from skullvae.training.toy_data import make_toy_dataset


def test_batches_are_sharded_evenly():
    shards = [epoch_batches(7, 2, seed=3, epoch=1, info=DistInfo(r, 2, r)) for r in range(2)]
    assert len(shards[0]) == len(shards[1])
    flat = sorted(i for s in shards for b in s for i in b)
    assert set(flat) == set(range(7)) and len(flat) == 8  # padded by one repeat
    assert epoch_batches(7, 2, 3, 1, DistInfo()) == epoch_batches(7, 2, 3, 1, DistInfo())
    assert epoch_batches(7, 2, 3, 1, DistInfo()) != epoch_batches(7, 2, 3, 2, DistInfo())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run_group(cmd, env, timeout=300) -> subprocess.CompletedProcess:
    """Run torchrun in its own process group so that a timeout also ends its workers."""
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        pytest.fail(f"torchrun timed out: {err[-2000:]}")
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def _torchrun(tmp_path, stage2: bool):
    manifest = make_toy_dataset(tmp_path / "data", n=4, shape=32, spacing=6.0)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", str(_free_port()),
           "-m", "skullvae_cli", "train", "--stage", "1", "--data", str(manifest), "--out", str(tmp_path / "run"),
           "--grid", "16", "--voxel-mm", "14", "--channels", "4,8", "--latent-size", "4", "--epochs", "2",
           "--batch-size", "1", "--device", "cpu", "--quiet", "--objective", "mog"]
    proc = _run_group(cmd, env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = (tmp_path / "run" / "stage1" / "metrics.csv").read_text().splitlines()
    assert len(rows) == 3
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    # each epoch has ceil(ceil(N/2)/1) steps per rank, where N = train volumes
    steps = int(rows[-1].split(",")[1])
    n_train = 4 * sum(1 for c in json.loads(manifest.read_text())["cases"] if c["split"] == "train")
    assert steps == 2 * -(-n_train // 2)
    assert config["stage1_result"]["epochs_done"] == 2
    if not stage2:
        return
    cmd2 = cmd[:6] + [str(_free_port())] + cmd[7:9]
    # torchrun's own parser would take --run as an abbreviation of --run-path, hence --out
    proc2 = _run_group(cmd2 + ["train", "--stage", "2", "--out", str(tmp_path / "run"), "--epochs", "1",
                               "--batch-size", "1", "--device", "cpu", "--quiet", "--no-onnx"], env)
    assert proc2.returncode == 0, proc2.stderr[-3000:]
    model = load_model(tmp_path / "run")
    assert model.has_stage2
    assert torch.isfinite(model.decode(torch.zeros(1, 4))).all()


def test_torchrun_two_cpu_processes_stage1(tmp_path):
    _torchrun(tmp_path, stage2=False)


@pytest.mark.slow
def test_torchrun_two_cpu_processes_both_stages(tmp_path):
    _torchrun(tmp_path, stage2=True)
