"""Errors a user can cause.

Anything raised as :class:`PpfomError` is the user's to fix (a missing file, a
bad flag, a checkpoint that does not fit). The CLI prints its message as one
line and exits non-zero; every other exception is a bug and keeps its traceback.
"""


class PpfomError(Exception):
    """A problem with the user's input; the message names the input and the fix."""


class PpfomWarning(UserWarning):
    """Something the user should know that does not stop the run (no face found, ...);
    the CLI prints it as one ``warning:`` line."""


def require_file(name: str, label: str, option: str, kind: str) -> None:
    """One-line errors for the usual ways an input path is wrong (missing, a folder, empty)."""
    import os

    if not os.path.exists(name):
        raise PpfomError(f"{label} '{name}' does not exist: check {option}")
    if os.path.isdir(name):
        raise PpfomError(f"{label} '{name}' is a folder, not {kind}: check {option}")
    if os.path.getsize(name) == 0:
        raise PpfomError(f"{label} '{name}' is empty (0 bytes): re-export or re-download it")
