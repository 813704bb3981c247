"""Typer application: ``skullvae <command>``.

Each command group lives in its own module and registers itself here. Every error
ends in one line ``skullvae: error: ...`` on stderr, never a traceback:

* exit 2: bad input or usage (:class:`~skullvae.errors.SkullVAEError`, a bad option),
  and errors of the system the command runs on (no permission, disk full, out of
  memory: ``OSError``, ``MemoryError``), which also leave nothing partial behind;
* exit 1: ``complete --input-dir`` when at least one case failed;
* exit 130: interrupted (Ctrl-C).
"""

from __future__ import annotations

import errno
import logging
import os
import sys
import warnings
from typing import Optional

import typer
from typer._click import exceptions as click_exceptions
from typer.exceptions import Abort

from skullvae import __version__
from skullvae.errors import SkullVAEError
from skullvae_cli.errors import os_error_message

app = typer.Typer(
    name="skullvae",
    help="Automatic cranial implant design: synthesise skulls, train the two-stage VAE, complete defective skulls.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)


def _register_commands() -> None:
    from skullvae_cli import (complete_commands, data_commands, evaluate_commands, model_commands, train_commands,
                              volume_commands)

    for module in (volume_commands, data_commands, train_commands, complete_commands, model_commands, evaluate_commands):
        module.register(app)


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"skullvae {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Optional[bool] = typer.Option(None, "--version", callback=_show_version, is_eager=True,
                                           help="Show the version and exit."),
) -> None:
    """Automatic cranial implant design: synthesise skulls, train the two-stage VAE, complete defective skulls."""


def _hide_flag_metavar() -> None:
    """Show boolean flags without a ``<bool>`` value in ``--help`` (they take no value)."""
    option = getattr(typer.core, "TyperOption", None)
    original = getattr(option, "display_type_rich", None)
    if original is None or getattr(original, "_skullvae", False):
        return

    def display_type_rich(self, ctx):
        return None if getattr(self, "is_flag", False) else original(self, ctx)

    display_type_rich._skullvae = True  # type: ignore[attr-defined]
    option.display_type_rich = display_type_rich


_register_commands()
_hide_flag_metavar()


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


def _usage_message(exc) -> str:
    message = exc.format_message()
    bad = message.rsplit("(", 1)[-1].rstrip(")").strip().lower() if "unexpected extra argument" in message else ""
    if bad in ("true", "false", "yes", "no", "1", "0"):
        message += "; boolean options are flags: write --flag (or --no-flag), without a value"
    ctx = getattr(exc, "ctx", None)
    where = ctx.command_path if ctx is not None else "skullvae"
    return f"{message} (see: {where} --help)"


def _fail(message: str, code: int = 2) -> None:
    print("skullvae: error: " + " ".join(str(message).split()), file=sys.stderr)
    sys.exit(code)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: every error ends in one stderr line (see the module docstring)."""
    _setup_logging()
    # NumPy's floating-point RuntimeWarnings ("Mean of empty slice") are not for users: the
    # command's own checks report what is wrong in one line.
    warnings.filterwarnings("ignore", category=RuntimeWarning, module=r"(numpy|scipy|skullvae)(\..*)?$")
    try:
        code = app(args=argv, prog_name="skullvae", standalone_mode=False)
    except SkullVAEError as exc:
        _fail(str(exc))
    except click_exceptions.NoArgsIsHelpError as exc:  # the help was shown
        sys.exit(exc.exit_code)
    except click_exceptions.UsageError as exc:
        _fail(_usage_message(exc))
    except click_exceptions.ClickException as exc:
        _fail(exc.format_message(), exc.exit_code if exc.exit_code else 2)
    except (KeyboardInterrupt, Abort):
        print("skullvae: interrupted", file=sys.stderr)
        sys.exit(130)
    except MemoryError:
        _fail("out of memory; close other programs, or check that the input's size and voxel spacing are right")
    except OSError as exc:
        if exc.errno == errno.EPIPE:  # the reader of our output went away
            os._exit(1)
        _fail(os_error_message(exc))
    else:
        code = code if isinstance(code, int) else 0
        if code == 130:
            print("skullvae: interrupted", file=sys.stderr)
        sys.exit(code)  # as typer's standalone mode does, success included


if __name__ == "__main__":  # pragma: no cover
    main()
