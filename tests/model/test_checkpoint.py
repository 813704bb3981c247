"""safetensors checkpoints; pickles are refused."""

import numpy as np
import pytest
import torch

from skullvae.errors import SkullVAEError
from skullvae.model.checkpoint import check_safetensors_file, load_state, load_weights, save_state, save_weights


def test_weights_round_trip(tmp_path):
    t = {"a": torch.arange(6.0).reshape(2, 3), "b": torch.tensor([1, 2], dtype=torch.int64)}
    save_weights(tmp_path / "w.safetensors", t, {"x": [1, 2]})
    back, meta = load_weights(tmp_path / "w.safetensors")
    assert meta == {"x": [1, 2]}
    assert all(torch.equal(t[k], back[k]) for k in t)


@pytest.mark.parametrize("suffix", [".pt", ".pth", ".ckpt"])
def test_pickle_suffix_refused(tmp_path, suffix):
    path = tmp_path / f"model{suffix}"
    torch.save({"w": torch.zeros(2)}, path)
    with pytest.raises(SkullVAEError, match="pickle"):
        load_weights(path)


def test_pickle_disguised_as_safetensors_refused(tmp_path):
    path = tmp_path / "model.safetensors"
    torch.save({"w": torch.zeros(2)}, path)
    with pytest.raises(SkullVAEError, match="refusing"):
        check_safetensors_file(path)


def test_header_length_with_pickle_like_first_byte_is_loaded(tmp_path):
    # the first byte is the header length's low byte: 0x80 (like a pickle's opcode) is a valid safetensors file
    path = tmp_path / "w.safetensors"
    for width in range(1, 400):
        save_weights(path, {"a" * width: torch.zeros(1)})
        if path.read_bytes()[:1] == b"\x80":
            break
    assert path.read_bytes()[:1] == b"\x80"
    assert check_safetensors_file(path) == path
    assert torch.equal(load_weights(path)[0]["a" * width], torch.zeros(1))


def test_garbage_refused(tmp_path):
    path = tmp_path / "x.safetensors"
    path.write_bytes(b"hello world, not weights")
    with pytest.raises(SkullVAEError, match="not a safetensors"):
        load_weights(path)


def test_nested_state_round_trip(tmp_path):
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.Adam(model.parameters())
    model(torch.randn(4, 3)).sum().backward()
    opt.step()
    state = {"opt": opt.state_dict(), "tup": (1, "a", None), "arr": np.arange(5, dtype=np.uint32),
             "rng": torch.get_rng_state(), "nested": [{"x": 1.5}], "intkeys": {0: "zero"}}
    save_state(tmp_path / "s.safetensors", state)
    back = load_state(tmp_path / "s.safetensors")
    assert back["tup"] == (1, "a", None) and back["nested"] == [{"x": 1.5}] and back["intkeys"] == {0: "zero"}
    np.testing.assert_array_equal(back["arr"], state["arr"])
    assert torch.equal(back["rng"], state["rng"])
    opt2 = torch.optim.Adam(torch.nn.Linear(3, 2).parameters())
    opt2.load_state_dict(back["opt"])
    s1, s2 = opt.state_dict()["state"][0], opt2.state_dict()["state"][0]
    assert torch.equal(s1["exp_avg"], s2["exp_avg"])
