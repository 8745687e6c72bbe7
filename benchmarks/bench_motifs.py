"""Benchmark of the driver neighbourhood ISM of `seqgx motifs`: per main driver 2 x 41 x 3 exact fast
substitutions (the reference and the alt-allele background, +-20 bp) plus one spliced alt background.

Prints, for the FULL-SIZE Enformer (dim 1536, depth 11, 196,608 bp, 3 centre bins x 1 track; random
weights) on the device chosen:

- seconds of the reference's trunk + tail (once per gene), of splicing one alt background (once per
  driver) and per fast substitution (measured on ``--substitutions`` substitutions around one driver);
- the cost per driver (246 substitutions + 1 splice) and per gene with ``--drivers-per-gene`` main
  drivers (default 1), extrapolated from those measurements;
- with ``--drivers N`` (N > 0) also the measured wall time of N whole drivers (all 246 substitutions).

On a CPU a full-size substitution takes seconds, so the default measures 8 substitutions and
extrapolates; on a GPU ``--drivers 2`` runs whole drivers in seconds.

    python benchmarks/bench_motifs.py [--mode auto|cpu|gpu] [--substitutions 8] [--drivers 0]
                                      [--batch-size B] [--drivers-per-gene 1]
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np
import torch

from seqgx.analysis.motifs import DRIVER_FLANK, _spliced_background, driver_neighbourhood_ism
from seqgx.model.attribution import FastISM, ReadoutSet, saturation_substitutions
from seqgx.model.models import centre_bins, load_model
from seqgx.model.readouts import TrackReadout

SEQ_LEN = 196_608
TRACK = 4980  # CAGE:brain; adult;


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mode", choices=("auto", "cpu", "gpu"), default="auto")
    ap.add_argument("--substitutions", type=int, default=8, help="fast substitutions timed (default 8)")
    ap.add_argument("--drivers", type=int, default=0, help="whole drivers timed end to end (default 0)")
    ap.add_argument("--batch-size", type=int, default=0,
                    help="substitutions per call (default 4 CPU, 32 GPU)")
    ap.add_argument("--drivers-per-gene", type=int, default=1, help="main drivers per gene (default 1)")
    args = ap.parse_args()
    gpu = args.mode == "gpu" or (args.mode == "auto" and torch.cuda.is_available())
    device = "cuda" if gpu else "cpu"
    bs = args.batch_size or (32 if gpu else 4)
    sync = torch.cuda.synchronize if gpu else (lambda: None)
    print(f"machine: {platform.processor() or platform.machine()}, torch {torch.__version__}, threads "
          f"{torch.get_num_threads()}, device {torch.cuda.get_device_name() if gpu else 'cpu'}")

    t = time.perf_counter()
    model = load_model("random", SEQ_LEN, {}, seed=0)  # enformer-pytorch defaults: the full-size model
    bins = centre_bins(896)
    module = model.module.select(bins, [TRACK]).to(device).eval()
    rset = ReadoutSet([TrackReadout(TRACK, bins)], bins, [TRACK])
    cfg = model.module.enformer.config
    print(f"FULL-SIZE Enformer dim {cfg.dim}, depth {cfg.depth}, heads {cfg.heads}; built in "
          f"{time.perf_counter() - t:.1f} s")

    rng = np.random.default_rng(0)
    ref = rng.integers(0, 4, SEQ_LEN).astype(np.uint8)
    centre = SEQ_LEN // 2
    engine = FastISM(module, batch_size=bs, device=device)
    with torch.no_grad():
        sync()
        t = time.perf_counter()
        engine.set_reference(ref)
        sync()
        t_ref = time.perf_counter() - t

        wi = centre + 37
        alt = (int(ref[wi]) + 1) % 4
        _spliced_background(engine, wi, alt)  # warm-up
        sync()
        t = time.perf_counter()
        _spliced_background(engine, wi, alt)
        sync()
        t_splice = time.perf_counter() - t

        hood = np.arange(wi - DRIVER_FLANK, wi + DRIVER_FLANK + 1)
        sub_wi, sub_alt = saturation_substitutions(ref, hood)
        n = min(args.substitutions, len(sub_wi))
        engine.outputs(sub_wi[:bs], sub_alt[:bs])  # warm-up
        sync()
        t = time.perf_counter()
        engine.outputs(sub_wi[:n], sub_alt[:n])
        sync()
        t_sub = (time.perf_counter() - t) / n

    per_driver = 2 * len(hood) * 3 * t_sub + t_splice
    per_gene = t_ref + args.drivers_per_gene * per_driver
    print(f"\nmeasured on {device} (batch {bs}):")
    print(f"  reference trunk + tail      {t_ref:9.2f} s  (once per gene)")
    print(f"  splice one alt background   {t_splice:9.2f} s  (once per driver)")
    print(f"  fast substitution           {t_sub:9.2f} s  ({n} timed around one driver)")
    print(f"  per driver (2 x {len(hood)} x 3 = {2 * len(hood) * 3} substitutions + 1 splice): "
          f"{per_driver:.1f} s = {per_driver / 60:.1f} min")
    print(f"  per gene ({args.drivers_per_gene} main driver(s) + reference): {per_gene:.1f} s = "
          f"{per_gene / 60:.1f} min")
    if args.drivers > 0:
        pos = centre + rng.choice(np.arange(-500, 500), args.drivers, replace=False)
        alts = (ref[pos] + 1) % 4
        sync()
        t = time.perf_counter()
        driver_neighbourhood_ism(ref, pos, alts, rset, engine=engine)
        sync()
        total = time.perf_counter() - t
        print(f"  measured: {args.drivers} whole drivers (+ reference) in {total:.1f} s, "
              f"{(total - t_ref) / args.drivers:.1f} s per driver")


if __name__ == "__main__":
    main()
