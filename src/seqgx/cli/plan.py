"""`seqgx plan`: the run's decisions from its parameters (seqgx.plan), as plan.json for Nextflow."""

from __future__ import annotations

import argparse
import json

NAME = "plan"
HELP = ("Validate a run's parameters and write its plan (tissues, readouts, model decisions) as "
        "plan.json: what main.nf builds its channels from")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--params", required=True,
                   help="the run's parameters as JSON (main.nf writes them) or a YAML/JSON params file")
    p.add_argument("--launch-dir", help="folder relative paths are relative to (Nextflow's launch folder; "
                                        "default: the current folder)")
    p.add_argument("--tissues-sheet", help="a copy of the tissues samplesheet to read (a Nextflow task's "
                                           "staged one); the 'tissues' parameter still names its folder")
    p.add_argument("--out", required=True, help="plan.json to write")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from seqgx.plan import plan_from_nextflow, write_plan

    plan = plan_from_nextflow(args.params, args.launch_dir or Path.cwd(), staged_sheet=args.tissues_sheet)
    write_plan(plan, args.out)
    print(json.dumps({"tissues": [t["name"] for t in plan["tissues"]], "export_onnx": plan["export_onnx"],
                      "ism_model": plan["ism_model"], "motifs": plan["motifs"]}))
    return 0
