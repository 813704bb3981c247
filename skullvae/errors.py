"""User-facing errors.

Every problem a user can cause (bad path, bad format, wrong dimensions, empty volume,
bad checkpoint) raises :class:`SkullVAEError` with a one-line message. The CLI turns it
into one line on stderr and exit code 2, never a traceback.
"""


class SkullVAEError(Exception):
    """An error caused by the user's input, reported as one clear line."""

    def __init__(self, message: str):
        super().__init__(" ".join(str(message).split()))
