"""Expected errors: bad input a user can fix.

Raise :class:`SeqgxError` with one line that names the file, the record and the fix. The CLI prints it
without a traceback and exits non-zero; any other exception is a bug and keeps its traceback.
"""


class SeqgxError(Exception):
    """A one-line, user-fixable error (bad input, missing file, inconsistent parameters)."""

    exit_code = 2
