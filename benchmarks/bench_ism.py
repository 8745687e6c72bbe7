"""Benchmark of ISM per SNV: fast exact ISM (trunk slice + token splice + transformer) vs a full forward.

Prints:
- FLOPs (``torch.utils.flop_counter``, on meta tensors) of the FULL-SIZE Enformer (dim 1536, depth 11,
  196,608 bp, centre bins of one track): one full forward, the conv trunk's share, one fast-ISM
  substitution, and their ratio (the ceiling of the speed-up);
- the same FLOP figures for the model that is timed;
- measured seconds per SNV: full forward of the mutated sequence (batched) vs fast ISM (batched), and
  the speed-up, with the maximum |fast - full| on the timed SNVs.

CPU mode (automatic without CUDA): a NARROW Enformer at the full 196,608-bp length (random weights).
GPU mode (CUDA visible): the full-size Enformer with random weights.

    python benchmarks/bench_ism.py [--mode auto|cpu|gpu] [--snvs N] [--full-seqs N]
                                   [--batch-size B] [--full-batch-size B]
"""

from __future__ import annotations

import argparse
import copy
import platform
import time
from collections.abc import Callable

import numpy as np
import torch

from seqgx.model.attribution import FastISM, derive_receptive_field, flop_counts, split_model
from seqgx.model.models import EnformerFixed, LoadedModel, centre_bins, load_model

SEQ_LEN = 196_608
FULL: dict = {}  # enformer-pytorch defaults: dim 1536, depth 11, heads 8, 5313 human tracks
NARROW = {"dim": 96, "depth": 2, "heads": 4, "num_downsamples": 7, "dim_divisible_by": 16,
          "output_heads": {"human": 5313}}
TRACK = 4980  # CAGE:brain; adult;


def full_size_flops() -> dict:
    from enformer_pytorch import Enformer

    with torch.device("meta"):
        enf = Enformer.from_hparams()
    module = EnformerFixed(enf.eval(), SEQ_LEN).select(centre_bins(896), [TRACK]).to("meta").eval()
    return flop_counts(module)


def sync_fn(device: str) -> Callable[[], None]:
    return torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)


def print_flops(title: str, f: dict) -> None:
    print(f"{title}")
    print(f"  full forward       {f['full'] / 1e12:9.4f} TFLOP")
    print(f"  conv trunk         {f['trunk'] / 1e12:9.4f} TFLOP "
          f"({100 * f['trunk_share']:.1f}% of the forward)")
    print(f"  tail (transformer, crop, head)  {f['tail'] / 1e12:.4f} TFLOP")
    print(f"  trunk on one slice ({f['slice_bp']:.0f} bp) {f['slice'] / 1e9:.3f} GFLOP")
    print(f"  fast ISM per SNV   {f['fast'] / 1e12:9.4f} TFLOP")
    print(f"  FLOP ratio full / fast: {f['ratio']:.2f}x (ceiling 1 / (1 - trunk share) = "
          f"{1 / (1 - f['trunk_share']):.2f}x)")


def perturb_weights(model: LoadedModel, scale: float, seed: int = 1) -> None:
    """Add N(0, scale) noise to every weight of a random Enformer, in place.

    enformer-pytorch zero-initialises attention outputs and its random outputs hardly depend on the
    input; perturbed, SNVs move the outputs and |fast - full| means something (FLOPs and timings are
    unaffected)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.module.enformer.parameters():
            p.add_(torch.randn(p.shape, generator=gen).to(p.device) * scale)


def random_snvs(seq_len: int, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A random reference (uint8 tokens) and ``n`` SNVs (window index, alt token) within 2 kb of its
    centre (the TSS, where they move the centre bins most)."""
    rng = np.random.default_rng(seed)
    ref = rng.integers(0, 4, seq_len).astype(np.uint8)
    centre = seq_len // 2
    wi = rng.permutation(np.arange(max(centre - 2_000, 0), min(centre + 2_000, seq_len)))[:n]
    alt = (ref[wi] + rng.integers(1, 4, len(wi))) % 4
    return ref, wi, alt


