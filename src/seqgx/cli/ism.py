"""`seqgx ism`: in-silico mutagenesis per SNV, input gradients and saturation ISM around the TSS."""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from seqgx import __version__
from seqgx.errors import SeqgxError
from seqgx.log import get_logger
from seqgx.threads import set_threads

NAME = "ism"
HELP = ("In-silico mutagenesis of each gene's SNVs (fast exact path for Enformer), optional input "
        "gradients and saturation ISM around the TSS; write <gene_id>.ism.tsv")
log = get_logger(__name__)

def add_arguments(p: argparse.ArgumentParser) -> None:
    from seqgx.cli.predict import add_model_arguments

    # the same inputs, model and readout flags as `seqgx predict`; ism_method (--method),
    # allow_full_forward, gradients, tss_window
    add_model_arguments(p, NAME)


def run(args: argparse.Namespace) -> int:
    from seqgx.cli.predict import build_predictor
    from seqgx.genome.personalize import GeneHaplotypes
    from seqgx.model.attribution import ReadoutSet, attribute_gene, write_result
    from seqgx.model.predict import TorchBackend

    if args.tss_window < 0:
        raise SeqgxError(f"--tss-window must be >= 0 bp, got {args.tss_window}")
    set_threads(args.threads, import_torch=True)  # --threads comes with the model flags
    first = GeneHaplotypes.load(args.haplotypes[0])
    predictor, backend, _ = build_predictor(args, first.window_length)
    rset = ReadoutSet(predictor.readouts, predictor.bins, predictor.tracks)
    is_torch = isinstance(predictor.backend, TorchBackend)
    module = predictor.backend.module if is_torch else None
    method = attribution_method(args, module)
    if args.gradients and module is None:
        raise SeqgxError(f"--gradients needs the torch backend, but model '{args.model}' runs on "
                         f"{predictor.backend.name}; pass a torch model or drop --gradients")
    device = getattr(predictor.backend, "device", "cpu")
    batch = args.batch_size or (16 if str(device).startswith("cuda") else 4)
    t0 = time.perf_counter()
    summary = []
    cost: dict[str, float] = {}
    for i, path in enumerate(args.haplotypes):
        gh = first if i == 0 else GeneHaplotypes.load(path)
        if gh.window_length != backend.seq_len:
            raise SeqgxError(f"haplotypes file '{path}': window of {gh.window_length} bp but the model takes "
                             f"{backend.seq_len} bp; use a model for this window length")
        if gh.n_variants == 0:
            log.info("%s: no variants in the window; writing an empty ISM table", gh.gene_id)
        res = attribute_gene(gh, rset, method=method, module=module, outputs=predictor.outputs,
                             gradients=args.gradients, tss_window=args.tss_window, batch_size=batch,
                             device=device, source=f"haplotypes file '{path}'",
                             ensemble=len(predictor.augment))
        cost = {k: cost.get(k, 0) + v for k, v in res.cost.items() if k != "fast_share"}
        write_result(res, gh, args.out, meta={"method": method, "model": backend.identity,
                                              "seqgx_version": __version__, "haplotypes_file": str(path)})
        summary.append({"gene_id": gh.gene_id, "n_variants": int(gh.n_variants),
                        "n_substitutions": res.n_substitutions, "seconds": round(res.seconds, 3)})
        log.info("%s: ISM of %d SNVs%s (%s) in %.1f s", gh.gene_id, gh.n_variants,
                 f" + {res.n_substitutions - gh.n_variants} saturation substitutions"
                 if res.saturation is not None else "", method, res.seconds)
    print(json.dumps({"genes": len(summary), "method": method, "seconds": round(time.perf_counter() - t0, 3),
                      "model": backend.identity.get("source"), "cost": cost}))
    return 0


def attribution_method(args: argparse.Namespace, module: Any) -> str:
    """'fast' or 'full': --method, falling back to full-forward ISM where fast ISM cannot run only when
    --allow-full-forward allows it (else a one-line error saying why)."""
    if args.ism_method != "fast":
        return args.ism_method
    why = _fast_unavailable(args, module)
    if not why:
        return "fast"
    if not args.allow_full_forward:
        raise SeqgxError(f"fast ISM is not possible: {why}; use --method full, or add "
                         f"--allow-full-forward to fall back to full-forward ISM")
    log.warning("fast ISM is not possible (%s): using full-forward ISM as allowed", why)
    return "full"


def _fast_unavailable(args: argparse.Namespace, module: Any) -> str:
    """Why the fast path cannot run (empty string when it can)."""
    from seqgx.model.attribution import split_model

    if module is None:
        return f"model '{args.model}' runs on the ONNX backend (fast ISM needs the torch model)"
    if args.max_shift or args.reverse_complement:
        return "the shift / reverse-complement ensemble is only supported by full-forward ISM"
    if args.precision != "fp32":
        return f"fast ISM runs in fp32 only, not {args.precision}"
    try:
        split_model(module)
    except SeqgxError as exc:
        return str(exc).split(";")[0]
    return ""
