"""De novo motifs: ungapped pairwise alignment of the drivers' windows (a brute-force reference and the
numba kernel), complete-linkage clusters and each cluster's base counts aligned on its medoid."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from seqgx.analysis.motifs.defaults import (
    _COMPLEMENT,
    BASES,
    DENOVO_CUT,
    DENOVO_MAX_MISMATCHES,
    DENOVO_MIN_LENGTH,
)
from seqgx.errors import SeqgxError


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


def _consensus(counts: np.ndarray) -> str:
    tot = counts.sum(0)
    return "".join(BASES[int(np.argmax(col))] if t else "N" for col, t in zip(counts.T, tot, strict=True))
