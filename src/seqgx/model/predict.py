"""Batched inference and personal predictions per gene.

Backends run a model on float32 one-hot batches: :class:`OnnxBackend` (ONNX Runtime; TensorRT, CUDA,
CPU execution providers) and :class:`TorchBackend` (CUDA when present; optional bf16/fp16 autocast).
:class:`Predictor` adds the readouts, the shift / reverse-complement ensemble, batching with a
one-slot prefetch thread, and halving the batch on a GPU out-of-memory error.

The per-gene core, :func:`predict_gene_arrays`, takes the reference tokens, a function returning the
tokens of distinct haplotypes, and ``hap_index`` (sample-haplotype -> distinct haplotype); it predicts
the reference and each distinct haplotype once and maps the values back to every sample.
"""

from __future__ import annotations

import copy
import json
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from seqgx import __version__
from seqgx.errors import SeqgxError
from seqgx.genome.reference import N_TOKEN, one_hot, reverse_complement_tokens
from seqgx.io import atomic_output, require_file
from seqgx.log import get_logger
from seqgx.model.models import (
    LoadedModel,
    default_track_names,
    onnx_metadata,
    read_track_names,
    sha256_file,
)
from seqgx.model.readouts import combine_person
from seqgx.threads import configured_threads

log = get_logger(__name__)

PROVIDERS = {"tensorrt": "TensorrtExecutionProvider", "cuda": "CUDAExecutionProvider",
             "cpu": "CPUExecutionProvider"}
_OOM_MARKERS = ("out of memory", "failed to allocate memory", "cudnn_status_alloc_failed",
                "cudaerrormemoryallocation")

# ---------------------------------------------------------------------------------------------------
# Backends


class Backend:
    """Runs a model on float32 one-hot (b, L, 4) -> float32 (b, len(bins), len(tracks))."""

    name = "base"
    seq_len: int
    n_bins: int
    track_names: list[str]
    bins: list[int]
    tracks: list[int]
    identity: dict[str, Any]
    device: str = "cpu"

    def run(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def select(self, bins: Sequence[int], tracks: Sequence[int]) -> Backend:
        raise NotImplementedError

    def is_oom(self, exc: BaseException) -> bool:
        return any(m in str(exc).lower() for m in _OOM_MARKERS)

    def default_batch_size(self) -> int:
        # Start high on a GPU (halved on out-of-memory); on a CPU larger batches buy nothing.
        return 32 if self.device != "cpu" else 2

    def describe(self) -> dict[str, Any]:
        return {"backend": self.name, "device": self.device}


class TorchBackend(Backend):
    """PyTorch on CUDA when present (or as asked), fp32 or bf16/fp16 autocast."""

    name = "torch"

    def __init__(self, model: LoadedModel, device: str = "auto", precision: str = "fp32",
                 allow_cpu_fallback: bool = False, _module: Any = None):
        import torch

        if precision not in ("fp32", "bf16", "fp16"):
            raise SeqgxError(f"precision '{precision}' is not supported by the torch backend; "
                             f"use fp32, bf16 or fp16")
        has_cuda = torch.cuda.is_available()
        if device == "auto":
            device = "cuda" if has_cuda else "cpu"
        elif device.startswith("cuda") and not has_cuda:
            if not allow_cpu_fallback:
                raise SeqgxError("device 'cuda' requested but PyTorch sees no CUDA GPU here; run on a GPU "
                                 "machine with a CUDA build of torch, or pass --allow-cpu-fallback")
            log.warning("no CUDA GPU visible to PyTorch: falling back to CPU as allowed")
            device = "cpu"
        elif not (device == "cpu" or device.startswith("cuda")):
            raise SeqgxError(f"device '{device}' not understood; use auto, cpu or cuda[:N]")
        self.model, self.device, self.precision = model, device, precision
        self.allow_cpu_fallback = allow_cpu_fallback
        module = _module if _module is not None else model.module
        self.module = module.to(device).eval()
        self.seq_len, self.n_bins, self.track_names = model.seq_len, model.n_bins, model.track_names
        self.bins, self.tracks = list(module.bins), list(module.tracks)
        self.identity = model.identity
        self._dtype = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]

    def select(self, bins: Sequence[int], tracks: Sequence[int]) -> TorchBackend:
        return TorchBackend(self.model, self.device, self.precision, self.allow_cpu_fallback,
                            _module=self.model.select(list(bins), list(tracks)))

    def run(self, x: np.ndarray) -> np.ndarray:
        import torch

        with torch.inference_mode():
            t = torch.from_numpy(np.ascontiguousarray(x)).to(self.device, non_blocking=True)
            if self._dtype is None:
                y = self.module(t)
            else:
                with torch.autocast(device_type=self.device.split(":")[0], dtype=self._dtype):
                    y = self.module(t)
            return y.float().cpu().numpy()

    def is_oom(self, exc: BaseException) -> bool:
        import torch

        return isinstance(exc, torch.OutOfMemoryError) or super().is_oom(exc)

    def describe(self) -> dict[str, Any]:
        return {"backend": self.name, "device": self.device, "precision": self.precision}


