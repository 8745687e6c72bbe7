"""`seqgx motifs`: motifs around driver SNVs (per batch), and their enrichment over all batches."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from seqgx.cli._model_args import add_model_arguments
from seqgx.errors import SeqgxError
from seqgx.log import get_logger
from seqgx.threads import set_threads

NAME = "motifs"
HELP = ("Saturation ISM around each main driver, driver-context statistics and seqlets annotated with JASPAR "
        "(per batch); with --enrichment, motif enrichment around all drivers of the run")
log = get_logger(__name__)


def add_arguments(p: argparse.ArgumentParser) -> None:
    from seqgx.analysis import motifs as m

    # --haplotypes, --out, --model, the model / readout flags of `seqgx predict`, ism_method (--method),
    # allow_full_forward, motif_scale, all_drivers, driver_flank, motif_window, seqlet_threshold,
    # seqlet_min_length
    add_model_arguments(p, NAME)
    for action in p._actions:  # not needed with --enrichment; checked in run()
        if action.dest in ("haplotypes", "model"):
            action.required = False
    p.add_argument("--ism", nargs="+",
                   help="directory (or files) of 'seqgx ism' outputs: <gene_id>.saturation.npz of every gene")
    p.add_argument("--drivers", nargs="+", help="drivers.tsv of 'seqgx stats' (the batch's) or 'seqgx merge'")
    p.add_argument("--genes", nargs="+",
                   help="genes.tsv (batch or merged) for each gene's R (the sign split of the summary)")
    p.add_argument("--batch-name", help="output name prefix (default: derived from the haplotypes files)")
    p.add_argument("--enrichment", action="store_true",
                   help="merge mode: read --driver-motifs of all batches and test motif enrichment around "
                        "the drivers (no model)")
    p.add_argument("--driver-motifs", nargs="+",
                   help="with --enrichment: directory (or <batch>.driver_motifs.tsv files, with the "
                        "<batch>.motif_snvs.tsv and <batch>.seqlets.tsv beside them)")
    p.add_argument("--enrichment-alpha", "--fdr-alpha", dest="enrichment_alpha", type=float,
                   default=m.ENRICHMENT_ALPHA,
                   help=f"with --enrichment: BH level of an enriched motif (default {m.ENRICHMENT_ALPHA})")


def run(args: argparse.Namespace) -> int:
    set_threads(args.threads, import_torch=not args.enrichment)
    return _run_enrichment(args) if args.enrichment else _run_batch(args)


def _run_enrichment(args: argparse.Namespace) -> int:
    from seqgx.analysis.motifs import run_enrichment

    if not args.driver_motifs:
        raise SeqgxError("--enrichment needs --driver-motifs (the directory 'seqgx motifs' wrote per batch)")
    summary, paths = run_enrichment(args.driver_motifs, args.out, genes=args.genes,
                                    alpha=args.enrichment_alpha)
    print(json.dumps({"readouts": summary, "outputs": [str(p) for p in paths]}, default=lambda x: None))
    return 0


def _run_batch(args: argparse.Namespace) -> int:
    from seqgx.analysis.batch_stats import default_batch_name
    from seqgx.analysis.motifs import MotifOptions, motifs_batch, write_batch_tables
    from seqgx.genome.personalize import GeneHaplotypes
    from seqgx.io import atomic_output
    from seqgx.model.attribution import ReadoutSet, attribution_cost, fast_substitution_share
    from seqgx.model.build import attribution_method, build_predictor, torch_module

    for flag, value in (("--haplotypes", args.haplotypes), ("--model", args.model), ("--ism", args.ism),
                        ("--drivers", args.drivers)):
        if not value:
            raise SeqgxError(f"{flag} is required (or use --enrichment with --driver-motifs)")
    t0 = time.perf_counter()
    from seqgx.tables import expand_inputs

    files = expand_inputs(args.haplotypes, ".haplotypes.npz", "haplotypes")
    first = GeneHaplotypes.load(files[0])
    predictor, backend, _ = build_predictor(args, first.window_length)
    rset = ReadoutSet(predictor.readouts, predictor.bins, predictor.tracks)
    module = torch_module(predictor.backend)
    method = attribution_method(args, predictor.backend)
    device = getattr(predictor.backend, "device", "cpu")
    opts = MotifOptions(scale=args.motif_scale, all_drivers=args.all_drivers, flank=args.driver_flank,
                        window=args.motif_window, seqlet_threshold=args.seqlet_threshold,
                        seqlet_min_length=args.seqlet_min_length, seed=args.seed, method=method,
                        batch_size=args.batch_size or (16 if str(device).startswith("cuda") else 4),
                        device=device)
    tables = motifs_batch(files, args.ism, args.drivers, rset, args.out, genes=args.genes, module=module,
                          outputs=predictor.outputs if method == "full" else None, opts=opts)
    name = args.batch_name or default_batch_name(files)
    paths = write_batch_tables(tables, args.out, name)
    dm = tables.driver_motifs
    # Cost: per driver with ISM, every base of the neighbourhood substituted on two backgrounds, plus a
    # reference forward per gene (seqgx merge --costs sums <batch>.motifs.json).
    n_ism = int((dm["status"] == "ok").sum()) if len(dm) else 0
    subs = n_ism * 2 * (2 * opts.flank + 1) * 3
    share = fast_substitution_share(module) if method == "fast" and module is not None else 1.0
    cost = attribution_cost(method, [subs], opts.batch_size, fast_share=share,
                            ensemble=len(predictor.augment))
    cost = {**cost, "genes": len(files), "forward_equivalents": cost["forward_equivalents"] - 1 + len(files)}
    info = Path(args.out) / f"{name}.motifs.json"
    with atomic_output(info) as tmp:
        tmp.write_text(json.dumps({"batch": name, "genes": len(files), "drivers_with_ism": n_ism,
                                   "method": method, "cost": cost}, indent=1) + "\n")
    print(json.dumps({"batch": name, "genes": len(files), "drivers": len(dm), "drivers_with_ism": n_ism,
                      "seqlets": len(tables.seqlets), "method": method, "cost": cost,
                      "seconds": round(time.perf_counter() - t0, 3),
                      "outputs": [str(p) for p in [*paths, info, *tables.driver_ism_files]]}))
    return 0
