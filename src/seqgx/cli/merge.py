"""seqgx merge: all batches' tables into one, with BH FDR across genes and the summary figures."""

from __future__ import annotations

import argparse
import json

NAME = "merge"
HELP = ("Concatenate the batches' genes/drivers tables, add BH FDR per readout across all genes; write "
        "genes.tsv, drivers.tsv and summary.json")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--genes", nargs="+", required=True,
                   help="directory (or files) of <batch>.genes.tsv from 'seqgx stats'")
    p.add_argument("--drivers", nargs="+",
                   help="directory (or files) of <batch>.drivers.tsv (default: beside each genes table)")
    p.add_argument("--annotation", help="annotation (GTF, TSV or genes.tsv) whose gene_name, chrom, tss and "
                                        "strand replace the batches' (e.g. annotation contig names)")
    p.add_argument("--fdr-alpha", type=float, default=0.05, help="significant: fdr < alpha (default 0.05)")
    p.add_argument("--out", required=True, help="output directory")


def run(args: argparse.Namespace) -> int:
    from seqgx.analysis.assess import merge_tables, write_merged

    genes, drivers, summary = merge_tables(args.genes, args.drivers, args.annotation, args.fdr_alpha)
    paths = write_merged(genes, drivers, summary, args.out)
    sig = {str(r): int(t["significant"].sum()) for r, t in genes.groupby("readout")}
    print(json.dumps({"genes": summary["n_genes"], "batches": summary["n_batches"], "significant": sig,
                      "outputs": [str(p) for p in paths]}))
    return 0
