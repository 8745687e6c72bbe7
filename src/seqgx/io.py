"""File helpers shared by every step: atomic outputs and input checks."""

from __future__ import annotations

import contextlib
import errno
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
    make_output_dir(final.parent)
    if final.is_dir() and not directory:
        raise SeqgxError(f"output '{final}' is a folder, not a file; remove it or choose another output "
                         f"folder")
    # Keep the real suffix last so libraries that infer formats from it (np.savez, pysam) still work.
    tmp = final.with_name(f".tmp-{os.getpid()}-{final.name}")
    try:
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
    except OSError as exc:
        # Disk full, quota, permissions, read-only file system: one line naming the output, no traceback.
        with contextlib.suppress(OSError):
            _remove(tmp)
        fix = _OS_FIX.get(exc.errno, "fix the output location")
        raise SeqgxError(f"cannot write '{final}': {_describe(exc)}; {fix}") from None


_OS_FIX = {errno.ENOSPC: "free disk space or choose an output folder on another disk",
           errno.EDQUOT: "free space within your quota or choose another output folder",
           errno.EACCES: "choose an output folder you may write to (or fix its permissions)",
           errno.EPERM: "choose an output folder you may write to (or fix its permissions)",
           errno.EROFS: "the file system is read-only; choose another output folder"}


def _describe(exc: OSError) -> str:
    what = exc.strerror or str(exc)
    return f"{what} ('{exc.filename}')" if exc.filename else what


def make_output_dir(path: str | os.PathLike) -> Path:
    """Create output folder ``path`` (and parents), or raise a one-line SeqgxError saying why not."""
    p = Path(path)
    for anc in (p, *p.parents):
        if anc.exists() or anc.is_symlink():
            if not anc.is_dir():
                raise SeqgxError(f"output folder '{p}': '{anc}' exists and is a file, not a folder; remove "
                                 f"it or choose another --out")
            break
    try:
        p.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SeqgxError(f"cannot create output folder '{p}': {_describe(exc)}; "
                         f"{_OS_FIX.get(exc.errno, 'choose another --out')}") from None
    return p


def compression(path: str | os.PathLike) -> str | None:
    """'bgzf', 'gzip' (plain gzip, not bgzip) or None (not gzip-compressed), from the first bytes."""
    with open(path, "rb") as fh:
        head = fh.read(18)
    if head[:2] != b"\x1f\x8b":
        return None
    # BGZF: a gzip member with FEXTRA whose extra field holds the 'BC' subfield.
    if len(head) >= 14 and head[3] & 4 and head[12:14] == b"BC":
        return "bgzf"
    return "gzip"


def refuse_plain_gzip(path: str | os.PathLike, what: str, reindex: str) -> None:
    """A plain-gzip file where bgzip is needed is one line naming the fix."""
    if compression(path) == "gzip":
        raise SeqgxError(f"{what} '{path}' is plain gzip, not bgzip: recompress with bgzip "
                         f"('gunzip -c {path} | bgzip > NEW.gz') and re-index it ({reindex})")


# An index this much older than its data file is stale; the slack absorbs copies that write the index
# a moment before the data (staging, rsync without -t).
INDEX_MTIME_SLACK_S = 2.0


def check_index_fresh(data: str | os.PathLike, index: str | os.PathLike, what: str, reindex: str) -> None:
    """An index (.tbi/.csi/.fai) older than its data file is one line: it may not describe the data."""
    d, i = Path(data), Path(index)
    if i.stat().st_mtime + INDEX_MTIME_SLACK_S < d.stat().st_mtime:
        raise SeqgxError(f"{what} index '{i}' is older than {what} '{d}' (the data changed after "
                         f"indexing); re-index with '{reindex}'")


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
