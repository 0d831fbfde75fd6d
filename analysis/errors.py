"""Errors for bad input files: one message that names the file and what is wrong."""

from __future__ import annotations

import os
import sys


class AnalysisInputError(Exception):
    """A file (or a request about it) is missing, malformed or inconsistent.

    The command line prints ``str(error)`` and exits with code 2, never a traceback.
    ``path`` is the file at fault, ``what`` the part of it (an HDF5 path, a column,
    a population), ``message`` what is wrong with it.
    """

    def __init__(self, path: str | os.PathLike | None, message: str, what: str | None = None):
        self.path = None if path is None else os.fspath(path)
        self.what = what
        self.message = message
        super().__init__(str(self))

    def __str__(self) -> str:
        where = self.path if self.path is not None else "<input>"
        if self.what:
            where = f"{where}: {self.what}"
        return f"{where}: {self.message}"


def warn(path: str | os.PathLike, message: str) -> None:
    """Warn on stderr, loudly and unconditionally (warnings.warn may be filtered out)."""
    print(f"WARNING: {os.fspath(path)}: {message}", file=sys.stderr, flush=True)
