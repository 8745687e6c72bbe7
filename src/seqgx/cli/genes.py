"""`seqgx genes`: select genes, give each a TSS-centred window, split them into batch files."""

from __future__ import annotations

import argparse

from seqgx import genes as G
from seqgx.checks import read_expression
from seqgx.log import get_logger
from seqgx.params import PARAMS_BY_NAME, add_param_arguments

NAME = "genes"
HELP = "Select genes, make TSS-centred windows and write per-chromosome batch files"

log = get_logger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--annotation", required=True, help=PARAMS_BY_NAME["annotation"].help)
    parser.add_argument("--expression", nargs="+", help="Expression matrix TSV or tensorQTL BED; several "
                        "(one per tissue): keep only the genes of any of them")
    parser.add_argument("--gene-list", help=PARAMS_BY_NAME["gene_list"].help)
    add_param_arguments(parser, NAME)
    parser.add_argument("--contigs", help="contigs.tsv from 'seqgx check-inputs' (annotation -> FASTA/VCF "
                        "contig names); without it the annotation's names are used for both")
    parser.add_argument("--out", required=True, help="Output directory (genes.tsv, batches/)")


def run(args: argparse.Namespace) -> int:
    G.check_window_length(args.window_length)
    annotation = G.read_annotation(args.annotation)
    gene_list = G.read_gene_list(args.gene_list) if args.gene_list else None
    expression = None
    if args.expression:
        expression = list(dict.fromkeys(g for e in args.expression for g in read_expression(e).index))
    genes = G.select_genes(annotation, gene_list=gene_list, chromosomes=args.chromosomes,
                           expression_genes=expression, source=args.annotation,
                           gene_list_path=args.gene_list or "gene list",
                           gene_types=G.parse_gene_types(args.gene_types))
    contigs = G.read_contigs(args.contigs) if args.contigs else None
    windows = G.make_windows(genes, args.window_length, contigs, contigs_path=args.contigs or "contig map")
    paths = G.write_genes(windows, args.out, args.genes_per_batch)
    log.info("%d genes in %d batches written to %s", len(windows), len(paths), args.out)
    return 0
