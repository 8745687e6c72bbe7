"""Per-base attribution of a saturation ISM block, the gene's scale and the published driver-context
statistics (score, motif size, distance to the nearest motif base and its score, at several thresholds)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from seqgx.analysis.motifs.defaults import CONTEXT_THRESHOLDS, MOTIF_SCALE
from seqgx.errors import SeqgxError


def per_base_attribution(ism: np.ndarray) -> np.ndarray:
    """``a_i = -(sum over the four bases of ISM[..., i, b]) / 3`` from a saturation block (..., W, 4).

    The own base's entry is 0, so ``a_i`` is the mean loss of the readout when the base is replaced."""
    ism = np.asarray(ism, dtype=np.float64)
    if ism.shape[-1] != 4:
        raise SeqgxError(f"a saturation ISM block has 4 columns (A C G T), got shape {ism.shape}")
    return -ism.sum(axis=-1) / 3.0


def gene_scale(attribution: np.ndarray, kind: str = MOTIF_SCALE) -> float:
    """The scale of a gene's attribution track: ``max`` = largest finite |a|, ``sd`` = population SD
    (ddof 0) of the finite a. NaN when there is no finite value or the scale is 0."""
    a = np.asarray(attribution, dtype=np.float64)
    a = a[np.isfinite(a)]
    if kind not in CONTEXT_THRESHOLDS:
        raise SeqgxError(f"motif scale '{kind}' is not known; use 'max' or 'sd'")
    if a.size == 0:
        return math.nan
    s = float(np.abs(a).max()) if kind == "max" else float(a.std())
    return s if s > 0 else math.nan


def _run_length(mask: np.ndarray) -> int:
    """Number of leading True values."""
    off = np.flatnonzero(~mask)
    return int(off[0]) if off.size else int(mask.size)


def driver_context(ism: np.ndarray, scale: float,
                   thresholds: Sequence[float] = CONTEXT_THRESHOLDS["max"]) -> dict[str, Any]:
    """The published driver-context statistics of a saturation ISM block (W, 4) centred on a driver.

    Values ``v = a / scale`` (:func:`per_base_attribution`), ``s`` the centre's. For each threshold t_k:

    - ``motif_size[k]``: 0 if |s| < t; else 1 + the consecutive positions right of the centre with
      ``sign(s) * v >= t`` (stopping at the first that is not) + the same count to the left;
    - ``distance[k]``: 0 if |s| >= t; else the smallest d >= 1 with |v| >= t at d left or d right,
      ``W // 2`` if there is none;
    - ``distance_score[k]``: the value at that distance: of the positions d right and d left the one with
      the larger |v| (the right one on a tie); the centre's when d = 0.

    Returns ``{"score": s, "motif_size": (K,), "distance": (K,), "distance_score": (K,), "thresholds":
    (K,)}`` as float arrays (sizes and distances are whole numbers); every value is NaN when the block has
    a non-finite entry or the scale is not a positive number. Left/right are genomic (+ strand) order.
    """
    ism = np.asarray(ism, dtype=np.float64)
    if ism.ndim != 2 or ism.shape[1] != 4 or ism.shape[0] % 2 == 0:
        raise SeqgxError(f"driver_context needs a (W, 4) block with W odd, centred on the driver; got shape "
                         f"{ism.shape}")
    t = np.asarray(thresholds, dtype=np.float64).reshape(-1)
    if t.size == 0 or not np.all(np.isfinite(t)) or np.any(t <= 0):
        raise SeqgxError(f"driver-context thresholds must be positive numbers, got {list(thresholds)}")
    k = t.size
    out: dict[str, Any] = {"score": math.nan, "motif_size": np.full(k, np.nan),
                           "distance": np.full(k, np.nan), "distance_score": np.full(k, np.nan),
                           "thresholds": t.copy()}
    scale = float(scale) if scale is not None else math.nan
    if not np.all(np.isfinite(ism)) or not (math.isfinite(scale) and scale > 0):
        return out
    v = per_base_attribution(ism) / scale
    h = v.size // 2
    s = float(v[h])
    right, left = v[h + 1:], v[:h][::-1]  # index d - 1 holds the position d away from the centre
    out["score"] = s
    for i, ti in enumerate(t):
        if abs(s) >= ti:
            sign = 1.0 if s > 0 else -1.0
            out["motif_size"][i] = 1 + _run_length(sign * right >= ti) + _run_length(sign * left >= ti)
            out["distance"][i] = 0
            out["distance_score"][i] = s
            continue
        out["motif_size"][i] = 0
        hit = (np.abs(right) >= ti) | (np.abs(left) >= ti)
        d = int(np.argmax(hit)) + 1 if hit.any() else h
        out["distance"][i] = d
        r, le = right[d - 1], left[d - 1]
        out["distance_score"][i] = r if abs(r) >= abs(le) else le
    return out


def context_columns(side: str, thresholds: Sequence[float]) -> list[str]:
    """Column names of one background's statistics: ``score_<side>``, then per threshold
    ``motif_size_<side>_<t>``, ``distance_<side>_<t>``, ``distance_score_<side>_<t>``."""
    cols = [f"score_{side}"]
    for t in thresholds:
        tt = format(float(t), "g")
        cols += [f"motif_size_{side}_{tt}", f"distance_{side}_{tt}", f"distance_score_{side}_{tt}"]
    return cols


def context_row(ctx: Mapping[str, Any], side: str) -> dict[str, float]:
    """:func:`driver_context`'s mapping as named columns (:func:`context_columns`)."""
    row = {f"score_{side}": float(ctx["score"])}
    for i, t in enumerate(ctx["thresholds"]):
        tt = format(float(t), "g")
        row[f"motif_size_{side}_{tt}"] = float(ctx["motif_size"][i])
        row[f"distance_{side}_{tt}"] = float(ctx["distance"][i])
        row[f"distance_score_{side}_{tt}"] = float(ctx["distance_score"][i])
    return row