def resolve_providers(requested: Sequence[str] | None, allow_cpu_fallback: bool = False) -> list[str]:
    """ONNX Runtime providers: ``requested`` (tensorrt, cuda, cpu) or all available in that order."""
    import onnxruntime as ort

    available = ort.get_available_providers()
    if not requested:
        return [PROVIDERS[k] for k in ("tensorrt", "cuda", "cpu") if PROVIDERS[k] in available]
    names = []
    for r in requested:
        key = r.strip().lower().removesuffix("executionprovider")
        if key not in PROVIDERS:
            raise SeqgxError(f"execution provider '{r}' not known; use tensorrt, cuda or cpu")
        names.append(PROVIDERS[key])
    missing = [n for n in names if n not in available]
    if missing:
        if not allow_cpu_fallback:
            raise SeqgxError(f"ONNX Runtime execution provider {missing[0]} is not available here "
                             f"(available: {', '.join(available)}); install onnxruntime-gpu on a GPU "
                             f"machine, or pass --allow-cpu-fallback to run on CPU")
        log.warning("execution provider(s) %s not available: falling back to CPU as allowed",
                    ", ".join(missing))
    keep = [n for n in names if n in available]
    if allow_cpu_fallback and PROVIDERS["cpu"] not in keep:
        keep.append(PROVIDERS["cpu"])
    return keep


