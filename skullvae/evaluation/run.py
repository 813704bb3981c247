"""Run an evaluation: every case × completer, resumable, into ``scores.csv`` + ``summary.md``.

``OUT/run.json`` records what is evaluated (data, split, model, options). A second run
into the same folder with the same settings skips the (skull, defect type, mode) rows
already in ``OUT/scores.csv`` and continues; other settings are refused unless
``overwrite``. ``scores.csv`` is rewritten atomically after every case, so an
interrupted run loses at most the case in progress.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Callable

from skullvae.errors import SkullVAEError
from skullvae.evaluation.scores_table import read_scores, write_scores
from skullvae.evaluation.scoring import score_case
from skullvae.evaluation.summary import write_summary
from skullvae.io.atomic import atomic_write_text

#: Settings that must match for a run to continue in the same folder (new modes may be added).
RESUME_KEYS = ("data", "split", "model", "defect_type_hint", "match_components", "types", "limit")

Progress = Callable[[int, int, object, str, "dict | None"], None]


def _prepare_out_dir(out_dir: Path, settings: dict, overwrite: bool) -> list[dict]:
    """Check the output folder; return the rows already scored there (``[]`` for a new run)."""
    run_file, scores_file = out_dir / "run.json", out_dir / "scores.csv"
    if out_dir.exists() and not out_dir.is_dir():
        raise SkullVAEError(f"output exists and is not a folder: {out_dir}")
    if overwrite or not out_dir.exists():
        if overwrite and scores_file.exists():
            scores_file.unlink()
        return []
    if not run_file.is_file():
        if any(out_dir.iterdir()):
            raise SkullVAEError(f"output folder {out_dir} is not empty and holds no evaluation "
                                "(pass --overwrite or choose another -o)")
        return []
    try:
        before = json.loads(run_file.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        raise SkullVAEError(f"cannot read {run_file} (pass --overwrite to start again)") from None
    changed = [k for k in RESUME_KEYS if before.get(k) != settings.get(k)]
    if changed:
        what = ", ".join(f"{k} {before.get(k)!r} → {settings.get(k)!r}" for k in changed)
        raise SkullVAEError(f"{out_dir} holds an evaluation with other settings ({what}); "
                            "pass --overwrite to replace it or choose another -o")
    return read_scores(scores_file)


def evaluate(cases: list, completers: dict[str, Callable], out_dir: str | Path, *, settings: dict | None = None,
             match_components: bool = False, overwrite: bool = False, header: str = "",
             progress: Progress | None = None) -> list[dict]:
    """Score every case with every completer; write ``scores.csv``, ``summary.md``, box plots.

    Args:
        cases: :class:`~skullvae.evaluation.cases.EvalCase` list.
        completers: ``{mode name: complete(case, volume)}`` (e.g.
            :func:`~skullvae.evaluation.completers.mode_completers`, or any method's).
        out_dir: output folder (created).
        settings: what is evaluated, stored in ``run.json`` (keys of :data:`RESUME_KEYS`
            decide whether a later run may continue here).
        match_components: score only implant pieces overlapping the ground truth.
        overwrite: start again in a folder that holds an evaluation.
        header: a paragraph for the top of ``summary.md``.
        progress: ``progress(done, total, case, mode, scores)`` after each case × mode
            (``scores`` None when skipped as already scored).

    Returns:
        All rows (the resumed ones and the new ones).
    """
    out_dir = Path(out_dir)
    settings = dict(settings or {}, match_components=match_components)
    rows = _prepare_out_dir(out_dir, settings, overwrite)
    out_dir.mkdir(parents=True, exist_ok=True)
    modes = list(completers)
    previous = {}
    if (out_dir / "run.json").is_file() and not overwrite:
        previous = json.loads((out_dir / "run.json").read_text(encoding="utf-8"))
    known = list(dict.fromkeys(previous.get("modes", []) + modes))
    atomic_write_text(out_dir / "run.json", json.dumps({**settings, "modes": known}, indent=1, default=str) + "\n")
    done = {(r["skull_id"], r["defect_type"], r["mode"]) for r in rows}
    total, count = len(cases) * len(modes), 0
    started = time.perf_counter()
    for case in cases:
        for mode in modes:
            count += 1
            if (case.skull_id, case.defect_type, mode) in done:
                if progress:
                    progress(count, total, case, mode, None)
                continue
            scores = score_case(case, completers[mode], match_components)
            row = {"skull_id": case.skull_id, "defect_type": case.defect_type, "split": case.split, "mode": mode,
                   **scores}
            rows.append(row)
            write_scores(out_dir / "scores.csv", rows)
            if progress:
                progress(count, total, case, mode, row)
    if not (out_dir / "scores.csv").is_file():
        write_scores(out_dir / "scores.csv", rows)
    types = list(dict.fromkeys(c.defect_type for c in cases))
    keys = {c.key for c in cases}
    selected = [r for r in rows if (r["skull_id"], r["defect_type"]) in keys and r["mode"] in modes]
    elapsed = time.perf_counter() - started
    head = header or _default_header(settings, len(cases), elapsed)
    write_summary(selected, modes, types, out_dir, head)
    return rows


def _default_header(settings: dict, n_cases: int, elapsed: float) -> str:
    hint = "yes (each case's defect type passed)" if settings.get("defect_type_hint") else "no (as a user runs it)"
    parts = [f"Data: `{settings.get('data')}`, split `{settings.get('split')}`, {n_cases} (skull, defect type) cases.",
             f"Model: `{settings.get('model')}`.", f"Defect-type hint: {hint}."]
    if settings.get("match_components"):
        parts.append("Only the implant pieces overlapping the ground truth are scored (`--match-components`).")
    parts.append(f"This call: {elapsed:.0f} s.")
    return " ".join(parts)
