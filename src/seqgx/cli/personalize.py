"""`seqgx personalize`: each sample's two haplotypes per gene of one batch file."""

from __future__ import annotations

import argparse

from seqgx.genome.personalize import personalize_batch
from seqgx.genome.variants import Policy
from seqgx.log import get_logger
from seqgx.params import PARAMS_BY_NAME, add_param_arguments
from seqgx.threads import add_threads_argument, set_threads

NAME = "personalize"
HELP = "Build each sample's two haplotypes (SNVs) per gene of a batch; write <gene_id>.haplotypes.npz"

log = get_logger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--batch", required=True, help="Batch file from 'seqgx genes' "
                        "(batches/<chrom>_<k>.tsv)")
    parser.add_argument("--fasta", required=True, help=PARAMS_BY_NAME["fasta"].help)
    parser.add_argument("--vcf", required=True,
                        help="the bgzipped, indexed VCF/BCF that holds the batch's chromosome")
    parser.add_argument("--samples", required=True, help="samples.tsv from 'seqgx check-inputs' "
                        "(expression_sample, vcf_sample)")
    add_param_arguments(parser, NAME)
    parser.add_argument("--out", required=True, help="Output directory for <gene_id>.haplotypes.npz")
    add_threads_argument(parser)


def run(args: argparse.Namespace) -> int:
    set_threads(args.threads)  # numpy's BLAS only: personalize never imports torch
    policy = Policy(ref_mismatch=args.ref_mismatch, unphased=args.unphased, missing=args.missing,
                    phase_seed=args.phase_seed)
    paths = personalize_batch(args.batch, args.fasta, args.vcf, args.samples, args.out, policy)
    log.info("%d genes personalised into %s", len(paths), args.out)
    return 0
