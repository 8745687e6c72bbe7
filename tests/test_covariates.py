"""Covariates: residuals, partial correlation and its degrees of freedom, checked against statsmodels OLS,
the closed-form partial correlation and slow per-draw loops; never against snapshots of our own output."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats as sps

from seqgx.analysis import stats


def _ols(y: np.ndarray, x: np.ndarray, c: np.ndarray):
    """statsmodels OLS y ~ 1 + x + C; the coefficient of x is params[1]."""
    return sm.OLS(y, sm.add_constant(np.column_stack([x, c]), has_constant="add")).fit()


def _p_formula(r: float, n: int, k: int) -> float:
    df = n - k - 2
    t = r * math.sqrt(df / (1 - r * r))
    return float(2 * sps.t.sf(abs(t), df))


# ---------------------------------------------------------------------------------------------------
# residualize
# ---------------------------------------------------------------------------------------------------


def test_residualize_equals_statsmodels_resid():
    rng = np.random.default_rng(0)
    n, k = 60, 4
    c = rng.normal(size=(n, k)) * [1.0, 100.0, 1e-3, 5.0] + [0.0, 1e4, 3.0, -2.0]  # scales differ a lot
    x = rng.normal(size=(7, n)) + 0.5 * c[:, 0] + 0.01 * c[:, 1]
    exog = sm.add_constant(c)
    want = np.stack([sm.OLS(row, exog).fit().resid for row in x])
    np.testing.assert_allclose(stats.residualize(x, c), want, atol=1e-10)
    np.testing.assert_allclose(stats.residualize(x[3], c), want[3], atol=1e-10)
    assert stats.residualize(x[3], c).dtype == np.float64
    # Integer dosage gives float64; float32 stays float32 (within float32 rounding).
    d = rng.integers(0, 3, size=(5, n)).astype(np.int8)
    want_d = np.stack([sm.OLS(row.astype(float), exog).fit().resid for row in d])
    assert stats.residualize(d, c).dtype == np.float64
    np.testing.assert_allclose(stats.residualize(d, c), want_d, atol=1e-10)
    r32 = stats.residualize(d.astype(np.float32), c)
    assert r32.dtype == np.float32
    np.testing.assert_allclose(r32, want_d, atol=1e-4)


def test_residualize_without_covariates_is_centring():
    x = np.array([[1.0, 2.0, 6.0], [3.0, 3.0, 3.0]])
    want = np.array([[-2.0, -1.0, 3.0], [0.0, 0.0, 0.0]])
    np.testing.assert_allclose(stats.residualize(x, None), want, atol=1e-15)
    np.testing.assert_allclose(stats.residualize(x, np.zeros((3, 0))), want, atol=1e-15)
    assert np.all(stats.residualize(x, None)[1] == 0.0)  # a constant row is exactly 0


def test_residualize_rank_deficient_covariates_match_statsmodels():
    # A duplicated covariate, a constant one and a linear combination: statsmodels (pinv) gives the
    # projection onto the column space, and only 2 covariates count for the df.
    rng = np.random.default_rng(1)
    n = 40
    a, b = rng.normal(size=n), rng.normal(size=n)
    c = np.column_stack([a, a, np.full(n, 7.0), b, 2 * a - b])
    y = rng.normal(size=n) + a
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # statsmodels warns that the design is rank-deficient: the point
        want = sm.OLS(y, sm.add_constant(c, has_constant="add")).fit().resid
    np.testing.assert_allclose(stats.residualize(y, c), want, atol=1e-10)
    assert stats.covariate_basis(c).shape == (n, 3)


def test_residual_fully_explained_is_exactly_zero():
    rng = np.random.default_rng(2)
    c = rng.normal(size=(30, 2))
    y = 3.0 + 2.0 * c[:, 0] - c[:, 1]
    assert np.all(stats.residualize(y, c) == 0.0)


# ---------------------------------------------------------------------------------------------------
# partial_pearson, pearson / _r_to_p with n_covariates
# ---------------------------------------------------------------------------------------------------


def test_partial_r_one_covariate_closed_form():
    rng = np.random.default_rng(3)
    n = 80
    z = rng.normal(size=n)
    x = z + rng.normal(size=n)
    y = 0.5 * x - z + rng.normal(size=n)
    rxy, rxz, ryz = (sps.pearsonr(a, b).statistic for a, b in ((x, y), (x, z), (y, z)))
    want = (rxy - rxz * ryz) / math.sqrt((1 - rxz**2) * (1 - ryz**2))
    r, p, used = stats.partial_pearson(x, y, z[:, None])
    assert used == n
    assert r == pytest.approx(want, rel=1e-12, abs=0)
    assert p == pytest.approx(_p_formula(want, n, 1), rel=1e-10, abs=0)


def test_partial_p_equals_ols_coefficient_p():
    rng = np.random.default_rng(4)
    n, k = 50, 3
    c = rng.normal(size=(n, k))
    x = rng.normal(size=n) + c[:, 0]
    y = 0.3 * x + c @ [1.0, -2.0, 0.5] + rng.normal(size=n)
    r, p, _ = stats.partial_pearson(x, y, c)
    fit = _ols(y, x, c)
    assert p == pytest.approx(_p_formula(r, n, k), rel=1e-10, abs=0)
    assert p == pytest.approx(fit.pvalues[1], rel=1e-8, abs=0)
    # The same p from pearson on residuals with n_covariates, and from _r_to_p directly.
    rr, pp, _ = stats.pearson(stats.residualize(x, c), stats.residualize(y, c), n_covariates=k)
    assert rr == pytest.approx(r, rel=1e-12, abs=0) and pp == pytest.approx(p, rel=1e-12, abs=0)
    assert float(stats._r_to_p(np.array(r), n, k)) == pytest.approx(p, rel=1e-12, abs=0)


def test_r_to_p_df_and_default_unchanged():
    r = np.array([0.3, -0.5, np.nan])
    base = stats._r_to_p(r, 20)
    np.testing.assert_array_equal(stats._r_to_p(r, 20, 0), base)
    np.testing.assert_allclose(base[:2], [sps.pearsonr(*_pair(0.3, 20)).pvalue,
                                          sps.pearsonr(*_pair(-0.5, 20)).pvalue], rtol=1e-6)
    # df = n - 2 - k <= 0 gives NaN.
    assert np.isnan(stats._r_to_p(np.array(0.3), 10, 8))
    assert np.isfinite(stats._r_to_p(np.array(0.3), 10, 7))


def _pair(r: float, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Two vectors with sample correlation exactly r (Gram-Schmidt on fixed draws)."""
    rng = np.random.default_rng(5)
    a, b = rng.normal(size=(2, n))
    a = (a - a.mean()) / np.linalg.norm(a - a.mean())
    b = b - b.mean()
    b -= (b @ a) * a
    b /= np.linalg.norm(b)
    return a, r * a + math.sqrt(1 - r * r) * b


