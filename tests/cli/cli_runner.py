"""Run the ``skullvae`` CLI in-process for tests."""

from __future__ import annotations

from skullvae_cli.app import main


def run_cli(args, capsys) -> tuple[int, str, str]:
    """Run ``skullvae ARGS``; return (exit code, stdout, stderr)."""
    try:
        main([str(a) for a in args])
        code = 0
    except SystemExit as exc:
        code = exc.code or 0
    out = capsys.readouterr()
    return code, out.out, out.err
