"""Static checks of docker/Dockerfile (no Docker engine needed).

Checks:
  * every base image (FROM) is pinned by a tag other than ``latest``, or by digest;
  * the image runs as a non-root USER and declares the /data volume;
  * ENTRYPOINT is present, in exec form, and names a console script from pyproject.toml;
  * CMD is present (exec form);
  * no ``pip install`` of torch without an exact ``==`` pin, the pin equals constraints.txt,
    and installing the project itself uses ``-c constraints.txt`` (so torch stays pinned);
  * every COPY/ADD source exists in the repository and is not excluded by .dockerignore.

Usage:
    python docker/check_image.py [--dockerfile docker/Dockerfile] [--repo .]
Exit code 0 when every check passes, 1 otherwise (one line per problem).
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import re
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
_TORCH = re.compile(r"^torch(\[[^\]]*\])?(?P<spec>[<>=!~].*)?$")


@dataclass(frozen=True)
class Instruction:
    """One Dockerfile instruction: keyword (upper case), argument text, first line number."""

    keyword: str
    args: str
    line: int


def parse_dockerfile(text: str) -> list[Instruction]:
    """Split a Dockerfile into instructions (comments dropped, continuations joined).

    Args:
        text: Dockerfile text.

    Returns:
        Instructions in order.
    """
    out: list[Instruction] = []
    parts: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not parts and (not line or line.startswith("#")):
            continue
        if parts and line.startswith("#"):
            continue  # comment lines inside a continuation are ignored by Docker
        if not parts:
            start = number
        if line.endswith("\\"):
            parts.append(line[:-1].strip())
            continue
        parts.append(line)
        joined = " ".join(p for p in parts if p)
        keyword, _, args = joined.partition(" ")
        out.append(Instruction(keyword.upper(), args.strip(), start))
        parts = []
    if parts:
        joined = " ".join(p for p in parts if p)
        keyword, _, args = joined.partition(" ")
        out.append(Instruction(keyword.upper(), args.strip(), start))
    return out


def console_scripts(pyproject: Path) -> set[str]:
    """Names in ``[project.scripts]`` of a pyproject.toml."""
    text = pyproject.read_text(encoding="utf-8")
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10: a tiny fallback for this one table
        match = re.search(r"^\[project\.scripts\]\s*$(.*?)(?=^\[|\Z)", text, re.M | re.S)
        body = match.group(1) if match else ""
        return set(re.findall(r"^\s*\"?([A-Za-z0-9_.-]+)\"?\s*=", body, re.M))
    return set(tomllib.loads(text).get("project", {}).get("scripts", {}))


def constraint_pins(constraints: Path) -> dict[str, str]:
    """``name -> version`` for every ``name==version`` line of a constraints file."""
    pins = {}
    for line in constraints.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line:
            name, version = line.split("==", 1)
            pins[name.strip().lower()] = version.strip()
    return pins


def dockerignore_patterns(repo: Path) -> list[str]:
    """Patterns of the repository's .dockerignore (empty when there is none)."""
    path = repo / ".dockerignore"
    if not path.is_file():
        return []
    lines = [ln.strip() for ln in path.read_text(encoding="utf-8").splitlines()]
    return [ln for ln in lines if ln and not ln.startswith("#")]


def is_ignored(rel: str, patterns: list[str]) -> bool:
    """Whether a context-relative path is excluded by .dockerignore patterns (last match wins)."""
    rel = rel.strip("/")
    candidates = [rel] + ["/".join(rel.split("/")[:i]) for i in range(1, rel.count("/") + 1)]
    ignored = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        pat = pattern[1:].strip("/") if negate else pattern.strip("/")
        variants = {pat, pat.replace("**/", "")} if pat.startswith("**/") else {pat}
        if any(fnmatch.fnmatchcase(c, v) for c in candidates for v in variants):
            ignored = not negate
    return ignored


def check_dockerfile(dockerfile: Path, repo: Path) -> list[str]:
    """Run every check.

    Args:
        dockerfile: the Dockerfile.
        repo: repository root (the build context).

    Returns:
        One message per problem; empty when the Dockerfile passes.
    """
    if not dockerfile.is_file():
        return [f"{dockerfile}: not found"]
    instructions = parse_dockerfile(dockerfile.read_text(encoding="utf-8"))
    problems: list[str] = []
    problems += _check_base_images(instructions)
    problems += _check_runtime(instructions, repo)
    problems += _check_pip(instructions, repo)
    problems += _check_copies(instructions, repo)
    return [f"{dockerfile.name}: {p}" for p in problems]


def _check_base_images(instructions: list[Instruction]) -> list[str]:
    problems, stages = [], set()
    froms = [i for i in instructions if i.keyword == "FROM"]
    if not froms:
        return ["no FROM instruction"]
    for ins in froms:
        words = [w for w in ins.args.split() if not w.startswith("--")]
        image = words[0] if words else ""
        if len(words) >= 3 and words[1].lower() == "as":
            stages.add(words[2].lower())
        if image.lower() in stages or image == "scratch":
            continue
        name = image.split("@", 1)[0]
        tag = name.rsplit(":", 1)[1] if ":" in name.rsplit("/", 1)[-1] else ""
        if "@sha256:" in image:
            continue
        if "$" in image:
            problems.append(f"line {ins.line}: base image {image!r} uses a variable; pin it literally")
        elif not tag:
            problems.append(f"line {ins.line}: base image {image!r} is not pinned by a tag")
        elif tag == "latest":
            problems.append(f"line {ins.line}: base image {image!r} uses the moving tag 'latest'")
    return problems