def measure_ism(module: torch.nn.Module, ref: np.ndarray, wi: np.ndarray, alt: np.ndarray, *,
                n_full: int, batch_size: int, full_batch_size: int, device: str) -> dict[str, float]:
    """Seconds per SNV of a full forward of each mutated sequence (the first ``n_full`` SNVs) and of
    fast ISM (all SNVs), the reference's trunk + tail, and max |fast - full| over the first n_full."""
    sync = sync_fn(device)
    eye = torch.eye(4, device=device)
    fbs, n_snv = full_batch_size, len(wi)

    # Full forward ISM: each mutated sequence through the whole model.
    def full_batch(idx: np.ndarray) -> np.ndarray:
        tok = torch.from_numpy(np.repeat(ref[None], len(idx), 0)).to(device).long()
        rows, cols = torch.arange(len(idx)), torch.from_numpy(wi[idx])
        tok[rows.to(device), cols.to(device)] = torch.from_numpy(alt[idx]).to(device)
        with torch.no_grad():
            return module(eye[tok]).cpu().numpy()

    full_batch(np.arange(min(fbs, n_full)))  # warm-up
    sync()
    t = time.perf_counter()
    full_out = np.concatenate([full_batch(np.arange(i, min(i + fbs, n_full))) for i in range(0, n_full, fbs)])
    sync()
    t_full = (time.perf_counter() - t) / n_full

    engine = FastISM(module, batch_size=batch_size, device=device)
    engine.set_reference(ref)
    engine.outputs(wi[:batch_size], alt[:batch_size])  # warm-up
    sync()
    t = time.perf_counter()
    ref_out = engine.set_reference(ref)
    sync()
    t_ref = time.perf_counter() - t
    t = time.perf_counter()
    fast_out = engine.outputs(wi, alt)
    sync()
    t_fast = (time.perf_counter() - t) / n_snv
    return {"full_s": t_full, "fast_s": t_fast, "reference_s": t_ref, "speedup": t_full / t_fast,
            "max_abs_diff": float(np.abs(fast_out[:n_full] - full_out).max()),
            "max_change": float(np.abs(fast_out[:n_full] - ref_out).max()),
            "max_output": float(np.abs(ref_out).max())}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mode", choices=("auto", "cpu", "gpu"), default="auto")
    ap.add_argument("--snvs", type=int, default=0, help="SNVs timed with fast ISM (default 48 CPU, 256 GPU)")
    ap.add_argument("--full-seqs", type=int, default=0,
                    help="mutated sequences timed with the full forward (default 4 CPU, 32 GPU)")
    ap.add_argument("--batch-size", type=int, default=0, help="fast ISM batch (default 8 CPU, 32 GPU)")
    ap.add_argument("--full-batch-size", type=int, default=0,
                    help="full forward batch (default 2 CPU, 8 GPU)")
    ap.add_argument("--size", choices=("auto", "full", "narrow"), default="auto",
                    help="model timed: auto = full-size on GPU, narrow on CPU (full-size on a CPU takes "
                         "minutes)")
    args = ap.parse_args()
    gpu = args.mode == "gpu" or (args.mode == "auto" and torch.cuda.is_available())
    device = "cuda" if gpu else "cpu"
    n_snv = args.snvs or (256 if gpu else 48)
    n_full = args.full_seqs or (32 if gpu else 4)
    bs = args.batch_size or (32 if gpu else 8)
    fbs = args.full_batch_size or (8 if gpu else 2)
    print(f"machine: {platform.processor() or platform.machine()}, torch {torch.__version__}, "
          f"threads {torch.get_num_threads()}, device {torch.cuda.get_device_name() if gpu else 'cpu'}")

    t = time.perf_counter()
    print_flops("FULL-SIZE Enformer (196,608 bp, 3 centre bins x 1 track), counted on meta tensors:",
                full_size_flops())
    print(f"  (counted in {time.perf_counter() - t:.1f} s)\n")

    full_size = args.size == "full" or (args.size == "auto" and gpu)
    hp = FULL if full_size else NARROW
    model = load_model("random", SEQ_LEN, hp, seed=0)
    perturb_weights(model, 0.02 if full_size else 0.2)
    module = model.module.select(centre_bins(896), [TRACK]).to(device).eval()
    rf = derive_receptive_field(split_model(module).layers)
    print(f"receptive field: R = {rf.half_width} bp each side of a {rf.resolution}-bp token; a base changes "
          f"<= {rf.n_affected} tokens; slice {rf.slice_tokens} tokens = {rf.slice_bp} bp\n")
    cfg = model.module.enformer.config
    size = "FULL-SIZE" if full_size else "NARROW"
    label = f"{size} Enformer dim {cfg.dim}, depth {cfg.depth}, heads {cfg.heads}"
    f = flop_counts(copy.deepcopy(model.module.select(centre_bins(896), [TRACK])).to("meta"))
    print_flops(f"timed model: {label}:", f)

    ref, wi, alt = random_snvs(SEQ_LEN, n_snv)
    m = measure_ism(module, ref, wi, alt, n_full=n_full, batch_size=bs, full_batch_size=fbs, device=device)
    t_full, t_fast, t_ref = m["full_s"], m["fast_s"], m["reference_s"]

    print(f"\nmeasured on {device} ({label}):")
    print(f"  full forward per SNV   {t_full * 1e3:9.1f} ms  ({n_full} mutated sequences, batch {fbs})")
    print(f"  fast ISM per SNV       {t_fast * 1e3:9.1f} ms  ({n_snv} SNVs, batch {bs})")
    print(f"  reference trunk + tail {t_ref * 1e3:9.1f} ms  (once per gene)")
    print(f"  speed-up per SNV: {t_full / t_fast:.2f}x (FLOP ratio of this model {f['ratio']:.2f}x)")
    print(f"  max |fast - full| over {n_full} SNVs: {m['max_abs_diff']:.3g} (largest output change "
          f"{m['max_change']:.3g}, largest output {m['max_output']:.3g}; float32 rounding ~ 1e-7 x output)")


if __name__ == "__main__":
    main()