def test_partial_pearson_drops_nan_and_degenerate():
    rng = np.random.default_rng(6)
    n = 40
    c = rng.normal(size=(n, 2))
    x, y = rng.normal(size=(2, n))
    c[3, 1] = np.nan
    x[5] = np.nan
    ok = np.ones(n, bool)
    ok[[3, 5]] = False
    r, p, used = stats.partial_pearson(x, y, c)
    assert used == n - 2
    assert r == pytest.approx(stats.partial_pearson(x[ok], y[ok], c[ok])[0], rel=1e-12, abs=0)
    # y fully explained by the covariates: NaN, never an exception.
    r, p, _ = stats.partial_pearson(x, 1.0 + 2 * np.nan_to_num(c[:, 0]), np.nan_to_num(c))
    assert np.isnan(r) and np.isnan(p)
    # No covariates: plain Pearson.
    assert stats.partial_pearson(x, y, None) == stats.pearson(x, y)
    # Too few samples for the df: NaN.
    assert np.isnan(stats.partial_pearson(x[:5], y[:5], rng.normal(size=(5, 3)))[0])


# ---------------------------------------------------------------------------------------------------
# eQTL with covariates (Frisch-Waugh-Lovell)
# ---------------------------------------------------------------------------------------------------


def test_eqtl_on_residuals_equals_statsmodels_coefficient():
    rng = np.random.default_rng(7)
    n, k = 120, 3
    c = rng.normal(size=(n, k))
    d = rng.binomial(2, [[0.1], [0.3], [0.5]], size=(3, n)).astype(np.int8)
    y = 0.4 * d[1] + c @ [1.0, 0.5, -1.0] + rng.normal(size=n)
    slope, p, r = stats.eqtl(stats.residualize(d, c), stats.residualize(y, c), n_covariates=k)
    for i in range(3):
        fit = _ols(y, d[i].astype(float), c)
        assert slope[i] == pytest.approx(fit.params[1], rel=1e-9, abs=0)
        assert p[i] == pytest.approx(fit.pvalues[1], rel=1e-7, abs=0)
    # driver_table with covariates runs the same partial regression; carriers use the raw dosage.
    drivers = pd.DataFrame({"variant_index": np.array([1, 2], np.int64), "ism": [0.5, -0.1]})
    yy = y.copy()
    yy[0] = np.nan
    tab = stats.driver_table(drivers, d, yy, covariates=c)
    for j, i in enumerate((1, 2)):
        fit = _ols(yy[1:], d[i, 1:].astype(float), c[1:])
        assert tab["eqtl_slope"][j] == pytest.approx(fit.params[1], rel=1e-9, abs=0)
        assert tab["eqtl_p"][j] == pytest.approx(fit.pvalues[1], rel=1e-7, abs=0)
        assert tab["carriers"][j] == int((d[i] > 0).sum())


