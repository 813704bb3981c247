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


@pytest.fixture(scope="session")
def entrypoint_run(tmp_path_factory):
    """The Docker image's ENTRYPOINT, run once in the offline, read-only sandbox (tests/entrypoint_sandbox.py)."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from entrypoint_sandbox import run_entrypoint

    return run_entrypoint(tmp_path_factory.mktemp("entrypoint"))
