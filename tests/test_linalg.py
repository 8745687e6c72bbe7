"""seqgx.analysis.linalg: products whose bits do not depend on the summation order (the BLAS kernel)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.linalg import qr

from seqgx.analysis import linalg


def test_exact_matmul_is_the_exactly_rounded_product_in_any_order():
    rng = np.random.default_rng(0)
    w = rng.standard_normal((40, 3000), dtype=np.float32)
    d = rng.integers(0, 3, size=(3000, 50)).astype(np.int8)
    got = linalg.exact_matmul(w, d)
    wq = linalg.grid_weights(w)
    # Every product and partial sum lies on the 2^-20 grid below 2^53 of it: math.fsum (exact, then
    # rounded once) in forward and in reversed order both give the same bits as the BLAS product.
    for i, j in [(0, 0), (7, 13), (39, 49)]:
        terms = wq[i] * d[:, j]
        assert got[i, j] == math.fsum(terms) == math.fsum(terms[::-1])
    # A different blocking of the sum (what another kernel does) gives the same bits.
    blocked = sum(wq[:, k:k + 97] @ d[k:k + 97].astype(float) for k in range(0, 3000, 97))
    np.testing.assert_array_equal(got, blocked)
    # The grid moves each weight by at most half a step.
    assert np.abs(wq - w).max() <= 2.0 ** -21


def test_exact_matmul_with_fractional_dosage_is_still_the_product():
    rng = np.random.default_rng(1)
    w = rng.standard_normal((5, 30), dtype=np.float32)
    d = rng.random((30, 8))
    np.testing.assert_allclose(linalg.exact_matmul(w, d), linalg.grid_weights(w) @ d, rtol=1e-12)


def test_pivoted_basis_spans_the_columns_and_drops_collinear_ones():
    rng = np.random.default_rng(2)
    a = rng.normal(size=(200, 4))
    c = np.column_stack([a, a[:, 0] + 2 * a[:, 2]])  # the fifth is collinear with the first and third
    q = linalg.pivoted_basis(c / np.linalg.norm(c, axis=0), 1e-10)
    assert q.shape == (200, 4)
    np.testing.assert_allclose(q.T @ q, np.eye(4), atol=1e-13)
    # The same column space as LAPACK's pivoted QR
    q_ref = qr(c, mode="economic", pivoting=True)[0][:, :4]
    np.testing.assert_allclose(q @ (q.T @ q_ref), q_ref, atol=1e-12)
    # Pivoting: the column with the largest norm comes first
    scaled = c * np.array([1, 5, 1, 1, 1])
    first = linalg.pivoted_basis(scaled, 1e-10)[:, 0]
    assert abs(first @ scaled[:, 1]) == pytest.approx(np.linalg.norm(scaled[:, 1]))


def test_project_out_equals_least_squares_residuals():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(6, 100))
    c = np.column_stack([np.ones(100), rng.normal(size=(100, 3))])
    q = np.linalg.qr(c)[0]
    ref = x - (np.linalg.lstsq(c, x.T, rcond=None)[0].T @ c.T)
    np.testing.assert_allclose(linalg.project_out(x.copy(), q), ref, atol=1e-12)


def test_exact_project_is_order_independent_and_the_product():
    rng = np.random.default_rng(4)
    d = rng.integers(0, 3, size=(300, 839)).astype(np.int8)
    q = np.linalg.qr(rng.normal(size=(839, 30)))[0]
    got = linalg.exact_project(d, q)
    np.testing.assert_allclose(got, d.astype(float) @ q, rtol=0, atol=1e-12)
    # Each slice's product is exact: summing it in blocks (another kernel's order) gives the same bits.
    bits = 52 - int(np.ceil(np.log2(2 * 839 + 1)))
    hi = np.rint(q * 2.0**bits)
    lo = np.rint((q * 2.0**bits - hi) * 2.0**bits)
    for part in (hi, lo):
        whole = d.astype(float) @ part
        blocked = sum(d[:, k:k + 64].astype(float) @ part[k:k + 64] for k in range(0, 839, 64))
        np.testing.assert_array_equal(whole, blocked)
    df = d.astype(float)
    np.testing.assert_array_equal(got, (df @ hi) * 2.0**-bits + (df @ lo) * 2.0**-(2 * bits))
