"""Attribution: in-silico mutagenesis (ISM) per SNV, input gradients and saturation ISM (`seqgx ism`).

ISM of a variant = readout(reference with that one alt inserted) - readout(reference), exactly the
allele the dosage counts (:meth:`GeneHaplotypes.reference_with_alt`).

**Fast exact ISM.** A model is split into a *local trunk* (convolutions, per-position layers and
fixed, non-overlapping pools: Enformer's stem + conv tower) and a *tail* (Enformer's transformer,
crop, final pointwise layers and head). The trunk's receptive field is derived by walking its
modules (:func:`derive_receptive_field`): one substituted base changes only a few of the trunk's
output tokens, and those tokens need only a short input slice. So the trunk runs once on the
reference, then per variant only on a slice (aligned to the token grid, clamped at the sequence
ends so zero padding is the same as in the full forward), the changed tokens are spliced into the
reference token matrix, and the tail runs on a batch of spliced matrices. The result equals the
full forward up to float rounding. See docs/models.md ("Fast ISM") for the derivation.

**Full-forward ISM** (``method='full'``) runs the mutated sequences through any backend (torch,
ONNX, a bring-your-own model); it is the reference implementation the fast path is tested against.
Which method a model gets (an ONNX model: full ISM) is decided in :mod:`seqgx.model.build`
(:func:`~seqgx.model.build.ism_method_of`, :func:`~seqgx.model.build.attribution_method`).
"""

from __future__ import annotations

import json
import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from seqgx.errors import SeqgxError
from seqgx.genome.reference import ALPHABET, encode, one_hot
from seqgx.io import atomic_output
from seqgx.log import get_logger, progress

log = get_logger(__name__)

# ---------------------------------------------------------------------------------------------------
# Receptive field of a local trunk


@dataclass(frozen=True)
class Conv:
    """A stride-1 convolution: output o reads inputs o - pad_left + dilation * j, j < kernel."""

    kernel: int
    pad_left: int
    pad_right: int
    dilation: int = 1


@dataclass(frozen=True)
class Pool:
    """Non-overlapping pooling of fixed groups: output o reads inputs size*o .. size*o + size - 1."""

    size: int


@dataclass(frozen=True)
class Residual:
    """``inner(x) + x``: depends on what ``inner`` depends on and on the position itself."""

    inner: tuple


Layer = Conv | Pool | Residual


def _forward_interval(layers: Sequence[Layer], lo: int, hi: int) -> tuple[int, int]:
    """Positions at the trunk output that inputs [lo, hi] can change (no clipping)."""
    for layer in layers:
        if isinstance(layer, Conv):
            span = layer.dilation * (layer.kernel - 1)
            lo, hi = lo + layer.pad_left - span, hi + layer.pad_left
        elif isinstance(layer, Pool):
            lo, hi = lo // layer.size, hi // layer.size
        else:
            a, b = _forward_interval(layer.inner, lo, hi)
            lo, hi = min(a, lo), max(b, hi)
    return lo, hi


def _backward_interval(layers: Sequence[Layer], lo: int, hi: int, scale: int,
                       seen: list[tuple[int, int]]) -> tuple[int, int]:
    """Input positions outputs [lo, hi] read (padding positions included, so they may be < 0).

    ``scale`` is bp per position at the output of ``layers``; every intermediate interval is
    appended to ``seen`` in bp, so a slice containing their union computes the outputs exactly
    (each layer's zero padding then lies outside the sequence in both the slice and the full run).
    """
    for layer in reversed(layers):
        if isinstance(layer, Conv):
            span = layer.dilation * (layer.kernel - 1)
            lo, hi = lo - layer.pad_left, hi - layer.pad_left + span
        elif isinstance(layer, Pool):
            scale //= layer.size
            lo, hi = lo * layer.size, hi * layer.size + layer.size - 1
        else:
            a, b = _backward_interval(layer.inner, lo, hi, scale, seen)
            lo, hi = min(a, lo), max(b, hi)
        seen.append((lo * scale, (hi + 1) * scale - 1))
    return lo, hi


def _downsampling(layers: Sequence[Layer]) -> int:
    d = 1
    for layer in layers:
        if isinstance(layer, Pool):
            d *= layer.size
        elif isinstance(layer, Residual):
            if _downsampling(layer.inner) != 1:
                raise SeqgxError("fast ISM does not support a residual block that pools; use --method full")
    return d