def _exec_form(ins: Instruction) -> list[str] | None:
    try:
        value = json.loads(ins.args)
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, list) and all(isinstance(v, str) for v in value) else None


def _check_runtime(instructions: list[Instruction], repo: Path) -> list[str]:
    problems = []
    last = {i.keyword: i for i in instructions}
    entry = last.get("ENTRYPOINT")
    if entry is None:
        problems.append("no ENTRYPOINT")
    else:
        argv = _exec_form(entry)
        if not argv:
            problems.append(f"line {entry.line}: ENTRYPOINT must be in exec form, e.g. [\"skullvae\"]")
        else:
            scripts = console_scripts(repo / "pyproject.toml") if (repo / "pyproject.toml").is_file() else set()
            if argv[0] not in scripts:
                problems.append(
                    f"line {entry.line}: ENTRYPOINT {argv[0]!r} is not a console script in pyproject.toml "
                    f"(scripts: {', '.join(sorted(scripts)) or 'none'})"
                )
    cmd = last.get("CMD")
    if cmd is None:
        problems.append("no CMD (default arguments, e.g. [\"--help\"])")
    elif _exec_form(cmd) is None:
        problems.append(f"line {cmd.line}: CMD must be in exec form")
    user = last.get("USER")
    if user is None or user.args.split(":")[0] in ("root", "0"):
        problems.append("the image must run as a non-root USER")
    volumes = [v for i in instructions if i.keyword == "VOLUME" for v in (_exec_form(i) or i.args.split())]
    if "/data" not in volumes:
        problems.append("no VOLUME /data for mounted cases")
    return problems


def _pip_installs(command: str) -> list[list[str]]:
    """Argument lists of every ``pip install`` (also ``python -m pip install``) in a shell command."""
    out = []
    for chunk in re.split(r"&&|\|\||;", command):
        try:
            words = shlex.split(chunk)
        except ValueError:
            words = chunk.split()
        for k in range(1, len(words)):
            if words[k] == "install" and words[k - 1].rsplit("/", 1)[-1] in ("pip", "pip3"):
                out.append(words[k + 1:])
    return out


def _check_pip(instructions: list[Instruction], repo: Path) -> list[str]:
    problems = []
    pins = constraint_pins(repo / "constraints.txt") if (repo / "constraints.txt").is_file() else {}
    for ins in (i for i in instructions if i.keyword == "RUN"):
        for args in _pip_installs(ins.args):
            constrained = any(a in ("-c", "--constraint") or a.startswith("--constraint=") for a in args)
            for arg in args:
                match = _TORCH.match(arg)
                if match:
                    spec = match.group("spec") or ""
                    if not spec.startswith("==") or any(c in spec[2:] for c in "<>=!~*,"):
                        problems.append(f"line {ins.line}: 'pip install {arg}' - torch must be pinned with ==")
                    elif "torch" in pins and spec[2:] != pins["torch"]:
                        problems.append(
                            f"line {ins.line}: torch=={spec[2:]} differs from constraints.txt torch=={pins['torch']}"
                        )
                if (arg == "." or arg.startswith(".[") or arg.startswith("./")) and not constrained:
                    problems.append(
                        f"line {ins.line}: 'pip install {arg}' without -c constraints.txt would install an unpinned torch"
                    )
    return problems


def _check_copies(instructions: list[Instruction], repo: Path) -> list[str]:
    problems = []
    patterns = dockerignore_patterns(repo)
    for ins in (i for i in instructions if i.keyword in ("COPY", "ADD")):
        words = ins.args.split()
        if any(w.startswith("--from=") for w in words):
            continue
        words = [w for w in words if not w.startswith("--")]
        form = _exec_form(Instruction(ins.keyword, " ".join(words), ins.line))
        sources = (form or words)[:-1]
        if not sources:
            problems.append(f"line {ins.line}: {ins.keyword} needs a source and a destination")
        for src in sources:
            if re.match(r"^[a-z]+://", src):
                continue
            found = sorted(repo.glob(src)) if any(c in src for c in "*?[") else [repo / src]
            if not any(p.exists() for p in found):
                problems.append(f"line {ins.line}: {ins.keyword} source {src!r} does not exist in the repository")
            elif is_ignored(src, patterns):
                problems.append(f"line {ins.line}: {ins.keyword} source {src!r} is excluded by .dockerignore")
    return problems


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit code."""
    parser = argparse.ArgumentParser(description="Static checks of the skullvae Dockerfile.")
    parser.add_argument("--dockerfile", type=Path, default=REPO / "docker" / "Dockerfile")
    parser.add_argument("--repo", type=Path, default=REPO)
    args = parser.parse_args(argv)
    problems = check_dockerfile(args.dockerfile, args.repo)
    for problem in problems:
        print(problem, file=sys.stderr)
    if not problems:
        print(f"{args.dockerfile}: all static checks passed")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
