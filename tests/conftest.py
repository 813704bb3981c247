"""Shared test fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

REAL_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "real"


@pytest.fixture
def real_data() -> Path:
    """Folder of the real sample data; skips when ``../shared`` is absent."""
    if not REAL_DATA.is_dir():
        pytest.skip(f"real data not available ({REAL_DATA} missing)")
    return REAL_DATA