@dataclass(frozen=True)
class ReceptiveField:
    """What one base can change in a local trunk, and what input those changes need.

    Token offsets are relative to the token ``t = i // resolution`` holding base ``i``.
    """

    resolution: int  # bp per trunk output token (product of the pool sizes)
    context_left: int  # bp one token reads before its own first base
    context_right: int  # bp one token reads after its own last base
    affect_lo: int  # a base changes at most tokens t + affect_lo .. t + affect_hi
    affect_hi: int
    slice_lo: int  # the exact recomputation of those tokens needs input tokens t + slice_lo ..
    slice_hi: int  # .. t + slice_hi (aligned to the token grid)

    @property
    def half_width(self) -> int:
        """R: bp of context one token reads beyond its own bases (the larger side)."""
        return max(self.context_left, self.context_right)

    @property
    def n_affected(self) -> int:
        return self.affect_hi - self.affect_lo + 1

    @property
    def slice_tokens(self) -> int:
        return self.slice_hi - self.slice_lo + 1

    @property
    def slice_bp(self) -> int:
        return self.slice_tokens * self.resolution

    def describe(self) -> dict[str, int]:
        return {"resolution_bp": self.resolution, "context_left_bp": self.context_left,
                "context_right_bp": self.context_right, "half_width_bp": self.half_width,
                "affected_tokens": self.n_affected, "affect_lo": self.affect_lo, "affect_hi": self.affect_hi,
                "slice_tokens": self.slice_tokens, "slice_bp": self.slice_bp}


