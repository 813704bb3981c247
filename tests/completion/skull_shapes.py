"""Small analytic skull stand-ins for completion tests (fast, exact ground truth)."""

from __future__ import annotations

import numpy as np

from skullvae import Volume

SEMI_AXES_MM = (62.0, 78.0, 60.0)  # left-right, anterior-posterior, superior-inferior
THICKNESS_MM = 7.0


def rotation_z(deg: float) -> np.ndarray:
    """Rotation about the S axis."""
    a = np.radians(deg)
    return np.array([[np.cos(a), -np.sin(a), 0.0], [np.sin(a), np.cos(a), 0.0], [0.0, 0.0, 1.0]])


def shell_skull(spacing=(2.0, 2.0, 2.0), shape=(80, 96, 76), origin=None, direction=None,
                center=(0.0, 0.0, 0.0), yaw_deg: float = 0.0, defect: bool = True, defect_radius_mm: float = 28.0):
    """An ellipsoidal shell "skull", optionally with a spherical cap defect on its +L side.

    Returns:
        ``(defective, complete, implant)`` uint8 volumes with identical geometry; the
        shell's left-right symmetry plane passes through ``center`` with normal
        ``rotation_z(yaw_deg)[:, 0]``.
    """
    direction = np.eye(3) if direction is None else np.asarray(direction)
    if origin is None:  # centre the volume on (0, 0, 0)
        origin = -direction @ (np.asarray(spacing) * (np.asarray(shape) - 1) / 2.0)
    vol = Volume(np.zeros(shape, np.uint8), spacing, origin, direction)
    idx = np.indices(shape).reshape(3, -1).T
    pts = vol.index_to_physical(idx) - np.asarray(center)
    rot = rotation_z(yaw_deg)
    local = pts @ rot  # coordinates along the skull's own axes
    a = np.asarray(SEMI_AXES_MM)
    r = np.linalg.norm(local / a, axis=1)
    scale = THICKNESS_MM / a.min()
    complete = ((r <= 1.0) & (r >= 1.0 - scale) & (local[:, 2] > -25.0)).reshape(shape)
    implant = np.zeros(shape, bool)
    if defect:
        cap_center = np.array([a[0] * 0.97, 10.0, 15.0])
        near = (np.linalg.norm(local - cap_center, axis=1) < defect_radius_mm).reshape(shape)
        implant = complete & near
    defective = complete & ~implant
    return vol.with_array(defective.astype(np.uint8)), vol.with_array(complete.astype(np.uint8)), vol.with_array(implant.astype(np.uint8))


def dice(a: np.ndarray, b: np.ndarray) -> float:
    """Dice overlap of two masks."""
    a, b = a != 0, b != 0
    return float(2 * np.logical_and(a, b).sum() / max(1, a.sum() + b.sum()))


class FakeModel:
    """A stand-in for ``skullvae.model.load_model`` with an analytic latent space.

    ``decode([z0, z1])`` is the defective skull plus ``(1 + z0)`` × the missing cap
    (so z0 = 0 is the complete skull, the prior mean; z0 = -1 the defective one);
    ``encode`` projects onto the cap, and the DEV of every type is ``[1, 0]``.
    Both templates live in the frame ``frame_for(defective, grid, voxel_mm)`` that
    completion uses.
    """

    def __init__(self, defective, complete, grid=(48, 48, 48), voxel_mm=3.5):
        import torch

        from skullvae.preprocessing.model_grid import frame_for, to_grid

        self.config = {"grid": list(grid), "voxel_mm": voxel_mm, "latent_size": 2}
        self.model_id = "fake-analytic"
        self.device = torch.device("cpu")
        frame = frame_for(defective, grid, voxel_mm)
        self.t_def = torch.from_numpy(to_grid(defective, frame))
        self.t_imp = torch.from_numpy(np.clip(to_grid(complete, frame) - self.t_def.numpy(), 0, 1))
        self.decoder = _FakeDecoder(self.t_def, self.t_imp)
        self.dev_vectors = {"pooled": torch.tensor([1.0, 0.0]), "parietotemporal": torch.tensor([1.0, 0.0])}
        self.posterior_mean = torch.zeros(2)
        self.posterior_var = torch.ones(2)
        self.calls = []

    def encode(self, x):
        import torch

        proj = (x[:, 0] * self.t_imp).sum(dim=(1, 2, 3)) / (self.t_imp * self.t_imp).sum()
        mu = torch.stack([proj - 1.0, torch.zeros_like(proj)], dim=1)
        return mu, torch.full_like(mu, np.log(0.01))

    def decode(self, z):
        import torch

        self.calls.append(z.clone())
        with torch.no_grad():
            return self.decoder(z)

    def encode_array(self, x):
        import torch

        mu, logvar = self.encode(torch.from_numpy(x))
        return mu.numpy(), logvar.numpy()

    def decode_array(self, z):
        import torch

        return self.decode(torch.from_numpy(z)).numpy()


def _fake_decoder_class():
    import torch

    class FakeDecoder(torch.nn.Module):
        def __init__(self, t_def, t_imp):
            super().__init__()
            self.t_def, self.t_imp = t_def, t_imp

        def forward(self, z):
            img = self.t_def[None] + (1.0 + z[:, 0])[:, None, None, None] * self.t_imp[None]
            return (12.0 * (img - 0.5))[:, None]

    return FakeDecoder


def _FakeDecoder(t_def, t_imp):
    return _fake_decoder_class()(t_def, t_imp)
