"""`seqgx run`: the pipeline's steps in one process on one machine.

Each step is run through the same command line a Nextflow process runs (``seqgx.cli.main``), with the
arguments derived from the params file, so the single-machine mode and Nextflow cannot drift apart.
Outputs go under ``outdir``: ``check/``, ``genes/``, ``haplotypes/``, ``predictions/``, ...
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from seqgx.errors import SeqgxError
from seqgx.log import get_logger

log = get_logger(__name__)


def _opt(flag: str, value: Any) -> list[str]:
    """['--flag', 'value'] when value is set, else []."""
    return [] if value is None or value == "" else [flag, str(value)]


@dataclass
class Step:
    name: str
    commands: Callable[[dict, Path], list[list[str]]]  # params, outdir -> argv lists to run in order


def _check_inputs(p: dict, out: Path) -> list[list[str]]:
    return [["check-inputs", "--fasta", p["fasta"], "--vcf", p["vcf"], "--annotation", p["annotation"],
             "--expression", p["expression"], *_opt("--sample-map", p["sample_map"]),
             *_opt("--gene-list", p["gene_list"]), "--min-samples", str(p["min_samples"]),
             "--out", str(out / "check")]]


def _genes(p: dict, out: Path) -> list[list[str]]:
    return [["genes", "--annotation", p["annotation"], "--expression", p["expression"],
             *_opt("--gene-list", p["gene_list"]), "--chromosomes", p["chromosomes"],
             "--window-length", str(p["window_length"]), "--genes-per-batch", str(p["genes_per_batch"]),
             "--contigs", str(out / "check" / "contigs.tsv"), "--out", str(out / "genes")]]


def _batches(out: Path) -> list[Path]:
    batches = sorted((out / "genes" / "batches").glob("*.tsv"))
    if not batches:
        raise SeqgxError(f"no gene batches in '{out / 'genes' / 'batches'}'; "
                         f"check the gene list, chromosomes and expression genes")
    return batches


def _personalize(p: dict, out: Path) -> list[list[str]]:
    return [["personalize", "--batch", str(b), "--fasta", p["fasta"], "--vcf", p["vcf"],
             "--samples", str(out / "check" / "samples.tsv"), "--ref-mismatch", p["ref_mismatch"],
             "--unphased", p["unphased"], "--missing", p["missing"], "--phase-seed", str(p["phase_seed"]),
             "--out", str(out / "haplotypes")] for b in _batches(out)]


STEPS: list[Step] = [
    Step("check-inputs", _check_inputs),
    Step("genes", _genes),
    Step("personalize", _personalize),
]


def run_pipeline(params: dict, until: str | None = None) -> Path:
    """Run every step in order (or up to and including ``until``); return the output directory."""
    from seqgx.cli import main as cli_main

    names = [s.name for s in STEPS]
    if until is not None and until not in names:
        raise SeqgxError(f"--until '{until}' is not a step; choose one of {', '.join(names)}")
    out = Path(params["outdir"]).resolve()
    out.mkdir(parents=True, exist_ok=True)
    for step in STEPS:
        started = time.perf_counter()
        argvs = step.commands(params, out)
        log.info("step %s: %d task(s)", step.name, len(argvs))
        for argv in argvs:
            code = cli_main(argv)
            if code != 0:
                raise SeqgxError(f"step {step.name} failed (exit {code}); see the error above")
        log.info("step %s done in %.1f s", step.name, time.perf_counter() - started)
        if step.name == until:
            break
    return out
