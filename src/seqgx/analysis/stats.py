"""Statistics core: how well a model's personal predictions track observed expression across people.

Pure, vectorised functions on numpy arrays (see ``docs/methods.md`` for every formula):

- :func:`pearson` / :func:`spearman` / :func:`rowwise_pearson` - correlation across people;
- :func:`residualize` / :func:`partial_pearson` / :func:`covariate_basis` - covariates: OLS residuals on
  [1, C] and partial correlation (n - k - 2 df); ``gene_statistics(..., covariates=C)`` uses them throughout;
- :func:`null_abs_r` - gene-specific null: |R| of random linear SNV models with observed expression;
  :func:`null_tstat` (the published t test) and :func:`empirical_p` (permutation-style p);
- :func:`bh_fdr` - Benjamini-Hochberg q-values across genes, NaN kept out of the count;
- :func:`eqtl` - per-SNV OLS slope, two-sided p and R of expression on alt dosage (closed form);
- :func:`linear_approximation` - per person sum of ISM x dosage, and its R with model and observation;
  :func:`gradient_approximation` - the same built from gradient attributions, and their R with ISM;
- :func:`forward_drivers` / :func:`driver_table` / :func:`driver_support` - driver SNVs by forward
  selection in |ISM| order, as published;
- :func:`gene_statistics` - every genes.tsv field for one gene, with a ``status`` for degenerate genes;
- :func:`summarize` - per-readout summary figures across genes;
- :func:`finetune_readout` / :func:`write_readout_weights` (read by :mod:`seqgx.model.readouts`) - the
  elastic-net readout from all tracks to expression, chromosomes held out.

Conventions: dosage matrices are (SNVs x samples); vectors over samples are (samples,). Degenerate input
(NaN, zero variance, too few samples) gives NaN outputs, never an exception.
"""

from __future__ import annotations

import math
import os
import warnings
import zlib
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as sps

from seqgx.analysis import linalg
from seqgx.errors import SeqgxError
from seqgx.io import atomic_output
from seqgx.tables import GENE_FIELDS  # the columns gene_statistics fills (genes.tsv)
from seqgx.threads import available_cpus, configured_threads

NULL_TESTS = ("empirical", "paper")
DEFAULT_NULL_DRAWS = 1000
DEFAULT_PAPER_DRAWS = 50
DRIVER_MIN_INCREASE = 0.05
DRIVER_ALPHA = 0.01

#: Columns of the table :func:`forward_drivers` returns.
DRIVER_FIELDS = ("variant_index", "ism", "rank", "frac", "frac_increase", "driver_r", "driver_p",
                 "main_driver")


# ----------------------------------------------------------------------------------------------------
# Correlation
# ----------------------------------------------------------------------------------------------------