def test_partial_eqtl_without_the_residual_dosage():
    """partial_eqtl (residual norms by Pythagoras from the raw rows) equals the eQTL of the explicit
    residuals and statsmodels' coefficient; a SNV the covariates explain fully has NaN slope and p."""
    rng = np.random.default_rng(8)
    n, k = 150, 4
    d = rng.binomial(2, [[0.05], [0.2], [0.4], [0.5]], size=(4, n)).astype(np.int8)
    c = np.column_stack([rng.normal(size=(n, k - 1)), d[3]])  # the last covariate is SNV 3 itself
    y = 0.4 * d[1] + c[:, :3] @ [1.0, 0.5, -1.0] + rng.normal(size=n)
    slope, p, r = stats.partial_eqtl(d, y, c)
    want = stats.eqtl(stats.residualize(d, c), stats.residualize(y, c), n_covariates=k)
    for got, ref in zip((slope, p, r), want, strict=True):
        np.testing.assert_allclose(got[:3], ref[:3], rtol=1e-9)
    for i in range(3):
        fit = _ols(y, d[i].astype(float), c)
        assert slope[i] == pytest.approx(fit.params[1], rel=1e-9, abs=0)
        assert p[i] == pytest.approx(fit.pvalues[1], rel=1e-7, abs=0)
    assert np.isnan(slope[3]) and np.isnan(p[3]) and np.isnan(want[0][3])
    # No covariates: the plain eQTL, bit for bit.
    for got, ref in zip(stats.partial_eqtl(d, y, None), stats.eqtl(d, y), strict=True):
        np.testing.assert_array_equal(got, ref)


# ---------------------------------------------------------------------------------------------------
# gene_statistics with covariates
# ---------------------------------------------------------------------------------------------------


def _assert_same_fields(a: dict, b: dict) -> None:
    """Every field equal, bit for bit (NaN equal to NaN)."""
    assert list(a) == list(b)
    for f in a:
        same = a[f] == b[f] or (isinstance(a[f], float) and math.isnan(a[f]) and math.isnan(b[f]))
        assert same, (f, a[f], b[f])


def _batch_gene(seed: int = 8, n: int = 200, n_snv: int = 50):
    rng = np.random.default_rng(seed)
    d = rng.binomial(2, rng.uniform(0.05, 0.5, size=(n_snv, 1)), size=(n_snv, n)).astype(np.int8)
    beta = np.zeros(n_snv)
    beta[[3, 17]] = [0.6, -0.4]
    genetic = beta @ d
    batch = rng.integers(0, 2, size=n).astype(float)
    obs = genetic + 5.0 * batch + rng.normal(scale=0.3, size=n)
    return d, beta, genetic, batch, obs


def test_gene_statistics_planted_batch_effect():
    d, beta, pred, batch, obs = _batch_gene()
    n, k = 200, 1
    plain = stats.gene_statistics(pred, obs, d, rng=0, n_draws=200)
    part = stats.gene_statistics(pred, obs, d, rng=0, n_draws=200, covariates=batch[:, None])
    assert plain["n_covariates"] == 0 and part["n_covariates"] == 1
    assert abs(plain["r"]) < 0.35 and part["r"] > 0.8  # the batch hides the genetic signal
    # R is the closed-form partial correlation and its p the n - k - 2 df formula (= OLS coefficient p).
    rxy, rxz, ryz = (sps.pearsonr(a, b).statistic for a, b in ((pred, obs), (pred, batch), (obs, batch)))
    want = (rxy - rxz * ryz) / math.sqrt((1 - rxz**2) * (1 - ryz**2))
    assert part["r"] == pytest.approx(want, rel=1e-9, abs=0)
    assert part["r_pvalue"] == pytest.approx(_p_formula(part["r"], n, k), rel=1e-8, abs=0)
    assert part["r_pvalue"] == pytest.approx(_ols(obs, pred, batch[:, None]).pvalues[1], rel=1e-6, abs=0)
    # Spearman: rank correlation of the residuals (documented choice).
    rp, ro = stats.residualize(pred, batch[:, None]), stats.residualize(obs, batch[:, None])
    assert part["spearman"] == pytest.approx(sps.spearmanr(rp, ro).statistic, rel=1e-9, abs=0)
    # Means and SDs stay those of the raw values.
    assert part["obs_mean"] == pytest.approx(obs.mean())
    assert part["pred_sd"] == pytest.approx(pred.std(ddof=1))
    assert part["status"] == "ok" and part["null_p"] == pytest.approx(1 / 201)


