"""Files that appear whole or not at all: write beside the target, then rename.

Every output ppfom writes (videos, checkpoints, downloads, exported models)
goes through here, so an error, Ctrl-C or a kill never leaves a half-written
file under the name a user or a later run trusts.
"""
from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator


def _default_mode() -> int:
    """The mode a plain ``open()`` would give, since mkstemp's 0600 surprises users."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def publish(tmp: str, path: str | os.PathLike) -> None:
    """Give ``tmp`` the usual permissions and move it onto ``path`` in one step."""
    os.chmod(tmp, _default_mode())
    os.replace(tmp, os.fspath(path))


@contextlib.contextmanager
def temporary_beside(path: str | os.PathLike, suffix: str = ".part") -> Iterator[str]:
    """A temporary file name in ``path``'s folder (same file system, so the rename is
    atomic), removed on exit unless it was published."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix="." + os.path.basename(path) + ".", suffix=suffix)
    os.close(fd)
    try:
        yield tmp
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
