"""seqgx predict: personal predictions per gene from its haplotypes file."""

from __future__ import annotations

import argparse
import json
import time

from seqgx.cli._model_args import add_model_arguments
from seqgx.log import get_logger
from seqgx.threads import set_threads

NAME = "predict"
HELP = "Predict the reference and every distinct haplotype of each gene; write per-sample readouts"
log = get_logger(__name__)


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_model_arguments(p, NAME)  # with person_combine and reference_tracks
    p.add_argument("--no-dedup", action="store_true",
                   help="predict every sample-haplotype separately (same values; for checks)")


def run(args: argparse.Namespace) -> int:
    from seqgx.genome.personalize import GeneHaplotypes
    from seqgx.model.build import build_predictor
    from seqgx.model.predict import Predictor, predict_gene, write_gene_outputs

    set_threads(args.threads, import_torch=True)
    first = GeneHaplotypes.load(args.haplotypes[0])
    predictor, backend, bins = build_predictor(args, first.window_length)
    ref_tracks = None
    if args.reference_tracks:
        ref_tracks = Predictor(backend, [], shifts=predictor.shifts,
                               reverse_complement=args.reverse_complement,
                               batch_size=args.batch_size or None, bins=bins,
                               tracks=range(len(backend.track_names)))
    summary = []
    cost = {"model_calls": 0, "sequences": 0, "forward_equivalents": 0.0}
    t0 = time.perf_counter()
    for i, path in enumerate(args.haplotypes):
        gh = first if i == 0 else GeneHaplotypes.load(path)
        pred = predict_gene(predictor, gh, person_combine=args.person_combine,
                            deduplicate=not args.no_dedup, reference_tracks=ref_tracks)
        write_gene_outputs(args.out, gh, pred, predictor,
                           extra={"person_combine": args.person_combine, "haplotypes_file": str(path)})
        cost = {k: cost[k] + pred.cost[k] for k in cost}
        summary.append({"gene_id": gh.gene_id, "n_distinct_haplotypes": pred.n_distinct,
                        "n_sample_haplotypes": pred.n_sample_haplotypes, "dedup_ratio": pred.dedup_ratio,
                        "seconds": round(pred.seconds, 3)})
        log.info("%s: %d distinct of %d sample-haplotypes (dedup ratio %.2f) in %.1f s", gh.gene_id,
                 pred.n_distinct, pred.n_sample_haplotypes, pred.dedup_ratio, pred.seconds)
    elapsed = time.perf_counter() - t0
    print(json.dumps({"genes": len(summary), "seconds": round(elapsed, 3),
                      "model": backend.identity.get("source"), "cost": cost}))
    return 0
