"""``scores.csv``: one row per case × mode, rewritten atomically after every case."""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

from skullvae.errors import SkullVAEError
from skullvae.io.atomic import atomic_write_text

COLUMNS = ("skull_id", "defect_type", "split", "mode", "dsc", "bdsc", "hd95", "gap_median_mm", "gap_p95_mm",
           "defects", "failed", "wall_s", "error")
_FLOATS = ("dsc", "bdsc", "hd95", "gap_median_mm", "gap_p95_mm", "wall_s")
_INTS = ("defects", "failed")


def _text(value) -> str:
    if isinstance(value, float):
        return "inf" if math.isinf(value) else ("nan" if math.isnan(value) else f"{value:.6g}")
    return str(value)


def write_scores(path: Path, rows: list[dict]) -> Path:
    """Write the rows (atomically: a reader never sees half a file)."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _text(row.get(k, "")) for k in COLUMNS})
    return atomic_write_text(path, buf.getvalue())


def read_scores(path: Path) -> list[dict]:
    """Rows of a ``scores.csv`` with numbers as numbers (``[]`` when it does not exist).

    Raises:
        SkullVAEError: the file is not a scores table of this version.
    """
    if not path.is_file():
        return []
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        if tuple(reader.fieldnames or ()) != COLUMNS:
            raise SkullVAEError(f"{path} is not a scores table of skullvae evaluate (columns differ); "
                                "pass --overwrite to start again")
        rows = []
        for raw in reader:
            row: dict = dict(raw)
            for k in _FLOATS:
                row[k] = float(raw[k]) if raw[k] not in ("", None) else float("nan")
            for k in _INTS:
                row[k] = int(float(raw[k])) if raw[k] not in ("", None) else 0
            rows.append(row)
    return rows
