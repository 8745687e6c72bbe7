"""seqgx stats: per gene and readout accuracy, gene-specific null, baselines and driver SNVs of a batch."""

from __future__ import annotations

import argparse
import json

from seqgx.params import add_param_arguments
from seqgx.threads import add_threads_argument, set_threads
from seqgx.tissues import DEFAULT_TISSUE

NAME = "stats"
HELP = ("Correlate each gene's personal predictions with observed expression, test against the gene's "
        "null, find driver SNVs; write <batch>.genes.tsv and <batch>.drivers.tsv")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--haplotypes", nargs="+", required=True,
                   help="<gene_id>.haplotypes.npz files or directories of them (one row set per gene)")
    p.add_argument("--predictions", nargs="+", required=True,
                   help="directory (or files) of <gene_id>.predictions.tsv from 'seqgx predict'")
    p.add_argument("--ism", nargs="+",
                   help="directory (or files) of <gene_id>.ism.tsv from 'seqgx ism' (without it: no drivers, "
                        "approx_r/approx_obs_r NaN)")
    p.add_argument("--expression", required=True,
                   help="expression: matrix TSV (genes x samples) or tensorQTL phenotype BED (.bed, .bed.gz)")
    p.add_argument("--covariates", help="covariates of the expression (tensorQTL layout, or samples as "
                                        "rows): every R a partial correlation on them")
    p.add_argument("--tissue", default=DEFAULT_TISSUE,
                   help=f"tissue name written in every row (default '{DEFAULT_TISSUE}'); genes without "
                        f"expression in a named tissue are left out")
    p.add_argument("--readouts", nargs="+",
                   help="this tissue's readouts of the predictions: track indices or names, 'default', "
                        "fine-tuned weights files (default: every readout predicted)")
    p.add_argument("--vcf", help="cohort VCF, to use PredictDB weights at SNVs outside the gene's window")
    add_param_arguments(p, NAME)  # finemapped, predictdb, the null test, seed, min_samples, elastic net
    p.add_argument("--batch-name", help="output name prefix (default: derived from the haplotypes files)")
    p.add_argument("--out", required=True, help="output directory")
    add_threads_argument(p)


def run(args: argparse.Namespace) -> int:
    from seqgx.analysis.batch_stats import StatsOptions, assess_batch, default_batch_name, write_batch

    set_threads(args.threads)  # BLAS and the null-draw pool
    opts = StatsOptions(null_test=args.null_test, null_draws=args.null_draws, seed=args.seed,
                        min_samples=args.min_samples, elastic_net_baseline=args.elastic_net_baseline)
    name = args.batch_name or default_batch_name(args.haplotypes)
    genes, drivers = assess_batch(args.haplotypes, args.predictions, args.expression, ism=args.ism,
                                  predictdb=args.predictdb, vcf=args.vcf, opts=opts,
                                  covariates=args.covariates, readouts=args.readouts, tissue=args.tissue,
                                  finemapped=args.finemapped)
    paths = write_batch(genes, drivers, args.out, name)
    status = genes.groupby("status").size().to_dict()
    print(json.dumps({"batch": name, "tissue": args.tissue, "genes": int(genes["gene_id"].nunique()),
                      "rows": len(genes),
                      "drivers": len(drivers), "status": {str(k): int(v) for k, v in status.items()},
                      "outputs": [str(p) for p in paths]}))
    return 0
