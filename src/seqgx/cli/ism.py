"""`seqgx ism`: in-silico mutagenesis per SNV, input gradients and saturation ISM around the TSS."""

from __future__ import annotations

import argparse
import json
import time

from seqgx import __version__
from seqgx.cli._model_args import add_model_arguments
from seqgx.errors import SeqgxError
from seqgx.log import get_logger
from seqgx.threads import set_threads

NAME = "ism"
HELP = ("In-silico mutagenesis of each gene's SNVs (fast exact path for Enformer), optional input "
        "gradients and saturation ISM around the TSS; write <gene_id>.ism.tsv")
log = get_logger(__name__)

def add_arguments(p: argparse.ArgumentParser) -> None:
    # the same inputs, model and readout flags as `seqgx predict`; ism_method (--method),
    # allow_full_forward, gradients, tss_window
    add_model_arguments(p, NAME)


def run(args: argparse.Namespace) -> int:
    from seqgx.genome.personalize import GeneHaplotypes
    from seqgx.model.attribution import ReadoutSet, attribute_gene, write_result
    from seqgx.model.build import attribution_method, build_predictor, torch_module

    if args.tss_window < 0:
        raise SeqgxError(f"--tss-window must be >= 0 bp, got {args.tss_window}")
    set_threads(args.threads, import_torch=True)  # --threads comes with the model flags
    first = GeneHaplotypes.load(args.haplotypes[0])
    predictor, backend, _ = build_predictor(args, first.window_length)
    rset = ReadoutSet(predictor.readouts, predictor.bins, predictor.tracks)
    module = torch_module(predictor.backend)
    method = attribution_method(args, predictor.backend)
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
