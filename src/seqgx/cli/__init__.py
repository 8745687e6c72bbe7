"""The seqgx command line: one entry point, one subcommand per pipeline step.

Each subcommand lives in its own module under ``seqgx.cli`` and exposes ``NAME``, ``HELP``,
``add_arguments(parser)`` and ``run(args) -> int``. Subcommands read and write files only, so a
Nextflow process can run each one; they stay thin and call the core modules.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import os
import sys
import tempfile
import traceback

from seqgx import __version__
from seqgx.errors import SeqgxError
from seqgx.log import setup_logging

# The order shown in --help: pipeline steps in the order `seqgx run` executes them, then the tools.
COMMAND_MODULES = [
    "seqgx.cli.plan",
    "seqgx.cli.check_inputs",
    "seqgx.cli.genes",
    "seqgx.cli.personalize",
    "seqgx.cli.predict",
    "seqgx.cli.ism",
    "seqgx.cli.stats",
    "seqgx.cli.attribution_genes",
    "seqgx.cli.merge",
    "seqgx.cli.report",
    "seqgx.cli.motifs",
    "seqgx.cli.run",
    "seqgx.cli.simulate",
    "seqgx.cli.fetch_model",
    "seqgx.cli.export_onnx",
    "seqgx.cli.finetune",
]


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors as one line naming the fix, exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message}; see '{self.prog} --help'\n")




def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="seqgx", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"seqgx {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for module in map(importlib.import_module, COMMAND_MODULES):
        p = sub.add_parser(module.NAME, help=module.HELP, description=module.HELP)
        p.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
        p.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
        module.add_arguments(p)
        p.set_defaults(_run=module.run, _command=module.NAME)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help(sys.stderr)
        return 2
    setup_logging(-1 if args.quiet else args.verbose)
    try:
        return int(args._run(args) or 0)
    except SeqgxError as exc:
        print(f"seqgx {args._command}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"seqgx {args._command}: interrupted", file=sys.stderr)
        return 130
    except OSError as exc:
        if exc.errno not in _USER_ERRNOS:
            return _internal_error(args._command, exc)
        where = f" '{exc.filename}'" if exc.filename else ""
        print(f"seqgx {args._command}: error: cannot access{where}: {exc.strerror or exc}; check the path, "
              f"its permissions and free disk space", file=sys.stderr)
        return 2
    except Exception as exc:  # anything else is a bug: one line here, the traceback in a file
        return _internal_error(args._command, exc)


# OSErrors a user causes (paths, permissions, space): one line, exit 2 like a SeqgxError.
_USER_ERRNOS = {errno.ENOENT, errno.EACCES, errno.EPERM, errno.ENOTDIR, errno.EISDIR, errno.EEXIST,
                errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.ENAMETOOLONG, errno.ELOOP}
INTERNAL_ERROR_EXIT = 3


def _internal_error(command: str, exc: BaseException) -> int:
    """An unexpected exception: ONE stderr line (type, message, traceback file); exit code 3."""
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    msg = " ".join(str(exc).split()) or "(no message)"
    try:
        fd, path = tempfile.mkstemp(prefix="seqgx-traceback-", suffix=".txt")
        with os.fdopen(fd, "w") as fh:
            fh.write(f"seqgx {__version__} {command}: {' '.join(sys.argv)}\n{text}")
        where = f"the full traceback is in {path}"
    except OSError:  # cannot even write a temp file: keep the traceback on stderr's one line short
        where = "the traceback could not be written to a temporary file"
    print(f"seqgx {command}: internal error (a bug): {type(exc).__name__}: {msg}; {where}", file=sys.stderr)
    return INTERNAL_ERROR_EXIT


if __name__ == "__main__":
    sys.exit(main())
