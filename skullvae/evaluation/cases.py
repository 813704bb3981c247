"""The cases an evaluation scores: one per (skull, defect type) with a ground-truth implant."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from skullvae.errors import SkullVAEError


@dataclass(frozen=True)
class EvalCase:
    """One defective skull and its ground-truth implant.

    Attributes:
        skull_id: the skull's id in the manifest.
        defect_type: the defect type (only passed to a completer as a hint when asked).
        defective: path of the defective skull.
        implant: path of the ground-truth implant (same grid).
        split: the skull's split.
    """

    skull_id: str
    defect_type: str
    defective: Path
    implant: Path
    split: str

    @property
    def key(self) -> tuple[str, str]:
        """``(skull_id, defect_type)``: what identifies the case in ``scores.csv``."""
        return self.skull_id, self.defect_type


def evaluation_cases(manifest, split: str = "test", types: list[str] | None = None,
                     limit: int | None = None) -> list[EvalCase]:
    """The scored cases of a manifest split, every file checked to exist.

    Args:
        manifest: a loaded :class:`~skullvae.data.manifest.Manifest` (synthetic,
            SkullBreak, SkullFix or the real-skull benchmark: any layout it resolves).
        split: a split name, or ``"all"``.
        types: only these defect types (default: all of the manifest's).
        limit: at most this many skulls (the first ids in sorted order).

    Returns:
        Cases in manifest order (skull, then defect type).

    Raises:
        SkullVAEError: unknown split or type, no case with a ground-truth implant, or a
            missing file (one line naming them).
    """
    if types:
        unknown = [t for t in types if t not in manifest.defect_types]
        if unknown:
            raise SkullVAEError(f"unknown defect type(s) {', '.join(unknown)} (manifest types: "
                                f"{', '.join(manifest.defect_types)})")
    chosen = manifest.cases if split == "all" else manifest.split(split)
    # a case needs its defective skull and its implant; the complete skull is not scored
    pairs = [(c, t) for c in chosen for t in manifest.defect_types if t in c.defective and t in c.implant]
    if types:
        pairs = [(c, t) for c, t in pairs if t in types]
    if limit is not None:
        keep = set(sorted({c.skull_id for c, _ in pairs})[: max(0, int(limit))])
        pairs = [(c, t) for c, t in pairs if c.skull_id in keep]
    if not pairs:
        where = manifest.path or manifest.name
        without = sum(len(c.defective) for c in chosen)
        why = (f": its {without} defective skulls come without ground-truth implants (the SkullBreak and SkullFix "
               f"test sets do); score a split that has them, e.g. --split val") if without else ""
        raise SkullVAEError(f"no {split!r} cases with a ground-truth implant in {where}{why}")
    cases = [EvalCase(c.skull_id, t, c.defective[t], c.implant[t], c.split) for c, t in pairs]
    missing = [p for case in cases for p in (case.defective, case.implant) if not p.is_file()]
    if missing:
        names = ", ".join(str(p) for p in missing[:5]) + (f" ... and {len(missing) - 5} more" if len(missing) > 5 else "")
        raise SkullVAEError(f"{len(missing)} file(s) of the evaluated cases missing: {names}")
    return cases
