"""The ``report.json`` of one completion."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from skullvae.implant.mesh import mesh_summary
from skullvae.preprocessing.crop import box_corners, nonzero_bbox


def build_report(input_path: Path, out_dir: Path, ext: str, volume, case, completion, implant, mesh, opts,
                 model, device: str, timings: dict, rim=None) -> dict:
    """Collect mode, model id, implant volume/bbox, mesh summary, timings and device."""
    lo, hi = nonzero_bbox(implant.array)  # type: ignore[misc]  # the implant is never empty
    lo_idx = lo + implant.lo
    hi_idx = hi - 1 + implant.lo
    phys = volume.index_to_physical(box_corners(lo_idx, hi_idx))
    outputs = {"implant": f"implant{ext}", "completed": f"completed{ext}", "stl": "implant.stl",
               "preview": "preview.png", "report": "report.json"}
    if completion.implant_probability is not None:
        outputs["implant_probability"] = f"implant_probability{ext}"
    return {
        "input": str(input_path),
        "output_dir": str(out_dir),
        "mode": completion.mode,
        "requested_mode": opts.mode,
        "model_id": getattr(model, "model_id", None) if model is not None else None,
        "device": device,
        "engine": getattr(model, "engine", None) if model is not None else None,
        "input_kind": case.kind,
        "geometry": {"size": list(volume.shape), "spacing_mm": list(volume.spacing),
                     "origin_mm": list(volume.origin), "direction": np.asarray(volume.direction).tolist()},
        "implant": {
            "voxels": implant.n_voxels,
            "volume_cm3": round(implant.volume_cm3, 3),
            "bbox_index": [lo_idx.tolist(), hi_idx.tolist()],
            "bbox_mm": [phys.min(axis=0).round(2).tolist(), phys.max(axis=0).round(2).tolist()],
            "size_mm": (phys.max(axis=0) - phys.min(axis=0)).round(2).tolist(),
        },
        "mesh": mesh_summary(mesh),
        "defects": rim.components if rim is not None else None,
        "rim_gap_mm": rim.info["rim_gap_mm"] if rim is not None else None,
        "completion": completion.info,
        "preprocessing": case.info,
        "pose": case.pose.to_dict() if case.pose is not None else {"detected": None, "kept": "--pose keep"},
        "options": {"defect_type": opts.defect_type, "gamma": opts.gamma, "samples": opts.samples,
                    "align": opts.align, "hu_threshold": opts.hu_threshold, "smooth": opts.smooth,
                    "decimate": opts.decimate, "rim": opts.rim},
        "timings_s": dict(timings, total=round(sum(timings.values()), 3)),
        "outputs": outputs,
    }
