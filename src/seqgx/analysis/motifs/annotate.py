"""Annotation with JASPAR: the motif database (JASPAR 2024 CORE vertebrates non-redundant, from
pyjaspar), TOMTOM matches of seqlets (memelite, with a column-shuffle p-value) and FIMO sites around
drivers."""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

from seqgx.analysis.motifs.defaults import (
    BASES,
    DENOVO_FLANK,
    FIMO_THRESHOLD,
    JASPAR_RELEASE,
    MATCH_ALPHA,
    TOMTOM_SHUFFLES,
)
from seqgx.errors import SeqgxError


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
