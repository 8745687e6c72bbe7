"""Linear algebra whose results do not depend on the CPU's BLAS kernel.

OpenBLAS picks a kernel per CPU (Haswell, SkylakeX, Zen, SandyBridge, ...): each sums a matrix product
in its own order, so ``a @ b`` and LAPACK's QR differ in the last bits from one machine to the next, and
a value written with 9 significant digits can then differ in its 9th digit (a p-value of a large t
amplifies the difference). Everything the statistics write is therefore computed with the functions
here (docs/methods.md, "Same tables on every CPU"):

- :func:`dot`, :func:`rows_dot`, :func:`project_out`, :func:`pivoted_basis`: numpy's own loops
  (``np.einsum`` without ``optimize``, which never calls BLAS) in an order fixed by the code;
- :func:`exact_matmul`: BLAS speed for the one large product (the null's weights x integer dosage), the
  weights rounded to a fixed-point grid coarse enough that every partial sum is exact in float64, so
  any summation order gives the same bits.
"""

from __future__ import annotations

import numpy as np

#: Grid of the null's weights (multiples of 2^-20: ~6 significant digits of an N(0, 1) draw).
WEIGHT_BITS = 20
_MANTISSA = 2.0 ** 53


def dot(a: np.ndarray, b: np.ndarray) -> float:
    """a . b of two (n,) vectors, float64."""
    return float(np.einsum("i,i->", np.asarray(a, dtype=float), np.asarray(b, dtype=float)))


def rows_dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise dot products of (m, n) with (m, n) or with one (n,) vector: (m,)."""
    a = np.asarray(a)
    b = np.asarray(b)
    return np.einsum("ij,j->i" if b.ndim == 1 else "ij,ij->i", a, b)


def project_out(x: np.ndarray, q: np.ndarray) -> np.ndarray:
    """x - (x Q) Q^T, in place on ``x`` (m, n) (a float array the caller owns); Q (n, p) orthonormal
    columns. Returns ``x``."""
    # Both products run along contiguous rows (measured 1.5x faster than the other layouts).
    qt = np.ascontiguousarray(q.T, dtype=x.dtype)  # (p, n)
    coef = np.einsum("ij,kj->ik", x, qt)  # (m, p)
    x -= np.einsum("ik,jk->ij", coef, np.ascontiguousarray(q, dtype=x.dtype))
    return x


def pivoted_basis(c: np.ndarray, rtol: float) -> np.ndarray:
    """Orthonormal basis (n, r) of the column space of ``c`` (n, k), columns chosen in column-pivoted order
    (each step the column with the largest norm left after removing the chosen ones, as LAPACK's
    ``geqp3``); a column whose remaining norm is at most ``rtol`` x the largest column norm is collinear
    and dropped. Modified Gram-Schmidt, each new direction orthogonalised twice ("twice is enough")."""
    work = np.array(c, dtype=float, order="F")
    n, k = work.shape
    norms = np.sqrt(np.einsum("ij,ij->j", work, work))
    limit = rtol * (float(norms.max()) if k else 0.0)
    basis: list[np.ndarray] = []
    left = list(range(k))
    while left:
        j = max(left, key=lambda col: (norms[col], -col))  # ties: the first column, as geqp3
        if not norms[j] > limit:
            break
        left.remove(j)
        v = work[:, j].copy()
        if basis:
            chosen = np.stack(basis, axis=1)  # (n, r)
            for _ in range(2):
                v -= np.einsum("ij,j->i", chosen, np.einsum("ij,i->j", chosen, v))
        v /= np.sqrt(dot(v, v))
        basis.append(v)
        if left:
            rest = work[:, left]
            rest -= np.outer(v, np.einsum("i,ij->j", v, rest))
            work[:, left] = rest
            norms[left] = np.sqrt(np.einsum("ij,ij->j", rest, rest))
    return np.stack(basis, axis=1) if basis else np.zeros((n, 0))


def exact_matmul(w: np.ndarray, d: np.ndarray) -> np.ndarray:
    """w @ d (float64) with the same bits on every CPU. ``w`` (m, k) is rounded to multiples of
    2^-:data:`WEIGHT_BITS`; with an integer-valued ``d`` (k, n) every product and partial sum is then an
    integer multiple of that grid below 2^53 of it (checked), so BLAS adds them without rounding in
    whatever order its kernel uses. A ``d`` with fractions, or operands too large for the grid, go through
    :func:`np.einsum` (no BLAS; slower, the same on every CPU)."""
    wq = np.rint(np.asarray(w, dtype=float) * 2.0 ** WEIGHT_BITS)
    d = np.asarray(d)
    integer = np.issubdtype(d.dtype, np.integer) or bool(np.all(d == np.rint(d)))
    df = d.astype(float)
    bound = float(np.abs(wq).max(initial=0.0)) * float(np.abs(df).max(initial=0.0)) * max(d.shape[0], 1)
    if integer and bound < _MANTISSA:
        out = wq @ df  # exact: the result is the same whatever order the kernel sums in
    else:
        out = np.einsum("ij,jk->ik", wq, df)
    out *= 2.0 ** -WEIGHT_BITS  # a power of two: exact
    return out


def grid_weights(w: np.ndarray) -> np.ndarray:
    """The weights :func:`exact_matmul` multiplies by: ``w`` rounded to multiples of 2^-WEIGHT_BITS."""
    return np.rint(np.asarray(w, dtype=float) * 2.0 ** WEIGHT_BITS) * 2.0 ** -WEIGHT_BITS


def exact_project(d: np.ndarray, q: np.ndarray) -> np.ndarray:
    """d @ q (float64) for integer ``d`` (m, n) and ``q`` (n, p) with |q| <= 1, the same bits on every
    CPU at BLAS speed: ``q`` is split into two fixed-point slices of b bits (``q ~ (hi + lo 2^-b) 2^-b``,
    b as large as keeps every partial sum of ``d @ hi`` and ``d @ lo`` an integer below 2^53), each
    slice's product is exact in any summation order, and their scaled sum is rounded once. ``q`` is
    represented to 2^-(2b+1) (b ~ 40 for 1,000 samples: far below float64's rounding of ``q``). Falls back
    to :func:`np.einsum` (no BLAS) when ``d`` is not integer-valued."""
    d = np.asarray(d)
    q = np.asarray(q, dtype=float)
    integer = np.issubdtype(d.dtype, np.integer) or bool(np.all(d == np.rint(d)))
    dmax = float(np.abs(d).max(initial=0))
    bits = 52 - int(np.ceil(np.log2(max(dmax, 1.0) * max(d.shape[1], 1) + 1.0)))
    df = d.astype(float)
    if not integer or bits < 24 or float(np.abs(q).max(initial=0.0)) > 1.0:
        return np.einsum("ij,jk->ik", df, q)
    scaled = q * 2.0 ** bits  # exact: a power of two
    hi = np.rint(scaled)
    lo = np.rint((scaled - hi) * 2.0 ** bits)  # scaled - hi is exact
    out = df @ hi  # exact: integers below 2^53
    out *= 2.0 ** -bits
    out += (df @ lo) * 2.0 ** -(2 * bits)
    return out
