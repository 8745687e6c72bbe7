"""GPU check: throughput, MFU, fast ISM and OOM halving of the FULL-SIZE Enformer on one GPU, in <= 8 min.

Run it through ``bash benchmarks/gpu_check.sh [--dry-run] [--out DIR]`` (which adds the hard 480 s
limit). Each section prints one line of figures and a verdict (PASS / FAIL / SKIP (why) / INFO):

  a. environment     torch, CUDA, GPU, onnxruntime and its providers, TensorRT
  b. naive           torch fp32, batch 1, full 896 x 5313 output copied back: sequences/s (the baseline)
  c. torch_bf16      bf16 autocast, centre-bins readout through seqgx's Predictor, batch sweep up to
                     what fits: best sequences/s and MFU (achieved / peak dense bf16 FLOP/s)
  d. onnx_export     seqgx's fp16 ONNX export of the centre-bins model (verified against torch)
     onnx_cpu        (dry run only) the CPU provider on that file
     onnx_cuda       ONNX Runtime CUDA provider: sequences/s
     onnx_tensorrt   ONNX Runtime TensorRT provider (fp16 engine): engine build time, then sequences/s
  e. ism             fast vs full ISM per SNV: speed-up, max |fast - full|
  f. oom             an absurd batch through the Predictor: the batch it halved to, results = small batch
  g. verdicts        best backend >= 120 sequences/s (H100 target), best >= 10x naive

The TensorRT section runs last (its engine build is the least predictable part); every section's
results are written to DIR/gpu_check.json as soon as it ends, so a run stopped by the time limit
keeps what it measured. Exit status: 0 when no verdict is FAIL, 1 otherwise.

Without CUDA, or with --dry-run: the same code paths on the CPU with a tiny Enformer (dim 48, depth 1,
2 heads, 16,384 bp), the CPU provider in place of CUDA/TensorRT, bf16 by CPU autocast, and the OOM
halving exercised by a backend that raises torch.OutOfMemoryError above a few rows. Figures from a dry
run are not measurements.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from bench_ism import measure_ism, perturb_weights, random_snvs
from bench_predict import flops_per_sequence, naive_runner, predictor_runner, timed
from torch import nn

from seqgx import __version__
from seqgx.model.models import DEFAULT_TOLERANCE, LoadedModel, centre_bins, export_onnx, load_model
from seqgx.model.predict import PROVIDERS, Backend, OnnxBackend, Predictor, TorchBackend
from seqgx.model.readouts import TrackReadout

FULL_LEN = 196_608
TINY_LEN = 16_384  # seqgx's smallest window (seqgx simulate: a multiple of 128, >= 16,384)
# 128 positions after 7 pools; 76 bins kept: 26 cropped each side, Enformer's 320 of 1536 (as the oracle).
TINY = {"dim": 48, "depth": 1, "heads": 2, "num_downsamples": 7, "dim_divisible_by": 8,
        "target_length": 76, "output_heads": {"human": 5313}}
TRACK = 4980  # CAGE:brain; adult; as the other benchmarks
TARGET_SPS = 120.0  # full-size sequences/s of the best backend on one H100
TARGET_VS_NAIVE = 10.0
TARGET_ISM_SPEEDUP = 3.0  # docs/performance.md, ISM
# Dense bf16 peak, TFLOP/s, by GPU name (first match wins: PCIe/NVL before the SXM default).
PEAK_BF16_TFLOPS = (("H100 PCIe", 756.0), ("H100 NVL", 835.0), ("H100", 989.0), ("H200", 989.0),
                    ("A100", 312.0))
DRY = "dry-run: not a measurement"


@dataclass(frozen=True)
class Plan:
    """Sizes of one run: the GPU run fits 8 minutes on an H100/H200, the dry run 1 minute on 2 cores."""

    dry_run: bool
    device: str
    seq_len: int
    hparams: dict[str, Any]
    perturb: float  # weight noise so SNVs move the outputs (bench_ism.perturb_weights)
    min_seqs: int  # sequences per timed run, at least (and 2 batches)
    naive_seqs: int
    torch_batches: tuple[int, ...]  # swept until one does not fit
    onnx_batches: tuple[int, ...]
    trt_batch: int  # one shape: TensorRT builds an engine per new batch size
    ism_snvs: int
    ism_full: int
    ism_batch: int
    ism_full_batch: int
    oom_request: int
    oom_compare: int  # first rows re-run at batch 1
    oom_simulated_above: int | None  # dry run: rows above which the backend raises OutOfMemoryError
    budget_s: float
    min_section_s: dict[str, float] = field(default_factory=dict)


def make_plan(dry_run: bool, budget_s: float) -> Plan:
    if dry_run:
        # perturb 0.13: the tiny model's SNV effects reach ~0.1 on outputs of ~0.6 (at 0.02 they are
        # ~1e-7, too small for the exactness check to mean anything; above ~0.15 outputs blow up).
        return Plan(dry_run=True, device="cpu", seq_len=TINY_LEN, hparams=TINY, perturb=0.13, min_seqs=2,
                    naive_seqs=2, torch_batches=(1, 2), onnx_batches=(1, 2), trt_batch=2, ism_snvs=8,
                    ism_full=4, ism_batch=4, ism_full_batch=2, oom_request=8, oom_compare=2,
                    oom_simulated_above=3, budget_s=budget_s)
    # 1,024 full-length sequences need ~300 GB for the first convolution's output alone in bf16:
    # out of memory on any GPU, and 4x cheaper than 4,096 to finish once halved.
    # ONNX batches stay <= 8: then no tensor reaches 2^31 elements (the stem's output is 768 x 196,608
    # = 151M per sequence), the limit of TensorRT and of ONNX Runtime CUDA kernels with 32-bit indices.
    return Plan(dry_run=False, device="cuda", seq_len=FULL_LEN, hparams={}, perturb=0.02, min_seqs=16,
                naive_seqs=8, torch_batches=(1, 2, 4, 8, 16, 32, 64, 128), onnx_batches=(2, 4, 8),
                trt_batch=8, ism_snvs=64, ism_full=8, ism_batch=32, ism_full_batch=4, oom_request=1024,
                oom_compare=4, oom_simulated_above=None, budget_s=budget_s,
                min_section_s={"naive": 10, "torch_bf16": 30, "onnx_export": 120, "onnx_cuda": 45,
                               "ism": 30, "oom": 45, "onnx_tensorrt": 120})


def peak_bf16_tflops(gpu_name: str | None) -> float | None:
    for key, peak in PEAK_BF16_TFLOPS:
        if gpu_name and key.lower() in gpu_name.lower():
            return peak
    return None


def seqs_per_run(bs: int, plan: Plan) -> int:
    """At least two batches and plan.min_seqs, a whole number of batches (no new shape for TensorRT)."""
    n = max(2 * bs, plan.min_seqs)
    return -(-n // bs) * bs


class _OnDevice(nn.Module):
    """Runs ``inner`` on ``target`` for CPU inputs and returns CPU outputs.

    seqgx's export_onnx traces and checks parity with CPU tensors; wrapped in this, the fp16 trace and
    the torch side of the check run on the GPU. fp16 convolutions on a CPU were ~80x slower than fp32
    (full-width Enformer at 16 kbp: 692 s vs 8.3 s on the 2-core development machine), which would
    put the full-size export far beyond the time limit. Device-only casts are dropped from the ONNX
    graph (the exporter ignores them), so the file is the same.
    """

    def __init__(self, inner: nn.Module, target: str):
        super().__init__()
        self.inner, self.target = inner, target
        self.bins, self.tracks = inner.bins, inner.tracks

    def select(self, bins: list[int] | None, tracks: list[int] | None) -> _OnDevice:
        return _OnDevice(self.inner.select(bins, tracks), self.target)  # type: ignore[operator]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.inner(x.to(self.target)).to(x.device)


class _SimulatedOOM(TorchBackend):
    """Dry run: raises torch.OutOfMemoryError on batches above ``limit`` rows (as tests/test_predict.py)."""

    limit = 1

    def run(self, x: np.ndarray) -> np.ndarray:
        if len(x) > self.limit:
            raise torch.OutOfMemoryError(f"CUDA out of memory (simulated above {self.limit} rows)")
        return super().run(x)

    def select(self, bins: Any, tracks: Any) -> _SimulatedOOM:  # keep the subclass after selection
        new = _SimulatedOOM(self.model, self.device, self.precision,
                            _module=self.model.select(list(bins), list(tracks)))
        new.limit = self.limit
        return new


def _verdict(ok: bool, dry_run: bool = False) -> str:
    if dry_run:
        return f"SKIP ({DRY})"
    return "PASS" if ok else "FAIL"


def _gib(n_bytes: float) -> str:
    return f"{n_bytes / 2**30:.1f} GiB"


class GpuCheck:
    def __init__(self, plan: Plan, out: Path | None):
        self.plan, self.out = plan, out
        self.t0 = time.perf_counter()
        self.results: dict[str, Any] = {"check": "seqgx gpu_check", "seqgx_version": __version__,
                                        "dry_run": plan.dry_run, "plan": asdict(plan)}
        self.device = plan.device
        self.sync: Callable[[], None] = torch.cuda.synchronize if self.device == "cuda" else (lambda: None)
        self.gpu_name = torch.cuda.get_device_name() if self.device == "cuda" else None
        self.bins: list[int] = []
        self.onnx_path: Path | None = None
        self._reference: np.ndarray | None = None

    # --- bookkeeping -------------------------------------------------------------------------------

    def remaining(self) -> float:
        return self.plan.budget_s - (time.perf_counter() - self.t0)

    def save(self) -> None:
        self.results["elapsed_s"] = round(time.perf_counter() - self.t0, 2)
        if self.out is not None:
            self.out.mkdir(parents=True, exist_ok=True)
            tmp = self.out / "gpu_check.json.tmp"
            tmp.write_text(json.dumps(self.results, indent=1, default=str) + "\n")
            tmp.replace(self.out / "gpu_check.json")

    def section(self, name: str, fn: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """Run one section: skipped when the time budget cannot hold it, FAIL on an exception."""
        need = self.plan.min_section_s.get(name, 0.0)
        t = time.perf_counter()
        if self.remaining() < need:
            res = {"line": "", "verdict": f"SKIP (time budget: {self.remaining():.0f} s left, "
                                          f"this section needs ~{need:.0f} s)"}
        else:
            try:
                res = fn()
            except Exception as exc:  # one failing section must not lose the others
                msg = str(exc).splitlines()[0][:300] if str(exc) else ""
                res = {"line": f"{type(exc).__name__}: {msg}", "verdict": "FAIL", "error": msg}
            finally:
                gc.collect()
                if self.device == "cuda":
                    torch.cuda.empty_cache()
        res["seconds"] = round(time.perf_counter() - t, 2)
        self.results[name] = res
        print(f"[{name}] {res['line']} -> {res['verdict']}", flush=True)
        self.save()
        return res

    # --- setup -------------------------------------------------------------------------------------

    def load(self) -> None:
        p = self.plan
        t = time.perf_counter()
        self.model = load_model("random", p.seq_len, p.hparams, seed=0)
        perturb_weights(self.model, p.perturb)
        self.model.module.to(self.device).eval()
        self.bins = centre_bins(self.model.n_bins)
        self.readout = [TrackReadout(TRACK, self.bins)]
        cfg = self.model.module.enformer.config
        self.f_full = flops_per_sequence(self.model.module, self.device, p.seq_len)
        self.f_centre = flops_per_sequence(self.model.select(self.bins, [TRACK]), self.device, p.seq_len)
        rows = max(seqs_per_run(max(p.torch_batches), p), p.oom_request, p.naive_seqs)
        self.tokens = np.random.default_rng(0).integers(0, 4, size=(rows, p.seq_len), dtype=np.uint8)
        self.results["model"] = {
            "size": "tiny (dry run)" if p.dry_run else "full-size", "dim": cfg.dim, "depth": cfg.depth,
            "heads": cfg.heads, "seq_len": p.seq_len, "n_bins": self.model.n_bins,
            "n_tracks": len(self.model.track_names), "weights": f"random, seed 0, +N(0, {p.perturb})",
            "readout": f"track {TRACK} over bins {self.bins}",
            "flops_per_sequence": {"full_output": self.f_full, "centre_readout": self.f_centre},
            "load_s": round(time.perf_counter() - t, 2)}
        print(f"# model: {self.results['model']['size']} Enformer dim {cfg.dim}, depth {cfg.depth}, heads "
              f"{cfg.heads}, {p.seq_len:,} bp -> {self.model.n_bins} bins x {len(self.model.track_names)} "
              f"tracks (random weights); {self.f_full / 1e9:,.1f} GFLOP per sequence with the full output, "
              f"{self.f_centre / 1e9:,.1f} with the centre readout; loaded in "
              f"{time.perf_counter() - t:.1f} s", flush=True)

    # --- sections ----------------------------------------------------------------------------------

    def environment(self) -> dict[str, Any]:
        import onnxruntime as ort

        try:
            import tensorrt  # type: ignore[import-not-found]

            trt: str | None = tensorrt.__version__
        except Exception:  # absent or broken install: both mean no TensorRT here
            trt = None
        env: dict[str, Any] = {
            "python": platform.python_version(), "torch": torch.__version__, "cuda": torch.version.cuda,
            "cudnn": torch.backends.cudnn.version() if torch.cuda.is_available() else None,
            "gpu": self.gpu_name, "cpu_cores": os.cpu_count(), "onnxruntime": ort.__version__,
            "providers": ort.get_available_providers(), "tensorrt": trt}
        if self.device == "cuda":
            env["gpu_memory"] = _gib(torch.cuda.get_device_properties(0).total_memory)
            env["peak_bf16_tflops"] = peak_bf16_tflops(self.gpu_name)
        short = ", ".join(pr.removesuffix("ExecutionProvider") for pr in env["providers"])
        line = (f"torch {env['torch']}, CUDA {env['cuda'] or 'none'}, GPU "
                f"{self.gpu_name or 'none'}{' (' + env['gpu_memory'] + ')' if 'gpu_memory' in env else ''}, "
                f"onnxruntime {env['onnxruntime']} (providers: {short}), "
                f"TensorRT {trt or 'not importable'}, {env['cpu_cores']} CPU cores")
        if self.plan.dry_run:
            verdict = "INFO (dry run: no GPU used)"
        elif PROVIDERS["cuda"] not in env["providers"]:
            verdict = "FAIL (onnxruntime has no CUDAExecutionProvider: install onnxruntime-gpu)"
        else:
            verdict = "PASS" if PROVIDERS["tensorrt"] in env["providers"] else \
                "PASS (no TensorrtExecutionProvider: its section will SKIP)"
        return {"line": line, "verdict": verdict, **env}

    def naive(self) -> dict[str, Any]:
        fn = naive_runner(self.model.module, self.tokens, self.device)
        sps = timed(fn, self.plan.naive_seqs, self.sync)
        line = (f"torch fp32, batch 1, full {self.model.n_bins} x {len(self.model.track_names)} output "
                f"copied back: {sps:.2f} seqs/s ({sps * self.f_full / 1e12:.3g} TFLOP/s)")
        verdict = f"INFO ({DRY})" if self.plan.dry_run else "INFO (the baseline of the 10x target)"
        return {"line": line, "verdict": verdict, "seqs_per_s": sps}

    def _throughput(self, backend: Backend, batches: tuple[int, ...]) -> dict[str, Any]:
        """seqs/s per batch size through seqgx's Predictor, stopping at the first that does not fit
        (the Predictor halves on out-of-memory: a smaller batch size after the run means it did not)."""
        per: dict[int, float] = {}
        oom_at, stopped = None, None
        for bs in batches:
            if self.remaining() < 5:
                stopped = f"time budget at batch {bs}"
                break
            pred = Predictor(backend, self.readout, batch_size=bs)
            try:
                sps = timed(predictor_runner(pred, self.tokens), seqs_per_run(bs, self.plan), self.sync,
                            warm=bs)
            except Exception as exc:  # e.g. a kernel's 32-bit index limit: keep the smaller batches
                if not per:
                    raise
                stopped = f"batch {bs}: {type(exc).__name__}: {str(exc).splitlines()[0][:160]}"
                break
            if pred.batch_size < bs:
                oom_at = bs
                break
            per[bs] = sps
        best = max(per, key=lambda b: per[b])
        return {"by_batch": per, "best_batch": best, "seqs_per_s": per[best], "oom_at_batch": oom_at,
                "stopped": stopped}

    def _speed_verdict(self, sps: float) -> str:
        if self.plan.dry_run:
            return f"SKIP ({DRY})"
        ok = sps >= TARGET_SPS
        note = "" if "H100" in (self.gpu_name or "") else \
            f"; the target is for an H100, this is {self.gpu_name}"
        return f"{'PASS' if ok else 'FAIL'} (target >= {TARGET_SPS:.0f} seqs/s{note})"

    def _sweep_line(self, r: dict[str, Any]) -> str:
        sweep = ", ".join(f"{b}: {s:.1f}" for b, s in r["by_batch"].items())
        oom = f"; out of memory at batch {r['oom_at_batch']}" if r["oom_at_batch"] else ""
        oom += f"; stopped ({r['stopped']})" if r["stopped"] else ""
        return (f"seqs/s by batch {{{sweep}}}{oom}; best {r['seqs_per_s']:.2f} seqs/s at batch "
                f"{r['best_batch']}")

    def torch_bf16(self) -> dict[str, Any]:
        backend = TorchBackend(self.model, self.device, precision="bf16")
        r = self._throughput(backend, self.plan.torch_batches)
        tflops = r["seqs_per_s"] * self.f_centre / 1e12
        peak = peak_bf16_tflops(self.gpu_name)
        r["tflops"] = tflops
        r["mfu"] = tflops / peak if peak else None
        mfu = f"MFU {100 * r['mfu']:.1f}% of {peak:.0f} TFLOP/s" if peak else \
            f"MFU null (no bf16 peak known for {self.gpu_name or 'a CPU'})"
        line = f"autocast, centre readout: {self._sweep_line(r)}, {tflops:.3g} TFLOP/s, {mfu}"
        return {"line": line, "verdict": self._speed_verdict(r["seqs_per_s"]), **r}

    def onnx_export(self) -> dict[str, Any]:
        """seqgx's export_onnx: fp16 with the torch side on the GPU (see _OnDevice); should that fail,
        fp32 with the model moved to the CPU (slow but proven), so the providers are still measured."""
        self._tmp = tempfile.TemporaryDirectory(prefix="seqgx-gpu-check-")
        wrapped = LoadedModel(_OnDevice(self.model.module, self.device), self.model.seq_len,
                              self.model.n_bins, self.model.track_names, self.model.identity)
        note = ""
        for precision, model in (("fp16", wrapped), ("fp32", self.model)):
            path = Path(self._tmp.name) / f"centre-{precision}.onnx"
            t = time.perf_counter()
            try:
                if model is self.model:
                    self.model.module.cpu()
                rep = export_onnx(model, path, precision=precision, bins=self.bins, tracks=[TRACK],
                                  n_check=1)
            except Exception as exc:
                if precision == "fp32":
                    raise
                note = f"; fp16 export failed ({type(exc).__name__}: {str(exc)[:160]}), exported fp32"
                continue
            finally:
                self.model.module.to(self.device)
            secs = time.perf_counter() - t
            self.onnx_path = path
            mib = path.stat().st_size / 2**20
            line = (f"{precision} centre-bins export in {secs:.1f} s, {mib:.0f} MiB, max |onnx - torch| "
                    f"{rep.max_abs_diff:.3g} (tolerance {rep.atol:g} + {rep.rtol:g} x |torch|){note}")
            return {"line": line, "verdict": "FAIL (fp16 export)" if note else "PASS", "precision": precision,
                    "export_s": secs, "max_abs_diff": rep.max_abs_diff, "size_mib": mib}
        raise AssertionError("unreachable")

    def reference_outputs(self, k: int) -> np.ndarray:
        """torch fp32 centre-bins outputs of the first k sequences, batch 1 (what ONNX must match)."""
        if self._reference is None or len(self._reference) < k:
            pred = Predictor(TorchBackend(self.model, self.device), self.readout, batch_size=1)
            self._reference = pred.outputs(k, lambda idx: self.tokens[idx])
        return self._reference[:k]

    def onnx(self, key: str, batches: tuple[int, ...]) -> dict[str, Any]:
        """The exported file through OnnxBackend with one execution provider (never a CPU stand-in)."""
        import onnxruntime as ort

        if self.onnx_path is None:
            return {"line": "", "verdict": "SKIP (no ONNX export)"}
        name = PROVIDERS[key]
        if self.plan.dry_run and key != "cpu":
            return {"line": "", "verdict": f"SKIP (dry run: {name} is not used on a CPU)"}
        if name not in ort.get_available_providers():
            return {"line": "", "verdict": f"SKIP ({name} not available in onnxruntime {ort.__version__}: "
                                           f"{', '.join(ort.get_available_providers())})"}
        if key == "tensorrt":
            # fp16 kernels (ORT's TensorRT provider reads this at session creation), as the file is fp16.
            os.environ.setdefault("ORT_TENSORRT_FP16_ENABLE", "1")
        t = time.perf_counter()
        backend = OnnxBackend(self.onnx_path, providers=[key, "cuda"] if key == "tensorrt" else [key])
        used = backend.session.get_providers()
        if used[0] != name:  # OnnxBackend refuses a lost GPU provider; checked again, as promised
            return {"line": f"session providers {used}", "verdict": f"FAIL ({name} did not start)"}
        first: dict[str, float] = {}
        if key == "tensorrt":
            # The engine is built on the first run of each new shape: time it apart from throughput.
            bs = batches[0]
            t1 = time.perf_counter()
            Predictor(backend, self.readout, batch_size=bs).predict(bs, lambda idx: self.tokens[idx])
            first = {"session_s": t1 - t, "first_batch_s": time.perf_counter() - t1}
        r = self._throughput(backend, batches)
        r["providers"] = used
        # Outputs at the best batch (a shape already run: no new TensorRT engine) against torch fp32,
        # with the export's tolerance: catches a provider that is fast because it computes garbage.
        bs, k = r["best_batch"], min(r["best_batch"], 2)
        got = Predictor(backend, self.readout, batch_size=bs).outputs(bs, lambda idx: self.tokens[idx])[:k]
        want = self.reference_outputs(k)
        atol, rtol = DEFAULT_TOLERANCE[self.results["onnx_export"]["precision"]]
        r["max_abs_diff_vs_torch"] = float(np.abs(got - want).max())
        r["agrees_with_torch"] = bool(np.all(np.abs(got - want) <= atol + rtol * np.abs(want)))
        if first:
            r.update(first)
            r["engine_build_s"] = max(first["session_s"] + first["first_batch_s"] -
                                      r["best_batch"] / r["seqs_per_s"], 0.0)
            build = (f"fp16 engine built in {r['engine_build_s']:.1f} s (session + first batch, "
                     f"excluded from throughput); ")
        else:
            build = ""
        line = (f"{build}{self._sweep_line(r)} ({r['seqs_per_s'] * self.f_centre / 1e12:.3g} TFLOP/s); "
                f"max |onnx - torch fp32| {r['max_abs_diff_vs_torch']:.3g}")
        verdict = self._speed_verdict(r["seqs_per_s"]) if r["agrees_with_torch"] else \
            f"FAIL (outputs differ from torch fp32 beyond {atol:g} + {rtol:g} x |torch|)"
        return {"line": line, "verdict": verdict, **r}

    def ism(self) -> dict[str, Any]:
        p = self.plan
        module = self.model.select(self.bins, [TRACK]).eval()
        ref, wi, alt = random_snvs(p.seq_len, p.ism_snvs)
        m = measure_ism(module, ref, wi, alt, n_full=p.ism_full, batch_size=p.ism_batch,
                        full_batch_size=p.ism_full_batch, device=self.device)
        # Exact up to float rounding; on a GPU cuDNN's TF32 convolutions sum in other orders.
        tol = 1e-4 + 1e-3 * m["max_output"]
        exact = m["max_abs_diff"] <= tol
        line = (f"per SNV: full forward {m['full_s'] * 1e3:.1f} ms (batch {p.ism_full_batch}), fast ISM "
                f"{m['fast_s'] * 1e3:.1f} ms (batch {p.ism_batch}, {p.ism_snvs} SNVs): speed-up "
                f"{m['speedup']:.2f}x; max |fast - full| {m['max_abs_diff']:.3g} over {p.ism_full} SNVs "
                f"(largest output {m['max_output']:.3g}, largest SNV effect {m['max_change']:.3g})")
        if p.dry_run:
            verdict = f"{'PASS' if exact else 'FAIL'} (exactness; speed-up: {DRY})"
        else:
            fast = m["speedup"] >= TARGET_ISM_SPEEDUP
            verdict = (f"{'PASS' if exact and fast else 'FAIL'} (target speed-up >= "
                       f"{TARGET_ISM_SPEEDUP:.0f}x, |fast - full| <= {tol:.3g})")
        return {"line": line, "verdict": verdict, "exact": exact, "tolerance": tol, **m}

    def oom(self) -> dict[str, Any]:
        p = self.plan
        if p.oom_simulated_above is not None:
            backend: TorchBackend = _SimulatedOOM(self.model, self.device, precision="bf16")
            backend.limit = p.oom_simulated_above
            how = f"simulated: OutOfMemoryError above {p.oom_simulated_above} rows"
        else:
            backend = TorchBackend(self.model, self.device, precision="bf16")
            how = "real out-of-memory errors"
        n = p.oom_request
        pred = Predictor(backend, self.readout, batch_size=n)
        t = time.perf_counter()
        got = pred.outputs(n, lambda idx: self.tokens[idx])
        self.sync()
        secs = time.perf_counter() - t
        small = Predictor(TorchBackend(self.model, self.device, precision="bf16"), self.readout, batch_size=1)
        want = small.outputs(p.oom_compare, lambda idx: self.tokens[idx])
        diff = float(np.abs(got[:p.oom_compare] - want).max())
        # bf16 results of different batch sizes may differ in the last bits (other kernels); the
        # simulated run uses the same kernels at both sizes.
        tol = 0.0 if p.dry_run else 2e-2 * float(np.abs(want).max())
        settled = pred.batch_size
        ok = settled < n and diff <= tol and bool(np.isfinite(got).all())
        line = (f"asked batch {n} ({how}): settled at batch {settled}, {n} sequences in {secs:.1f} s; first "
                f"{p.oom_compare} equal to batch 1: max |diff| {diff:.3g} (tolerance {tol:.3g})")
        return {"line": line, "verdict": "PASS" if ok else "FAIL", "requested_batch": n,
                "settled_batch": settled, "max_abs_diff": diff, "tolerance": tol, "equal": diff <= tol,
                "seconds_all": secs, "simulated": p.oom_simulated_above is not None}

    def verdicts(self) -> dict[str, Any]:
        keys = ("torch_bf16", "onnx_cuda", "onnx_tensorrt") + (("onnx_cpu",) if self.plan.dry_run else ())
        measured = {k: self.results[k]["seqs_per_s"] for k in keys
                    if isinstance(self.results.get(k), dict) and "seqs_per_s" in self.results[k]}
        naive = self.results.get("naive", {}).get("seqs_per_s")
        if not measured or not naive:
            return {"line": "no backend measured", "verdict": "FAIL", "target_sps": None,
                    "target_vs_naive": None}
        best = max(measured, key=lambda k: measured[k])
        sps, ratio = measured[best], measured[best] / naive
        target_sps = self._speed_verdict(sps)
        target_ratio = _verdict(ratio >= TARGET_VS_NAIVE, self.plan.dry_run)
        line = (f"best backend {best} {sps:.2f} seqs/s vs >= {TARGET_SPS:.0f}: {target_sps}; "
                f"{ratio:.1f}x the naive baseline vs >= {TARGET_VS_NAIVE:.0f}x: {target_ratio}")
        both = [target_sps, target_ratio]
        verdict = f"SKIP ({DRY})" if self.plan.dry_run else \
            ("FAIL" if any(v.startswith("FAIL") for v in both) else "PASS")
        return {"line": line, "verdict": verdict, "best_backend": best, "best_seqs_per_s": sps,
                "vs_naive": ratio, "target_sps": target_sps, "target_vs_naive": target_ratio,
                "target_note": "120 seqs/s is the target for one H100"}

    def run(self) -> int:
        p = self.plan
        print(f"== seqgx GPU check{' (DRY RUN: tiny model on the CPU; ' + DRY + ')' if p.dry_run else ''}; "
              f"budget {p.budget_s:.0f} s ==", flush=True)
        self.section("environment", self.environment)
        self.load()
        self.section("naive", self.naive)
        self.section("torch_bf16", self.torch_bf16)
        best_fit = max(self.results["torch_bf16"].get("by_batch") or {p.onnx_batches[-1]: 0})
        onnx_batches = tuple(b for b in p.onnx_batches if b <= best_fit) or p.onnx_batches[:1]
        self.section("onnx_export", self.onnx_export)
        if p.dry_run:
            self.section("onnx_cpu", lambda: self.onnx("cpu", onnx_batches))
        else:
            self.results["onnx_cpu"] = {"line": "",
                                        "verdict": "SKIP (GPU run: the CPU provider is not timed)"}
        self.section("onnx_cuda", lambda: self.onnx("cuda", onnx_batches))
        self.section("ism", self.ism)
        self.section("oom", self.oom)
        self.section("onnx_tensorrt", lambda: self.onnx("tensorrt", (min(p.trt_batch, best_fit),)))
        self.section("verdicts", self.verdicts)
        failed = sorted(k for k, v in self.results.items() if isinstance(v, dict)
                        and str(v.get("verdict", "")).startswith("FAIL"))
        self.results["failed"] = failed
        self.save()
        print(json.dumps(self.results, indent=1, default=str))
        print(f"== done in {self.results['elapsed_s']:.1f} s; "
              f"{'FAIL: ' + ', '.join(failed) if failed else 'no FAIL verdicts'} ==", flush=True)
        return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dry-run", action="store_true",
                    help="tiny model on the CPU (CI); automatic without CUDA")
    ap.add_argument("--out", type=Path, default=None, help="write DIR/gpu_check.json (after every section)")
    ap.add_argument("--budget", type=float, default=460.0,
                    help="seconds; sections that no longer fit are skipped (gpu_check.sh kills at 480 s)")
    args = ap.parse_args(argv)
    dry = args.dry_run
    if not dry and not torch.cuda.is_available():
        print("# no CUDA GPU visible to torch: running the dry run instead", flush=True)
        dry = True
    if dry:
        torch.manual_seed(0)
    return GpuCheck(make_plan(dry, args.budget), args.out).run()


if __name__ == "__main__":
    sys.exit(main())