def _r_to_p(r: np.ndarray, n: np.ndarray | int, n_covariates: np.ndarray | int = 0) -> np.ndarray:
    """Two-sided p of Pearson R under H0 (t = r sqrt(df/(1-r^2)), df = n - 2 - n_covariates); NaN where
    df <= 0. With covariates, R is a partial correlation: each covariate fitted costs one df."""
    r = np.asarray(r, dtype=float)
    n = np.broadcast_to(np.asarray(n, dtype=float), r.shape)
    df = n - 2 - np.asarray(n_covariates, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        rc = np.clip(r, -1.0, 1.0)
        t = rc * np.sqrt(df / ((1.0 - rc) * (1.0 + rc)))
        p = 2.0 * sps.t.sf(np.abs(t), np.where(df > 0, df, np.nan))
    p = np.where((df > 0) & np.isfinite(r), p, np.nan)
    # |r| == 1 gives t = inf and p = 0, which sf already returns; keep it.
    return p


def rowwise_pearson(rows: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Pearson R of each row of ``rows`` (k x n) with ``y`` (n,); all values must be finite.

    Rows or ``y`` with zero variance give NaN. Computed as one matrix-vector product on centred data.
    """
    rows = np.asarray(rows)
    y = np.asarray(y, dtype=rows.dtype if rows.dtype in (np.float32, np.float64) else float)
    yc = y - y.mean()
    yn = np.sqrt(np.einsum("i,i->", yc, yc))
    rc = rows - rows.mean(axis=1, keepdims=True)
    num = np.einsum("ij,j->i", rc, yc)
    den = np.sqrt(np.einsum("ij,ij->i", rc, rc)) * yn
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(den > 0, num / den, np.nan)
    return np.clip(r, -1.0, 1.0)


def pearson(x: np.ndarray, y: np.ndarray, n_covariates: int = 0) -> tuple[float, float, int]:
    """Pearson R, its two-sided p and the number of samples where both ``x`` and ``y`` are finite.

    Zero variance or fewer than 3 pairs give NaN R and p. ``n_covariates``: when ``x`` and ``y`` are
    residuals on k covariates (:func:`residualize`), R is their partial correlation and its p has
    n - k - 2 df (NaN when that is <= 0); :func:`partial_pearson` does both steps.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    ok = np.isfinite(x) & np.isfinite(y)
    n = int(ok.sum())
    if n < 2:
        return math.nan, math.nan, n
    r = float(rowwise_pearson(x[ok][None, :], y[ok])[0])
    return r, float(_r_to_p(np.array(r), n, n_covariates)), n


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman rho over samples where both values are finite (average ranks for ties); NaN if undefined."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    ok = np.isfinite(x) & np.isfinite(y)
    if ok.sum() < 2:
        return math.nan
    return float(rowwise_pearson(sps.rankdata(x[ok])[None, :], sps.rankdata(y[ok]))[0])


# ----------------------------------------------------------------------------------------------------
# Covariates: residuals and partial correlation
# ----------------------------------------------------------------------------------------------------

#: A residual whose norm is below this fraction of the input's norm is rounding noise: the covariates
#: explain the variable fully, and it is set to exactly 0 (constant), so degenerate checks see a constant.
RESIDUAL_RTOL = 1e-9
#: Pivoted-QR diagonal (on centred, unit-norm covariate columns) below which a covariate is collinear with
#: the intercept and the covariates before it and is not fitted (it would add nothing but cost a df).
_COVARIATE_RANK_RTOL = 1e-10


def _as_covariates(covariates: np.ndarray | None, n: int) -> np.ndarray | None:
    """Covariates as a float (n, k) matrix, or None when there are none (None or k = 0)."""
    if covariates is None:
        return None
    c = np.asarray(covariates, dtype=float)
    if c.ndim == 1:
        c = c[:, None]
    if c.ndim != 2 or c.shape[0] != n:
        raise ValueError(f"covariates {c.shape} do not match {n} samples")
    return c if c.shape[1] else None


def covariate_basis(covariates: np.ndarray | None, n: int | None = None) -> np.ndarray:
    """Orthonormal basis Q (n, 1 + k_eff) of the column space of [1, C] (thin QR).

    ``covariates``: (n, k) finite (or None / k = 0: Q is the constant column, n then required). The
    intercept is Q's first column; covariates are centred (the intercept takes their mean), scaled to unit
    norm and put through a column-pivoted QR so that covariates constant or collinear on these samples are
    dropped: k_eff = Q.shape[1] - 1 is the number that costs degrees of freedom.
    """
    c = None if covariates is None else np.asarray(covariates, dtype=float)
    if c is not None and c.ndim == 1:
        c = c[:, None]
    if n is None:
        if c is None:
            raise ValueError("covariate_basis needs n when there are no covariates")
        n = c.shape[0]
    if c is not None and c.shape[0] != n:
        raise ValueError(f"covariates {c.shape} do not match {n} samples")
    one = np.full((n, 1), 1.0 / math.sqrt(n)) if n else np.zeros((0, 1))
    if c is None or c.shape[1] == 0 or n < 2:
        return one
    if not np.all(np.isfinite(c)):
        raise ValueError("covariates must be finite (drop samples with a missing covariate first)")
    cc = c - c.mean(axis=0)
    norm = np.sqrt(np.einsum("ij,ij->j", cc, cc))
    # A covariate constant on these samples centres to rounding noise: relative to its own size.
    scale = np.sqrt(np.einsum("ij,ij->j", c, c))
    varies = norm > 1e-12 * np.maximum(scale, np.finfo(float).tiny)
    if not varies.any():
        return one
    cc = cc[:, varies] / norm[varies]
    # Column-pivoted Gram-Schmidt in numpy's own loops, not LAPACK's QR: the same Q on every CPU.
    return np.hstack([one, linalg.pivoted_basis(cc, _COVARIATE_RANK_RTOL)])


_BASIS_CACHE: dict[tuple, np.ndarray] = {}


def _gene_covariate_basis(covariates: np.ndarray) -> np.ndarray:
    """:func:`covariate_basis`, remembered for the last few covariate matrices: genes of a tissue mostly
    use the same samples, hence the same basis."""
    c = np.ascontiguousarray(covariates, dtype=float)
    key = (c.shape, hash(c.tobytes()))
    q = _BASIS_CACHE.get(key)
    if q is None:
        q = covariate_basis(c)
        if len(_BASIS_CACHE) >= 4:
            _BASIS_CACHE.pop(next(iter(_BASIS_CACHE)))
        _BASIS_CACHE[key] = q
    return q


def _residualize_q(x: np.ndarray, q: np.ndarray, dtype: Any = None) -> np.ndarray:
    """x - (x Q) Q^T for rows of ``x`` (m, n) or a vector (n,), Q orthonormal (n, p): one GEMM pair.
    Residuals below :data:`RESIDUAL_RTOL` of the input's norm are set to exactly 0."""
    x = np.asarray(x)
    if x.ndim == 1:
        return _residualize_rows(x[None, :], q, dtype)[0][0]
    return _residualize_rows(x, q, dtype)[0]


def _residualize_rows(x: np.ndarray, q: np.ndarray, dtype: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_residualize_q` of a (m, n) matrix; also returns which rows are not exactly 0 (saves a pass
    over the matrix to find SNVs the covariates explain)."""
    if dtype is None:
        dtype = np.float32 if x.dtype == np.float32 else np.float64
    out = x.astype(dtype)  # a copy: the residual is computed in place on it
    ref = np.einsum("ij,ij->i", out, out, dtype=float)  # squared norm of the input, for the tolerance
    if q.shape[1] == 1:
        out -= out.mean(axis=1, dtype=float, keepdims=True).astype(dtype)  # intercept only: centring
    else:
        linalg.project_out(out, q)  # not BLAS: the same residuals on every CPU
    ss = np.einsum("ij,ij->i", out, out, dtype=float)
    tol = RESIDUAL_RTOL if dtype == np.float64 else 1e-5  # float32 rounding is ~1e-7 of the input
    zero = ss <= (tol * tol) * ref
    out[zero] = 0.0  # explained by the covariates: exactly constant
    return out, ~zero


def residualize(x: np.ndarray, covariates: np.ndarray | None) -> np.ndarray:
    """Residuals of OLS of each row of ``x`` on [1, C] (per variable, with intercept).

    ``x``: (n,) or (m, n) (rows: variables over the n samples), finite (a NaN spoils its whole row);
    ``covariates``: (n, k) finite, or None / k = 0 (then the residuals are just the centred ``x``).
    Computed from a thin QR of [1, C] (:func:`covariate_basis`): x - (x Q) Q^T, one GEMM pair for all rows.
    float32 input stays float32 (large dosage matrices: half the memory and GEMM time); anything else
    (integer dosage too) gives float64. Residuals that are rounding noise (the covariates explain the
    variable fully) are exactly 0, so the result reads as constant.
    """
    x = np.asarray(x)
    n = x.shape[-1]
    return _residualize_q(x, covariate_basis(_as_covariates(covariates, n), n))


def partial_pearson(x: np.ndarray, y: np.ndarray, covariates: np.ndarray | None,
                    ) -> tuple[float, float, int]:
    """Partial correlation of ``x`` and ``y`` given ``covariates`` (n, k): Pearson R of their OLS
    residuals on [1, C], its two-sided p with n - k - 2 df (k: covariates not constant or collinear on
    the samples used) and n, the samples where ``x``, ``y`` and every covariate are finite.
    No covariates (None, k = 0) gives :func:`pearson`. Degenerate input gives NaN R and p."""
    x = np.asarray(x, dtype=float).ravel()
    y = np.asarray(y, dtype=float).ravel()
    c = _as_covariates(covariates, x.shape[0])
    if c is None:
        return pearson(x, y)
    ok = np.isfinite(x) & np.isfinite(y) & np.all(np.isfinite(c), axis=1)
    n = int(ok.sum())
    if n < 3:
        return math.nan, math.nan, n
    q = covariate_basis(c[ok])
    k = q.shape[1] - 1
    if n - k - 2 < 1:
        return math.nan, math.nan, n
    r = float(rowwise_pearson(_residualize_q(x[ok], q)[None, :], _residualize_q(y[ok], q))[0])
    return r, float(_r_to_p(np.array(r), n, k)), n


# ----------------------------------------------------------------------------------------------------
# Gene-specific null
# ----------------------------------------------------------------------------------------------------

def gene_rng(seed: int, gene_id: str) -> np.random.Generator:
    """A Generator seeded from the run seed and the gene id, so a gene's null draws do not depend on
    which batch or process it lands in (CRC32 is stable across Python runs, unlike ``hash``)."""
    return np.random.default_rng([int(seed), zlib.crc32(str(gene_id).encode())])


NULL_BLOCK = 125  # null draws per child generator: the draw layout, fixed so results never depend on threads
_POOL: tuple[int, int, ThreadPoolExecutor] | None = None


def _pool_workers() -> int:
    """How many threads fill weight blocks: the step's ``--threads`` (:func:`seqgx.threads.set_threads`),
    else the cores available; at most 4 (the pool's cap before ``--threads`` existed)."""
    return min(4, configured_threads() or available_cpus())


def _pool(workers: int) -> ThreadPoolExecutor:
    """Threads for filling weight blocks: numpy's generators release the GIL when filling ``out``.
    One pool per process and thread count: a forked child cannot use its parent's threads, so it
    makes its own."""
    global _POOL
    if _POOL is None or _POOL[:2] != (os.getpid(), workers):
        if _POOL is not None and _POOL[0] == os.getpid():
            _POOL[2].shutdown(wait=False)
        _POOL = (os.getpid(), workers, ThreadPoolExecutor(max_workers=workers))
    return _POOL[2]


def draw_null_weights(rng: np.random.Generator, n_draws: int, n_snv: int, dtype: Any = np.float32,
                      ) -> np.ndarray:
    """Null weights w ~ N(0, 1), (n_draws, n_snv). Rows come in blocks of :data:`NULL_BLOCK` draws, block b
    from the b-th child of ``rng.spawn``, so blocks can be filled in parallel and the same generator state
    always gives the same weights."""
    n_blocks = -(-int(n_draws) // NULL_BLOCK)
    children = rng.spawn(n_blocks)
    w = np.empty((int(n_draws), int(n_snv)), dtype=dtype)

    def fill(b: int) -> None:
        children[b].standard_normal(out=w[b * NULL_BLOCK:(b + 1) * NULL_BLOCK], dtype=dtype)

    workers = _pool_workers() if n_blocks > 1 and w.size >= 200_000 else 1
    if workers > 1:  # with --threads 1 the blocks are filled in this thread only
        list(_pool(workers).map(fill, range(n_blocks)))
    else:
        for b in range(n_blocks):
            fill(b)
    return w


def _polymorphic_rows(d: np.ndarray) -> np.ndarray:
    """Rows of a (SNVs x samples) matrix that are not constant across samples."""
    if d.shape[1] == 0:
        return np.zeros(d.shape[0], bool)
    return np.any(d != d[:, :1], axis=1)


def null_abs_r(dosage: np.ndarray, observed: np.ndarray, n_draws: int,
               rng: np.random.Generator | int | None = None, dtype: Any = np.float64,
               method: str = "auto", basis: np.ndarray | None = None) -> np.ndarray:
    """|R| between observed expression and ``n_draws`` random linear SNV models of the gene.

    Each draw has one weight per SNV, w ~ N(0, 1) (:func:`draw_null_weights`); its prediction is
    ``w @ dosage`` (dosage: SNVs x samples, all finite; observed: samples, finite). With centred dosage Dc
    and the observation standardised to unit norm z, R = (W Dc z) / ||W Dc||_row. SNVs constant across
    the samples add only a constant to every prediction and are dropped before drawing. Returns NaN for
    every draw when no SNV varies or ``observed`` is constant.

    ``basis``: an orthonormal basis (samples, 1 + k) of [1, C] (:func:`covariate_basis`) for a partial
    correlation on covariates: ``dosage`` is then the RAW dosage of the SNVs to draw for (those varying
    beyond the covariates), ``observed`` the residualised observation, and each null prediction is
    residualised on the basis (w @ resid(D) == resid(w @ D)).

    float64 (default): W D is computed exactly (:func:`seqgx.analysis.linalg.exact_matmul`: the weights
    on a 2^-20 grid) and everything after it in numpy's own loops, so the same seed gives the same bits
    on every CPU (docs/methods.md, "Same tables on every CPU"). ``dtype=np.float32`` is the former fast
    path (one float32 GEMM, ``method`` 'direct' or the Gram form 'gram' when there are fewer SNVs than
    that costs; 'auto' picks): its rounding depends on the BLAS kernel. The weights are drawn as float32
    either way (the same draws).
    """
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    d = np.asarray(dosage)
    y = np.asarray(observed, dtype=float)
    if d.ndim != 2 or d.shape[1] != y.shape[0]:
        raise ValueError(f"dosage {d.shape} does not match observed {y.shape}")
    n_draws = max(int(n_draws), 0)
    poly = _polymorphic_rows(d)
    if not poly.all():  # (no copy when every SNV varies, the usual case)
        d = d[poly]
    yc = y - y.mean()
    yn = float(np.sqrt(linalg.dot(yc, yc)))
    if d.shape[0] == 0 or not yn > 0 or n_draws < 1:
        return np.full(n_draws, np.nan)
    n_snv, n_s = d.shape
    w = draw_null_weights(rng, n_draws, n_snv, np.float32)
    if np.dtype(dtype) == np.float64:
        p = linalg.exact_matmul(w, d)  # (draws, samples): null predictions, the one large product
        p -= p.mean(axis=1, keepdims=True)
        num = linalg.rows_dot(p, yc / yn)  # yc is orthogonal to the basis: P z = resid(P) z
        ss = linalg.rows_dot(p, p)
        if basis is not None and basis.shape[1] > 1:
            # ||resid(P)||^2 = ||P_c||^2 - ||P_c Q||^2 (Q orthonormal; the intercept column is done)
            coef = np.einsum("ij,kj->ik", p, np.ascontiguousarray(basis[:, 1:].T))
            ss = ss - linalg.rows_dot(coef, coef)
    else:
        if basis is not None:
            raise ValueError("null_abs_r with a covariate basis computes in float64")
        z = (yc / yn).astype(dtype)
        if method == "auto":
            method = "gram" if n_snv * (n_s + n_draws) < n_draws * n_s else "direct"
        if method not in ("direct", "gram"):
            raise ValueError(f"method must be auto, direct or gram, got {method!r}")
        dm = d.astype(dtype)
        mu = dm.mean(axis=1, dtype=float).astype(dtype)
        # Matrix-vector products go through einsum: single-threaded BLAS GEMV spins badly on shared cores.
        if method == "gram":
            dm -= mu[:, None]
            gram = dm @ dm.T
            num = np.einsum("ij,j->i", w, np.einsum("ij,j->i", dm, z)).astype(float)
            ss = np.einsum("ij,ij->i", w @ gram, w, dtype=float)
        else:
            p = w @ dm
            p -= np.einsum("ij,j->i", w, mu)[:, None]  # centre each prediction (cheaper than centring D)
            num = np.einsum("ij,j->i", p, z).astype(float)
            ss = np.einsum("ij,ij->i", p, p, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.abs(np.where(ss > 0, num / np.sqrt(ss), np.nan))
    return np.minimum(out, 1.0)


def default_null_draws(null_test: str) -> int:
    """Null draws per gene when none are asked for: 50 for the published 'paper' test (as the study drew),
    1,000 for 'empirical' (so its p can reach 1/1001). The one place the default is decided."""
    if null_test not in NULL_TESTS:
        raise SeqgxError(f"null_test must be one of {', '.join(NULL_TESTS)}, got {null_test!r}")
    return DEFAULT_PAPER_DRAWS if null_test == "paper" else DEFAULT_NULL_DRAWS


def null_sd(null_abs: np.ndarray) -> float:
    """SD of the finite null |R| draws: the POPULATION SD (ddof 0), as the published null script computes
    it (numpy's default ``std``); NaN with fewer than 2 finite draws."""
    a = np.asarray(null_abs, dtype=float)
    a = a[np.isfinite(a)]
    return float(a.std(ddof=0)) if a.size > 1 else math.nan


def null_tstat(r: np.ndarray | float, null_mean: np.ndarray | float, null_sd: np.ndarray | float,
               n_draws: np.ndarray | int) -> tuple[np.ndarray, np.ndarray]:
    """The published ("paper") null test, on arrays (broadcast).

    t = (|r| - null_mean) / sqrt(null_sd / n_draws) - the standard deviation, not the variance, under the
    root, exactly as published, with null_sd the population SD (:func:`null_sd`); p = upper tail of
    Student's t with n_draws - 1 df, and p = 1 when t < 0.
    NaN in any input (or null_sd <= 0, n_draws < 2) gives NaN t and p.
    """
    r = np.asarray(r, dtype=float)
    m = np.asarray(null_mean, dtype=float)
    s = np.asarray(null_sd, dtype=float)
    n = np.asarray(n_draws, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = (np.abs(r) - m) / np.sqrt(s / n)
        valid = np.isfinite(t) & (s > 0) & (n >= 2)
        t = np.where(valid, t, np.nan)
        p = np.where(t < 0, 1.0, sps.t.sf(t, np.where(n >= 2, n - 1, np.nan)))
    p = np.where(valid, p, np.nan)
    if np.ndim(t) == 0:
        return float(t), float(p)
    return t, p


def empirical_p(r: np.ndarray | float, null_abs: np.ndarray) -> np.ndarray | float:
    """Empirical null p = (1 + #{null |R| >= |r|}) / (1 + draws), with NaN draws left out.

    ``null_abs``: (draws,) for a scalar ``r``, or (genes, draws) for ``r`` of shape (genes,).
    NaN ``r`` or no finite draw gives NaN.
    """
    r = np.asarray(r, dtype=float)
    null_abs = np.asarray(null_abs, dtype=float)
    if null_abs.ndim == 1 and r.ndim == 0:
        null_abs = null_abs[None, :]
        scalar = True
    else:
        scalar = False
    r1 = np.atleast_1d(r)
    finite = np.isfinite(null_abs)
    draws = finite.sum(axis=1)
    # A null |R| within 1e-7 of the observed counts as a tie (>=): the observed R and the null come from
    # different arithmetic (float64 dosage products vs the model's float32 predictions).
    ge = (null_abs >= np.abs(r1)[:, None] - 1e-7) & finite
    with np.errstate(invalid="ignore"):
        p = (1.0 + ge.sum(axis=1)) / (1.0 + draws)
    p = np.where(np.isfinite(r1) & (draws > 0), p, np.nan)
    return float(p[0]) if scalar else p


# ----------------------------------------------------------------------------------------------------
# Multiple testing
# ----------------------------------------------------------------------------------------------------

def bh_fdr(p: np.ndarray | Sequence[float]) -> np.ndarray:
    """Benjamini-Hochberg q-values (statsmodels ``fdr_bh``); NaN p stays NaN and is not counted in m."""
    from statsmodels.stats.multitest import multipletests

    p = np.asarray(p, dtype=float)
    q = np.full(p.shape, np.nan)
    ok = np.isfinite(p)
    if ok.any():
        q[ok] = multipletests(p[ok], method="fdr_bh")[1]
    return q


def significant(q: np.ndarray, alpha: float = 0.05) -> np.ndarray:
    """q < alpha; NaN q is not significant."""
    q = np.asarray(q, dtype=float)
    with np.errstate(invalid="ignore"):
        return np.isfinite(q) & (q < alpha)


# ----------------------------------------------------------------------------------------------------
# eQTL
# ----------------------------------------------------------------------------------------------------

def eqtl(dosage: np.ndarray, expression: np.ndarray, n_covariates: int = 0,
         ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per SNV: OLS slope of expression on alt dosage (with intercept), its two-sided p (t test, n-2 df)
    and Pearson R. Closed form, vectorised over SNVs.

    ``dosage``: (SNVs, samples) or (samples,); ``expression``: (samples,). Each SNV uses the samples
    where both its dosage and the expression are finite. Zero-variance dosage gives NaN for all three;
    zero-variance expression gives slope 0 with NaN p and R.

    With covariates, pass dosage and expression residualised on them (:func:`residualize`) and their
    number k as ``n_covariates``: by Frisch-Waugh-Lovell the slope is then the dosage coefficient of
    expression ~ 1 + dosage + C, R the partial correlation, and p (n - k - 2 df) that coefficient's t test.
    """
    d = np.asarray(dosage)
    one = d.ndim == 1
    d = np.atleast_2d(d)
    y = np.asarray(expression, dtype=float)
    if d.shape[1] != y.shape[0]:
        raise ValueError(f"dosage {d.shape} does not match expression {y.shape}")
    y_ok = np.isfinite(y)
    d_ok = None if np.issubdtype(d.dtype, np.integer) else np.isfinite(d)
    if d_ok is None or d_ok.all():
        # Fast path (the usual case): every SNV uses the same samples; one centring pass and a GEMV.
        if not y_ok.all():
            d, y = d[:, y_ok], y[y_ok]
        n = np.full(d.shape[0], float(d.shape[1]))
        xc = d - d.mean(axis=1, dtype=float, keepdims=True) if d.shape[1] else d.astype(float)
        yc = y - y.mean() if y.size else y
        sxx = np.einsum("ij,ij->i", xc, xc)
        sxy = np.einsum("ij,j->i", xc, yc)
        syy = np.full(d.shape[0], linalg.dot(yc, yc))
    else:
        ok = d_ok & y_ok[None, :]
        n = ok.sum(axis=1).astype(float)
        x = np.where(ok, d, 0.0)
        yy = np.where(ok, np.where(y_ok, y, 0.0)[None, :], 0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            xc = np.where(ok, x - (x.sum(axis=1) / n)[:, None], 0.0)
            yc = np.where(ok, yy - (yy.sum(axis=1) / n)[:, None], 0.0)
        sxx = np.einsum("ij,ij->i", xc, xc)
        syy = np.einsum("ij,ij->i", yc, yc)
        sxy = np.einsum("ij,ij->i", xc, yc)
    with np.errstate(divide="ignore", invalid="ignore"):
        # Relative tolerance: a dosage row that is constant up to rounding has no variance.
        var_ok = (sxx > 1e-12 * np.maximum(1.0, n)) & (n >= 2)
        slope = np.where(var_ok, sxy / sxx, np.nan)
        r = np.where(var_ok & (syy > 0), sxy / np.sqrt(sxx * syy), np.nan)
        r = np.clip(r, -1.0, 1.0)
    p = _r_to_p(r, n, n_covariates)  # the slope's t test equals the t test of R
    if one:
        return np.float64(slope[0]), np.float64(p[0]), np.float64(r[0])
    return slope, p, r


def partial_eqtl(dosage: np.ndarray, expression: np.ndarray, covariates: np.ndarray | None,
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`eqtl` of every SNV on residuals of ``covariates`` (n, k) (the partial regression, n - k - 2
    df), without forming the residual dosage: slope = (d . y_r) / ||resid(d)||^2 with y_r the residual
    expression (orthogonal to the covariates, so d . y_r = resid(d) . y_r) and ||resid(d)||^2 from the
    raw row and its coefficients on the covariates (:class:`_ResidualDosage`). ``dosage`` (SNVs, n) and
    ``expression`` (n,) finite; no covariates gives :func:`eqtl`."""
    d = np.atleast_2d(np.asarray(dosage))
    y = np.asarray(expression, dtype=float)
    c = _as_covariates(covariates, y.shape[0])
    if c is None:
        return eqtl(d, y)
    q = covariate_basis(c)
    k = q.shape[1] - 1
    n = y.shape[0]
    resid = _ResidualDosage.of(d, q)
    yr = _residualize_q(y, q)
    sxy = np.einsum("ij,j->i", d, yr)
    sxx = resid.ss
    syy = linalg.dot(yr, yr)
    with np.errstate(divide="ignore", invalid="ignore"):
        var_ok = (sxx > 1e-12 * max(1.0, n)) & (n >= 2)
        slope = np.where(var_ok, sxy / sxx, np.nan)
        r = np.clip(np.where(var_ok & (syy > 0), sxy / np.sqrt(sxx * syy), np.nan), -1.0, 1.0)
    return slope, _r_to_p(r, np.full(d.shape[0], float(n)), k), r


# ----------------------------------------------------------------------------------------------------
# Linear approximation and drivers
# ----------------------------------------------------------------------------------------------------

def linear_approximation(ism: np.ndarray, dosage: np.ndarray) -> np.ndarray:
    """Per person: sum over SNVs of ISM x alt dosage (ism: (SNVs,), dosage: (SNVs, samples))."""
    ism = np.asarray(ism, dtype=float)
    d = np.asarray(dosage)
    if d.shape[0] == 0:
        return np.zeros(d.shape[1])
    return np.einsum("i,ij->j", ism, d, dtype=float)


def gradient_approximation(grad: np.ndarray, ism: np.ndarray | None, dosage: np.ndarray,
                           prediction: np.ndarray) -> tuple[float, float]:
    """The linear approximation built from gradient attributions instead of ISM: (R(sum of grad x dosage,
    prediction), R(grad, ISM) across SNVs). A NaN gradient counts as 0, as a NaN ISM does; no finite
    gradient at all (a run without gradients) gives NaN for both, so does a missing ``ism`` for the second.
    ``dosage`` and ``prediction`` must already be restricted to the samples the statistics use (and, with
    covariates, residualised on them: R is then the partial correlation)."""
    g = np.asarray(grad, dtype=float).ravel()
    if not np.isfinite(g).any():
        return math.nan, math.nan
    g = np.where(np.isfinite(g), g, 0.0)
    if isinstance(dosage, _ResidualDosage):  # resid(g D) = g resid(D); SNVs the covariates explain add 0
        approx = _residualize_q(linear_approximation(np.where(dosage.varies, g, 0.0), dosage.raw), dosage.q)
    else:
        approx = linear_approximation(g, dosage)
    approx_r = pearson(approx, prediction)[0]
    ism_r = pearson(g, np.asarray(ism, dtype=float).ravel())[0] if ism is not None else math.nan
    return approx_r, ism_r


@dataclass
class _ResidualDosage:
    """The dosage residualised on covariates, without the (SNVs x samples) residual matrix: each row's
    coefficients on the non-constant basis columns and its residual squared norm (Pythagoras), computed
    so that the bits do not depend on the CPU (docs/methods.md, "Same tables on every CPU")."""

    raw: np.ndarray  # (SNVs, n) raw dosage
    q: np.ndarray  # (n, 1 + k) orthonormal basis of [1, C]
    coef: np.ndarray  # (SNVs, k) coefficients of each raw row on q[:, 1:]; 0 where it does not vary
    ss: np.ndarray  # (SNVs,) squared norm of each residual row; 0 where it does not vary
    varies: np.ndarray  # (SNVs,) bool: the row varies beyond the covariates

    #: Residual^2 below this fraction of the raw row's ||.||^2: recomputed row by row (the subtraction
    #: ||d_c||^2 - ||coef||^2 has lost too many digits there)
    RECOMPUTE = 1e-8

    @classmethod
    def of(cls, d: np.ndarray, q: np.ndarray) -> _ResidualDosage:
        n = d.shape[1]
        poly = _polymorphic_rows(d)
        coef = np.zeros((d.shape[0], q.shape[1] - 1))
        coef[poly] = linalg.exact_project(d[poly], q[:, 1:])
        if np.issubdtype(d.dtype, np.integer):
            s1 = d.sum(axis=1, dtype=np.int64).astype(float)
            s2 = np.einsum("ij,ij->i", d, d, dtype=np.int64).astype(float)  # exact
        else:
            df = d.astype(float)
            s1, s2 = df.sum(axis=1), linalg.rows_dot(df, df)
        ref = s2  # the input's squared norm, as _residualize_rows' tolerance
        ss = (s2 - s1 * s1 / n) - linalg.rows_dot(coef, coef)
        recompute = np.flatnonzero(poly & (ss <= cls.RECOMPUTE * ref))
        if recompute.size:
            rows, _ = _residualize_rows(d[recompute], q)
            ss[recompute] = linalg.rows_dot(rows, rows)
        varies = poly & (ss > (RESIDUAL_RTOL * RESIDUAL_RTOL) * ref)
        ss[~varies] = 0.0
        coef[~varies] = 0.0
        return cls(d, q, coef, ss, varies)

    def rows(self, idx: np.ndarray) -> np.ndarray:
        """Explicit residual rows ``idx`` (float64; exactly 0 where a row does not vary)."""
        idx = np.asarray(idx, dtype=np.int64)
        if idx.size == 0:
            return np.zeros((0, self.raw.shape[1]))
        out, _ = _residualize_rows(self.raw[idx], self.q)
        out[~self.varies[idx]] = 0.0
        return out


def _empty_drivers() -> pd.DataFrame:
    dtypes = ("int64", "float64", "int64", "float64", "float64", "float64", "float64", "bool")
    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in zip(DRIVER_FIELDS, dtypes, strict=True)})


def forward_drivers(ism: np.ndarray, dosage: np.ndarray, prediction: np.ndarray,
                    min_increase: float = DRIVER_MIN_INCREASE, alpha: float = DRIVER_ALPHA,
                    n_covariates: int = 0) -> pd.DataFrame:
    """Driver SNVs by forward selection in |ISM| order, as published.

    SNVs are sorted by |ISM| descending (ties: original order). For step i the partial approximation is
    the sum over the first i SNVs of ISM x dosage; frac_i = R(partial_i, prediction) / R(full, prediction)
    (frac_0 = 0; an undefined R of a constant partial sum counts as 0). SNV i is a driver when
    frac_i - frac_(i-1) > ``min_increase`` and its own term ISM_i x dosage_i correlates positively with the
    prediction with two-sided p < ``alpha`` / n_SNVs. The main driver is the driver with the largest
    increase. All prefixes are computed at once from one cumulative sum over the sorted SNV axis.

    Samples where the prediction or any dosage is not finite are left out; a NaN ISM counts as 0.
    Returns one row per driver (columns :data:`DRIVER_FIELDS`, ``variant_index`` into the input SNV
    order, ``rank`` 1-based in |ISM| order), sorted by rank; empty when the full approximation does not
    correlate with the prediction.

    With covariates, pass dosage and prediction residualised on them (:func:`residualize`) and their
    number k as ``n_covariates``: every R is then a partial correlation and the driver's own p has
    n - k - 2 df.
    """
    ism = np.asarray(ism, dtype=float)
    d = np.asarray(dosage)
    pred = np.asarray(prediction, dtype=float)
    if d.ndim != 2 or d.shape[0] != ism.shape[0] or d.shape[1] != pred.shape[0]:
        raise ValueError(f"ism {ism.shape}, dosage {d.shape} and prediction {pred.shape} do not match")
    keep = np.isfinite(pred)
    if d.shape[0] and not np.issubdtype(d.dtype, np.integer):
        keep &= np.all(np.isfinite(d), axis=0)
    if not keep.all():
        d, pred = d[:, keep], pred[keep]
    return _driver_scan(ism, d, pred, min_increase, alpha, n_covariates)[0]


def _cumsum_rows(x: np.ndarray) -> None:
    """In-place cumulative sum over axis 0 of a C-ordered matrix. A loop of contiguous row additions is
    2-3x faster than ``np.cumsum(axis=0)``, whose inner loop strides across rows."""
    for i in range(1, x.shape[0]):
        x[i] += x[i - 1]


def _driver_scan(ism: np.ndarray, d: np.ndarray, pred: np.ndarray, min_increase: float = DRIVER_MIN_INCREASE,
                 alpha: float = DRIVER_ALPHA, n_covariates: int = 0,
                 ) -> tuple[pd.DataFrame, np.ndarray | None]:
    """:func:`forward_drivers` on finite inputs; also returns the centred full linear approximation
    (sum of ISM x dosage minus its mean; None when there are fewer than 3 samples or no SNV)."""
    n_snv = d.shape[0]
    if n_snv == 0 or pred.shape[0] < 3:
        return _empty_drivers(), None
    ism_ok = np.where(np.isfinite(ism), ism, 0.0)
    order = np.argsort(-np.abs(ism_ok), kind="stable")
    ds = d[order]
    # Centred terms ISM_i x (dosage_i - mean_i), rows in |ISM| order (float64: prefix sums stay exact).
    tc = ds - ds.mean(axis=1, dtype=float, keepdims=True)
    tc *= ism_ok[order, None]
    pc = pred - pred.mean()
    cov = np.einsum("ij,j->i", tc, pc)
    own_ss = np.einsum("ij,ij->i", tc, tc)
    _cumsum_rows(tc)  # row i is now the centred partial sum over the first i SNVs
    approx = tc[-1].copy()
    ss = np.einsum("ij,ij->i", tc, tc)
    return _drivers_from_prefix(ism, order, pc, cov, own_ss, ss, min_increase, alpha, n_covariates), approx


def _driver_scan_residuals(ism: np.ndarray, d: _ResidualDosage, pred: np.ndarray,
                           min_increase: float = DRIVER_MIN_INCREASE, alpha: float = DRIVER_ALPHA,
                           n_covariates: int = 0) -> tuple[pd.DataFrame, np.ndarray | None]:
    """:func:`_driver_scan` on the dosage residualised on covariates (``pred`` residualised too), from the
    raw rows and their coefficients: a residual term is the raw centred term minus its projection
    ``(ISM_i coef_i) Q^T``, so each prefix's residual norm is ``||S_i||^2 - ||K_i||^2`` (S, K the
    cumulative sums of the raw terms and of their coefficients) and its covariance with the residual
    prediction that of the raw prefix (the prediction is orthogonal to Q). Prefixes where that
    subtraction loses too many digits are formed explicitly."""
    raw = d.raw
    n_snv = raw.shape[0]
    if n_snv == 0 or pred.shape[0] < 3:
        return _empty_drivers(), None
    ism_ok = np.where(np.isfinite(ism), ism, 0.0)
    order = np.argsort(-np.abs(ism_ok), kind="stable")
    weight = np.where(d.varies, ism_ok, 0.0)[order]  # a SNV the covariates explain adds exactly 0
    ds = raw[order]
    tc = ds - ds.mean(axis=1, dtype=float, keepdims=True)
    tc *= weight[:, None]
    kc = d.coef[order] * weight[:, None]  # (SNVs, k): each term's coefficients on the covariates
    pc = pred - pred.mean()
    cov = np.einsum("ij,j->i", tc, pc)
    own_ss = weight * weight * d.ss[order]
    _cumsum_rows(tc)
    _cumsum_rows(kc)
    raw_ss = np.einsum("ij,ij->i", tc, tc)
    ss = raw_ss - linalg.rows_dot(kc, kc)
    qt = np.ascontiguousarray(d.q[:, 1:].T)
    redo = np.flatnonzero((ss <= _ResidualDosage.RECOMPUTE * raw_ss) & (raw_ss > 0))
    if redo.size:
        rows = tc[redo] - np.einsum("ik,kj->ij", kc[redo], qt)
        ss[redo] = linalg.rows_dot(rows, rows)
    approx = tc[-1] - np.einsum("k,kj->j", kc[-1], qt)
    return _drivers_from_prefix(ism, order, pc, cov, own_ss, ss, min_increase, alpha, n_covariates), approx


def _drivers_from_prefix(ism: np.ndarray, order: np.ndarray, pc: np.ndarray, cov: np.ndarray,
                         own_ss: np.ndarray, ss: np.ndarray, min_increase: float, alpha: float,
                         n_covariates: int) -> pd.DataFrame:
    """The drivers of a scan in |ISM| ``order``: each term's covariance with the centred prediction
    ``pc`` and squared norm (``cov``, ``own_ss``), each prefix's squared norm ``ss``."""
    n_snv = order.shape[0]
    pn = float(np.sqrt(linalg.dot(pc, pc)))
    with np.errstate(divide="ignore", invalid="ignore"):
        own_r = np.clip(np.where(own_ss > 0, cov / (np.sqrt(own_ss) * pn), np.nan), -1.0, 1.0)
    own_p = _r_to_p(own_r, pc.shape[0], n_covariates)
    with np.errstate(divide="ignore", invalid="ignore"):
        # A prefix that is constant up to rounding (e.g. only zero-ISM SNVs so far) has no correlation.
        r_prefix = np.where(ss > 1e-20 * np.cumsum(own_ss), np.cumsum(cov) / (np.sqrt(ss) * pn), np.nan)
    r_prefix = np.clip(r_prefix, -1.0, 1.0)
    r_full = r_prefix[-1]
    if not np.isfinite(r_full) or r_full == 0 or not pn > 0:
        return _empty_drivers()
    frac = np.where(np.isfinite(r_prefix), r_prefix / r_full, 0.0)
    increase = np.diff(frac, prepend=0.0)
    with np.errstate(invalid="ignore"):
        is_driver = (increase > min_increase) & (own_r > 0) & (own_p < alpha / n_snv)
    idx = np.flatnonzero(is_driver)
    if idx.size == 0:
        return _empty_drivers()
    out = pd.DataFrame({
        "variant_index": order[idx].astype(np.int64),
        "ism": ism[order[idx]],
        "rank": (idx + 1).astype(np.int64),
        "frac": frac[idx],
        "frac_increase": increase[idx],
        "driver_r": own_r[idx],
        "driver_p": own_p[idx],
    })
    out["main_driver"] = np.arange(len(out)) == int(np.argmax(out["frac_increase"].to_numpy()))
    return out


def driver_support(ism: np.ndarray, eqtl_slope: np.ndarray) -> np.ndarray:
    """Whether each driver's ISM sign agrees with its eQTL slope sign: 1.0 yes, 0.0 no (either zero
    counts as no), NaN when either input is NaN. Float so that means over drivers stay NaN-aware."""
    a = np.asarray(ism, dtype=float)
    b = np.asarray(eqtl_slope, dtype=float)
    with np.errstate(invalid="ignore"):
        same = (np.sign(a) == np.sign(b)) & (a != 0) & (b != 0)
    return np.where(np.isfinite(a) & np.isfinite(b), same.astype(float), np.nan)


def driver_table(drivers: pd.DataFrame, dosage: np.ndarray, observed: np.ndarray,
                 distance_to_tss: np.ndarray | None = None, covariates: np.ndarray | None = None,
                 ) -> pd.DataFrame:
    """Add per-driver eQTL slope/p/R on ``observed``, carriers (dosage > 0), carrier fraction, distance to
    TSS (when given, indexed like the dosage rows) and ``supported`` (sign(ISM) == sign(eQTL slope)).

    ``covariates`` (samples, k): the eQTL is then the partial regression on them (:func:`eqtl` on
    residuals, n - k - 2 df), over the samples where ``observed``, every covariate and every driver's
    dosage are finite; carriers still count the raw dosage (carrying an allele is not a residual)."""
    d = np.asarray(dosage)
    idx = drivers["variant_index"].to_numpy(dtype=np.int64)
    dd = d[idx].astype(float) if len(idx) else np.zeros((0, d.shape[1]))
    c = _as_covariates(covariates, d.shape[1])
    if c is None:
        return _driver_table(drivers, dd, dd, observed, distance_to_tss, 0)
    y = np.asarray(observed, dtype=float)
    ok = np.isfinite(y) & np.all(np.isfinite(c), axis=1) & np.all(np.isfinite(dd), axis=0)
    q = covariate_basis(c[ok])
    eq_d = np.zeros(dd.shape)
    eq_d[:, ok] = _residualize_q(dd[:, ok], q)
    eq_y = np.full(y.shape, np.nan)  # samples left out of the eQTL: NaN, so eqtl() skips them
    eq_y[ok] = _residualize_q(y[ok], q)
    return _driver_table(drivers, dd, eq_d, eq_y, distance_to_tss, q.shape[1] - 1)


def _driver_table(drivers: pd.DataFrame, dd: np.ndarray, eqtl_dosage: np.ndarray, eqtl_observed: np.ndarray,
                  distance_to_tss: np.ndarray | None, n_covariates: int) -> pd.DataFrame:
    """:func:`driver_table` from the drivers' raw dosage rows ``dd`` (float, one row per driver: carriers)
    and the rows the eQTL uses, ``eqtl_dosage`` with ``eqtl_observed`` (raw, or residuals on
    ``n_covariates`` covariates)."""
    out = drivers.copy()
    idx = out["variant_index"].to_numpy(dtype=np.int64)
    slope, p, r = eqtl(eqtl_dosage, eqtl_observed, n_covariates)
    out["eqtl_slope"], out["eqtl_p"], out["eqtl_r"] = slope, p, r
    ok = np.isfinite(dd)
    out["carriers"] = ((dd > 0) & ok).sum(axis=1).astype(np.int64)
    with np.errstate(invalid="ignore", divide="ignore"):
        out["carrier_fraction"] = out["carriers"].to_numpy() / ok.sum(axis=1)
    if distance_to_tss is not None:
        out["distance_to_tss"] = np.asarray(distance_to_tss)[idx] if len(idx) else np.zeros(0, np.int64)
    out["supported"] = driver_support(out["ism"].to_numpy(), slope)
    return out


# ----------------------------------------------------------------------------------------------------
# One gene
# ----------------------------------------------------------------------------------------------------

def gene_statistics(prediction: np.ndarray, observed: np.ndarray, dosage: np.ndarray,
                    ism: np.ndarray | None = None, null_test: str = "empirical",
                    n_draws: int | None = None, rng: np.random.Generator | int | None = None,
                    min_samples: int = 20, with_drivers: bool = False,
                    distance_to_tss: np.ndarray | None = None, grad: np.ndarray | None = None,
                    covariates: np.ndarray | None = None, null_dtype: Any = np.float64,
                    ) -> dict[str, Any] | tuple[dict[str, Any], pd.DataFrame]:
    """All genes.tsv statistics of one gene (fields :data:`GENE_FIELDS`).

    ``prediction``, ``observed``: (samples,), NaN where missing; ``dosage``: (SNVs, samples) alt dosage;
    ``ism``: (SNVs,) or None. Statistics use the samples where prediction, observation and every dosage
    are finite. ``null_test``: 'empirical' (default) or 'paper'; ``n_draws`` None: :func:`default_null_draws`.
    ``null_t`` is always the published t statistic; ``null_p`` is the chosen test's p. ``grad``: (SNVs,)
    gradient attributions (first-order ISM) or None: ``grad_approx_r`` and ``grad_ism_r``
    (:func:`gradient_approximation`).

    Integer dosage (the int8 of ``GeneHaplotypes.dosage``) is used without a float copy. ``rng``: a
    Generator or a seed; use :func:`gene_rng` (run seed, gene id) so a gene's null is reproducible.

    ``status`` is 'ok', or the reason the statistics are NaN: 'too_few_samples' (< ``min_samples``),
    'constant_expression', 'constant_prediction', 'no_snvs' (no SNV varies across the samples: the null
    and ISM statistics are NaN, R is still reported). With ``with_drivers`` returns
    ``(fields, drivers)`` where drivers is :func:`forward_drivers` annotated by :func:`driver_table`.

    ``covariates``: (samples, k) aligned with ``prediction``, or None. Samples with a NaN covariate are
    dropped like NaN predictions. Every correlation is then a partial correlation: prediction, observation
    and the polymorphic dosage rows are residualised on [1, C] (OLS per gene, on the samples used; one
    GEMM pair for the dosage) and R, Spearman (of the residuals), the null, the linear approximations,
    the drivers and the drivers' eQTL are computed on the residuals, every p with n - k - 2 df. ``k`` is
    recorded as ``n_covariates``: covariates constant or collinear on the samples used do not count.
    Means and SDs, the status checks for constant input and the drivers' carriers use the raw values; a
    gene with n < k + 3 is 'too_few_samples'; observation or prediction fully explained by the
    covariates is 'constant_expression' / 'constant_prediction'; no SNV varying beyond the covariates is
    'no_snvs'. Without covariates (None or k = 0) the results are those of the plain statistics, bit for bit.
    ``null_dtype``: the null's arithmetic (:func:`null_abs_r`; float64 makes the tables CPU-independent).
    """
    if null_test not in NULL_TESTS:
        raise SeqgxError(f"null_test must be one of {', '.join(NULL_TESTS)}, got {null_test!r}")
    if n_draws is None:
        n_draws = default_null_draws(null_test)
    pred = np.asarray(prediction, dtype=float).ravel()
    obs = np.asarray(observed, dtype=float).ravel()
    d = np.asarray(dosage)  # integer dosage stays integer: no float copy of the whole matrix
    if d.size == 0:
        d = np.zeros((0, pred.shape[0]), np.int8)
    elif d.ndim == 1:
        d = d[None, :]
    if pred.shape != obs.shape or d.shape[1] != pred.shape[0]:
        raise ValueError(f"prediction {pred.shape}, observed {obs.shape} and dosage {d.shape} do not match")
    cov = _as_covariates(covariates, pred.shape[0])
    keep = np.isfinite(pred) & np.isfinite(obs)
    if not np.issubdtype(d.dtype, np.integer):
        keep &= np.all(np.isfinite(d), axis=0)
    if cov is not None:
        keep &= np.all(np.isfinite(cov), axis=1)
    if not keep.all():
        pred, obs, d = pred[keep], obs[keep], d[:, keep]
        cov = cov[keep] if cov is not None else None
    n = int(keep.sum())
    nan = math.nan
    # Basis of [1, C] on the samples used, once per gene: every residual below reuses it.
    q = _gene_covariate_basis(cov) if cov is not None and n else None
    k = q.shape[1] - 1 if q is not None else 0
    res: dict[str, Any] = dict.fromkeys(GENE_FIELDS, nan)
    res.update(n_samples=n, n_snvs=int(d.shape[0]), n_covariates=k, null_draws=0, n_drivers=0)
    drivers = _empty_drivers()
    if n:
        res.update(obs_mean=float(obs.mean()), obs_sd=float(obs.std(ddof=1)) if n > 1 else nan,
                   pred_mean=float(pred.mean()), pred_sd=float(pred.std(ddof=1)) if n > 1 else nan)
    d_raw = d
    poly_rows = _polymorphic_rows(d)  # on the raw dosage: constant SNVs stay constant
    polymorphic = bool(poly_rows.any())
    if n < max(int(min_samples), 3, k + 3):  # k + 3: at least 1 df left for the partial correlation's p
        status = "too_few_samples"
    elif not np.ptp(obs) > 0:
        status = "constant_expression"
    elif not np.ptp(pred) > 0:
        status = "constant_prediction"
    elif not polymorphic:
        status = "no_snvs"
    else:
        status = "ok"
    if q is not None and status in ("ok", "no_snvs"):
        # Partial correlation: everything below sees residuals on the covariates. The eQTL of the
        # drivers, the approximations and the null are linear in dosage, so residualising the dosage
        # once residualises all of them (w @ resid(D) == resid(w @ D)).
        pred, obs = _residualize_q(pred, q), _residualize_q(obs, q)
        if not obs.any():
            status = "constant_expression"
        elif not pred.any():
            status = "constant_prediction"
        elif status == "ok":
            # The residual dosage is never formed whole: each SNV's coefficients on the covariates
            # (one exact product) and its residual norm; rows only where they are needed.
            resid_d = _ResidualDosage.of(d_raw, q)
            if not resid_d.varies.any():
                status = "no_snvs"  # no SNV varies beyond the covariates
    res["status"] = status
    if status in ("ok", "no_snvs"):
        r, p, _ = pearson(pred, obs, k)
        res.update(r=r, r_pvalue=p, spearman=spearman(pred, obs))
    if status == "ok":
        if q is None:
            null = null_abs_r(d, obs, n_draws, rng, dtype=null_dtype)
        elif np.dtype(null_dtype) == np.float64:  # the raw dosage of the SNVs that vary beyond them
            null = null_abs_r(d_raw[resid_d.varies], obs, n_draws, rng, basis=q)
        else:
            rows = resid_d.rows(np.flatnonzero(resid_d.varies))
            null = null_abs_r(rows, obs, n_draws, rng, dtype=null_dtype)
        fin = null[np.isfinite(null)]
        if fin.size:
            m = float(fin.mean())
            s = null_sd(fin)  # population SD (ddof 0), as published
            t, tp = null_tstat(res["r"], m, s, fin.size)
            res.update(null_mean=m, null_sd=s, null_draws=int(fin.size), null_t=t,
                       null_p=tp if null_test == "paper" else empirical_p(res["r"], fin))
        if ism is not None:
            ism = np.asarray(ism, dtype=float).ravel()
            if ism.shape[0] != d.shape[0]:
                raise ValueError(f"ism {ism.shape} does not match dosage {d.shape}")
            # approx: centred sum of ISM x dosage
            drivers, approx = (_driver_scan(ism, d, pred) if q is None
                               else _driver_scan_residuals(ism, resid_d, pred, n_covariates=k))
            if approx is not None:
                res["approx_r"] = pearson(approx, pred)[0]
                res["approx_obs_r"] = pearson(approx, obs)[0]
            res["n_drivers"] = int(len(drivers))
        if grad is not None:
            res["grad_approx_r"], res["grad_ism_r"] = gradient_approximation(
                grad, ism, d if q is None else resid_d, pred)
    if with_drivers:
        if q is None or status != "ok":
            return res, driver_table(drivers, d, obs, distance_to_tss)
        # eQTL on the residuals (partial regression slope), carriers on the raw dosage.
        idx = drivers["variant_index"].to_numpy(dtype=np.int64)
        return res, _driver_table(drivers, d_raw[idx].astype(float), resid_d.rows(idx), obs,
                                  distance_to_tss, k)
    return res


# ----------------------------------------------------------------------------------------------------
# Summary across genes
# ----------------------------------------------------------------------------------------------------

def _mean(x: pd.Series | np.ndarray) -> float:
    x = np.asarray(x, dtype=float)
    x = x[np.isfinite(x)]
    return float(x.mean()) if x.size else math.nan


def summarize(genes: pd.DataFrame, drivers: pd.DataFrame | None = None) -> dict[str, dict[str, Any]]:
    """Per readout summary figures (see ``docs/methods.md``), as ``{readout: {name: value}}``.

    ``genes``: columns gene_id, r, significant, and optionally readout (absent: one readout 'all') and
    predixcan_r. ``drivers``: columns gene_id, supported, optionally readout. Undefined figures are NaN.
    """
    genes = genes.copy()
    if "readout" not in genes:
        genes["readout"] = "all"
    if drivers is None:
        drivers = pd.DataFrame(columns=["gene_id", "readout", "supported"])
    drivers = drivers.copy()
    if "readout" not in drivers:
        drivers["readout"] = "all"
    out: dict[str, dict[str, Any]] = {}
    for readout, g in genes.groupby("readout", sort=True):
        r = g["r"].to_numpy(dtype=float)
        sig = (g["significant"].astype("boolean").fillna(False).to_numpy(dtype=bool)
               if "significant" in g else np.zeros(len(g), bool))
        tested = np.isfinite(r)
        with np.errstate(invalid="ignore"):
            n_sig = int(sig.sum())
            n_sig_neg = int((sig & (r < 0)).sum())
            n_sig_02 = int((sig & (np.abs(r) > 0.2)).sum())
        pr = g["predixcan_r"].to_numpy(dtype=float) if "predixcan_r" in g else np.full(len(g), np.nan)
        both = np.isfinite(pr) & tested
        corr = math.nan
        if both.sum() >= 3:
            corr = pearson(np.abs(r[both]), pr[both])[0]
        res: dict[str, Any] = {
            "n_genes_tested": int(tested.sum()),
            "n_significant": n_sig,
            "n_significant_negative": n_sig_neg,
            "fraction_significant_negative": n_sig_neg / n_sig if n_sig else math.nan,
            "n_significant_abs_r_gt_0_2": n_sig_02,
            "mean_r": _mean(r),
            "n_genes_with_predixcan": int(np.isfinite(pr).sum()),
            "mean_r_model_on_predixcan_genes": _mean(r[both]),
            "mean_r_predixcan": _mean(pr[both]),
            "corr_abs_r_model_vs_predixcan": corr,
        }
        dr = drivers[drivers["readout"] == readout]
        dr = dr[dr["gene_id"].isin(set(g["gene_id"]))]
        per_gene = dr.groupby("gene_id")
        n_per_gene = per_gene.size()
        n_with = int((n_per_gene > 0).sum())
        res["n_genes_with_drivers"] = n_with
        res["fraction_single_driver"] = float((n_per_gene == 1).mean()) if n_with else math.nan
        res["fraction_at_most_5_drivers"] = float((n_per_gene <= 5).mean()) if n_with else math.nan
        frac_supported = per_gene["supported"].apply(_mean) if n_with else pd.Series(dtype=float)
        gene_r = g.drop_duplicates("gene_id").set_index("gene_id")["r"]
        sign = gene_r.reindex(frac_supported.index).to_numpy(dtype=float)
        with np.errstate(invalid="ignore"):
            res["supported_fraction_positive_genes"] = _mean(frac_supported.to_numpy()[sign > 0])
            res["supported_fraction_negative_genes"] = _mean(frac_supported.to_numpy()[sign < 0])
        out[str(readout)] = res
    return out


# ----------------------------------------------------------------------------------------------------
# Fine-tuned readout: elastic net from all tracks to expression
# ----------------------------------------------------------------------------------------------------

def elastic_net_cv(n_alphas: int, **kwargs: Any) -> Any:
    """sklearn ElasticNetCV with ``n_alphas`` penalties on its automatic grid, across sklearn versions
    (``n_alphas`` before 1.7, an integer ``alphas`` after)."""
    import inspect

    from sklearn.linear_model import ElasticNetCV

    if "n_alphas" in inspect.signature(ElasticNetCV.__init__).parameters:
        return ElasticNetCV(n_alphas=n_alphas, **kwargs)
    return ElasticNetCV(alphas=n_alphas, **kwargs)


def finetune_readout(X: np.ndarray, y: np.ndarray, chrom: Sequence[str] | np.ndarray,
                     l1_ratio: float | Sequence[float] = 0.5, n_alphas: int = 30, n_folds: int = 5,
                     max_iter: int = 5000, seed: int = 0,
                     ) -> tuple[np.ndarray, float, float, pd.DataFrame]:
    """Elastic net from reference-sequence track outputs to mean observed expression, chromosomes held out.

    ``X``: (genes, tracks) features (already transformed, e.g. log2 of the centre-bin outputs);
    ``y``: (genes,) mean expression; ``chrom``: (genes,) chromosome of each gene. Features are
    standardised for fitting and the weights mapped back to the raw feature scale, so
    ``X @ weights + intercept`` is the prediction. Outer folds: GroupKFold by chromosome (``n_folds``
    groups of whole chromosomes; each held-out fold's genes are predicted by a model that never saw its
    chromosomes, the penalty chosen by an inner GroupKFold by chromosome). The final weights come from
    ElasticNetCV with GroupKFold by chromosome on all genes.

    Returns ``(weights, intercept, heldout_r, heldout)`` where ``heldout`` has columns chrom, fold,
    observed, predicted (out-of-fold) per gene.
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import GroupKFold

    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    chrom = np.asarray(chrom).astype(str)
    if X.ndim != 2 or X.shape[0] != y.shape[0] or chrom.shape[0] != y.shape[0]:
        raise ValueError(f"X {X.shape}, y {y.shape} and chrom {chrom.shape} do not match")
    ok = np.all(np.isfinite(X), axis=1) & np.isfinite(y)
    n_groups = len(np.unique(chrom[ok]))
    if n_groups < 3:
        raise SeqgxError(f"fine-tuning needs genes on at least 3 chromosomes to hold whole chromosomes "
                         f"out, got {n_groups}; use more genes")
    X, y, chrom_ok = X[ok], y[ok], chrom[ok]
    k = min(int(n_folds), n_groups)

    def fit(Xt: np.ndarray, yt: np.ndarray, groups: np.ndarray) -> tuple[np.ndarray, float]:
        mu, sd = Xt.mean(axis=0), Xt.std(axis=0)
        sd = np.where(sd > 0, sd, 1.0)
        inner = GroupKFold(n_splits=min(k, len(np.unique(groups))))
        model = elastic_net_cv(n_alphas, l1_ratio=l1_ratio, cv=list(inner.split(Xt, yt, groups)),
                               max_iter=max_iter, random_state=seed, selection="random")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit((Xt - mu) / sd, yt)
        w = model.coef_ / sd
        return w, float(model.intercept_ - mu @ w)

    heldout_pred = np.full(y.shape[0], np.nan)
    fold_of = np.full(y.shape[0], -1)
    for f, (tr, te) in enumerate(GroupKFold(n_splits=k).split(X, y, chrom_ok)):
        w, b = fit(X[tr], y[tr], chrom_ok[tr])
        heldout_pred[te] = X[te] @ w + b
        fold_of[te] = f
    weights, intercept = fit(X, y, chrom_ok)
    heldout_r = pearson(heldout_pred, y)[0]
    heldout = pd.DataFrame({"chrom": chrom_ok, "fold": fold_of, "observed": y, "predicted": heldout_pred})
    return weights, intercept, heldout_r, heldout


def _format_weight(x: float) -> str:
    # Published format: rounded to 6 decimals, no exponent, no trailing zeros ("0", "-0.021459", "3.87769").
    s = f"{round(float(x), 6):.6f}".rstrip("0").rstrip(".")
    return "0" if s in ("-0", "") else s


def write_readout_weights(path: str | Path, track_names: Sequence[str], weights: np.ndarray,
                          intercept: float) -> Path:
    """Write readout weights in the published CSV format: header ``tracks,weights``, one row per track
    in output order, then ``offset,<intercept>``; CRLF line ends, values rounded to 6 decimals."""
    weights = np.asarray(weights, dtype=float).ravel()
    names = [str(t) for t in track_names]
    if len(names) != weights.shape[0]:
        raise ValueError(f"{len(names)} track names but {weights.shape[0]} weights")
    if not np.all(np.isfinite(weights)) or not math.isfinite(float(intercept)):
        raise ValueError("readout weights and intercept must be finite")
    bad = [t for t in names if any(c in t for c in ',"\r\n')]
    if bad:
        raise SeqgxError(f"track name {bad[0]!r} contains a comma, quote or line break, which the readout "
                         f"CSV format cannot hold; rename the track")
    lines = ["tracks,weights"] + [f"{t},{_format_weight(w)}" for t, w in zip(names, weights, strict=True)]
    lines.append(f"offset,{_format_weight(intercept)}")
    path = Path(path)
    with atomic_output(path) as tmp:
        tmp.write_bytes(("\r\n".join(lines) + "\r\n").encode())
    return path

