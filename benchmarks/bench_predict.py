"""Benchmark of `seqgx predict`'s inference: FLOPs, sequences/s and achieved TFLOP/s.

GPU mode (CUDA visible): full-size Enformer (random weights, 196,608 bp, 896 x 5313 outputs) with
torch fp32, torch bf16 autocast, ONNX Runtime fp32 and fp16 (CUDA provider), TensorRT when
available, over a batch-size sweep; plus the naive baseline (batch 1, fp32, the full 896 x 5313
output copied back per sequence) and the centre-bins readout path seqgx uses.

CPU mode (no GPU, automatic): the same measurements with a NARROW Enformer (still 196,608 bp in,
896 bins out; dim/depth reduced, see NARROW) so the run stays within a few minutes on 2 cores.
The figures are printed as a table; docs/performance.md records them.

    python benchmarks/bench_predict.py [--mode auto|cpu|gpu] [--batch-sizes 1,2,4] [--seqs N]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from seqgx.model.models import centre_bins, export_onnx, load_model
from seqgx.model.predict import OnnxBackend, Predictor, TorchBackend, resolve_providers
from seqgx.model.readouts import TrackReadout

SEQ_LEN = 196_608
FULL: dict = {}  # enformer-pytorch defaults: dim 1536, depth 11, heads 8, 5313 human tracks
NARROW = {"dim": 48, "depth": 1, "heads": 1, "num_downsamples": 7, "dim_divisible_by": 8,
          "output_heads": {"human": 5313}}


def flops_per_sequence(module: torch.nn.Module, device: str, seq_len: int = SEQ_LEN) -> float:
    x = torch.zeros(1, seq_len, 4, device=device)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        module(x)
    return float(counter.get_total_flops())


def timed(fn: Callable[[int], object], n_seqs: int, sync: Callable[[], None], warm: int = 1) -> float:
    """Sequences per second of ``fn(n)`` (which processes n sequences), after a warm-up call."""
    fn(warm)
    sync()
    t0 = time.perf_counter()
    fn(n_seqs)
    sync()
    return n_seqs / (time.perf_counter() - t0)


def naive_runner(module: torch.nn.Module, tokens: np.ndarray, device: str) -> Callable[[int], None]:
    """The naive baseline for :func:`timed`: batch 1, fp32, the full output copied back per sequence,
    no prefetch."""
    def naive(n: int) -> None:
        for i in range(n):
            x = torch.from_numpy(np.eye(4, dtype=np.float32)[tokens[i:i + 1]]).to(device)
            with torch.inference_mode():
                module(x).cpu().numpy()

    return naive


def predictor_runner(pred: Predictor, tokens: np.ndarray) -> Callable[[int], object]:
    """``fn(n)`` for :func:`timed`: the first n rows of ``tokens`` through seqgx's Predictor."""
    return lambda n: pred.predict(n, lambda idx: tokens[idx])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mode", choices=("auto", "cpu", "gpu"), default="auto")
    ap.add_argument("--batch-sizes", default=None, help="comma list (default 1,2,4 CPU; 1..32 GPU)")
    ap.add_argument("--seqs", type=int, default=None, help="sequences per timed run (default 4 CPU, 64 GPU)")
    args = ap.parse_args()
    gpu = torch.cuda.is_available() if args.mode == "auto" else args.mode == "gpu"
    if gpu and not torch.cuda.is_available():
        print("no CUDA GPU visible; use --mode cpu", file=sys.stderr)
        return 2
    device = "cuda" if gpu else "cpu"
    hparams = FULL if gpu else NARROW
    sizes = [int(b) for b in (args.batch_sizes or ("1,2,4,8,16,32" if gpu else "1,2,4")).split(",")]
    n_seqs = args.seqs or (64 if gpu else 4)
    sync = torch.cuda.synchronize if gpu else (lambda: None)
    print(f"# bench_predict: {'GPU ' + torch.cuda.get_device_name() if gpu else 'CPU (no GPU found)'}; "
          f"{os.cpu_count()} CPU cores; torch {torch.__version__}; "
          f"{platform.processor() or platform.machine()}")
    print(f"# model: {'full-size Enformer' if gpu else 'NARROW Enformer ' + str(NARROW)} "
          f"(random weights), {SEQ_LEN} bp in, 896 bins x 5313 tracks out")

    model = load_model("random", SEQ_LEN, hparams, seed=0)
    bins = centre_bins(model.n_bins)
    readout = [TrackReadout(4980, bins)]
    f_full = flops_per_sequence(model.module.to(device), device)
    f_centre = flops_per_sequence(model.select(bins, [4980]).to(device), device)
    print(f"# FLOPs per sequence: full output {f_full / 1e9:.1f} GFLOP; centre 3 bins x 1 track "
          f"{f_centre / 1e9:.1f} GFLOP (torch.utils.flop_counter)")
    rng = np.random.default_rng(0)
    tokens = rng.integers(0, 4, size=(n_seqs, SEQ_LEN)).astype(np.uint8)
    rows: list[tuple[str, int, float, float]] = []

    def report(name: str, bs: int, sps: float, flops: float) -> None:
        rows.append((name, bs, sps, sps * flops / 1e12))
        print(f"{name:<34} batch {bs:>3}  {sps:8.3f} seq/s  {sps * flops / 1e12:7.3f} TFLOP/s", flush=True)

    # Naive baseline: batch 1, fp32, full 896 x 5313 output copied back per sequence, no prefetch.
    full_mod = model.module.to(device).eval()
    report("naive (torch fp32, full output)", 1, timed(naive_runner(full_mod, tokens, device), n_seqs, sync),
           f_full)

    def via_predictor(backend, bs: int) -> Callable[[int], object]:
        return predictor_runner(Predictor(backend, readout, batch_size=bs), tokens)

    for precision in ("fp32", "bf16"):
        backend = TorchBackend(model, device=device, precision=precision)
        for bs in sizes if gpu or precision == "fp32" else sizes[-1:]:
            try:
                report(f"torch {precision} (centre readout)", bs,
                       timed(via_predictor(backend, bs), n_seqs, sync, warm=bs), f_centre)
            except torch.OutOfMemoryError:
                print(f"torch {precision} batch {bs}: out of memory")
                break

    with tempfile.TemporaryDirectory() as tmp:
        variants = [("fp32", "full", None, None), ("fp32", "centre", bins, [4980])]
        if gpu:
            variants.append(("fp16", "centre", bins, [4980]))
        for precision, label, b, t in variants:
            path = Path(tmp) / f"{precision}-{label}.onnx"
            t0 = time.perf_counter()
            export_onnx(model, path, precision=precision, bins=b, tracks=t, n_check=1)
            print(f"# exported {path.name} in {time.perf_counter() - t0:.1f} s (verified against torch)")
            provider_sets = [["cpu"]] if not gpu else [["cuda"]]
            if gpu and "TensorrtExecutionProvider" in resolve_providers(None):
                provider_sets.append(["tensorrt", "cuda"])
            for provs in provider_sets:
                backend = OnnxBackend(path, providers=provs)
                flops = f_full if label == "full" else f_centre
                for bs in sizes:
                    if label == "full" and bs > 1 and not gpu:
                        break  # the full-output export is measured at batch 1 only on CPU
                    name = f"onnx {precision} {label} ({'+'.join(provs)})"
                    report(name, bs, timed(via_predictor(backend, bs), n_seqs, sync, warm=bs), flops)
    best = max(rows, key=lambda r: r[2])
    print(f"# best: {best[0]} batch {best[1]}: {best[2] / rows[0][2]:.2f}x the naive baseline")
    return 0


if __name__ == "__main__":
    sys.exit(main())