class OnnxBackend(Backend):
    """ONNX Runtime on any model with input (batch, L, 4) float32 and output (batch, bins, tracks)."""

    name = "onnx"

    def __init__(self, path: str | os.PathLike, providers: Sequence[str] | None = None,
                 allow_cpu_fallback: bool = False, track_names: str | os.PathLike | None = None,
                 threads: int | None = None):
        import onnxruntime as ort

        self.path = require_file(path, "model file", "pass an existing .onnx file")
        self.providers = resolve_providers(providers, allow_cpu_fallback)
        opts = ort.SessionOptions()
        opts.log_severity_level = 3
        threads = configured_threads() if threads is None else threads  # 0: ONNX Runtime's default
        if threads:
            opts.intra_op_num_threads = threads
        try:
            self.session = ort.InferenceSession(str(self.path), opts, providers=self.providers)
        except Exception as exc:  # ORT raises its own exception types for bad files
            raise SeqgxError(f"model file '{self.path}' could not be loaded by ONNX Runtime "
                             f"({str(exc).splitlines()[0][:160]}); pass a valid ONNX model") from None
        used = self.session.get_providers()
        lost = [p for p in self.providers if p not in used and p != PROVIDERS["cpu"]]
        if lost and not allow_cpu_fallback:
            raise SeqgxError(f"ONNX Runtime could not start {lost[0]} (no usable GPU?); run on a GPU "
                             f"machine or pass --allow-cpu-fallback to run on CPU")
        self.device = "cpu" if used == [PROVIDERS["cpu"]] else used[0]
        inputs, outputs = self.session.get_inputs(), self.session.get_outputs()
        if len(inputs) != 1 or len(inputs[0].shape) != 3 or inputs[0].shape[2] != 4:
            raise SeqgxError(f"ONNX model '{self.path}' must take one input of shape (batch, length, 4); "
                             f"it takes {[(i.name, i.shape) for i in inputs]}")
        if inputs[0].type != "tensor(float)":
            raise SeqgxError(f"ONNX model '{self.path}' input must be float32, not {inputs[0].type}; "
                             f"re-export it with a float32 input")
        if not isinstance(inputs[0].shape[1], int):
            raise SeqgxError(f"ONNX model '{self.path}' has no fixed input length; export it for one "
                             f"window length")
        self.input_name = inputs[0].name
        self.seq_len = int(inputs[0].shape[1])
        meta = onnx_metadata(self.path)
        out_shape = outputs[0].shape
        if len(out_shape) != 3:
            raise SeqgxError(f"ONNX model '{self.path}' must return (batch, bins, tracks); its output "
                             f"has shape {out_shape}")
        if not all(isinstance(d, int) for d in out_shape[1:]):
            out_shape = self.session.run(None, {self.input_name: np.zeros((1, self.seq_len, 4),
                                                                         np.float32)})[0].shape
        out_bins, out_tracks = int(out_shape[1]), int(out_shape[2])
        self.bins = [int(b) for b in meta.get("bins", range(out_bins))]
        self.tracks = [int(t) for t in meta.get("tracks", range(out_tracks))]
        self.n_bins = int(meta.get("n_bins", out_bins))
        if len(self.bins) != out_bins or len(self.tracks) != out_tracks:
            raise SeqgxError(f"ONNX model '{self.path}' metadata lists {len(self.bins)} bins x "
                             f"{len(self.tracks)} tracks but it outputs {out_bins} x {out_tracks}; "
                             f"re-export it")
        n_tracks_full = len(meta["track_names"]) if "track_names" in meta else (
            max(self.tracks) + 1 if "tracks" in meta else out_tracks)
        if track_names is not None:
            self.track_names = read_track_names(track_names)
            if len(self.track_names) != n_tracks_full:
                raise SeqgxError(f"track names file '{track_names}' has {len(self.track_names)} names but "
                                 f"model '{self.path}' has {n_tracks_full} tracks; pass the matching file")
        else:
            self.track_names = list(meta.get("track_names") or default_track_names(n_tracks_full))
        self.identity = {"kind": "onnx", "source": str(self.path), "sha256": sha256_file(self.path)}
        if meta.get("identity"):
            self.identity["exported_from"] = meta["identity"]
            self.identity["precision"] = meta.get("precision")
        self._bin_pos = np.arange(out_bins)
        self._track_pos = np.arange(out_tracks)

    def select(self, bins: Sequence[int], tracks: Sequence[int]) -> OnnxBackend:
        have_b = {b: i for i, b in enumerate(self.bins)}
        have_t = {t: i for i, t in enumerate(self.tracks)}
        for what, want, have in (("bin", bins, have_b), ("track", tracks, have_t)):
            missing = [w for w in want if w not in have]
            if missing:
                raise SeqgxError(f"ONNX model '{self.path}' does not output {what} {missing[0]} (it was "
                                 f"exported with {len(have)} {what}s); re-export it with that {what}")
        new = copy.copy(self)
        new._bin_pos = np.array([have_b[b] for b in bins])
        new._track_pos = np.array([have_t[t] for t in tracks])
        new.bins, new.tracks = list(bins), list(tracks)
        return new

    def run(self, x: np.ndarray) -> np.ndarray:
        y = self.session.run(None, {self.input_name: np.ascontiguousarray(x, dtype=np.float32)})[0]
        if len(self._bin_pos) != y.shape[1] or np.any(self._bin_pos != np.arange(y.shape[1])):
            y = y[:, self._bin_pos]
        if len(self._track_pos) != y.shape[2] or np.any(self._track_pos != np.arange(y.shape[2])):
            y = y[:, :, self._track_pos]
        return y

    def describe(self) -> dict[str, Any]:
        return {"backend": self.name, "device": self.device, "providers": self.session.get_providers()}


