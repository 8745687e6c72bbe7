"""seqgx predict: personal predictions per gene from its haplotypes file."""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from seqgx.errors import SeqgxError
from seqgx.log import get_logger
from seqgx.params import add_param_arguments
from seqgx.threads import add_threads_argument, set_threads

NAME = "predict"
HELP = "Predict the reference and every distinct haplotype of each gene; write per-sample readouts"
log = get_logger(__name__)


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_model_arguments(p, NAME)  # with person_combine and reference_tracks
    p.add_argument("--no-dedup", action="store_true",
                   help="predict every sample-haplotype separately (same values; for checks)")


def add_model_arguments(p: argparse.ArgumentParser, step: str) -> None:
    """Inputs and model flags of the model steps (predict, ism, motifs), then every parameter flag of
    ``step`` (seqgx.params: backend, device, precision, bins, ..., and the step's own)."""
    p.add_argument("--haplotypes", nargs="+", required=True, help="<gene_id>.haplotypes.npz files")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--model", required=True,
                   help="an .onnx file; 'oracle' (test/demo model); a Hugging Face directory or hub id, "
                        "a state-dict file (.pt/.pth/.safetensors) or 'random' (torch backend)")
    p.add_argument("--hparams", help="Enformer hyper-parameters, JSON or a JSON file (state dicts, 'random')")
    p.add_argument("--tracks", nargs="+", default=None,
                   help="track readouts by index or exact name, 'default' (the model's default), or 'none' "
                        "(default 4980 'CAGE:brain; adult;' for Enformer; every track for models with <= 16 "
                        "tracks)")
    p.add_argument("--finetuned-weights", nargs="+",
                   help="weights CSV(s) (tracks,weights; last row offset,<intercept>); several (tissues) are "
                        "named finetuned:<file stem>")
    # model, hparams, tracks and finetuned_weights above: several values or a required input
    add_param_arguments(p, step, skip=("model", "hparams", "tracks", "finetuned_weights"))
    add_threads_argument(p)


def _default_tracks(names: list[str]) -> list[str]:
    if len(names) == 5313:
        return ["4980"]
    if len(names) <= 16:
        return [str(i) for i in range(len(names))]
    raise SeqgxError(f"the model has {len(names)} tracks; choose readouts with --tracks (index or name)")


def build_predictor(args: argparse.Namespace, window_length: int) -> tuple[Any, Any, list[int]]:
    """What the model flags describe: (Predictor, the full backend, the readout bins)."""
    from seqgx.model.predict import Predictor, open_backend
    from seqgx.model.readouts import (
        TrackReadout,
        finetuned_labels,
        load_finetuned_readout,
        parse_bins,
        readouts_of_specs,
    )

    if args.max_shift < 0:
        raise SeqgxError(f"--max-shift must be >= 0, got {args.max_shift}")
    providers = [s for s in args.providers.split(",") if s.strip()] if args.providers else None
    backend = open_backend(args.model, window_length, backend=args.backend, hparams=args.hparams,
                           providers=providers, device=args.device, precision=args.precision,
                           allow_cpu_fallback=args.allow_cpu_fallback, track_names=args.track_names,
                           seed=args.seed)
    names = backend.track_names
    bins = parse_bins(args.bins, backend.n_bins)
    weights = args.finetuned_weights or []
    default = _default_tracks(names) if len(names) == 5313 or len(names) <= 16 else []
    if args.tracks is not None:
        track_specs = args.tracks
    elif weights and not default:
        track_specs = []  # no sensible default track; the fine-tuned readout alone
    else:
        track_specs = ["default"] if default else _default_tracks(names)  # (the latter raises)
    if [s.lower() for s in track_specs] == ["none"]:
        track_specs = []
    readouts: list = [TrackReadout(t, bins, names[t], specs=asked)
                      for t, asked in readouts_of_specs(track_specs, names, default)]
    for path, label in zip(weights, finetuned_labels(weights), strict=True):
        readouts.append(load_finetuned_readout(path, names, bins, args.pseudocount, label=label))
    shifts = range(-args.max_shift, args.max_shift + 1)
    predictor = Predictor(backend, readouts, shifts=shifts, reverse_complement=args.reverse_complement,
                          batch_size=args.batch_size or None)
    return predictor, backend, bins


def run(args: argparse.Namespace) -> int:
    from seqgx.genome.personalize import GeneHaplotypes
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
