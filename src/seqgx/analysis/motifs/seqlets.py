"""Seqlets: runs of strongly attributed bases of one sign in a gene's TSS track, and their p-values
against position-shuffled tracks."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from seqgx.analysis.motifs.defaults import SEQLET_MIN_LENGTH, SEQLET_SHUFFLES


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