def open_backend(model: str, seq_len: int, *, backend: str = "auto", hparams: str | dict | None = None,
                 providers: Sequence[str] | None = None, device: str = "auto", precision: str = "fp32",
                 allow_cpu_fallback: bool = False, track_names: str | None = None, seed: int = 0,
                 threads: int | None = None) -> Backend:
    """Open ``model`` for windows of ``seq_len`` bp: an .onnx file (onnx backend) or a torch model.
    ``threads``: ONNX Runtime's intra-op threads (None: :func:`seqgx.threads.configured_threads`);
    torch uses the process setting (:func:`seqgx.threads.set_threads`)."""
    from seqgx.model.models import load_model

    if backend == "auto":
        backend = "onnx" if str(model).endswith(".onnx") else "torch"
    if backend == "onnx":
        if not str(model).endswith(".onnx"):
            raise SeqgxError(f"the onnx backend needs an .onnx file, got '{model}'; export it with "
                             f"'seqgx export-onnx' or use --backend torch")
        b: Backend = OnnxBackend(model, providers, allow_cpu_fallback, track_names, threads)
        if b.seq_len != seq_len:
            raise SeqgxError(f"ONNX model '{model}' takes {b.seq_len} bp inputs but the haplotype windows "
                             f"are {seq_len} bp; export the model with --window-length {seq_len}")
        return b
    if backend != "torch":
        raise SeqgxError(f"backend '{backend}' not known; use onnx, torch or auto")
    names = read_track_names(track_names) if track_names else None
    loaded = load_model(model, seq_len, hparams, seed=seed, track_names=names)
    return TorchBackend(loaded, device, precision, allow_cpu_fallback)


# ---------------------------------------------------------------------------------------------------
# Predictor


def shift_tokens(tokens: np.ndarray, shift: int) -> np.ndarray:
    """Move the sequence ``shift`` bp right (left if negative) inside the window, padding with N."""
    if shift == 0:
        return tokens
    out = np.full_like(tokens, N_TOKEN)
    if shift > 0:
        out[..., shift:] = tokens[..., :-shift]
    else:
        out[..., :shift] = tokens[..., -shift:]
    return out


