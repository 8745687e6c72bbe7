"""Motifs around driver SNVs (`seqgx motifs`, docs/motifs.md): do the drivers sit in motifs the model
learned, and which ones?

- **Driver neighbourhood ISM**: saturation ISM of every base within ``DRIVER_FLANK`` bp of a driver, on the
  reference background and on the background with the driver's alt allele (:func:`driver_neighbourhood_ism`;
  exact fast ISM, the alt background's trunk spliced in like any substitution).
- **Per-base attribution** ``a_i = -(sum_b ISM[i, b]) / 3`` (:func:`per_base_attribution`), scaled per gene by
  the largest ``|a|`` (or the SD of ``a``) within ``MOTIF_WINDOW`` bp of the TSS (:func:`gene_scale`).
- **Published driver-context statistics** (:func:`driver_context`): score, motif size, distance to the nearest
  motif base and its score, at several thresholds.
- **Seqlets** (:func:`call_seqlets`, :func:`seqlet_pvalues`) in the TSS track, annotated with TOMTOM against
  JASPAR 2024 CORE vertebrates non-redundant (:func:`annotate_sequences`).
- **Enrichment around drivers** (:func:`denovo_enrichment`, :func:`known_enrichment`, :func:`enrichment`)
  and a per-readout summary (:func:`motif_summary`).
"""

from __future__ import annotations

import copy
import json
import math
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from seqgx.errors import SeqgxError
from seqgx.genome.reference import ALPHABET
from seqgx.io import atomic_output
from seqgx.log import get_logger
from seqgx.params import PARAMS_BY_NAME

log = get_logger(__name__)

# ---------------------------------------------------------------------------------------------------
# Defaults: the pipeline parameters' come from seqgx.params; the rest are fixed choices (docs/motifs.md)

# Pipeline parameters: their defaults live in seqgx.params.
DRIVER_FLANK = PARAMS_BY_NAME["driver_flank"].default  # bp each side of a driver (41 positions at 20)
MOTIF_WINDOW = PARAMS_BY_NAME["motif_window"].default  # bp each side of the TSS: scale and seqlets
MOTIF_SCALE = PARAMS_BY_NAME["motif_scale"].default  # 'max' (largest |a|) or 'sd' (SD of a: z-scores)
CONTEXT_THRESHOLDS = {"max": (0.05, 0.1, 0.2, 0.5), "sd": (1.64, 1.96, 2.58, 3.29)}
SEQLET_THRESHOLD = {"max": 0.4, "sd": 1.5}  # |a / scale| of every base of a seqlet
SEQLET_MIN_LENGTH = PARAMS_BY_NAME["seqlet_min_length"].default  # bp
SEQLET_SHUFFLES = 100  # position shuffles of the track for a seqlet's p-value
TOMTOM_SHUFFLES = 100  # column shuffles of a seqlet for its match's shuffle p-value
MATCH_ALPHA = 0.05  # a TOMTOM match is significant when q < alpha and shuffle p < alpha
JASPAR_RELEASE = "JASPAR2024"
DENOVO_FLANK = 6  # 13-bp windows around each driver
DENOVO_MIN_LENGTH = 5  # the aligned stretch: at least 5 bases ...
DENOVO_MAX_MISMATCHES = 1  # ... with at most one mismatch, containing both centre bases
DENOVO_CUT = 0.25  # complete-linkage height at which the tree is cut
CONTEXT_FLANK = 30  # bp each side of a driver / control stored as sequence (FIMO scans these)
CONTROLS_PER_DRIVER = 5  # non-driver SNVs of the same gene matched on distance to the TSS
FIMO_THRESHOLD = 1e-4  # FIMO p-value of a motif hit
ENRICHMENT_ALPHA = 0.05

BASES = "ACGT"
_COMPLEMENT = np.array([3, 2, 1, 0, 4], dtype=np.int8)  # A<->T, C<->G, N stays N


def thresholds_for(scale_kind: str) -> tuple[float, ...]:
    """Default driver-context thresholds of a scale kind (``max`` or ``sd``)."""
    if scale_kind not in CONTEXT_THRESHOLDS:
        raise SeqgxError(f"motif scale '{scale_kind}' is not known; use 'max' or 'sd'")
    return CONTEXT_THRESHOLDS[scale_kind]


# ---------------------------------------------------------------------------------------------------
# Attribution, scale and the published driver-context statistics


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


# ---------------------------------------------------------------------------------------------------
# Driver neighbourhood ISM (exact fast ISM on two backgrounds)


@dataclass
class DriverISM:
    """Saturation ISM around one driver on the reference and on the alt-allele background."""

    window_index: np.ndarray  # (W,) 0-based window indices, the driver at the centre
    ref_tokens: np.ndarray  # (W,) uint8 reference background
    alt_tokens: np.ndarray  # (W,) uint8 alt background (the driver's alt at the centre)
    ref_matrix: np.ndarray  # (R, W, 4) readout(mutated) - readout(reference); 0 at the own base
    alt_matrix: np.ndarray  # (R, W, 4) readout(mutated) - readout(alt background)
    ref_value: np.ndarray  # (R,) readouts of the reference
    alt_value: np.ndarray  # (R,) readouts of the alt background


def neighbourhood(window_index: int, flank: int, length: int, what: str = "driver") -> np.ndarray:
    """Window indices ``wi - flank .. wi + flank``; one-line error when they leave the window."""
    wi = int(window_index)
    if wi - flank < 0 or wi + flank >= length:
        raise SeqgxError(f"{what} at window index {wi} lies within {flank} bp of the end of the {length}-bp "
                         f"window; its neighbourhood ISM needs {flank} bp each side")
    return np.arange(wi - flank, wi + flank + 1, dtype=np.int64)


def _spliced_background(engine: Any, wi: int, alt: int) -> Any:
    """A copy of a :class:`~seqgx.model.attribution.FastISM` engine whose reference carries base ``alt``
    at ``wi``: the trunk tokens that base can change are recomputed on a slice and spliced into the
    reference's (the fast-ISM step, exact), so no full trunk runs; substitutions on the copy then
    recompute their own slices from the alt background."""
    import torch
    import torch.nn.functional as F

    rf, res, n, w = engine.rf, engine.rf.resolution, engine.n_tokens, engine.width
    dev = engine.device
    t = wi // res
    s_tok = int(np.clip(t + rf.slice_lo, 0, n - w))
    onehot = engine._ref_onehot.clone()
    onehot[wi] = F.one_hot(torch.tensor(int(alt), device=dev), 4).to(onehot.dtype)
    u = np.arange(t + rf.affect_lo, t + rf.affect_hi + 1)
    u = u[(u >= 0) & (u < n)]
    with torch.no_grad():
        sliced = engine.split.trunk(onehot[s_tok * res:(s_tok + w) * res][None])[0]
        trunk = engine._ref_trunk.clone()
        trunk[0, torch.from_numpy(u).to(dev)] = sliced[torch.from_numpy(u - s_tok).to(dev)].to(trunk.dtype)
        output = engine.split.tail(trunk)[0].cpu().numpy()
    eng = copy.copy(engine)
    tokens = np.array(engine._ref_tokens, dtype=np.uint8, copy=True)
    tokens[wi] = alt
    eng._ref_tokens, eng._ref_onehot, eng._ref_trunk, eng.reference_output = tokens, onehot, trunk, output
    return eng


def _saturation_block(background: np.ndarray, positions: np.ndarray, readouts: Any, *,
                      engine: Any = None, outputs: Callable | None = None,
                      desc: str = "driver ISM") -> tuple[np.ndarray, np.ndarray]:
    """(R, P, 4) saturation ISM at ``positions`` of ``background`` and the background's readouts (R,):
    with a fast engine whose reference IS ``background``, or through ``outputs`` (full forward)."""
    from seqgx.model.attribution import (
        full_ism_outputs,
        saturation_matrix,
        saturation_substitutions,
        substitute,
    )

    sub_wi, sub_alt = saturation_substitutions(background, positions)
    if engine is not None:
        base_out, out = engine.reference_output, engine.outputs(sub_wi, sub_alt, desc=desc)
    else:
        base_out, out = full_ism_outputs(outputs, background, substitute(background, sub_wi, sub_alt),
                                         len(sub_wi))
    base = readouts.compute(np.asarray(base_out)[None])
    return saturation_matrix(positions, sub_wi, sub_alt, readouts.compute(out) - base), base[0]