def test_null_on_residuals_equals_slow_loop():
    d, beta, pred, batch, obs = _batch_gene(seed=9, n=150, n_snv=30)
    d[4] = 1  # a constant SNV: dropped before drawing, as without covariates
    rng = np.random.default_rng(9)
    c = np.column_stack([batch, rng.normal(size=150)])
    # The raw dosage of the SNVs that vary, the residualised observation and the covariates' basis.
    poly = np.any(d != d[:, :1], axis=1)
    null = stats.null_abs_r(d[poly], stats.residualize(obs, c), 300, rng=11, basis=stats.covariate_basis(c))
    # Slow: draw the same weights over the polymorphic SNVs (float32 draws on the 2^-20 grid), build each
    # model w @ D on the raw dosage, residualise that prediction and correlate it with the residualised
    # observation.
    w = stats.draw_null_weights(np.random.default_rng(11), 300, int(poly.sum()))
    w = np.rint(w.astype(float) * 2.0**20) / 2.0**20
    ro = stats.residualize(obs, c)
    slow = np.array([abs(sps.pearsonr(stats.residualize(wk @ d[poly], c), ro).statistic) for wk in w])
    np.testing.assert_allclose(null, slow, rtol=1e-9)
    # The former call (residualised dosage, no basis) is the same null up to rounding.
    np.testing.assert_allclose(stats.null_abs_r(stats.residualize(d, c), ro, 300, rng=11), null, rtol=1e-9)
    # gene_statistics records exactly this null (same generator).
    res = stats.gene_statistics(pred, obs, d, rng=11, n_draws=300, covariates=c)
    fin = null[np.isfinite(null)]
    assert res["null_mean"] == pytest.approx(fin.mean(), rel=1e-12, abs=0)
    assert res["null_p"] == pytest.approx(stats.empirical_p(res["r"], fin))


def test_covariates_none_is_bit_identical():
    d, beta, pred, batch, obs = _batch_gene(seed=10, n=120, n_snv=40)
    ism = beta + np.random.default_rng(1).normal(scale=0.01, size=40)
    grad = ism * 0.9
    a, da = stats.gene_statistics(pred, obs, d, ism=ism, grad=grad, rng=3, n_draws=100, with_drivers=True)
    for cov in (None, np.zeros((120, 0))):
        b, db = stats.gene_statistics(pred, obs, d, ism=ism, grad=grad, rng=3, n_draws=100, with_drivers=True,
                                      covariates=cov)
        _assert_same_fields(a, b)
        pd.testing.assert_frame_equal(da, db, check_exact=True)
    assert a["n_covariates"] == 0
    assert stats.GENE_FIELDS.index("n_covariates") == stats.GENE_FIELDS.index("n_snvs") + 1


def test_nan_covariate_rows_dropped():
    d, beta, pred, batch, obs = _batch_gene(seed=11, n=100, n_snv=20)
    c = np.column_stack([batch, np.random.default_rng(2).normal(size=100)])
    c[[7, 40], 1] = np.nan
    ok = np.isfinite(c).all(axis=1)
    a = stats.gene_statistics(pred, obs, d, rng=4, n_draws=50, covariates=c)
    b = stats.gene_statistics(pred[ok], obs[ok], d[:, ok], rng=4, n_draws=50, covariates=c[ok])
    assert a["n_samples"] == 98 and a["n_covariates"] == 2
    _assert_same_fields(a, b)
    with pytest.raises(ValueError, match="covariates"):
        stats.gene_statistics(pred, obs, d, covariates=c[:50])