class Predictor:
    """A backend plus readouts, ensemble and batching.

    The backend computes only the bins and tracks the readouts need (plus, with the reverse
    complement, each bin's mirror). Ensemble members (shifts x strands) are averaged on the model
    output before the readouts.
    """

    def __init__(self, backend: Backend, readouts: Sequence[Any], *, shifts: Sequence[int] = (0,),
                 reverse_complement: bool = False, batch_size: int | None = None,
                 bins: Sequence[int] = (), tracks: Sequence[int] = ()):
        self.readouts = list(readouts)
        need_bins = set(bins) | {b for r in self.readouts for b in r.bins}
        need_tracks = set(tracks) | {t for r in self.readouts for t in r.tracks_needed}
        if not need_bins or not need_tracks:
            raise SeqgxError("nothing to predict: give at least one readout "
                             "(--tracks or --finetuned-weights)")
        n = backend.n_bins
        if reverse_complement:
            need_bins |= {n - 1 - b for b in need_bins}
        self.report_bins = sorted(set(bins))  # bins asked for explicitly (reference tracks)
        self.bins, self.tracks = sorted(need_bins), sorted(need_tracks)
        self.backend = backend.select(self.bins, self.tracks)
        self.bin_pos = {b: i for i, b in enumerate(self.bins)}
        self.track_pos = {t: i for i, t in enumerate(self.tracks)}
        self._mirror = np.array([self.bin_pos[n - 1 - b] for b in self.bins]) if reverse_complement else None
        self.shifts = [int(s) for s in shifts]
        self.augment = [(s, False) for s in self.shifts]
        if reverse_complement:
            self.augment += [(s, True) for s in self.shifts]
        self.reverse_complement = reverse_complement
        self.batch_size = int(batch_size) if batch_size else backend.default_batch_size()
        if self.batch_size < 1:
            raise SeqgxError(f"batch size must be >= 1 (or 0 for automatic), got {batch_size}")
        self.n_model_rows = 0  # sequences through the model (ensemble members counted): cost accounting
        self.n_model_calls = 0  # backend.run calls (batches)

    @property
    def readout_names(self) -> list[str]:
        return [r.name for r in self.readouts]

    def _build(self, tokens: np.ndarray) -> np.ndarray:
        """(n, L) tokens -> (n * K, L, 4) one-hot, members of a sequence adjacent."""
        rows = []
        for s, rc in self.augment:
            t = shift_tokens(tokens, s)
            rows.append(reverse_complement_tokens(t) if rc else t)
        stacked = np.stack(rows, axis=1).reshape(-1, tokens.shape[-1])
        return one_hot(stacked)

    def _run_rows(self, x: np.ndarray) -> np.ndarray:
        out, i = [], 0
        while i < len(x):
            bs = self.batch_size
            try:
                out.append(self.backend.run(x[i:i + bs]))
                self.n_model_calls += 1
            except Exception as exc:
                if not self.backend.is_oom(exc):
                    raise
                if bs == 1:
                    raise SeqgxError(f"out of memory on {self.backend.device} with batch size 1; use a "
                                     f"smaller model, fp16/bf16, or a bigger GPU") from None
                self.batch_size = bs // 2
                log.warning("out of memory at batch size %d on %s: retrying with %d", bs,
                            self.backend.device, self.batch_size)
                continue
            i += bs
        self.n_model_rows += len(x)
        return np.concatenate(out, axis=0)

    def _deaugment(self, y: np.ndarray, n: int) -> np.ndarray:
        k = len(self.augment)
        y = y.reshape(n, k, *y.shape[1:])
        if self._mirror is not None:
            members = [y[:, j, self._mirror] if rc else y[:, j] for j, (_, rc) in enumerate(self.augment)]
            y = np.stack(members, axis=1)
        return y.mean(axis=1, dtype=np.float64).astype(np.float32) if k > 1 else y[:, 0]

    def outputs(self, n: int, get_tokens: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
        """Ensemble-averaged model outputs (n, len(bins), len(tracks)) for sequences 0..n-1.

        ``get_tokens(indices)`` returns uint8 tokens (len(indices), L). The next batch is built on a
        helper thread while the current one runs.
        """
        per_batch = max(1, self.batch_size // len(self.augment))
        chunks = [np.arange(i, min(i + per_batch, n)) for i in range(0, n, per_batch)]
        result = np.empty((n, len(self.bins), len(self.tracks)), dtype=np.float32)
        if not chunks:
            return result

        def build(idx: np.ndarray) -> np.ndarray:
            tokens = np.asarray(get_tokens(idx))
            if tokens.ndim != 2 or tokens.shape[1] != self.backend.seq_len:
                raise SeqgxError(f"sequences of {tokens.shape[-1]} bp do not fit the model's "
                                 f"{self.backend.seq_len} bp input; use a model for this window length")
            return self._build(tokens)

        with ThreadPoolExecutor(max_workers=1) as pool:
            pending = pool.submit(build, chunks[0])
            for ci, idx in enumerate(chunks):
                x = pending.result()
                if ci + 1 < len(chunks):
                    pending = pool.submit(build, chunks[ci + 1])
                result[idx] = self._deaugment(self._run_rows(x), len(idx))
        return result

    def values(self, outputs: np.ndarray) -> np.ndarray:
        """Readout values (n, R) float64 from :meth:`outputs`."""
        return np.stack([r.compute(outputs, self.bin_pos, self.track_pos) for r in self.readouts], axis=1)

    def predict(self, n: int, get_tokens: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
        return self.values(self.outputs(n, get_tokens))

    def describe(self) -> dict[str, Any]:
        return {**self.backend.describe(), "batch_size": self.batch_size, "shifts": self.shifts,
                "reverse_complement": self.reverse_complement, "computed_bins": self.bins,
                "computed_tracks": len(self.tracks)}


# ---------------------------------------------------------------------------------------------------
# Per gene


@dataclass
class GenePrediction:
    readouts: list[str]
    reference: np.ndarray  # (R,)
    distinct: np.ndarray  # (H, R)
    haplotypes: np.ndarray  # (S, 2, R)
    person: np.ndarray  # (S, R)
    n_distinct: int
    n_sample_haplotypes: int
    dedup_ratio: float
    n_sequences_predicted: int
    seconds: float
    reference_tracks: np.ndarray | None = None  # (len(bins), n_tracks) for the reference
    reference_track_bins: list[int] = field(default_factory=list)
    cost: dict[str, float] = field(default_factory=dict)  # model_calls, sequences, forward_equivalents


def predict_gene_arrays(predictor: Predictor, reference: np.ndarray,
                        get_distinct: Callable[[np.ndarray], np.ndarray], n_distinct: int,
                        hap_index: np.ndarray, *, person_combine: str = "sum", deduplicate: bool = True,
                        reference_index: int | None = None,
                        reference_tracks: Predictor | None = None) -> GenePrediction:
    """Predict one gene: the reference and each distinct haplotype once, mapped back to samples.

    ``hap_index`` (S, 2) indexes ``get_distinct``'s haplotypes. ``reference_index``, when given, names
    a distinct haplotype equal to the reference (its prediction is reused). With
    ``deduplicate=False`` every sample-haplotype is predicted separately (same values, more work).
    """
    t0 = time.perf_counter()
    counters = [(p, p.n_model_calls, p.n_model_rows) for p in (predictor, reference_tracks) if p is not None]
    reference = np.asarray(reference, dtype=np.uint8)
    hap_index = np.asarray(hap_index)
    n_sh = int(hap_index.size)
    if n_sh and (hap_index.min() < 0 or hap_index.max() >= n_distinct):
        raise SeqgxError(f"hap_index refers to haplotype {int(hap_index.max())} but there are only "
                         f"{n_distinct}; re-run personalize")
    if deduplicate:
        seq_of_row = np.arange(n_distinct)
    else:
        seq_of_row = hap_index.reshape(-1).astype(np.int64)
    need_ref = reference_index is None or not deduplicate
    n_rows = len(seq_of_row) + int(need_ref)

    def tokens(rows: np.ndarray) -> np.ndarray:
        out = np.empty((len(rows), reference.shape[0]), dtype=np.uint8)
        is_ref = rows >= len(seq_of_row)
        if is_ref.any():
            out[is_ref] = reference
        if (~is_ref).any():
            out[~is_ref] = get_distinct(seq_of_row[rows[~is_ref]])
        return out

    values = predictor.predict(n_rows, tokens)
    ref_values = values[-1] if need_ref else values[reference_index]
    if deduplicate:
        distinct = values[:n_distinct]
        haps = distinct[hap_index]
    else:
        haps = values[: len(seq_of_row)].reshape(*hap_index.shape, -1)
        distinct = np.full((n_distinct, values.shape[1]), np.nan)
        distinct[hap_index.reshape(-1)] = values[: len(seq_of_row)]
    ref_tracks = None
    if reference_tracks is not None:
        full = reference_tracks.outputs(1, lambda _: reference[None, :])[0]
        ref_tracks = full[[reference_tracks.bin_pos[b] for b in reference_tracks.report_bins]]
    ratio = n_sh / n_distinct if n_distinct else float("nan")
    log.info("%d sample-haplotypes, %d distinct: deduplication ratio %.2f", n_sh, n_distinct, ratio)
    calls = sum(p.n_model_calls - c for p, c, _ in counters)
    rows = sum(p.n_model_rows - r for p, _, r in counters)
    # Every row is one whole window through the whole model: one forward-equivalent each.
    cost = {"model_calls": calls, "sequences": rows, "forward_equivalents": float(rows)}
    return GenePrediction(predictor.readout_names, ref_values, distinct, haps,
                          combine_person(haps, person_combine), n_distinct, n_sh, ratio, n_rows,
                          time.perf_counter() - t0, ref_tracks,
                          list(reference_tracks.report_bins) if reference_tracks is not None else [], cost)


def predict_gene(predictor: Predictor, gh: Any, *, person_combine: str = "sum", deduplicate: bool = True,
                 reference_tracks: Predictor | None = None) -> GenePrediction:
    """:func:`predict_gene_arrays` on a :class:`seqgx.genome.personalize.GeneHaplotypes`."""
    if gh.window_length != predictor.backend.seq_len:
        raise SeqgxError(f"gene {gh.gene_id}: window of {gh.window_length} bp but the model takes "
                         f"{predictor.backend.seq_len} bp; use a model for this window length")
    # A distinct haplotype carrying no variant is the reference: reuse its prediction.
    empty = np.flatnonzero(~np.asarray(gh.distinct, dtype=bool).any(axis=1))
    ref_index = int(empty[0]) if len(empty) else None
    return predict_gene_arrays(predictor, gh.reference, gh.distinct_tokens, gh.n_distinct, gh.hap_index,
                               person_combine=person_combine, deduplicate=deduplicate,
                               reference_index=ref_index, reference_tracks=reference_tracks)


def _fmt(x: float) -> str:
    return "NA" if not np.isfinite(x) else f"{x:.9g}"


def write_gene_outputs(out_dir: str | os.PathLike, gh: Any, pred: GenePrediction, predictor: Predictor,
                       extra: dict[str, Any] | None = None) -> list[Path]:
    """Write ``<gene_id>.predictions.tsv``, ``<gene_id>.reference.json`` (and reference tracks)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    path = out_dir / f"{gh.gene_id}.predictions.tsv"
    with atomic_output(path) as tmp, open(tmp, "w") as fh:
        fh.write("gene_id\tsample\texpression_sample\treadout\thap1\thap2\tperson\n")
        for r, name in enumerate(pred.readouts):
            for s in range(len(gh.samples)):
                h1, h2 = pred.haplotypes[s, 0, r], pred.haplotypes[s, 1, r]
                fh.write(f"{gh.gene_id}\t{gh.samples[s]}\t{gh.expression_samples[s]}\t{name}\t"
                         f"{_fmt(h1)}\t{_fmt(h2)}\t{_fmt(pred.person[s, r])}\n")
    written.append(path)
    ref = {
        "gene_id": gh.gene_id, "gene_name": gh.gene_name, "chrom": gh.chrom, "tss": int(gh.tss),
        "strand": gh.strand, "window_start": int(gh.window_start), "window_length": int(gh.window_length),
        "reference": {n: float(v) for n, v in zip(pred.readouts, pred.reference, strict=True)},
        "readouts": [r.describe() for r in predictor.readouts],
        "model": predictor.backend.identity,
        "inference": predictor.describe(),
        "n_samples": int(len(gh.samples)), "n_variants": int(gh.n_variants),
        "n_sample_haplotypes": pred.n_sample_haplotypes, "n_distinct_haplotypes": pred.n_distinct,
        "dedup_ratio": pred.dedup_ratio, "n_sequences_predicted": pred.n_sequences_predicted,
        "cost": pred.cost, "seconds": round(pred.seconds, 3), "seqgx_version": __version__, **(extra or {}),
    }
    path = out_dir / f"{gh.gene_id}.reference.json"
    with atomic_output(path) as tmp:
        tmp.write_text(json.dumps(ref, indent=1, default=_json_default) + "\n")
    written.append(path)
    if pred.reference_tracks is not None:
        path = out_dir / f"{gh.gene_id}.reference_tracks.tsv"
        names = predictor.backend.track_names
        vals = pred.reference_tracks  # (nb, T)
        with atomic_output(path) as tmp, open(tmp, "w") as fh:
            fh.write("track_index\ttrack_name\tbin_sum\t" +
                     "\t".join(f"bin_{b}" for b in pred.reference_track_bins) + "\n")
            for t in range(vals.shape[1]):
                cells = "\t".join(_fmt(v) for v in vals[:, t])
                fh.write(f"{t}\t{names[t]}\t{_fmt(float(vals[:, t].astype(np.float64).sum()))}\t{cells}\n")
        written.append(path)
    return written


def _json_default(o: Any) -> Any:
    if isinstance(o, np.integer | np.floating):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)
