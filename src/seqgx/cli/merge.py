"""seqgx merge: all batches' tables into one, with BH FDR across genes and the summary figures."""

from __future__ import annotations

import argparse
import json

from seqgx.params import add_param_arguments

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
    add_param_arguments(p, NAME)  # fdr_alpha, finemapped
    p.add_argument("--attribution", nargs="*",
                   help="two-phase run: directory (or files) of the attribution phase's <batch>.genes.tsv "
                        "(drivers beside them); their rows replace --genes' (phase 1) for the genes "
                        "--selection chose")
    p.add_argument("--selection", help="attribution_genes.tsv of 'seqgx attribution-genes' (with "
                                       "--attribution; copied beside the outputs)")
    p.add_argument("--costs", nargs="+", metavar="DIR_OR_FILE",
                   help="predictions and ism folders (or their *.reference.json, *.ism.json files): the "
                        "model steps' cost, summed into summary.json")
    p.add_argument("--motifs", dest="motif_tables", nargs="+", metavar="DIR_OR_FILE",
                   help="the batches' <batch>.driver_motifs.tsv (with seqlets and motif_snvs beside them) of "
                        "'seqgx motifs': merged, tested for motif enrichment around the drivers, and "
                        "summarised in summary.json")
    p.add_argument("--out", required=True, help="output directory")


def run(args: argparse.Namespace) -> int:
    import shutil

    from seqgx.analysis.merge import merge_tables, write_merged
    from seqgx.errors import SeqgxError
    from seqgx.io import atomic_output

    if args.attribution is not None and not args.selection:
        raise SeqgxError("--attribution needs --selection (the attribution_genes.tsv that chose the genes)")
    genes, drivers, summary = merge_tables(args.genes, args.drivers, args.annotation, args.fdr_alpha,
                                           attribution=args.attribution, selection=args.selection,
                                           costs=args.costs, finemapped=args.finemapped)
    paths = write_merged(genes, drivers, summary, args.out)
    if args.motif_tables:
        from seqgx.analysis.merge import write_json
        from seqgx.analysis.motifs import run_enrichment

        motifs, motif_paths = run_enrichment(args.motif_tables, args.out, genes=[paths[0]],
                                             alpha=args.fdr_alpha, drivers=drivers)
        summary["motifs"] = motifs
        write_json(summary, paths[2])
        paths += motif_paths
    if args.selection:
        from pathlib import Path

        target = Path(args.out) / "attribution_genes.tsv"
        if Path(args.selection).resolve() != target.resolve():
            with atomic_output(target) as tmp:
                shutil.copyfile(args.selection, tmp)
        paths.append(target)
    sig = {str(r): int(t["significant"].sum()) for r, t in genes.groupby("readout")}
    print(json.dumps({"genes": summary["n_genes"], "batches": summary["n_batches"], "significant": sig,
                      "outputs": [str(p) for p in paths]}))
    return 0
