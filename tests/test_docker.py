"""Static checks of the GPU inference image (docker/Dockerfile); no Docker engine needed."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CHECKER = REPO / "docker" / "check_image.py"

_spec = importlib.util.spec_from_file_location("check_image", CHECKER)
check_image = importlib.util.module_from_spec(_spec)
sys.modules.setdefault("check_image", check_image)  # dataclasses look the module up
_spec.loader.exec_module(check_image)

GOOD = """\
# a comment
FROM nvidia/cuda:12.8.0-runtime-ubuntu24.04
RUN apt-get update \\
    && apt-get install -y python3
COPY constraints.txt ./
RUN pip install -c constraints.txt "torch==2.13.0"
COPY pyproject.toml ./
COPY pkg ./pkg
RUN python -m pip install -c constraints.txt .
RUN useradd app
USER app
VOLUME ["/data"]
ENTRYPOINT ["skullvae"]
CMD ["--help"]
"""


@pytest.fixture
def fake_repo(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n\n[project.scripts]\nskullvae = "x:main"\n')
    (tmp_path / "constraints.txt").write_text("# pin\ntorch==2.13.0\n")
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    return tmp_path


def problems_for(repo: Path, text: str) -> list[str]:
    dockerfile = repo / "Dockerfile"
    dockerfile.write_text(text)
    return check_image.check_dockerfile(dockerfile, repo)


def test_shipped_dockerfile_passes_every_static_check():
    assert check_image.check_dockerfile(REPO / "docker" / "Dockerfile", REPO) == []


def test_checker_command_line_exit_codes(fake_repo):
    ok = subprocess.run([sys.executable, str(CHECKER), "--repo", str(REPO)], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert "all static checks passed" in ok.stdout
    bad = fake_repo / "Dockerfile"
    bad.write_text(GOOD.replace("ENTRYPOINT", "# ENTRYPOINT"))
    res = subprocess.run(
        [sys.executable, str(CHECKER), "--dockerfile", str(bad), "--repo", str(fake_repo)], capture_output=True, text=True
    )
    assert res.returncode == 1
    assert "no ENTRYPOINT" in res.stderr


def test_good_example_passes(fake_repo):
    assert problems_for(fake_repo, GOOD) == []


@pytest.mark.parametrize(
    "old, new, expected",
    [
        ("nvidia/cuda:12.8.0-runtime-ubuntu24.04", "nvidia/cuda", "not pinned by a tag"),
        ("nvidia/cuda:12.8.0-runtime-ubuntu24.04", "nvidia/cuda:latest", "moving tag 'latest'"),
        ('"torch==2.13.0"', "torch", "torch must be pinned with =="),
        ('"torch==2.13.0"', '"torch>=2.13"', "torch must be pinned with =="),
        ('"torch==2.13.0"', '"torch==2.12.0"', "differs from constraints.txt"),
        ("RUN python -m pip install -c constraints.txt .", "RUN python -m pip install .", "without -c constraints.txt"),
        ("COPY pkg ./pkg", "COPY pkgs ./pkg", "source 'pkgs' does not exist"),
        ('ENTRYPOINT ["skullvae"]', 'ENTRYPOINT ["skull"]', "not a console script"),
        ('ENTRYPOINT ["skullvae"]', "ENTRYPOINT skullvae", "exec form"),
        ('ENTRYPOINT ["skullvae"]', "", "no ENTRYPOINT"),
        ('CMD ["--help"]', "", "no CMD"),
        ("USER app", "USER root", "non-root USER"),
        ('VOLUME ["/data"]', "", "no VOLUME /data"),
    ],
)
def test_each_problem_is_reported(fake_repo, old, new, expected):
    assert old in GOOD
    problems = problems_for(fake_repo, GOOD.replace(old, new))
    assert any(expected in p for p in problems), problems


def test_copy_of_dockerignored_source_is_reported(fake_repo):
    (fake_repo / ".dockerignore").write_text("# context\n**/__pycache__\npkg\n")
    problems = problems_for(fake_repo, GOOD)
    assert any("excluded by .dockerignore" in p for p in problems), problems


def test_parser_joins_continuations_and_skips_comments():
    text = "FROM a:1\n# c\nRUN one \\\n  # inner comment\n  two\nCMD [\"x\"]\n"
    parsed = check_image.parse_dockerfile(text)
    assert [(i.keyword, i.args, i.line) for i in parsed] == [("FROM", "a:1", 1), ("RUN", "one two", 3), ("CMD", '["x"]', 6)]


def test_dockerignore_keeps_package_sources():
    patterns = check_image.dockerignore_patterns(REPO)
    assert patterns, "the repository has a .dockerignore"
    for needed in ("skullvae", "skullvae/bundled", "cli", "pyproject.toml", "constraints.txt"):
        assert not check_image.is_ignored(needed, patterns), needed
    for dropped in (".venv", ".git", "tests", "skullvae/io/__pycache__"):
        assert check_image.is_ignored(dropped, patterns), dropped


def test_console_scripts_with_and_without_tomllib(monkeypatch):
    expected = check_image.console_scripts(REPO / "pyproject.toml")
    assert "skullvae" in expected
    monkeypatch.setitem(sys.modules, "tomllib", None)  # as on Python 3.10
    assert check_image.console_scripts(REPO / "pyproject.toml") == expected
