"""seqgx run: every pipeline step in one process, from a params file."""

from __future__ import annotations

import argparse
import json

from seqgx.errors import SeqgxError
from seqgx.params import PARAMS, load_params
from seqgx.pipeline import STEPS, RunReport, run_pipeline
from seqgx.threads import available_cpus, threads_count

NAME = "run"
HELP = "Run the whole pipeline on one machine from a params file (YAML or JSON, as nextflow -params-file)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("params", nargs="?", help="params file (YAML or JSON)")
    p.add_argument("--outdir", help="override the params file's outdir")
    p.add_argument("--until", choices=[s.name for s in STEPS], help="stop after this step")
    p.add_argument("--overwrite", action="store_true",
                   help="replace the outputs of another run in outdir (otherwise refused; the same run "
                        "continues where it stopped)")
    p.add_argument("--threads", type=threads_count, default=None, metavar="N",
                   help="CPU threads of every compute step (default: measured at each step's start, the "
                        "cores available to this process that other processes leave idle; 0: all cores "
                        "available, busy or not)")
    p.add_argument("--json", action="store_true",
                   help="print one JSON object (outdir, steps with tasks, seconds and threads, the run's "
                        "summary.json) instead of human lines")
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
    threads = available_cpus() if args.threads == 0 else args.threads
    report = run_pipeline(params, until=args.until, log_flags=log_flags, overwrite=args.overwrite,
                          threads=threads)
    print(json.dumps(_report_json(report)) if args.json else _report_text(report))
    return 0


def _summary(report: RunReport) -> dict | None:
    path = report.outdir / "assessment" / "summary.json"
    return json.loads(path.read_text()) if path.is_file() else None


def _report_json(report: RunReport) -> dict:
    return {"outdir": str(report.outdir), "steps": [s.as_json() for s in report.steps],
            "summary": _summary(report)}


def _report_text(report: RunReport) -> str:
    lines = []
    for s in report.steps:
        if s.skipped:
            lines.append(f"{s.step:17s} done in an earlier run")
        else:
            threads = f", {s.threads} thread(s)" if s.threads else ""
            lines.append(f"{s.step:17s} {s.tasks} task(s) in {s.seconds:.1f} s{threads}")
    lines.append(f"results in {report.outdir}")
    return "\n".join(lines)