def driver_neighbourhood_ism(reference: np.ndarray, window_index: Sequence[int], alt: Sequence[int],
                             readouts: Any, *, engine: Any = None, outputs: Callable | None = None,
                             flank: int = DRIVER_FLANK) -> list[DriverISM]:
    """Saturation ISM of every base within ``flank`` bp of each driver, on the reference and on the
    reference with that driver's alt allele (41 x 4 per background with the default flank).

    ``reference`` (L,) uint8 tokens; ``window_index`` / ``alt`` (alt token 0-3) per driver; ``readouts`` a
    :class:`~seqgx.model.attribution.ReadoutSet`. Fast path: ``engine`` a
    :class:`~seqgx.model.attribution.FastISM` (its reference is set here). Otherwise ``outputs``
    (``Predictor.outputs`` contract) runs every mutated sequence through the whole model.
    """
    ref = np.asarray(reference, dtype=np.uint8)
    wis = [int(w) for w in window_index]
    alts = [int(a) for a in alt]
    hoods = [neighbourhood(w, flank, len(ref)) for w in wis]
    for w, a in zip(wis, alts, strict=True):
        if not 0 <= a <= 3 or a == ref[w]:
            raise SeqgxError(f"driver at window index {w}: alt token {a} is not a base other than the "
                             f"reference's {ALPHABET[ref[w]]}")
    if engine is None and outputs is None:
        raise SeqgxError("driver neighbourhood ISM needs a fast-ISM engine or a model's outputs")
    if not wis:
        return []
    if engine is not None:
        engine.set_reference(ref)
    # Reference background: all drivers' positions in one pass (shared positions computed once).
    union = np.unique(np.concatenate(hoods))
    ref_all, ref_value = _saturation_block(ref, union, readouts, engine=engine, outputs=outputs,
                                           desc="driver ISM (reference)")
    results = []
    for w, a, hood in zip(wis, alts, hoods, strict=True):
        bg = ref.copy()
        bg[w] = a
        eng = _spliced_background(engine, w, a) if engine is not None else None
        alt_m, alt_value = _saturation_block(bg, hood, readouts, engine=eng, outputs=outputs,
                                             desc="driver ISM (alt)")
        rows = np.searchsorted(union, hood)
        results.append(DriverISM(window_index=hood, ref_tokens=ref[hood].copy(), alt_tokens=bg[hood].copy(),
                                 ref_matrix=ref_all[:, rows], alt_matrix=alt_m, ref_value=ref_value,
                                 alt_value=alt_value))
    return results


def write_driver_ism(path: str | Path, gene: Any, readouts: Sequence[str], variant_ids: Sequence[str],
                     blocks: Sequence[DriverISM], flank: int = DRIVER_FLANK) -> Path:
    """``<gene_id>.driver_ism.npz`` (keys in docs/motifs.md), written atomically."""
    r, w = len(readouts), 2 * flank + 1
    d = len(blocks)

    def stack(attr: str, shape: tuple, dtype: Any) -> np.ndarray:
        return (np.stack([getattr(b, attr) for b in blocks]).astype(dtype) if d
                else np.zeros((0, *shape), dtype=dtype))

    wi = np.array([int(b.window_index[flank]) for b in blocks], dtype=np.int64)
    ref_value = blocks[0].ref_value if d else np.full(r, np.nan)
    path = Path(path)
    with atomic_output(path) as tmp, open(tmp, "wb") as fh:
        np.savez_compressed(
            fh, gene_id=np.array(str(gene.gene_id)), tss=np.array(int(gene.tss), dtype=np.int64),
            readouts=np.array([str(x) for x in readouts]) if r else np.zeros(0, "<U1"),
            bases=np.array(list(BASES)), flank=np.array(flank, dtype=np.int64),
            offsets=np.arange(-flank, flank + 1, dtype=np.int64),
            variant_id=np.array([str(v) for v in variant_ids]) if d else np.zeros(0, "<U1"),
            pos=(int(gene.window_start) + wi + 1).astype(np.int64), window_index=wi,
            ref_tokens=stack("ref_tokens", (w,), np.uint8), alt_tokens=stack("alt_tokens", (w,), np.uint8),
            ref_matrix=stack("ref_matrix", (r, w, 4), np.float32),
            alt_matrix=stack("alt_matrix", (r, w, 4), np.float32),
            ref_value=np.asarray(ref_value, dtype=np.float64), alt_value=stack("alt_value", (r,), np.float64))
    return path


# ---------------------------------------------------------------------------------------------------
# Seqlets


