"""seqgx check-inputs: validate inputs before any work starts."""

from __future__ import annotations

import argparse
import json

from seqgx.checks import check_inputs, format_summary, write_check_outputs
from seqgx.params import add_param_arguments

NAME = "check-inputs"
HELP = ("Validate FASTA, VCF(s), annotation, expression and samples; write the kept samples, the contig map "
        "and which VCF holds each contig")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--fasta", required=True, help="reference FASTA (indexed)")
    p.add_argument("--vcf", required=True, nargs="+", metavar="VCF",
                   help="bgzipped+indexed cohort VCF/BCF; or several (e.g. one per chromosome, same "
                   "samples): files, quoted globs, or a samplesheet .csv/.tsv with columns contig, vcf")
    p.add_argument("--annotation", required=True, help="GTF or gene TSV")
    p.add_argument("--expression", help="expression matrix TSV (genes x samples) or tensorQTL phenotype BED")
    p.add_argument("--covariates", help="covariates of --expression (tensorQTL layout or samples as rows)")
    p.add_argument("--tissue", nargs="+", action="append", metavar="NAME EXPRESSION [COVARIATES]",
                   help="a tissue (instead of --expression): name, expression file, optional covariates; "
                        "repeat per tissue")
    p.add_argument("--sample-map", help="TSV: expression_sample, vcf_sample")
    p.add_argument("--gene-list", help="file of gene ids or names, one per line")
    add_param_arguments(p, NAME)
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object, not as lines")
    p.add_argument("--out", required=True, help="output directory")


def run(args: argparse.Namespace) -> int:
    from seqgx.errors import SeqgxError

    if bool(args.tissue) == bool(args.expression):
        raise SeqgxError("give --expression (one tissue) or --tissue NAME EXPRESSION [COVARIATES] per tissue")
    bad = [t for t in args.tissue or [] if len(t) not in (2, 3)]
    if bad:
        raise SeqgxError(f"--tissue {' '.join(bad[0])}: give NAME EXPRESSION [COVARIATES]")
    tissues = [(t[0], t[1], t[2] if len(t) == 3 else None) for t in args.tissue] if args.tissue else None
    result = check_inputs(args.fasta, args.vcf, args.annotation, args.expression,
                          sample_map=args.sample_map, gene_list=args.gene_list,
                          min_samples=args.min_samples, covariates=args.covariates, tissues=tissues)
    write_check_outputs(result, args.out)
    print(json.dumps(result.summary, default=str) if args.json else format_summary(result.summary))
    return 0
