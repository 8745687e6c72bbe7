"""seqgx run: every pipeline step in one process, from a params file."""

from __future__ import annotations

import argparse

from seqgx.errors import SeqgxError
from seqgx.params import PARAMS, load_params
from seqgx.pipeline import STEPS, run_pipeline

NAME = "run"
HELP = "Run the whole pipeline on one machine from a params file (YAML or JSON, as nextflow -params-file)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("params", nargs="?", help="params file (YAML or JSON)")
    p.add_argument("--outdir", help="override the params file's outdir")
    p.add_argument("--until", choices=[s.name for s in STEPS], help="stop after this step")
    p.add_argument("--overwrite", action="store_true",
                   help="replace the outputs of another run in outdir (otherwise refused; the same run "
                        "continues where it stopped)")
    p.add_argument("--list-params", action="store_true", help="list every parameter and exit")


def run(args: argparse.Namespace) -> int:
    if args.list_params:
        for prm in PARAMS:
            default = "" if prm.default is None else f" (default {prm.default})"
            print(f"{prm.name:20s} {prm.help}{default}")
        return 0
    if not args.params:
        raise SeqgxError("no params file given; usage: seqgx run PARAMS.yaml (see 'seqgx run --help')")
    params = load_params(args.params, check_files=True)
    if args.outdir:
        params["outdir"] = args.outdir
    log_flags = ["-q"] if args.quiet else ["-v"] * args.verbose
    out = run_pipeline(params, until=args.until, log_flags=log_flags, overwrite=args.overwrite)
    print(f"results in {out}")
    return 0
