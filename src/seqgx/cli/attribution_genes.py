"""seqgx attribution-genes: choose the genes phase 2 (ISM, gradients, drivers) runs on."""

from __future__ import annotations

import argparse
import json

from seqgx.params import add_param_arguments

NAME = "attribution-genes"
HELP = ("Choose the genes attribution runs on from the phase-1 statistics (significant with |R| > "
        "min_abs_r, all, or a list; report_genes always); write attribution_genes.tsv and the phase-2 "
        "batches")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--stats", nargs="+", required=True,
                   help="directory (or files) of phase-1 <batch>.genes.tsv from 'seqgx stats' (FDR is "
                        "computed across them, as 'seqgx merge' does)")
    p.add_argument("--windows", required=True, help="genes.tsv of 'seqgx genes' (the gene windows)")
    add_param_arguments(p, NAME)  # attribution_genes, min_abs_r, fdr_alpha, report_genes, genes_per_batch
    p.add_argument("--out", required=True, help="output directory (attribution_genes.tsv, batches/)")


def run(args: argparse.Namespace) -> int:
    from seqgx.analysis.merge import merge_tables
    from seqgx.analysis.selection import phase2_batches, read_gene_names, select_genes, write_selection
    from seqgx.genome.genes import read_batch
    from seqgx.log import get_logger

    log = get_logger(__name__)
    screen, _, _ = merge_tables(args.stats, None, None, args.fdr_alpha)
    selection = select_genes(screen, args.attribution_genes, args.fdr_alpha, args.min_abs_r,
                             read_gene_names(args.report_genes, "report_genes"))
    batches = phase2_batches(selection, read_batch(args.windows), args.genes_per_batch)
    write_selection(selection, batches, args.out)
    n_sel = int(selection["selected"].sum())
    if n_sel:
        log.info("attribution for %d of %d genes (%s) in %d batch(es)", n_sel, len(selection),
                 args.attribution_genes, len(batches))
    else:
        log.info("no gene selected for attribution (%s): phase 2 has nothing to do; genes.tsv stays complete "
                 "with the attribution columns empty", args.attribution_genes)
    print(json.dumps({"genes": len(selection), "selected": n_sel, "batches": sorted(batches),
                      "mode": args.attribution_genes}))
    return 0
