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