def derive_receptive_field(layers: Sequence[Layer]) -> ReceptiveField:
    """Receptive field of a trunk described by ``layers`` (see :func:`trunk_layers`).

    Translation invariance (stride-1 convolutions, pools in fixed groups aligned to the grid) makes
    everything a function of the base's offset within its token, so all offsets are enumerated at
    an interior token ``t0`` (far from the ends; near the ends intervals are only clipped).
    """
    res = _downsampling(layers)
    t0 = 1 << 20
    base0 = t0 * res
    seen: list[tuple[int, int]] = []
    c0, c1 = _span(layers, t0, t0, res, seen)
    a_lo, a_hi = 0, 0
    for r in range(res):
        lo, hi = _forward_interval(layers, base0 + r, base0 + r)
        a_lo, a_hi = min(a_lo, lo - t0), max(a_hi, hi - t0)
    s0, s1 = _span(layers, t0 + a_lo, t0 + a_hi, res, [])
    return ReceptiveField(resolution=res, context_left=base0 - c0, context_right=c1 - (base0 + res - 1),
                          affect_lo=a_lo, affect_hi=a_hi, slice_lo=s0 // res - t0, slice_hi=s1 // res - t0)


def _span(layers: Sequence[Layer], lo: int, hi: int, res: int,
          seen: list[tuple[int, int]]) -> tuple[int, int]:
    _backward_interval(layers, lo, hi, res, seen)
    return min(a for a, _ in seen), max(b for _, b in seen)


def trunk_layers(module: nn.Module) -> list[Layer]:
    """Describe a trunk module (Enformer's stem, conv tower) as Conv/Pool/Residual layers.

    Per-position layers (BatchNorm in eval mode, activations, dropout in eval) add nothing; any
    other module is refused, so the derivation never silently assumes locality.
    """
    from enformer_pytorch.modeling_enformer import GELU as EGELU
    from enformer_pytorch.modeling_enformer import AttentionPool
    from enformer_pytorch.modeling_enformer import Residual as EResidual

    if isinstance(module, nn.Sequential):
        out: list[Layer] = []
        for child in module:
            out.extend(trunk_layers(child))
        return out
    if isinstance(module, EResidual):
        return [Residual(tuple(trunk_layers(module.fn)))]
    if isinstance(module, nn.Conv1d):
        if module.stride != (1,) or module.groups < 1:
            raise SeqgxError(f"fast ISM needs stride-1 convolutions, found {module}; use --method full")
        k, d = module.kernel_size[0], module.dilation[0]
        if module.padding == "same":
            total = d * (k - 1)
            return [Conv(k, total // 2, total - total // 2, d)]
        if module.padding == "valid":
            raise SeqgxError("fast ISM needs length-preserving convolutions; use --method full")
        p = module.padding[0]
        if 2 * p != d * (k - 1):
            raise SeqgxError(f"fast ISM needs length-preserving convolutions, found {module}; "
                             f"use --method full")
        return [Conv(k, p, p, d)]
    if isinstance(module, AttentionPool):
        return [Pool(int(module.pool_size))]
    if isinstance(module, nn.BatchNorm1d | nn.Dropout):
        if module.training:
            raise SeqgxError("fast ISM needs the model in eval mode (BatchNorm per position); call .eval()")
        return []
    if isinstance(module, EGELU | nn.GELU | nn.ReLU | nn.Identity):
        return []
    raise SeqgxError(f"fast ISM cannot derive the receptive field of module {type(module).__name__}; "
                     f"use --method full")


# ---------------------------------------------------------------------------------------------------
# Splitting a model into trunk and tail


@dataclass
class SplitModel:
    """A model as ``tail(trunk(x))`` with a local trunk; outputs equal ``module(x)``."""

    module: nn.Module
    trunk: Callable[[torch.Tensor], torch.Tensor]  # (B, L, 4) -> (B, n_tokens, d)
    tail: Callable[[torch.Tensor], torch.Tensor]  # (B, n_tokens, d) -> (B, bins, tracks)
    layers: list[Layer]
    seq_len: int


def split_model(module: nn.Module) -> SplitModel:
    """Split an :class:`~seqgx.model.models.EnformerFixed` or :class:`~seqgx.model.models.OracleModel`."""
    from seqgx.model.models import EnformerFixed, OracleModel

    if isinstance(module, EnformerFixed):
        e = module.enformer
        layers = trunk_layers(e.stem) + trunk_layers(e.conv_tower)

        def trunk(x: torch.Tensor) -> torch.Tensor:
            x = x.to(module.head_weight.dtype).transpose(1, 2)
            return e.conv_tower(e.stem(x)).transpose(1, 2)

        return SplitModel(module, trunk, lambda t: _enformer_tail(module, t), layers, module.seq_len)
    if isinstance(module, OracleModel):
        klen = int(module.weight.shape[-1])
        # The oracle pads only on the right (a motif starting at base i reads i .. i + klen - 1).
        layers = [Conv(klen, 0, klen - 1), Pool(module.bin_size)]

        def oracle_trunk(x: torch.Tensor) -> torch.Tensor:
            x = x.float().transpose(1, 2)
            score = F.conv1d(F.pad(x, (0, klen - 1)), module.weight)
            hits = F.relu(score - module.threshold[None, :, None])
            return hits.reshape(x.shape[0], module.n_tracks, -1, module.bin_size).sum(-1).transpose(1, 2)

        def oracle_tail(t: torch.Tensor) -> torch.Tensor:
            t = t[:, module.trim: module.trim + module.n_bins]
            return t.index_select(1, module.bin_index).index_select(2, module.track_index).contiguous()

        return SplitModel(module, oracle_trunk, oracle_tail, layers, module.seq_len)
    raise SeqgxError(f"fast ISM supports Enformer and the oracle model, not {type(module).__name__}; "
                     f"use --method full (with --allow-full-forward)")


def _enformer_tail(m: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """EnformerFixed.forward after the conv tower: transformer, crop to the bins, pointwise, head."""
    e = m.enformer
    for blk, attn in zip(e.transformer, m.attentions, strict=True):
        ln, _, drop = blk[0].fn
        x = x + drop(attn(ln(x)))
        x = x + blk[1].fn(x)
    trim = (m.n_positions - m.n_bins) // 2
    x = x[:, trim: trim + m.n_bins].index_select(1, m.bin_index)  # final layers act per bin
    x = e.final_pointwise(x)
    return F.softplus(F.linear(x, m.head_weight, m.head_bias)).float()


# ---------------------------------------------------------------------------------------------------
# Fast ISM engine


class FastISM:
    """Outputs of single-base substitutions of one reference, by trunk slices and token splicing."""

    def __init__(self, module: nn.Module, batch_size: int = 8, device: str | torch.device = "cpu"):
        self.split = split_model(module)
        self.rf = derive_receptive_field(self.split.layers)
        self.batch_size = max(1, int(batch_size))
        self.device = torch.device(device)
        L, res = self.split.seq_len, self.rf.resolution
        if L % res:
            raise SeqgxError(f"fast ISM needs a window length divisible by {res} bp (the token size), "
                             f"got {L}; use such a window length or --method full")
        self.n_tokens = L // res
        self.width = min(self.rf.slice_tokens, self.n_tokens)
        self._ref_tokens: np.ndarray | None = None

    def set_reference(self, tokens: np.ndarray) -> np.ndarray:
        """Run the trunk on the reference; return its outputs (bins, tracks) float32."""
        tokens = np.asarray(tokens, dtype=np.uint8)
        if tokens.shape != (self.split.seq_len,):
            raise SeqgxError(f"reference has {tokens.shape[-1]} bp but the model takes {self.split.seq_len}; "
                             f"use the model's window length")
        self._ref_tokens = tokens
        self._ref_onehot = torch.from_numpy(one_hot(tokens)).to(self.device)
        with torch.no_grad():
            self._ref_trunk = self.split.trunk(self._ref_onehot[None])
            if self._ref_trunk.shape[1] != self.n_tokens:
                raise SeqgxError(f"model trunk gives {self._ref_trunk.shape[1]} tokens, expected "
                                 f"{self.n_tokens}; use --method full")
            self.reference_output = self.split.tail(self._ref_trunk)[0].cpu().numpy()
        return self.reference_output

    def outputs(self, window_index: np.ndarray, alt: np.ndarray, desc: str = "fast ISM") -> np.ndarray:
        """Model outputs (V, bins, tracks) float32 of the reference with base ``alt[v]`` at
        ``window_index[v]`` (one substitution per row)."""
        if self._ref_tokens is None:
            raise RuntimeError("call set_reference first")
        wi = np.asarray(window_index, dtype=np.int64)
        alt = np.asarray(alt, dtype=np.int64)
        out = np.empty((len(wi),) + self.reference_output.shape, dtype=np.float32)
        starts = range(0, len(wi), self.batch_size)
        with torch.no_grad():
            for lo in progress(starts, desc=desc, total=len(starts)):
                hi = min(lo + self.batch_size, len(wi))
                out[lo:hi] = self._batch(wi[lo:hi], alt[lo:hi]).cpu().numpy()
        return out

    def _batch(self, wi: np.ndarray, alt: np.ndarray) -> torch.Tensor:
        res, n, w, rf = self.rf.resolution, self.n_tokens, self.width, self.rf
        b = len(wi)
        t = wi // res
        s_tok = np.clip(t + rf.slice_lo, 0, n - w)  # clamped: slices never leave the sequence
        dev = self.device
        # Gather each variant's input slice and substitute its base.
        idx = torch.from_numpy(s_tok[:, None] * res + np.arange(w * res)[None]).to(dev)
        x = self._ref_onehot[idx]  # (b, w*res, 4)
        rows = torch.arange(b, device=dev)
        local = torch.from_numpy(wi - s_tok * res).to(dev)
        x[rows, local] = F.one_hot(torch.from_numpy(alt).to(dev), 4).to(x.dtype)
        sliced = self.split.trunk(x)  # (b, w, d)
        # Splice the tokens the base can change (clipped to the sequence) into the reference's.
        u = t[:, None] + np.arange(rf.affect_lo, rf.affect_hi + 1)[None]
        ok = (u >= 0) & (u < n)
        bi, ji = np.nonzero(ok)
        dst = torch.from_numpy(u[bi, ji]).to(dev)
        src = torch.from_numpy(u[bi, ji] - s_tok[bi]).to(dev)
        bi_t = torch.from_numpy(bi).to(dev)
        spliced = self._ref_trunk.expand(b, -1, -1).clone()
        spliced[bi_t, dst] = sliced[bi_t, src].to(spliced.dtype)
        return self.split.tail(spliced)


# ---------------------------------------------------------------------------------------------------
# Readouts over model outputs


class ReadoutSet:
    """Readouts (``seqgx.model.readouts``) over model outputs laid out as ``bins`` x ``tracks``.

    By default the layout is the union of what the readouts need; pass a Predictor's ``bins`` and
    ``tracks`` to read its outputs.
    """

    def __init__(self, readouts: Sequence[Any], bins: Sequence[int] | None = None,
                 tracks: Sequence[int] | None = None):
        self.readouts = list(readouts)
        self.bins = list(bins) if bins is not None else sorted(
            {int(b) for r in self.readouts for b in r.bins})
        self.tracks = list(tracks) if tracks is not None else sorted(
            {int(t) for r in self.readouts for t in r.tracks_needed})
        self.bin_pos = {b: i for i, b in enumerate(self.bins)}
        self.track_pos = {t: i for i, t in enumerate(self.tracks)}

    @property
    def names(self) -> list[str]:
        return [r.name for r in self.readouts]

    def compute(self, out: np.ndarray) -> np.ndarray:
        """(n, bins, tracks) outputs in this layout -> (n, R) float64 (the readouts' own arithmetic)."""
        if not self.readouts:
            return np.zeros((out.shape[0], 0))
        return np.stack([r.compute(out, self.bin_pos, self.track_pos) for r in self.readouts], axis=1)

    def compute_torch(self, out: torch.Tensor) -> torch.Tensor:
        """Differentiable version of :meth:`compute`: (n, bins, tracks) -> (n, R) float64."""
        cols = []
        for r in self.readouts:
            b = torch.as_tensor([self.bin_pos[i] for i in r.bins], device=out.device)
            kind = getattr(r, "kind", "")
            if kind == "track":
                cols.append(out[:, b, self.track_pos[r.track]].double().sum(1))
            elif kind == "finetuned" and not r.nonzero:
                cols.append(torch.full((out.shape[0],), float(r.offset), dtype=torch.float64,
                                       device=out.device))
            elif kind == "finetuned":
                t = torch.as_tensor([self.track_pos[i] for i in r.nonzero], device=out.device)
                sums = out[:, b][:, :, t].double().sum(1)
                w = torch.as_tensor(r.weights[r.nonzero], dtype=torch.float64, device=out.device)
                cols.append(torch.log2(sums + r.pseudocount) @ w + r.offset)
            else:
                raise SeqgxError(f"gradients are not available for readout '{r.name}' (kind '{kind}'); "
                                 f"drop --gradients")
        return torch.stack(cols, dim=1)


# ---------------------------------------------------------------------------------------------------
# ISM, gradients, saturation


def check_variant_refs(reference: np.ndarray, variants: pd.DataFrame, source: str) -> None:
    """Every variant's REF must be the reference base at its window index (one-line error otherwise)."""
    if variants.empty:
        return
    wi = variants["window_index"].to_numpy(np.int64)
    L = len(reference)
    outside = np.flatnonzero((wi < 0) | (wi >= L))
    if len(outside):
        v = variants.iloc[outside[0]]
        raise SeqgxError(f"{source}: variant {v['variant_id']} lies outside the {L}-bp window "
                         f"(index {v['window_index']}); re-run 'seqgx personalize'")
    refs = variants["ref"].astype(str)
    bad_len = np.flatnonzero(refs.str.len().to_numpy() != 1)
    if len(bad_len):
        v = variants.iloc[bad_len[0]]
        raise SeqgxError(f"{source}: variant {v['variant_id']} has REF '{v['ref']}', not a single base; "
                         f"ISM takes SNVs only (re-run 'seqgx personalize')")
    bad = np.flatnonzero(reference[wi] != encode("".join(refs)))
    if len(bad):
        v = variants.iloc[bad[0]]
        raise SeqgxError(f"{source}: variant {v['variant_id']} has REF {v['ref']} but the reference window "
                         f"has {ALPHABET[reference[wi[bad[0]]]]} at {v['pos']}; re-run 'seqgx personalize' "
                         f"with the FASTA the VCF was called on")


def full_ism_outputs(outputs: Callable[[int, Callable[[np.ndarray], np.ndarray]], np.ndarray],
                     reference: np.ndarray, make_rows: Callable[[np.ndarray], np.ndarray],
                     n: int) -> tuple[np.ndarray, np.ndarray]:
    """Straightforward ISM: (reference outputs, outputs of the ``n`` mutated rows) through any backend.

    ``outputs(n, get_tokens)`` is :meth:`seqgx.model.predict.Predictor.outputs` (or the same contract);
    ``make_rows(indices)`` builds mutated uint8 rows, e.g. ``GeneHaplotypes.reference_with_alt``.
    The reference is the last row, so it is batched with the others.
    """
    reference = np.asarray(reference, dtype=np.uint8)

    def tokens(idx: np.ndarray) -> np.ndarray:
        rows = np.empty((len(idx), reference.shape[0]), dtype=np.uint8)
        is_ref = idx >= n
        rows[is_ref] = reference
        if (~is_ref).any():
            rows[~is_ref] = make_rows(idx[~is_ref])
        return rows

    out = outputs(n + 1, tokens)
    return out[n], out[:n]


def substitute(reference: np.ndarray, window_index: np.ndarray,
               alt: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """``make_rows`` for arbitrary single substitutions (saturation ISM)."""
    wi, alt = np.asarray(window_index, np.int64), np.asarray(alt, np.uint8)

    def rows(idx: np.ndarray) -> np.ndarray:
        out = np.repeat(np.asarray(reference, np.uint8)[None], len(idx), axis=0)
        out[np.arange(len(idx)), wi[idx]] = alt[idx]
        return out

    return rows


def torch_outputs(module: nn.Module, device: str | torch.device = "cpu", batch_size: int = 2
                  ) -> Callable[[int, Callable[[np.ndarray], np.ndarray]], np.ndarray]:
    """A minimal ``outputs(n, get_tokens)`` running a torch module (tests, benchmarks)."""
    dev = torch.device(device)

    def outputs(n: int, get_tokens: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
        res = []
        with torch.no_grad():
            for lo in range(0, n, batch_size):
                x = torch.from_numpy(one_hot(get_tokens(np.arange(lo, min(lo + batch_size, n))))).to(dev)
                res.append(module(x).float().cpu().numpy())
        return np.concatenate(res) if res else np.zeros((0,))

    return outputs


@dataclass
class Gradients:
    """Input gradients of each readout at the reference."""

    grad: np.ndarray  # (R, L, 4) float32: d readout / d one-hot input
    grad_x_input: np.ndarray  # (R, L) float32: gradient x input summed over bases

    def snv(self, window_index: np.ndarray, ref: np.ndarray, alt: np.ndarray) -> np.ndarray:
        """(V, R): gradient at (position, alt) - gradient at (position, ref), the first-order ISM."""
        wi = np.asarray(window_index, dtype=np.int64)
        v = np.arange(len(wi))
        g = self.grad[:, wi]  # (R, V, 4)
        diff = g[:, v, np.asarray(alt, np.int64)] - g[:, v, np.asarray(ref, np.int64)]
        return diff.T.astype(np.float64)


def input_gradients(module: nn.Module, reference: np.ndarray, readouts: ReadoutSet,
                    device: str | torch.device = "cpu") -> Gradients:
    """Gradient of every readout with respect to the one-hot reference (one forward, R backwards)."""
    dev = torch.device(device)
    x = torch.from_numpy(one_hot(np.asarray(reference, np.uint8))).to(dev)[None].requires_grad_(True)
    with torch.enable_grad():
        values = readouts.compute_torch(module(x))[0]
        grads = []
        for r in range(values.shape[0]):
            (g,) = torch.autograd.grad(values[r], x, retain_graph=r + 1 < values.shape[0])
            grads.append(g[0].float())
    grad = torch.stack(grads).cpu().numpy() if grads else np.zeros((0,) + tuple(x.shape[1:]), np.float32)
    xin = x.detach()[0].cpu().numpy()
    return Gradients(grad=grad, grad_x_input=(grad * xin[None]).sum(-1).astype(np.float32))


def saturation_positions(length: int, tss_index: int, half_width: int) -> np.ndarray:
    """Window indices tss_index - half_width .. tss_index + half_width, clipped to the window."""
    return np.arange(max(0, tss_index - half_width), min(length, tss_index + half_width + 1), dtype=np.int64)


def saturation_substitutions(reference: np.ndarray, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(window_index, alt) of every substitution at ``positions``, in position order: the 3 other
    bases (all 4 where the reference is N)."""
    pos = np.repeat(np.asarray(positions, np.int64), 4)
    alt = np.tile(np.arange(4, dtype=np.int64), len(positions))
    keep = np.asarray(reference)[pos] != alt
    return pos[keep], alt[keep]


def saturation_matrix(positions: np.ndarray, wi: np.ndarray, alt: np.ndarray,
                      deltas: np.ndarray) -> np.ndarray:
    """(R, P, 4) float32 from per-substitution deltas (V, R); reference-base entries stay 0."""
    rows = np.searchsorted(positions, wi)
    m = np.zeros((deltas.shape[1], len(positions), 4), dtype=np.float32)
    m[:, rows, alt] = deltas.T
    return m


# ---------------------------------------------------------------------------------------------------
# One gene, end to end


@dataclass
class IsmResult:
    gene_id: str
    table: pd.DataFrame
    readouts: list[str]
    method: str
    saturation_positions: np.ndarray | None = None  # window indices
    saturation: np.ndarray | None = None  # (R, P, 4)
    grad_x_input: np.ndarray | None = None  # (R, L)
    reference_values: np.ndarray | None = None  # (R,)
    n_substitutions: int = 0
    seconds: float = 0.0
    cost: dict[str, float] = field(default_factory=dict)  # see attribution_cost


#: A backward pass costs about two forwards (the usual estimate), so gradients cost ~3 forward-equivalents.
GRADIENT_FORWARD_EQUIVALENTS = 3.0
_FAST_SHARE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def fast_substitution_share(module: nn.Module) -> float:
    """FLOPs of one fast-ISM substitution over those of one full forward (:func:`flop_counts`), counted
    once per model object (one real forward of it); 1.0 where the model cannot be split."""
    if module not in _FAST_SHARE:
        try:
            counts = flop_counts(module)
            _FAST_SHARE[module] = counts["fast"] / counts["full"] if counts["full"] > 0 else 1.0
        except SeqgxError:
            _FAST_SHARE[module] = 1.0
    return _FAST_SHARE[module]


def attribution_cost(method: str, groups: Sequence[int], batch_size: int, *, fast_share: float = 1.0,
                     ensemble: int = 1, gradients: bool = False) -> dict[str, float]:
    """Model calls and forward-equivalents of one gene's attribution; ``groups``: the substitutions of
    each batched pass (the SNVs, the saturation ISM), each run in batches of ``batch_size``.

    fast: one full forward of the reference plus each substitution at ``fast_share`` of a forward;
    full: the reference and every substituted sequence through the whole model, ``ensemble`` members
    each; gradients add :data:`GRADIENT_FORWARD_EQUIVALENTS`."""
    import math

    n_substitutions = int(sum(groups))
    if method == "fast":
        calls = 1 + sum(math.ceil(n / batch_size) for n in groups)
        sequences = 1
        fe = 1.0 + n_substitutions * fast_share
    else:
        per_call = max(1, batch_size // ensemble)  # as Predictor.outputs batches sequences
        calls = sum(math.ceil((1 + n) / per_call) for n in groups)
        rows = (len(groups) + n_substitutions) * ensemble  # each pass has the reference as its last row
        sequences = rows
        fe = float(rows)
    if gradients:
        calls += 1
        fe += GRADIENT_FORWARD_EQUIVALENTS
    return {"model_calls": int(calls), "sequences": int(sequences), "substitutions": int(n_substitutions),
            "fast_share": float(fast_share if method == "fast" else 1.0), "forward_equivalents": float(fe)}


def attribute_gene(gene: Any, readouts: ReadoutSet, *, method: str = "fast", module: nn.Module | None = None,
                   outputs: Callable[[int, Callable[[np.ndarray], np.ndarray]], np.ndarray] | None = None,
                   gradients: bool = False, tss_window: int = 1000, batch_size: int = 8,
                   device: str | torch.device = "cpu", source: str = "haplotypes",
                   ensemble: int = 1) -> IsmResult:
    """ISM per SNV (and optionally input gradients and saturation ISM around the TSS) of one gene.

    ``gene`` is a :class:`~seqgx.genome.personalize.GeneHaplotypes`. ``module``: a torch model whose
    outputs are laid out as ``readouts.bins`` x ``readouts.tracks`` (needed by ``method='fast'``
    and by gradients). ``outputs``: ``Predictor.outputs`` for ``method='full'`` (defaults to
    running ``module``). ``ensemble``: sequences per input of ``outputs`` (shifts x strands), for the
    cost accounting of the full method.
    """
    t0 = time.perf_counter()
    variants = gene.variants.reset_index(drop=True)
    check_variant_refs(np.asarray(gene.reference), variants, source)
    ref_tokens = np.asarray(gene.reference, dtype=np.uint8)
    n_var = len(variants)
    wi = variants["window_index"].to_numpy(np.int64)
    alt = encode("".join(variants["alt"].astype(str))).astype(np.int64) if n_var else np.zeros(0, np.int64)
    ref = encode("".join(variants["ref"].astype(str))).astype(np.int64) if n_var else np.zeros(0, np.int64)
    if np.any(alt > 3):
        bad = variants.iloc[int(np.flatnonzero(alt > 3)[0])]
        raise SeqgxError(f"{source}: variant {bad['variant_id']} has ALT '{bad['alt']}', not A/C/G/T; "
                         f"re-run 'seqgx personalize'")
    sat_pos = (saturation_positions(len(ref_tokens), int(gene.tss_index), tss_window)
               if tss_window > 0 else None)
    sat_wi, sat_alt = (saturation_substitutions(ref_tokens, sat_pos) if sat_pos is not None
                       else (np.zeros(0, np.int64), np.zeros(0, np.int64)))
    sat_out = None
    if method == "fast":
        if module is None:
            raise SeqgxError("fast ISM needs a torch model; use --method full for other backends")
        engine = FastISM(module, batch_size=batch_size, device=device)
        ref_out = engine.set_reference(ref_tokens)
        var_out = engine.outputs(wi, alt)
        if len(sat_wi):
            sat_out = engine.outputs(sat_wi, sat_alt, desc="saturation ISM")
    elif method == "full":
        if outputs is None:
            if module is None:
                raise SeqgxError("full-forward ISM needs a model; pass --model")
            outputs = torch_outputs(module, device, batch_size)
        ref_out, var_out = full_ism_outputs(outputs, ref_tokens, gene.reference_with_alt, n_var)
        if len(sat_wi):
            sat_out = full_ism_outputs(outputs, ref_tokens, substitute(ref_tokens, sat_wi, sat_alt),
                                       len(sat_wi))[1]
    else:
        raise SeqgxError(f"ISM method '{method}' is not known; use 'fast' or 'full'")
    n_r = len(readouts.readouts)
    ref_val = readouts.compute(ref_out[None])  # (1, R)
    ism = readouts.compute(var_out) - ref_val if n_var else np.zeros((0, n_r))
    table = pd.DataFrame({
        "variant_id": variants["variant_id"].astype(str), "pos": variants["pos"].astype(np.int64),
        "ref": variants["ref"].astype(str), "alt": variants["alt"].astype(str),
        "distance_to_tss": variants["distance_to_tss"].astype(np.int64),
        "allele_frequency": variants["allele_frequency"].astype(np.float64)})
    for k, name in enumerate(readouts.names):
        table[f"ism_{name}"] = ism[:, k]
    grad_track, snv = None, np.full((n_var, n_r), np.nan)
    if gradients:
        if module is None:
            raise SeqgxError("gradients need the torch backend; drop --gradients or pass a torch model")
        g = input_gradients(module, ref_tokens, readouts, device)
        if n_var:
            snv = g.snv(wi, ref, alt)
        grad_track = g.grad_x_input
    for k, name in enumerate(readouts.names):
        table[f"grad_{name}"] = snv[:, k]
    result = IsmResult(gene.gene_id, table, readouts.names, method, grad_x_input=grad_track,
                       reference_values=ref_val[0], n_substitutions=n_var + len(sat_wi))
    passes = [n_var, len(sat_wi)] if len(sat_wi) else [n_var]
    result.cost = attribution_cost(method, passes, batch_size, gradients=gradients,
                                   fast_share=fast_substitution_share(module) if method == "fast" else 1.0,
                                   ensemble=ensemble)
    if sat_out is not None and sat_pos is not None:
        result.saturation_positions = sat_pos
        result.saturation = saturation_matrix(sat_pos, sat_wi, sat_alt, readouts.compute(sat_out) - ref_val)
    result.seconds = time.perf_counter() - t0
    return result


def write_result(result: IsmResult, gene: Any, out_dir: str | Path, meta: dict | None = None) -> list[Path]:
    """Write ``<gene_id>.ism.tsv``, ``<gene_id>.ism.json`` (``meta``: model identity, method, ...) and,
    when computed, ``.saturation.npz`` and ``.gradients.npz``."""
    out = Path(out_dir)
    paths = []
    info = out / f"{gene.gene_id}.ism.json"
    with atomic_output(info) as tmp:
        tmp.write_text(json.dumps({"gene_id": str(gene.gene_id), "readouts": list(result.readouts),
                                   "n_variants": int(gene.n_variants), "cost": result.cost,
                                   "seconds": round(result.seconds, 3),
                                   **(meta or {})}, indent=1, default=str) + "\n")
    paths.append(info)
    tsv = out / f"{gene.gene_id}.ism.tsv"
    with atomic_output(tsv) as tmp:
        result.table.to_csv(tmp, sep="\t", index=False, na_rep="NA", float_format="%.9g")
    paths.append(tsv)
    names = np.array(result.readouts) if result.readouts else np.zeros(0, "<U1")
    if result.saturation is not None and result.saturation_positions is not None:
        sat = out / f"{gene.gene_id}.saturation.npz"
        wi = result.saturation_positions
        with atomic_output(sat) as tmp, open(tmp, "wb") as fh:
            np.savez_compressed(fh, positions=(int(gene.window_start) + wi + 1).astype(np.int64),
                                window_index=wi.astype(np.int64),
                                ref=np.asarray(gene.reference)[wi].astype(np.uint8), matrix=result.saturation,
                                readouts=names, gene_id=np.array(str(gene.gene_id)),
                                tss=np.array(int(gene.tss), dtype=np.int64), bases=np.array(list("ACGT")))
        paths.append(sat)
    if result.grad_x_input is not None:
        gp = out / f"{gene.gene_id}.gradients.npz"
        with atomic_output(gp) as tmp, open(tmp, "wb") as fh:
            np.savez_compressed(fh, grad_x_input=result.grad_x_input.astype(np.float32), readouts=names,
                                window_start=np.array(int(gene.window_start), dtype=np.int64),
                                tss_index=np.array(int(gene.tss_index), dtype=np.int64),
                                gene_id=np.array(str(gene.gene_id)))
        paths.append(gp)
    return paths


def flop_counts(module: nn.Module) -> dict[str, float]:
    """FLOPs (``torch.utils.flop_counter``) of one full forward and of one fast-ISM substitution.

    Works on meta tensors (``module.to('meta')``), so the full-size architecture can be counted
    without memory or time. Returns full, trunk, tail, slice and fast (slice + tail) FLOPs, the
    trunk's share of the full forward and the FLOP ratio full / fast.
    """
    from torch.utils.flop_counter import FlopCounterMode

    split = split_model(module)
    rf = derive_receptive_field(split.layers)
    n = split.seq_len // rf.resolution
    w = min(rf.slice_tokens, n)
    dev = next(iter(module.buffers()), torch.zeros(0)).device

    def count(fn: Callable[[], Any]) -> float:
        with FlopCounterMode(display=False) as fc, torch.no_grad():
            fn()
        return float(fc.get_total_flops())

    x = torch.zeros(1, split.seq_len, 4, device=dev)
    xs = torch.zeros(1, w * rf.resolution, 4, device=dev)
    with torch.no_grad():
        d = split.trunk(xs).shape[-1]
    full = count(lambda: module(x))
    trunk = count(lambda: split.trunk(x))
    tail = count(lambda: split.tail(torch.zeros(1, n, d, device=dev)))
    sliced = count(lambda: split.trunk(xs))
    return {"full": full, "trunk": trunk, "tail": tail, "slice": sliced, "fast": sliced + tail,
            "trunk_share": trunk / full, "ratio": full / (sliced + tail),
            "slice_bp": float(w * rf.resolution)}
