"""pyproject.toml lists every package, so a non-editable install (the Docker image) has them all."""

from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")

ROOT = Path(__file__).resolve().parents[1]


def test_every_package_folder_is_listed_in_pyproject():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "skullvae").rglob("__init__.py")}
    found |= {"skullvae_cli"} if (ROOT / "cli" / "__init__.py").exists() else set()
    assert found - listed == set(), f"missing from pyproject.toml [tool.setuptools] packages: {sorted(found - listed)}"
    assert listed - found == set(), f"listed but not a package: {sorted(listed - found)}"
