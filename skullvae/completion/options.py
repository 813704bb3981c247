"""The options of ``skullvae complete`` and the completion modes."""

from __future__ import annotations

from dataclasses import dataclass, field

from skullvae.preprocessing.intensity import DEFAULT_HU_THRESHOLD

MODES = ("auto", "dev", "optimize", "mirror")
#: Below this Dice between the model's reconstruction of the input and the input, the
#: input is out of the model's distribution: a warning in dev/optimize, mirror in auto.
#: (Held-out synthetic cases: 0.83-0.90; the real SkullBreak sample with the bundled model: 0.50.)
MIN_INPUT_FIT_DICE = 0.7
#: The default mode. ``auto`` runs ``dev`` unless the model reconstructs the input with
#: Dice < MIN_INPUT_FIT_DICE (a skull unlike anything it was trained on); then the model is
#: left out. Either way the rim step (``rim=True``) chooses the prior per case by the
#: held-out rim ring: skullvae evaluate, 36 held-out synthetic cases at
#: 0.8 mm, no defect type: auto 0.868 DSC, dev 0.784, mirror 0.866, auto --no-rim 0.634.
DEFAULT_MODE = "auto"


@dataclass
class CompletionOptions:
    """User options of ``skullvae complete`` (see the CLI help for each)."""

    mode: str = DEFAULT_MODE
    model: object = None
    device: str = "auto"
    engine: str = "auto"
    defect_type: str | None = None
    gamma: float = 1.0
    samples: int = 1
    align: str = "none"
    hu_threshold: float = DEFAULT_HU_THRESHOLD
    label: int | None = None  # the bone label of a label-map input
    smooth: int = 10
    decimate: float | None = None
    optimize_steps: int = 60
    seed: int = 0
    pose: str = "auto"  # auto: a scan stored upside down / face-back is completed upright; keep: as stored
    rim: bool = True  # the rim step (skullvae.implant.rim_implant); False = the completion minus the bone
    use_reconstruction: bool = False  # excluding the reconstruction's bone lost most implants (VAE reconstructions already heal defects)
    extra: dict = field(default_factory=dict)
