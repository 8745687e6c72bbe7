"""File helpers shared by every step: atomic outputs and input checks."""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from seqgx.errors import SeqgxError


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike, *, directory: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it to ``path`` only if the block succeeds.

    A crash or an error leaves no partial output that looks whole: the temporary file (or directory,
    with ``directory=True``) is removed instead.
    """
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    # Keep the real suffix last so libraries that infer formats from it (np.savez, pysam) still work.
    tmp = final.with_name(f".tmp-{os.getpid()}-{final.name}")
    _remove(tmp)
    if directory:
        tmp.mkdir()
    try:
        yield tmp
    except BaseException:
        _remove(tmp)
        raise
    if directory and final.exists():
        _remove(final)
    os.replace(tmp, final)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def require_file(path: str | os.PathLike | None, what: str, fix: str = "") -> Path:
    """Return ``path`` as a Path if it is a readable file, else raise a one-line SeqgxError."""
    if path is None or str(path) == "":
        raise SeqgxError(f"{what}: no file given{'; ' + fix if fix else ''}")
    p = Path(path)
    if not p.exists():
        raise SeqgxError(f"{what} '{p}' does not exist{'; ' + fix if fix else ''}")
    if not p.is_file():
        raise SeqgxError(f"{what} '{p}' is not a regular file")
    if not os.access(p, os.R_OK):
        raise SeqgxError(f"{what} '{p}' is not readable; check its permissions")
    return p
