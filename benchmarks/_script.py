"""How every benchmark script ends: a user error is one line on stderr and exit code 2."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable

from skullvae.errors import SkullVAEError


def run(main: Callable[[], int], script: str) -> None:
    """Run a script's ``main`` and exit with its code; a :class:`SkullVAEError` becomes one line and exit 2."""
    try:
        sys.exit(main())
    except SkullVAEError as exc:
        print(f"{Path(script).stem}: error: {' '.join(str(exc).split())}", file=sys.stderr)
        sys.exit(2)