def call_seqlets(values: np.ndarray, threshold: float, min_length: int = SEQLET_MIN_LENGTH
                 ) -> list[tuple[int, int, int]]:
    """Runs of consecutive positions whose scaled attribution has the same sign and ``|v| >= threshold``,
    at least ``min_length`` long: (first index, last index inclusive, sign). NaN breaks a run."""
    v = np.asarray(values, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        lab = np.where(np.abs(v) >= threshold, np.sign(v), 0.0)
    lab = np.nan_to_num(lab).astype(np.int8)
    if lab.size == 0:
        return []
    change = np.flatnonzero(np.diff(lab) != 0) + 1
    starts = np.concatenate([[0], change])
    ends = np.concatenate([change, [lab.size]]) - 1
    return [(int(a), int(b), int(lab[a])) for a, b in zip(starts, ends, strict=True)
            if lab[a] != 0 and b - a + 1 >= min_length]


def _max_seqlet_strength(v: np.ndarray, threshold: float, min_length: int) -> float:
    return max((abs(float(v[a:b + 1].sum())) for a, b, _ in call_seqlets(v, threshold, min_length)),
               default=0.0)


def seqlet_pvalues(values: np.ndarray, seqlets: Sequence[tuple[int, int, int]], threshold: float,
                   min_length: int = SEQLET_MIN_LENGTH, n_shuffles: int = SEQLET_SHUFFLES,
                   rng: np.random.Generator | None = None) -> np.ndarray:
    """p of each seqlet against the same rule on position-shuffled tracks: with ``m_k`` the largest
    ``|sum of v|`` of any seqlet of shuffle k (0 if none), ``p = (1 + #{k: m_k >= |sum|}) / (1 + n)``
    (a max statistic: the chance that a track without positional structure gives a seqlet as strong)."""
    v = np.asarray(values, dtype=np.float64)
    if not seqlets:
        return np.zeros(0)
    rng = rng if rng is not None else np.random.default_rng(0)
    finite = np.nan_to_num(v, nan=0.0)
    null = np.array([_max_seqlet_strength(rng.permutation(finite), threshold, min_length)
                     for _ in range(n_shuffles)])
    stat = np.array([abs(float(finite[a:b + 1].sum())) for a, b, _ in seqlets])
    return (1 + (null[None, :] >= stat[:, None] - 1e-12).sum(1)) / (1 + n_shuffles)


# ---------------------------------------------------------------------------------------------------
# JASPAR, TOMTOM, FIMO


@dataclass(frozen=True)
class MotifDatabase:
    ids: tuple[str, ...]
    names: tuple[str, ...]
    ppms: tuple[np.ndarray, ...]  # (4, w) letter probabilities, A C G T

    def consensus(self, i: int) -> str:
        return "".join(BASES[j] for j in self.ppms[i].argmax(0))


@lru_cache(maxsize=2)
def jaspar_motifs(release: str = JASPAR_RELEASE) -> MotifDatabase:
    """JASPAR CORE vertebrates, non-redundant (the latest version of each matrix), from the SQLite
    database pyjaspar ships (no download)."""
    from pyjaspar import jaspardb

    try:
        motifs = jaspardb(release=release).fetch_motifs(collection="CORE", tax_group=["vertebrates"],
                                                        all_versions=False)
    except Exception as exc:  # pyjaspar raises plain Exceptions for unknown releases
        raise SeqgxError(f"cannot read JASPAR release '{release}' from pyjaspar ({exc}); use "
                         f"{JASPAR_RELEASE}") from None
    ppms = []
    for m in motifs:
        c = np.array([m.counts[b] for b in BASES], dtype=np.float64)
        ppms.append(c / np.maximum(c.sum(0, keepdims=True), 1e-12))
    return MotifDatabase(tuple(m.matrix_id for m in motifs), tuple(m.name for m in motifs), tuple(ppms))


def _numba_threads() -> int:
    import numba

    from seqgx.threads import available_cpus, configured_threads

    n = configured_threads() or available_cpus()
    return max(1, min(n, numba.config.NUMBA_NUM_THREADS))


def sequence_matrix(sequence: str) -> np.ndarray:
    """(4, w) float64 one-hot of a sequence (N: 0.25 each): a TOMTOM query."""
    seq = sequence.upper()
    m = np.full((4, len(seq)), 0.25)
    for j, ch in enumerate(seq):
        if ch in BASES:
            m[:, j] = 0.0
            m[BASES.index(ch), j] = 1.0
    return m


def tomtom_best(queries: Sequence[np.ndarray], db: MotifDatabase
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(best target index, its p, its q) per query: TOMTOM (memelite, both strands) against every matrix;
    q = Benjamini-Hochberg over the query's p-values against all matrices."""
    from memelite import tomtom

    from seqgx.analysis.stats import bh_fdr

    if not queries:
        return np.zeros(0, np.int64), np.zeros(0), np.zeros(0)
    p = tomtom([np.asarray(q, np.float64) for q in queries], list(db.ppms), n_jobs=_numba_threads())[0]
    best = np.nanargmin(p, axis=1)
    rows = np.arange(len(queries))
    q = np.array([bh_fdr(row)[j] for row, j in zip(p, best, strict=True)])
    return best.astype(np.int64), p[rows, best], q


def _tomtom_min_p(queries: Sequence[np.ndarray], db: MotifDatabase, chunk: int = 4000) -> np.ndarray:
    from memelite import tomtom

    out = []
    for lo in range(0, len(queries), chunk):
        res = tomtom(list(queries[lo:lo + chunk]), list(db.ppms), n_nearest=1, n_jobs=_numba_threads())
        out.append(res[0][:, 0])
    return np.concatenate(out) if out else np.zeros(0)


def annotate_matrices(matrices: Sequence[np.ndarray], db: MotifDatabase | None = None,
                      n_shuffles: int = TOMTOM_SHUFFLES, seeds: Sequence[int] | None = None,
                      alpha: float = MATCH_ALPHA) -> pd.DataFrame:
    """TOMTOM annotation of query matrices (4, w) against JASPAR: per query ``tf_name``, ``tf_matrix_id``,
    ``tf_p`` (the best matrix's TOMTOM p, memelite, both strands), ``tf_q`` (BH over the query's p against
    every matrix), ``tf_shuffle_p`` (``(1 + #{shuffles with best p <= tf_p}) / (1 + n)`` over
    ``n_shuffles`` column shuffles of the query, each query's generator seeded by ``seeds[i]``: does the
    match depend on the order of the columns?) and ``tf_significant`` (q < alpha and shuffle p < alpha)."""
    db = db or jaspar_motifs()
    cols = ["tf_name", "tf_matrix_id", "tf_p", "tf_q", "tf_shuffle_p", "tf_significant"]
    if not len(matrices):
        return pd.DataFrame(columns=cols)
    qs = [np.asarray(m, dtype=np.float64) for m in matrices]
    seeds = list(seeds) if seeds is not None else list(range(len(qs)))
    best, p, q = tomtom_best(qs, db)
    shuffled: list[np.ndarray] = []
    for m, seed in zip(qs, seeds, strict=True):
        rng = np.random.default_rng(seed)
        shuffled.extend(m[:, rng.permutation(m.shape[1])] for _ in range(n_shuffles))
    null = (_tomtom_min_p(shuffled, db).reshape(len(qs), n_shuffles) if n_shuffles
            else np.zeros((len(qs), 0)))
    shuffle_p = (1 + (null <= p[:, None] * (1 + 1e-9)).sum(1)) / (1 + n_shuffles)
    return pd.DataFrame({"tf_name": [db.names[j] for j in best], "tf_matrix_id": [db.ids[j] for j in best],
                         "tf_p": p, "tf_q": q, "tf_shuffle_p": shuffle_p,
                         "tf_significant": (q < alpha) & (shuffle_p < alpha)}, columns=cols)


def annotate_sequences(sequences: Sequence[str], db: MotifDatabase | None = None,
                       n_shuffles: int = TOMTOM_SHUFFLES, seed: int = 0,
                       alpha: float = MATCH_ALPHA) -> pd.DataFrame:
    """:func:`annotate_matrices` of sequences (seqlets) as one-hot queries (N: 0.25 each), each distinct
    sequence once, its shuffles seeded from ``seed`` and the sequence (the same sequence gets the same
    annotation in every batch)."""
    seqs = [str(s).upper() for s in sequences]
    uniq = list(dict.fromkeys(seqs))
    table = annotate_matrices([sequence_matrix(s) for s in uniq], db, n_shuffles,
                              [[int(seed), zlib.crc32(s.encode())] for s in uniq], alpha)
    if not uniq:
        return table
    table.index = uniq
    return table.loc[seqs].reset_index(drop=True)


def fimo_sites(contexts: Sequence[str], db: MotifDatabase, centre_flank: int = DENOVO_FLANK,
               threshold: float = FIMO_THRESHOLD) -> np.ndarray:
    """(n_sequences, n_matrices) bool: a FIMO hit (p < threshold, either strand) of the matrix that
    overlaps the central ``2 * centre_flank + 1`` bases of the sequence (all sequences one length)."""
    from memelite import fimo

    n, m = len(contexts), len(db.ids)
    out = np.zeros((n, m), dtype=bool)
    if n == 0:
        return out
    lengths = {len(c) for c in contexts}
    if len(lengths) != 1:
        raise SeqgxError("motif contexts differ in length; re-run 'seqgx motifs' with one --context-flank")
    length = lengths.pop()
    c = length // 2
    x = np.stack([sequence_matrix(s) for s in contexts]).astype(np.float32)
    x[x == 0.25] = 0.0  # N matches nothing
    names = {f"{i}": db.ppms[i] for i in range(m)}
    hits = fimo(names, x, threshold=threshold)
    for frame in hits:
        if frame is None or len(frame) == 0:
            continue
        near = (frame["start"].to_numpy() <= c + centre_flank) & (frame["end"].to_numpy() > c - centre_flank)
        f = frame[near]
        idx = f["motif_name"].astype(str).str.replace("-rc", "", regex=False).astype(int).to_numpy()
        out[f["sequence_name"].astype(int).to_numpy(), idx] = True
    return out


# ---------------------------------------------------------------------------------------------------
# De novo: pairwise alignment of driver windows, complete-linkage clusters


def _tokens(seq: str) -> np.ndarray:
    lut = {b: i for i, b in enumerate(BASES)}
    return np.array([lut.get(ch, 4) for ch in seq.upper()], dtype=np.int8)


def window_score(x: str, y: str, min_length: int = DENOVO_MIN_LENGTH,
                 max_mismatches: int = DENOVO_MAX_MISMATCHES) -> int:
    """Best ungapped alignment score of two equal-length windows with the SNV at their centre (reference
    implementation, brute force; :func:`pair_scores` is the fast one).

    Over both orientations of ``y`` (reverse complement: the centre stays the centre) and every shift,
    a stretch of aligned positions counts when it is at least ``min_length`` long, has at most
    ``max_mismatches`` mismatches (N matches nothing) and contains the centre base of both windows;
    its score is its number of matching bases. The score is the best stretch's (0 when there is none).
    """
    a, b0 = _tokens(x), _tokens(y)
    if a.size != b0.size or a.size % 2 == 0:
        raise SeqgxError("de novo windows must have the same odd length")
    n, c, best = a.size, a.size // 2, 0
    for b in (b0, _COMPLEMENT[b0[::-1]]):
        for k in range(-(n - 1), n):  # x[i] pairs with y[i + k]
            lo, hi = max(0, -k), min(n - 1, n - 1 - k)
            need_lo, need_hi = min(c, c - k), max(c, c - k)
            for s in range(lo, need_lo + 1):
                for e in range(need_hi, hi + 1):
                    if e - s + 1 < min_length:
                        continue
                    seg_x, seg_y = a[s:e + 1], b[s + k:e + k + 1]
                    match = (seg_x == seg_y) & (seg_x < 4)
                    if (~match).sum() <= max_mismatches:
                        best = max(best, int(match.sum()))
    return best


def _pair_scores_kernel():  # noqa: ANN202  (compiled lazily: numba only when de novo enrichment runs)
    from numba import njit

    @njit(cache=True)
    def kernel(tok, min_len, max_mm):  # noqa: ANN001, ANN202
        # tok: (n, 2 alleles, 2 strands, L) int8 with N = 4 (matches nothing)
        n, L = tok.shape[0], tok.shape[3]
        c = L // 2
        out = np.zeros((n, n), np.int16)
        left = np.empty(max_mm + 1, np.int64)
        right = np.empty(max_mm + 1, np.int64)
        for i in range(n):
            for j in range(i + 1, n):
                best = 0
                for ai in range(2):
                    for aj in range(2):
                        for sj in range(2):
                            for k in range(-c, c + 1):
                                lo = max(0, -k)
                                hi = min(L - 1, L - 1 - k)
                                r0 = min(c, c - k)
                                r1 = max(c, c - k)
                                core = 0
                                for p in range(r0, r1 + 1):
                                    xa = tok[i, ai, 0, p]
                                    yb = tok[j, aj, sj, p + k]
                                    if xa != yb or xa == 4:
                                        core += 1
                                if core > max_mm:
                                    continue
                                budget = max_mm - core
                                nl = 0
                                p = r0 - 1
                                while p >= lo and nl <= budget:
                                    xa = tok[i, ai, 0, p]
                                    if xa != tok[j, aj, sj, p + k] or xa == 4:
                                        left[nl] = p
                                        nl += 1
                                    p -= 1
                                nr = 0
                                p = r1 + 1
                                while p <= hi and nr <= budget:
                                    xa = tok[i, ai, 0, p]
                                    if xa != tok[j, aj, sj, p + k] or xa == 4:
                                        right[nr] = p
                                        nr += 1
                                    p += 1
                                for bl in range(budget + 1):
                                    for br in range(budget - bl + 1):
                                        a = left[bl] + 1 if bl < nl else lo
                                        used_l = bl if bl < nl else nl
                                        b = right[br] - 1 if br < nr else hi
                                        used_r = br if br < nr else nr
                                        length = b - a + 1
                                        if length >= min_len:
                                            score = length - core - used_l - used_r
                                            if score > best:
                                                best = score
                out[i, j] = best
                out[j, i] = best
        return out

    return kernel


_KERNEL: Any = None


def pair_scores(ref_windows: Sequence[str], alt_windows: Sequence[str], min_length: int = DENOVO_MIN_LENGTH,
                max_mismatches: int = DENOVO_MAX_MISMATCHES) -> np.ndarray:
    """(n, n) int: for two drivers, the best :func:`window_score` over their reference and alt windows
    (4 pairs). The diagonal is 0."""
    global _KERNEL
    n = len(ref_windows)
    if n == 0:
        return np.zeros((0, 0), np.int16)
    lengths = {len(w) for w in (*ref_windows, *alt_windows)}
    if len(lengths) != 1 or lengths.pop() % 2 == 0:
        raise SeqgxError("de novo windows must all have the same odd length")
    tok = np.empty((n, 2, 2, len(ref_windows[0])), dtype=np.int8)
    for i, (r, a) in enumerate(zip(ref_windows, alt_windows, strict=True)):
        for ai, w in enumerate((r, a)):
            t = _tokens(w)
            tok[i, ai, 0], tok[i, ai, 1] = t, _COMPLEMENT[t[::-1]]
    if _KERNEL is None:
        _KERNEL = _pair_scores_kernel()
    return np.asarray(_KERNEL(tok, int(min_length), int(max_mismatches)))


def cluster_windows(scores: np.ndarray, min_length: int = DENOVO_MIN_LENGTH, cut: float = DENOVO_CUT
                    ) -> np.ndarray:
    """Cluster labels 0.. (largest cluster first, ties by first member): complete linkage (scipy) of
    ``distance = clip(1 - score / min_length, 0, 1)``, cut at height ``cut``."""
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import squareform

    n = scores.shape[0]
    if n == 0:
        return np.zeros(0, np.int64)
    if n == 1:
        return np.zeros(1, np.int64)
    d = np.clip(1.0 - scores.astype(np.float64) / min_length, 0.0, 1.0)
    np.fill_diagonal(d, 0.0)
    raw = fcluster(linkage(squareform(d, checks=False), method="complete"), t=cut, criterion="distance")
    uniq = sorted(set(raw.tolist()), key=lambda lab: (-(raw == lab).sum(), int(np.argmax(raw == lab))))
    remap = {lab: i for i, lab in enumerate(uniq)}
    return np.array([remap[x] for x in raw], dtype=np.int64)


def _best_alignment(x: str, y: str, min_length: int, max_mm: int) -> tuple[int, int, int]:
    """(score, strand 0/1, shift k) of the best :func:`window_score` alignment of y onto x."""
    a, b0 = _tokens(x), _tokens(y)
    n, c = a.size, a.size // 2
    best = (0, 0, 0)
    for strand, b in enumerate((b0, _COMPLEMENT[b0[::-1]])):
        for k in range(-c, c + 1):
            lo, hi = max(0, -k), min(n - 1, n - 1 - k)
            for s in range(lo, min(c, c - k) + 1):
                for e in range(max(c, c - k), hi + 1):
                    if e - s + 1 < min_length:
                        continue
                    m = (a[s:e + 1] == b[s + k:e + k + 1]) & (a[s:e + 1] < 4)
                    if (~m).sum() <= max_mm and int(m.sum()) > best[0]:
                        best = (int(m.sum()), strand, k)
    return best


def cluster_counts(members: Sequence[int], scores: np.ndarray, ref_windows: Sequence[str],
                   alt_windows: Sequence[str], min_length: int = DENOVO_MIN_LENGTH,
                   max_mismatches: int = DENOVO_MAX_MISMATCHES) -> np.ndarray:
    """(4, L) base counts of a cluster aligned on its medoid (the member with the largest summed score to
    the others; the first on a tie). The medoid's allele is the one (reference first) most members
    align best to; each member adds the bases of its best-aligned allele and orientation, shifted onto
    the medoid's positions (positions it does not cover add nothing)."""
    members = list(members)
    L = len(ref_windows[members[0]])
    counts = np.zeros((4, L), dtype=np.int64)
    sub = scores[np.ix_(members, members)]
    medoid = members[int(np.argmax(sub.sum(1)))]
    med_alleles = (ref_windows[medoid], alt_windows[medoid])
    votes = [0, 0]
    aligned: list[tuple[str, int, int]] = []
    for m in members:
        if m == medoid:
            continue
        best = (-1, 0, 0, 0, "")
        for mi, mw in enumerate(med_alleles):
            for w in (ref_windows[m], alt_windows[m]):
                sc, strand, k = _best_alignment(mw, w, min_length, max_mismatches)
                if sc > best[0]:
                    best = (sc, mi, strand, k, w)
        votes[best[1]] += 1
        aligned.append((best[4], best[2], best[3]))
    med = med_alleles[0 if votes[0] >= votes[1] else 1]
    aligned.append((med, 0, 0))
    for w, strand, k in aligned:
        t = _tokens(w)
        if strand:
            t = _COMPLEMENT[t[::-1]]
        for p in range(L):
            q = p + k
            if 0 <= q < L and t[q] < 4:
                counts[t[q], p] += 1
    return counts


def _fisher(table: np.ndarray) -> tuple[float, float]:
    from scipy.stats import fisher_exact

    res = fisher_exact(table, alternative="two-sided")
    return float(res[0]), float(res[1])


def _consensus(counts: np.ndarray) -> str:
    tot = counts.sum(0)
    return "".join(BASES[int(np.argmax(col))] if t else "N" for col, t in zip(counts.T, tot, strict=True))


def denovo_enrichment(drivers: pd.DataFrame, min_length: int = DENOVO_MIN_LENGTH,
                      max_mismatches: int = DENOVO_MAX_MISMATCHES, cut: float = DENOVO_CUT,
                      flank: int = DENOVO_FLANK) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """De novo clusters of one readout's drivers (rows with ``ref_context``, ``alt_context``,
    ``supported``): the central ``2 * flank + 1`` bases of each context, :func:`pair_scores`,
    :func:`cluster_windows`; per cluster of >= 2 drivers its counts (:func:`cluster_counts`) and
    Fisher's exact test (two-sided) of supported vs unsupported drivers in vs out of the cluster
    (drivers with unknown support are members but not counted), BH across those clusters.
    Returns (table, {motif id: counts (4, L)})."""
    cols = ["motif_id", "motif_name", "consensus", "n_members", "cases_with", "cases_without",
            "controls_with", "controls_without", "odds_ratio", "p_value", "counts"]
    d = drivers.reset_index(drop=True)
    if len(d) < 2:
        return pd.DataFrame(columns=cols), {}
    c = len(str(d["ref_context"].iloc[0])) // 2
    ref_w = [str(s)[c - flank:c + flank + 1] for s in d["ref_context"]]
    alt_w = [str(s)[c - flank:c + flank + 1] for s in d["alt_context"]]
    scores = pair_scores(ref_w, alt_w, min_length, max_mismatches)
    labels = cluster_windows(scores, min_length, cut)
    sup = _tristate(d["supported"]).to_numpy()
    known = np.isfinite(sup)
    rows, matrices = [], {}
    for lab in range(int(labels.max()) + 1):
        members = np.flatnonzero(labels == lab)
        if len(members) < 2:
            continue
        counts = cluster_counts(members, scores, ref_w, alt_w, min_length, max_mismatches)
        inside = labels == lab
        t = np.array([[np.sum(inside & known & (sup == 1)), np.sum(~inside & known & (sup == 1))],
                      [np.sum(inside & known & (sup == 0)), np.sum(~inside & known & (sup == 0))]])
        odds, p = _fisher(t) if t.sum() else (math.nan, math.nan)
        mid = f"cluster_{lab + 1}"
        matrices[mid] = counts
        rows.append({"motif_id": mid, "motif_name": _consensus(counts), "consensus": _consensus(counts),
                     "n_members": int(len(members)), "cases_with": int(t[0, 0]),
                     "cases_without": int(t[0, 1]),
                     "controls_with": int(t[1, 0]), "controls_without": int(t[1, 1]), "odds_ratio": odds,
                     "p_value": p, "counts": json.dumps({b: counts[i].tolist() for i, b in enumerate(BASES)},
                                                        separators=(",", ":"))})
    return pd.DataFrame(rows, columns=cols), matrices


def known_enrichment(drivers: pd.DataFrame, controls: pd.DataFrame, db: MotifDatabase | None = None,
                     flank: int = DENOVO_FLANK, threshold: float = FIMO_THRESHOLD) -> pd.DataFrame:
    """Known motifs around one readout's drivers vs their matched controls: a site carries a matrix when
    FIMO finds it (p < threshold, either strand) overlapping the central ``2 * flank + 1`` bases of its
    reference or alt context; Fisher's exact test (two-sided) per matrix of drivers vs controls, for
    matrices found at least once (the others cannot be significant)."""
    cols = ["motif_id", "motif_name", "consensus", "n_members", "cases_with", "cases_without",
            "controls_with", "controls_without", "odds_ratio", "p_value", "counts"]
    db = db or jaspar_motifs()
    nd, nc = len(drivers), len(controls)
    if nd == 0 or nc == 0:
        return pd.DataFrame(columns=cols)
    seqs = [*drivers["ref_context"], *drivers["alt_context"], *controls["ref_context"],
            *controls["alt_context"]]
    hit = fimo_sites([str(s) for s in seqs], db, flank, threshold)
    drv = hit[:nd] | hit[nd:2 * nd]
    ctl = hit[2 * nd:2 * nd + nc] | hit[2 * nd + nc:]
    rows = []
    for j in np.flatnonzero(drv.any(0) | ctl.any(0)):
        t = np.array([[drv[:, j].sum(), nd - drv[:, j].sum()], [ctl[:, j].sum(), nc - ctl[:, j].sum()]])
        odds, p = _fisher(t)
        rows.append({"motif_id": db.ids[j], "motif_name": db.names[j], "consensus": db.consensus(j),
                     "n_members": int(t[0, 0]), "cases_with": int(t[0, 0]), "cases_without": int(t[0, 1]),
                     "controls_with": int(t[1, 0]), "controls_without": int(t[1, 1]), "odds_ratio": odds,
                     "p_value": p, "counts": ""})
    return pd.DataFrame(rows, columns=cols)


def enrichment(driver_motifs: pd.DataFrame, snvs: pd.DataFrame, db: MotifDatabase | None = None,
               alpha: float = ENRICHMENT_ALPHA, fimo_threshold: float = FIMO_THRESHOLD
               ) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """Both enrichments for every readout of merged tables (``driver_motifs.tsv``, ``motif_snvs.tsv``):
    the rows of ``motif_enrichment.tsv`` (``q_value`` = BH per readout and analysis, ``enriched`` =
    q < alpha and odds ratio > 1) and the de novo count matrices keyed ``<readout>/<motif_id>``."""
    frames, matrices = [], {}
    readouts = list(dict.fromkeys(driver_motifs["readout"].astype(str))) if len(driver_motifs) else []
    for r in readouts:
        d = driver_motifs[driver_motifs["readout"].astype(str) == r]
        d = d[d["ref_context"].notna() & d["alt_context"].notna()]
        ctl = snvs[(snvs["readout"].astype(str) == r) & (snvs["control_for"].fillna("").astype(str) != "")]
        den, mats = denovo_enrichment(d)
        kn = known_enrichment(d, ctl, db, threshold=fimo_threshold)
        for name, f in (("de_novo", den), ("known", kn)):
            if len(f):
                frames.append(f.assign(readout=r, analysis=name))
        matrices.update({f"{r}/{k}": v for k, v in mats.items()})
    cols = ["readout", "analysis", "motif_id", "motif_name", "consensus", "n_members", "cases_with",
            "cases_without", "controls_with", "controls_without", "odds_ratio", "p_value", "q_value",
            "enriched", "counts"]
    if not frames:
        return pd.DataFrame(columns=cols), matrices
    from seqgx.analysis.stats import bh_fdr

    t = pd.concat(frames, ignore_index=True)
    t["q_value"] = np.nan
    for _, idx in t.groupby(["readout", "analysis"], sort=False).groups.items():
        t.loc[idx, "q_value"] = bh_fdr(t.loc[idx, "p_value"].to_numpy(float))
    t["enriched"] = (t["q_value"] < alpha) & (t["odds_ratio"] > 1)
    t = t.sort_values(["readout", "analysis", "p_value", "motif_id"], kind="stable").reset_index(drop=True)
    return t[cols], matrices


def write_meme(path: str | Path, matrices: Mapping[str, np.ndarray]) -> Path:
    """MEME (version 4) letter-probability matrices from count matrices (4, L); empty columns 0.25."""
    lines = ["MEME version 4", "", "ALPHABET= ACGT", "", "strands: + -", "",
             "Background letter frequencies", "A 0.25 C 0.25 G 0.25 T 0.25", ""]
    for name, counts in matrices.items():
        counts = np.asarray(counts, dtype=np.float64)
        tot = counts.sum(0)
        prob = np.where(tot > 0, counts / np.maximum(tot, 1), 0.25)
        nsites = int(tot.max()) if tot.size else 0
        lines += [f"MOTIF {name.replace(' ', '_')}",
                  f"letter-probability matrix: alength= 4 w= {counts.shape[1]} nsites= {nsites} E= 0"]
        lines += [" ".join(f"{x:.6f}" for x in col) for col in prob.T]
        lines.append("")
    path = Path(path)
    with atomic_output(path) as tmp:
        tmp.write_text("\n".join(lines) + "\n")
    return path


# ---------------------------------------------------------------------------------------------------
# Summary


def _tristate(s: pd.Series) -> pd.Series:
    """true/false words, bools or numbers -> 1.0 / 0.0 / NaN (as every seqgx table is read back)."""
    from seqgx.analysis.assess import _as_tristate

    return _as_tristate(s)


def _fraction(x: pd.Series) -> float:
    x = _tristate(x).dropna()
    return float(x.mean()) if len(x) else math.nan


def motif_summary(driver_motifs: pd.DataFrame, snvs: pd.DataFrame,
                  enrichment_table: pd.DataFrame | None = None,
                  alpha: float = ENRICHMENT_ALPHA) -> dict[str, dict[str, Any]]:
    """Per readout: fraction of main drivers inside a seqlet (drivers outside the TSS track, NA, left
    out), split by support and by the sign of the gene's R; the same fraction for every SNV within the
    TSS track of the genes with a main driver and of all genes (chance); motifs enriched at ``alpha``."""
    out: dict[str, dict[str, Any]] = {}
    readouts = list(dict.fromkeys([*driver_motifs.get("readout", pd.Series(dtype=str)).astype(str),
                                   *snvs.get("readout", pd.Series(dtype=str)).astype(str)]))
    for r in readouts:
        d = driver_motifs[driver_motifs["readout"].astype(str) == r]
        main = d[_tristate(d["is_main"]) == 1.0]
        sup = _tristate(main["supported"])
        rr = pd.to_numeric(main.get("gene_r", pd.Series(np.nan, index=main.index)), errors="coerce")
        s = snvs[(snvs["readout"].astype(str) == r) & (_tristate(snvs["in_tss_window"]) == 1.0)]
        s_main = s[s["gene_id"].isin(set(main["gene_id"]))]
        fig: dict[str, Any] = {
            "n_main_drivers": int(len(main)),
            "n_main_drivers_in_tss_window": int(_tristate(main["in_seqlet"]).notna().sum()),
            "fraction_main_drivers_in_seqlet": _fraction(main["in_seqlet"]),
            "fraction_in_seqlet_supported": _fraction(main.loc[sup == 1.0, "in_seqlet"]),
            "fraction_in_seqlet_unsupported": _fraction(main.loc[sup == 0.0, "in_seqlet"]),
            "fraction_in_seqlet_positive_r": _fraction(main.loc[rr > 0, "in_seqlet"]),
            "fraction_in_seqlet_negative_r": _fraction(main.loc[rr < 0, "in_seqlet"]),
            "fraction_snvs_in_seqlet": _fraction(s_main["in_seqlet"]),
            "fraction_snvs_in_seqlet_all_genes": _fraction(s["in_seqlet"]),
            "n_snvs_in_tss_window": int(len(s_main)),
        }
        if enrichment_table is not None and len(enrichment_table):
            e = enrichment_table[enrichment_table["readout"].astype(str) == r]
            enr = _tristate(e["enriched"]) == 1.0
            fig["n_enriched_known"] = int((enr & (e["analysis"] == "known")).sum())
            fig["n_enriched_de_novo"] = int((enr & (e["analysis"] == "de_novo")).sum())
        else:
            fig["n_enriched_known"] = fig["n_enriched_de_novo"] = 0
        out[r] = fig
    return out


# ---------------------------------------------------------------------------------------------------
# One batch: inputs, per-gene work, tables


@dataclass
class MotifOptions:
    """Settings of :func:`motifs_batch` (defaults: the module constants)."""

    scale: str = MOTIF_SCALE
    thresholds: tuple[float, ...] | None = None  # None: CONTEXT_THRESHOLDS[scale]
    all_drivers: bool = False
    flank: int = DRIVER_FLANK
    window: int = MOTIF_WINDOW
    seqlet_threshold: float | None = None  # None: SEQLET_THRESHOLD[scale]
    seqlet_min_length: int = SEQLET_MIN_LENGTH
    seqlet_shuffles: int = SEQLET_SHUFFLES
    tomtom_shuffles: int = TOMTOM_SHUFFLES
    controls: int = CONTROLS_PER_DRIVER
    context_flank: int = CONTEXT_FLANK
    seed: int = 0
    method: str = "fast"
    batch_size: int = 8
    device: str = "cpu"

    def resolved(self) -> MotifOptions:
        thresholds_for(self.scale)
        o = copy.copy(self)
        o.thresholds = tuple(float(t) for t in (self.thresholds or CONTEXT_THRESHOLDS[self.scale]))
        o.seqlet_threshold = float(self.seqlet_threshold if self.seqlet_threshold is not None
                                   else SEQLET_THRESHOLD[self.scale])
        for name, low in (("flank", 1), ("window", 1), ("seqlet_min_length", 1), ("seqlet_shuffles", 1),
                          ("tomtom_shuffles", 0), ("controls", 0), ("context_flank", DENOVO_FLANK)):
            if int(getattr(o, name)) < low:
                raise SeqgxError(f"motif option {name.replace('_', '-')} must be >= {low}, got "
                                 f"{getattr(o, name)}")
        if not o.seqlet_threshold > 0:
            raise SeqgxError(f"the seqlet threshold must be > 0, got {o.seqlet_threshold}")
        return o


DRIVER_COLUMNS = ("gene_id", "readout", "variant_id", "pos", "ref", "alt", "distance_to_tss", "is_main",
                  "supported")


def _read_table(path: Path, what: str, columns: Sequence[str], fix: str) -> pd.DataFrame:
    try:
        t = pd.read_csv(path, sep="\t", na_values=["NA", "NaN", "nan", ""], keep_default_na=False,
                        dtype={"gene_id": str, "readout": str, "variant_id": str, "ref": str, "alt": str,
                               "readout_name": str, "control_for": str, "seqlet_id": str})
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise SeqgxError(f"{what} '{path}' is not a tab-separated table ({str(exc).splitlines()[0]}); "
                         f"{fix}") from None
    missing = [c for c in columns if c not in t.columns]
    if missing:
        raise SeqgxError(f"{what} '{path}' lacks column '{missing[0]}'; {fix}")
    return t


def read_drivers(paths: Sequence[str | Path]) -> pd.DataFrame:
    """drivers.tsv files (batch or merged) concatenated."""
    from seqgx.io import require_file

    frames = [_read_table(require_file(p, "drivers file"), "drivers file", DRIVER_COLUMNS,
                          "pass a drivers.tsv written by 'seqgx stats' or 'seqgx merge'") for p in paths]
    t = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=list(DRIVER_COLUMNS))
    # Several tissues' drivers: a variant that is the main driver in any of them counts as main.
    main = t["is_main"].astype(str).str.strip().str.lower().isin(["true", "1", "1.0"]) if len(t) else None
    if main is not None:
        t = t.assign(_main=main).sort_values("_main", ascending=False, kind="stable").drop(columns="_main")
    return t.drop_duplicates(["gene_id", "readout", "variant_id"]).sort_index().reset_index(drop=True)


def read_gene_r(paths: Sequence[str | Path] | None) -> dict[tuple[str, str], float]:
    """(gene_id, readout) -> r from genes.tsv files (batch or merged)."""
    from seqgx.io import require_file

    out: dict[tuple[str, str], float] = {}
    for p in paths or []:
        t = _read_table(require_file(p, "genes file"), "genes file", ("gene_id", "readout", "r"),
                        "pass a genes.tsv written by 'seqgx stats' or 'seqgx merge'")
        out.update({(str(g), str(r)): float(v) for g, r, v in
                    zip(t["gene_id"], t["readout"], pd.to_numeric(t["r"], errors="coerce"), strict=True)})
    return out


@dataclass
class Saturation:
    positions: np.ndarray  # 1-based
    window_index: np.ndarray
    ref: np.ndarray
    matrix: np.ndarray  # (R, P, 4)
    readouts: list[str]
    tss: int


def load_saturation(path: str | Path, gene_id: str) -> Saturation:
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            s = Saturation(positions=z["positions"].astype(np.int64),
                           window_index=z["window_index"].astype(np.int64),
                           ref=z["ref"].astype(np.uint8), matrix=z["matrix"].astype(np.float64),
                           readouts=[str(x) for x in z["readouts"]], tss=int(z["tss"]))
    except (ValueError, OSError, KeyError) as exc:
        raise SeqgxError(f"saturation ISM file '{path}' of gene {gene_id} cannot be read ({exc}); re-run "
                         f"'seqgx ism' with --tss-window > 0") from None
    if s.matrix.ndim != 3 or s.matrix.shape != (len(s.readouts), len(s.positions), 4):
        raise SeqgxError(f"saturation ISM file '{path}': matrix of shape {s.matrix.shape} does not match its "
                         f"{len(s.positions)} positions and {len(s.readouts)} readouts; re-run 'seqgx ism'")
    return s


def _context(reference: np.ndarray, wi: int, flank: int, alt: int | None = None) -> str:
    """Sequence ``wi - flank .. wi + flank`` of the window (N beyond its ends), alt at the centre."""
    L = len(reference)
    idx = np.arange(wi - flank, wi + flank + 1)
    tok = np.where((idx >= 0) & (idx < L), reference[np.clip(idx, 0, L - 1)], 4)
    if alt is not None:
        tok = tok.copy()
        tok[flank] = alt
    return "".join(ALPHABET[t] for t in tok)


@dataclass
class BatchTables:
    driver_motifs: pd.DataFrame
    seqlets: pd.DataFrame
    snvs: pd.DataFrame
    driver_ism_files: list[Path]


SEQLET_COLUMNS = ["gene_id", "readout", "seqlet_id", "chrom", "start", "end", "start_to_tss", "end_to_tss",
                  "length", "sign", "attribution_sum", "score_sum", "max_abs_score", "p_value", "sequence",
                  "tf_name", "tf_matrix_id", "tf_p", "tf_q", "tf_shuffle_p", "tf_significant", "scale",
                  "scale_kind"]
SNV_COLUMNS = ["gene_id", "readout", "variant_id", "pos", "ref", "alt", "distance_to_tss", "is_driver",
               "control_for", "in_tss_window", "in_seqlet", "ref_context", "alt_context"]


def _gene_track(sat: Saturation, tss: int, window: int, readout: str) -> tuple[np.ndarray, np.ndarray]:
    """(1-based positions, per-base attribution) of one readout within ``window`` bp of the TSS."""
    keep = np.abs(sat.positions - tss) <= window
    k = sat.readouts.index(readout)
    return sat.positions[keep], per_base_attribution(sat.matrix[k][keep])


def motifs_batch(haplotypes: Sequence[str | Path], ism: Sequence[str | Path], drivers: Sequence[str | Path],
                 readouts: Any, out_dir: str | Path, *, genes: Sequence[str | Path] | None = None,
                 module: Any = None, outputs: Callable | None = None, opts: MotifOptions | None = None,
                 db: MotifDatabase | None = None) -> BatchTables:
    """Driver neighbourhood ISM, driver-context statistics, seqlets and their annotation for one batch.

    ``haplotypes``: ``<gene_id>.haplotypes.npz`` files or directories; ``ism``: the directories/files of
    ``seqgx ism`` (``<gene_id>.saturation.npz`` is needed for every gene); ``drivers``: drivers.tsv files
    (rows of other genes are ignored); ``readouts``: the model's
    :class:`~seqgx.model.attribution.ReadoutSet`; ``module`` (fast path) or ``outputs`` (full forward).
    Writes ``<gene_id>.driver_ism.npz`` under ``out_dir``; returns the batch's tables (write them with
    :func:`write_batch_tables`).
    """
    from seqgx.analysis.assess import expand_inputs, signed_distance
    from seqgx.analysis.stats import gene_rng
    from seqgx.genome.personalize import GeneHaplotypes
    from seqgx.genome.reference import encode

    o = (opts or MotifOptions()).resolved()
    hap_files = expand_inputs(haplotypes, ".haplotypes.npz", "haplotypes")
    sat_files = {p.name[: -len(".saturation.npz")]: p for p in expand_inputs(ism, ".saturation.npz", "ISM")
                 if p.name.endswith(".saturation.npz")}
    drv_all = read_drivers(drivers)
    gene_r = read_gene_r(genes)
    names = list(readouts.names)
    engine = None
    if o.method == "fast":
        if module is None:
            raise SeqgxError("fast driver ISM needs a torch model; use --method full for other backends")
        from seqgx.model.attribution import FastISM

        engine = FastISM(module, batch_size=o.batch_size, device=o.device)
    elif o.method != "full":
        raise SeqgxError(f"ISM method '{o.method}' is not known; use 'fast' or 'full'")
    elif outputs is None:
        from seqgx.model.attribution import torch_outputs

        if module is None:
            raise SeqgxError("full-forward driver ISM needs a model; pass --model")
        outputs = torch_outputs(module, o.device, o.batch_size)
    out = Path(out_dir)
    drv_rows: list[dict[str, Any]] = []
    seq_rows: list[dict[str, Any]] = []
    snv_rows: list[dict[str, Any]] = []
    npz_files: list[Path] = []
    ctx_cols = context_columns("ref", o.thresholds) + context_columns("alt", o.thresholds)
    for path in hap_files:
        gh = GeneHaplotypes.load(path)
        gid = str(gh.gene_id)
        if gid not in sat_files:
            raise SeqgxError(f"gene {gid} has no saturation ISM ('{gid}.saturation.npz' is not among the "
                             f"--ism inputs); re-run 'seqgx ism' with --tss-window > 0 (e.g. 1000) for "
                             f"this gene")
        sat = load_saturation(sat_files[gid], gid)
        ref_tok = np.asarray(gh.reference, dtype=np.uint8)
        var = gh.variants.reset_index(drop=True)
        vid_index = {str(v): i for i, v in enumerate(var["variant_id"].astype(str))}
        gd = drv_all[drv_all["gene_id"].astype(str) == gid].reset_index(drop=True)
        for r in dict.fromkeys(gd["readout"].astype(str)):
            if r not in names:
                raise SeqgxError(f"drivers of gene {gid} are for readout '{r}', but the model's readouts "
                                 f"are {', '.join(names) or 'none'}; pass the same --tracks / "
                                 f"--finetuned-weights as 'seqgx ism'")
            if r not in sat.readouts:
                raise SeqgxError(f"saturation ISM file '{sat_files[gid]}' has no readout '{r}' (has "
                                 f"{', '.join(sat.readouts)}); re-run 'seqgx ism' with the readouts of "
                                 f"'seqgx stats'")
        # Attribution tracks, scales and seqlets per readout of the saturation file.
        tracks: dict[str, tuple[np.ndarray, np.ndarray, float]] = {}
        seqlets_by_r: dict[str, list[dict[str, Any]]] = {}
        for r in sat.readouts:
            pos, a = _gene_track(sat, gh.tss, o.window, r)
            scale = gene_scale(a, o.scale)
            tracks[r] = (pos, a, scale)
            lst: list[dict[str, Any]] = []
            if math.isfinite(scale):
                v = a / scale
                calls = call_seqlets(v, o.seqlet_threshold, o.seqlet_min_length)
                pv = seqlet_pvalues(v, calls, o.seqlet_threshold, o.seqlet_min_length, o.seqlet_shuffles,
                                    gene_rng(o.seed, f"{gid}\t{r}"))
                for n, ((s, e, sign), p) in enumerate(zip(calls, pv, strict=True), start=1):
                    seq = "".join(ALPHABET[t] for t in ref_tok[pos[s:e + 1] - 1 - gh.window_start])
                    lst.append({"gene_id": gid, "readout": r, "seqlet_id": f"{gid}:{r}:{n}",
                                "chrom": gh.chrom, "start": int(pos[s]), "end": int(pos[e]),
                                "start_to_tss": int(pos[s] - gh.tss), "end_to_tss": int(pos[e] - gh.tss),
                                "length": int(e - s + 1), "sign": int(sign),
                                "attribution_sum": float(np.nansum(a[s:e + 1])),
                                "score_sum": float(np.nansum(v[s:e + 1])),
                                "max_abs_score": float(np.nanmax(np.abs(v[s:e + 1]))), "p_value": float(p),
                                "sequence": seq, "scale": scale, "scale_kind": o.scale})
            seqlets_by_r[r] = lst
            seq_rows.extend(lst)
        # Which drivers get neighbourhood ISM.
        todo: dict[str, int] = {}
        row_state: list[tuple[int | None, str]] = []
        for _, d in gd.iterrows():
            vi = vid_index.get(str(d["variant_id"]))
            if vi is None:
                raise SeqgxError(f"driver {d['variant_id']} of gene {gid} is not among the SNVs of "
                                 f"haplotypes file '{path}'; pass the drivers.tsv of this run")
            main = _tristate(pd.Series([d["is_main"]])).iloc[0] == 1.0
            wi = int(var.at[vi, "window_index"])
            if not (main or o.all_drivers):
                row_state.append((vi, "not_computed"))
            elif wi - o.flank < 0 or wi + o.flank >= len(ref_tok):
                row_state.append((vi, "near_window_end"))
            else:
                row_state.append((vi, "ok"))
                todo.setdefault(str(d["variant_id"]), vi)
        blocks: dict[str, DriverISM] = {}
        if todo:
            vis = list(todo.values())
            wis = var.loc[vis, "window_index"].to_numpy(np.int64)
            alts = encode("".join(var.loc[vis, "alt"].astype(str))).astype(np.int64)
            res = driver_neighbourhood_ism(ref_tok, wis, alts, readouts, engine=engine, outputs=outputs,
                                           flank=o.flank)
            blocks = dict(zip(todo, res, strict=True))
        npz_files.append(write_driver_ism(out / f"{gid}.driver_ism.npz", gh, names, list(blocks),
                                          list(blocks.values()), o.flank))
        # One row per driver.
        for (_, d), (vi, status) in zip(gd.iterrows(), row_state, strict=True):
            r, vid = str(d["readout"]), str(d["variant_id"])
            pos_d, wi = int(var.at[vi, "pos"]), int(var.at[vi, "window_index"])
            alt_tok = int(encode(str(var.at[vi, "alt"]))[0])
            _, _, scale = tracks[r]
            row: dict[str, Any] = {c: d[c] for c in DRIVER_COLUMNS}
            row["readout_name"] = d.get("readout_name", r)
            row["gene_r"] = gene_r.get((gid, r), math.nan)
            row["scale_kind"], row["scale"] = o.scale, scale
            vals = dict.fromkeys(ctx_cols, math.nan)
            if status == "ok":
                b = blocks[vid]
                k = names.index(r)
                cr = driver_context(b.ref_matrix[k], scale, o.thresholds)
                ca = driver_context(b.alt_matrix[k], scale, o.thresholds)
                vals.update(context_row(cr, "ref"))
                vals.update(context_row(ca, "alt"))
                if not (np.all(np.isfinite(b.ref_matrix[k])) and np.all(np.isfinite(b.alt_matrix[k]))):
                    status = "nan_ism"
                elif not math.isfinite(scale):
                    status = "no_scale"
            row["status"] = status
            row.update(vals)
            row.update(_seqlet_link(pos_d, gh.tss, o.window, seqlets_by_r.get(r, [])))
            row["ref_context"] = _context(ref_tok, wi, o.context_flank)
            row["alt_context"] = _context(ref_tok, wi, o.context_flank, alt_tok)
            drv_rows.append(row)
        # SNVs of the TSS track (chance) and matched controls, per readout.
        dist = signed_distance(var["pos"].to_numpy(np.int64), gh.tss, gh.strand) if len(var) else np.zeros(0)
        for r in sat.readouts:
            rd = gd[gd["readout"].astype(str) == r]
            drv_vi = [vid_index[str(v)] for v in rd["variant_id"]]
            controls = _match_controls(var["pos"].to_numpy(np.int64), dist, drv_vi, o.controls)
            near = np.abs(var["pos"].to_numpy(np.int64) - gh.tss) <= o.window
            keep = sorted(set(np.flatnonzero(near).tolist()) | set(controls))
            for vi in keep:
                p = int(var.at[vi, "pos"])
                wi = int(var.at[vi, "window_index"])
                link = _seqlet_link(p, gh.tss, o.window, seqlets_by_r.get(r, []))
                snv_rows.append({"gene_id": gid, "readout": r, "variant_id": str(var.at[vi, "variant_id"]),
                                 "pos": p, "ref": str(var.at[vi, "ref"]), "alt": str(var.at[vi, "alt"]),
                                 "distance_to_tss": int(dist[vi]), "is_driver": vi in drv_vi,
                                 "control_for": ",".join(str(var.at[c, "variant_id"])
                                                         for c in controls.get(vi, [])),
                                 "in_tss_window": bool(near[vi]), "in_seqlet": link["in_seqlet"],
                                 "ref_context": _context(ref_tok, wi, o.context_flank),
                                 "alt_context": _context(ref_tok, wi, o.context_flank,
                                                         int(encode(str(var.at[vi, "alt"]))[0]))})
        log.info("%s: %d drivers, %d with neighbourhood ISM, %d seqlets", gid, len(gd), len(blocks),
                 sum(len(v) for v in seqlets_by_r.values()))
    seqlets = pd.DataFrame(seq_rows, columns=[c for c in SEQLET_COLUMNS if not c.startswith("tf_")])
    ann = annotate_sequences(seqlets["sequence"].tolist(), db or (jaspar_motifs() if len(seqlets) else None),
                             o.tomtom_shuffles, o.seed) if len(seqlets) else pd.DataFrame(
        columns=["tf_name", "tf_matrix_id", "tf_p", "tf_q", "tf_shuffle_p", "tf_significant"])
    seqlets = pd.concat([seqlets.reset_index(drop=True), ann.reset_index(drop=True)], axis=1)[SEQLET_COLUMNS]
    driver_cols = [*DRIVER_COLUMNS, "readout_name", "gene_r", "status", "scale_kind", "scale", *ctx_cols,
                   "in_seqlet", "seqlet_id", "seqlet_tf", "seqlet_tf_matrix_id", "seqlet_tf_q",
                   "seqlet_tf_significant", "seqlet_distance", "ref_context", "alt_context"]
    dm = pd.DataFrame(drv_rows)
    if len(dm):
        info = seqlets.set_index("seqlet_id")
        ids = dm["seqlet_id"].fillna("")
        hit = ids.isin(info.index)
        for col, src in (("seqlet_tf", "tf_name"), ("seqlet_tf_matrix_id", "tf_matrix_id"),
                         ("seqlet_tf_q", "tf_q"), ("seqlet_tf_significant", "tf_significant")):
            dm[col] = None
            dm.loc[hit, col] = info.loc[ids[hit], src].to_numpy()
    dm = dm.reindex(columns=driver_cols)
    return BatchTables(dm, seqlets, pd.DataFrame(snv_rows, columns=SNV_COLUMNS), npz_files)


def _seqlet_link(pos: int, tss: int, window: int, seqlets: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """in_seqlet (NA outside the TSS track), the seqlet holding ``pos`` and the distance to the nearest."""
    inside = next((s for s in seqlets if s["start"] <= pos <= s["end"]), None)
    dist = min((max(s["start"] - pos, pos - s["end"], 0) for s in seqlets), default=None)
    return {"in_seqlet": (inside is not None) if abs(pos - tss) <= window else None,
            "seqlet_id": inside["seqlet_id"] if inside else None,
            "seqlet_distance": float(dist) if dist is not None else math.nan}


def _match_controls(pos: np.ndarray, dist: np.ndarray, drivers: Sequence[int], k: int
                    ) -> dict[int, list[int]]:
    """Variant index -> the indices of the drivers it is a matched control for.

    For each driver in order: the ``k`` non-driver SNVs of the gene nearest in signed distance to the TSS
    (ties: lower position), none within ``2 * DENOVO_FLANK`` bp of any driver and none used before."""
    out: dict[int, list[int]] = {}
    if k == 0 or not len(drivers):
        return out
    drv = np.asarray(drivers, dtype=np.int64)
    bad = np.zeros(len(pos), dtype=bool)
    bad[drv] = True
    bad |= (np.abs(pos[:, None] - pos[drv][None, :]) <= 2 * DENOVO_FLANK).any(1)
    for d in drv:
        cand = np.flatnonzero(~bad)
        if not cand.size:
            break
        order = np.lexsort((pos[cand], np.abs(dist[cand] - dist[d])))
        for c in cand[order[:k]]:
            out.setdefault(int(c), []).append(int(d))
            bad[c] = True
    return out


def _write_tsv(table: pd.DataFrame, path: Path) -> Path:
    """TSV with NA for missing values, 9 significant digits, booleans as true/false (the columns of
    :data:`seqgx.analysis.assess.BOOLEAN_COLUMNS`, the one list of every table's booleans)."""
    from seqgx.analysis.assess import BOOLEAN_COLUMNS, FALSE_WORD, TRUE_WORD

    t = table.copy()
    for c in BOOLEAN_COLUMNS:
        if c in t.columns:
            v = _tristate(t[c])
            t[c] = pd.Series(np.where(v.isna(), None, np.where(v == 1.0, TRUE_WORD, FALSE_WORD)),
                             index=t.index, dtype=object)
    with atomic_output(path) as tmp:
        t.to_csv(tmp, sep="\t", index=False, na_rep="NA", float_format="%.9g")
    return path


def write_batch_tables(tables: BatchTables, out_dir: str | Path, batch_name: str) -> list[Path]:
    """``<batch>.driver_motifs.tsv``, ``<batch>.seqlets.tsv``, ``<batch>.motif_snvs.tsv``."""
    if not batch_name or any(c in batch_name for c in "/\\\t\n") or batch_name.startswith("."):
        raise SeqgxError(f"--batch-name {batch_name!r} cannot be a file name; use letters, digits and "
                         f". _ - +")
    out = Path(out_dir)
    return [_write_tsv(tables.driver_motifs, out / f"{batch_name}.driver_motifs.tsv"),
            _write_tsv(tables.seqlets, out / f"{batch_name}.seqlets.tsv"),
            _write_tsv(tables.snvs, out / f"{batch_name}.motif_snvs.tsv")]


# ---------------------------------------------------------------------------------------------------
# All batches: merge and enrichment (the pipeline's MERGE step)


DRIVER_MOTIF_REQUIRED = ("gene_id", "readout", "variant_id", "is_main", "supported", "in_seqlet",
                         "ref_context", "alt_context")


def _sibling(path: Path, suffix: str) -> Path:
    return path.with_name(path.name[: -len("driver_motifs.tsv")] + suffix)


def merge_motif_tables(driver_motifs: Sequence[str | Path]
                       ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Concatenate ``<batch>.driver_motifs.tsv`` files (a directory stands for its ``*.driver_motifs.tsv``,
    a previous merge's ``driver_motifs.tsv`` excepted unless named) with the ``<batch>.seqlets.tsv`` and
    ``<batch>.motif_snvs.tsv`` beside each."""
    from seqgx.analysis.assess import expand_inputs

    files: list[Path] = []
    for item in driver_motifs:
        found = expand_inputs([item], "driver_motifs.tsv", "driver motifs")
        if Path(item).is_dir():
            found = [p for p in found if p.name.endswith(".driver_motifs.tsv")]
            if not found:
                raise SeqgxError(f"driver motifs directory '{item}' holds no '<batch>.driver_motifs.tsv' "
                                 f"files; pass the directory 'seqgx motifs' wrote")
        files.extend(found)
    files = list(dict.fromkeys(files))
    fix = "pass the files 'seqgx motifs' wrote"
    dms, seqs, snvs = [], [], []
    for f in files:
        if not f.name.endswith("driver_motifs.tsv"):
            raise SeqgxError(f"driver motifs file '{f}' is not named '<batch>.driver_motifs.tsv'; {fix}")
        dms.append(_read_table(f, "driver motifs file", DRIVER_MOTIF_REQUIRED, fix))
        sn = _sibling(f, "motif_snvs.tsv")
        if not sn.is_file():
            raise SeqgxError(f"driver motifs file '{f}' has no '{sn.name}' beside it; {fix} (all three "
                             f"tables of a batch)")
        snvs.append(_read_table(sn, "motif SNVs file", SNV_COLUMNS, fix))
        sq = _sibling(f, "seqlets.tsv")
        if sq.is_file():
            seqs.append(_read_table(sq, "seqlets file", ("gene_id", "readout", "seqlet_id"), fix))
    dm = pd.concat(dms, ignore_index=True) if dms else pd.DataFrame()
    key = ["gene_id", "readout", "variant_id"]
    if len(dm) and dm.duplicated(key).any():
        g = dm[dm.duplicated(key)].iloc[0]
        raise SeqgxError(f"driver {g['variant_id']} of gene {g['gene_id']} (readout {g['readout']}) is in "
                         f"two driver motifs tables; pass each batch once")
    sq = pd.concat(seqs, ignore_index=True) if seqs else pd.DataFrame(columns=SEQLET_COLUMNS)
    sn = pd.concat(snvs, ignore_index=True) if snvs else pd.DataFrame(columns=SNV_COLUMNS)
    return dm, sq, sn


def run_enrichment(driver_motifs: Sequence[str | Path], out_dir: str | Path, *,
                   genes: Sequence[str | Path] | None = None, alpha: float = ENRICHMENT_ALPHA,
                   fimo_threshold: float = FIMO_THRESHOLD, db: MotifDatabase | None = None,
                   drivers: pd.DataFrame | None = None) -> tuple[dict[str, Any], list[Path]]:
    """Merge the batches' motif tables and test enrichment around all drivers of the run. Writes under
    ``out_dir``: ``driver_motifs.tsv``, ``seqlets.tsv``, ``motif_snvs.tsv`` (concatenated),
    ``motif_enrichment.tsv``, ``motif_clusters.meme`` and ``motif_summary.json`` (:func:`motif_summary`).
    ``genes`` (a merged genes.tsv) replaces the drivers' ``gene_r``. ``drivers`` (one tissue's merged
    drivers): only their rows are kept, and the seqlets of their genes and readouts (the motif step ran
    once on every tissue's drivers). Returns (summary, paths)."""
    if not 0 < alpha <= 1:
        raise SeqgxError(f"--fdr-alpha must be in (0, 1], got {alpha}")
    dm, sq, sn = merge_motif_tables(driver_motifs)
    if drivers is not None:
        keys = set(zip(drivers["gene_id"].astype(str), drivers["readout"].astype(str),
                       drivers["variant_id"].astype(str), strict=True))
        pairs = {k[:2] for k in keys}

        def of_tissue(t: pd.DataFrame, key: list[str]) -> pd.DataFrame:
            wanted = keys if len(key) == 3 else pairs
            hit = [tuple(map(str, k)) in wanted for k in zip(*(t[c] for c in key), strict=True)]
            return t[np.asarray(hit, dtype=bool)].reset_index(drop=True) if len(t) else t

        dm = of_tissue(dm, ["gene_id", "readout", "variant_id"])
        sn = of_tissue(sn, ["gene_id", "readout"])
        sq = of_tissue(sq, ["gene_id", "readout"])
    if genes:
        r = read_gene_r(genes)
        dm["gene_r"] = [r.get((str(g), str(x)), math.nan)
                        for g, x in zip(dm["gene_id"], dm["readout"], strict=True)]
    table, matrices = enrichment(dm, sn, db, alpha, fimo_threshold)
    summary = motif_summary(dm, sn, table, alpha)
    out = Path(out_dir)
    paths = [_write_tsv(dm, out / "driver_motifs.tsv"), _write_tsv(sq, out / "seqlets.tsv"),
             _write_tsv(sn, out / "motif_snvs.tsv"), _write_tsv(table, out / "motif_enrichment.tsv"),
             write_meme(out / "motif_clusters.meme", matrices)]
    js = out / "motif_summary.json"
    with atomic_output(js) as tmp:
        tmp.write_text(json.dumps({"fdr_alpha": alpha, "readouts": summary}, indent=1,
                                  default=lambda x: None) .replace("NaN", "null") + "\n")
    paths.append(js)
    return summary, paths


def warm_up() -> None:
    """Compile memelite's TOMTOM and FIMO and the de novo kernel with numba once (about a minute on 2
    cores), so their cache (``NUMBA_CACHE_DIR``, or ``__pycache__`` beside the packages) serves every
    later process; the images and CI run this once."""
    db = jaspar_motifs()
    annotate_sequences(["TATAAAAG"], db, n_shuffles=2)
    fimo_sites(["ACGTATAAAAGGCTAGCTAGCTAGCTAGCTA"], db, centre_flank=3)
    pair_scores(["ACGTATAAAAGGC", "CCGTATAAAAGGC"], ["ACGTATTAAAGGC", "CCGTATTAAAGGC"])


if __name__ == "__main__":
    warm_up()
