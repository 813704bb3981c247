"""Typer application: ``skullvae <command>``.

Each command group lives in its own module and registers itself here. Every
:class:`~skullvae.errors.SkullVAEError` becomes one line on stderr and exit code 2.
"""

from __future__ import annotations

import logging
import sys

import typer

from skullvae.errors import SkullVAEError

app = typer.Typer(
    name="skullvae",
    help="Automatic cranial implant design: synthesise skulls, train the two-stage VAE, complete defective skulls.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)


def _register_commands() -> None:
    from skullvae_cli import complete_commands, data_commands, train_commands, volume_commands

    for module in (volume_commands, data_commands, train_commands, complete_commands):
        module.register(app)


_register_commands()


class _StderrHandler(logging.StreamHandler):
    """A stream handler that writes to whatever ``sys.stderr`` is when a record is emitted.

    ``main`` may run several times in one process (tests, notebooks) with
    ``sys.stderr`` replaced in between; a handler bound to the first stream would
    write to a closed one.
    """

    @property
    def stream(self):  # type: ignore[override]
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass


def _setup_logging() -> None:
    """Library warnings become one ``skullvae: warning: ...`` line on stderr."""
    handler = _StderrHandler()
    handler.setFormatter(logging.Formatter("skullvae: %(levelname)s: %(message)s"))
    root = logging.getLogger("skullvae")
    if not root.handlers:
        root.addHandler(handler)
    root.setLevel(logging.WARNING)
    logging.addLevelName(logging.WARNING, "warning")


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point with user-error handling."""
    _setup_logging()
    try:
        app(args=argv, prog_name="skullvae")
    except SkullVAEError as exc:
        print(f"skullvae: error: {exc}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("skullvae: interrupted", file=sys.stderr)
        sys.exit(130)


if __name__ == "__main__":  # pragma: no cover
    main()
