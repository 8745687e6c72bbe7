"""seqgx finetune: fit the fine-tuned readout (elastic net from all tracks to expression)."""

from __future__ import annotations

import argparse
import json

from seqgx.threads import add_threads_argument, set_threads

NAME = "finetune"
HELP = ("Fit readout weights from the reference sequences' all-track outputs to mean expression, whole "
        "chromosomes held out; write a weights CSV for 'seqgx predict --finetuned-weights'")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--reference-tracks", nargs="+", required=True,
                   help="directory (or files) of <gene_id>.reference_tracks.tsv from "
                        "'seqgx predict --reference-tracks'")
    p.add_argument("--expression", required=True, help="expression matrix TSV (genes x samples)")
    p.add_argument("--genes", required=True, help="genes.tsv from 'seqgx genes' (each gene's chromosome)")
    p.add_argument("--samples", help="samples.tsv from 'seqgx check-inputs': average expression over these "
                                     "samples only (default: every sample column)")
    p.add_argument("--pseudocount", type=float, default=1.0,
                   help="features are log2(bin_sum + pseudocount); use the same value with 'seqgx predict "
                        "--pseudocount' (default 1)")
    p.add_argument("--folds", type=int, default=5,
                   help="cross-validation folds of whole chromosomes (default 5)")
    p.add_argument("--seed", type=int, default=0, help="seed of the elastic net's coordinate order")
    p.add_argument("--report", help="JSON report path (default: <out without .csv>.report.json)")
    p.add_argument("--out", required=True, help="weights CSV to write")
    add_threads_argument(p)


def run(args: argparse.Namespace) -> int:
    from seqgx.analysis.finetune import finetune, write_finetune

    set_threads(args.threads)  # BLAS/OpenMP of the elastic net
    names, weights, intercept, report, heldout = finetune(
        args.reference_tracks, args.expression, args.genes, pseudocount=args.pseudocount, folds=args.folds,
        seed=args.seed, samples=args.samples)
    paths = write_finetune(names, weights, intercept, report, heldout, args.out, args.report)
    print(json.dumps({"heldout_r": None if report["heldout_r"] != report["heldout_r"] else
                      round(report["heldout_r"], 4), "n_genes": report["n_genes"],
                      "n_nonzero_weights": report["n_nonzero_weights"], "outputs": [str(p) for p in paths]}))
    return 0