def test_collinear_and_constant_covariates_cost_no_df():
    d, beta, pred, batch, obs = _batch_gene(seed=14, n=100, n_snv=20)
    one = stats.gene_statistics(pred, obs, d, rng=5, n_draws=50, covariates=batch[:, None])
    dup = stats.gene_statistics(pred, obs, d, rng=5, n_draws=50,
                                covariates=np.column_stack([batch, 3 * batch + 1, np.full(100, 2.0)]))
    assert one["n_covariates"] == dup["n_covariates"] == 1
    assert dup["r"] == pytest.approx(one["r"], rel=1e-12, abs=0)
    assert dup["r_pvalue"] == pytest.approx(one["r_pvalue"], rel=1e-9, abs=0)


def test_approximations_and_drivers_on_residuals():
    d, beta, pred, batch, obs = _batch_gene(seed=12, n=200, n_snv=50)
    rng = np.random.default_rng(3)
    c = np.column_stack([batch, rng.normal(size=200), rng.normal(size=200)])
    n, k = 200, 3
    pred = pred + 2.0 * c[:, 1]  # the model also tracks a covariate: residualising removes it
    ism = beta + rng.normal(scale=0.005, size=50)
    grad = ism + rng.normal(scale=0.05, size=50)
    res, dr = stats.gene_statistics(pred, obs, d, ism=ism, grad=grad, rng=0, n_draws=50, with_drivers=True,
                                    covariates=c)
    rp, ro, rd = stats.residualize(pred, c), stats.residualize(obs, c), stats.residualize(d, c)
    approx = stats.residualize(ism @ d, c)  # residualised approximation = approximation of residuals
    assert res["approx_r"] == pytest.approx(sps.pearsonr(approx, rp).statistic, rel=1e-9, abs=0)
    assert res["approx_obs_r"] == pytest.approx(sps.pearsonr(approx, ro).statistic, rel=1e-9, abs=0)
    assert res["grad_approx_r"] == pytest.approx(
        sps.pearsonr(stats.residualize(grad @ d, c), rp).statistic, rel=1e-9, abs=0)
    # Drivers: forward selection on the residuals; own p with n - k - 2 df; eQTL = OLS coefficient.
    assert sorted(dr["variant_index"]) == [3, 17]  # the two planted SNVs
    fw = stats.forward_drivers(ism, rd, rp, n_covariates=k)
    assert list(fw["variant_index"]) == list(dr["variant_index"])
    for _, row in dr.iterrows():
        i = int(row["variant_index"])
        own_r = sps.pearsonr(ism[i] * rd[i], rp).statistic
        assert row["driver_r"] == pytest.approx(own_r, rel=1e-9, abs=0)
        assert row["driver_p"] == pytest.approx(_p_formula(own_r, n, k), rel=1e-7, abs=0)
        fit = _ols(obs, d[i].astype(float), c)
        assert row["eqtl_slope"] == pytest.approx(fit.params[1], rel=1e-9, abs=0)
        assert row["eqtl_p"] == pytest.approx(fit.pvalues[1], rel=1e-6, abs=0)
        assert row["carriers"] == int((d[i] > 0).sum())  # raw dosage, not residuals
        assert row["carrier_fraction"] == pytest.approx((d[i] > 0).mean())


@pytest.mark.parametrize("case,status", [
    ("obs_explained", "constant_expression"), ("pred_explained", "constant_prediction"),
    ("snvs_explained", "no_snvs"), ("too_many_covariates", "too_few_samples"),
])
def test_degenerate_after_residualisation(case, status):
    rng = np.random.default_rng(13)
    n = 40
    d = rng.integers(0, 3, size=(3, n)).astype(np.int8)
    c = rng.normal(size=(n, 2))
    pred, obs = rng.normal(size=(2, n))
    if case == "obs_explained":
        obs = 1.0 + c @ [2.0, -1.0]
    elif case == "pred_explained":
        pred = c[:, 0] * 3.0
    elif case == "snvs_explained":
        c = d.T.astype(float)  # the covariates are the genotypes
    elif case == "too_many_covariates":
        c = rng.normal(size=(n, 38))
    res, dr = stats.gene_statistics(pred, obs, d, ism=np.ones(3), rng=0, n_draws=20, with_drivers=True,
                                    covariates=c)
    assert res["status"] == status
    assert np.isnan(res["null_p"]) and res["n_drivers"] == 0 and dr.empty
    if status == "no_snvs":
        assert np.isfinite(res["r"]) and np.isfinite(res["r_pvalue"])
    else:
        assert np.isnan(res["r"])
