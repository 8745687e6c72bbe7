"""Statistics core: expected values worked by hand, closed forms, scipy/numpy references, planted effects."""

from __future__ import annotations

import math
import sqlite3

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from seqgx.analysis import stats
from seqgx.analysis.predixcan import (
    elastic_net_baseline,
    match_gene_ids,
    predixcan_predict,
    predixcan_r,
    read_predictdb,
)
from seqgx.errors import SeqgxError
from seqgx.genome.genes import strip_version
from seqgx.model.readouts import read_finetuned_weights

# ---------------------------------------------------------------------------------------------------
# Benjamini-Hochberg
# ---------------------------------------------------------------------------------------------------


def test_bh_fdr_hand_worked():
    # p = [0.04, 0.01, 0.045, NaN, 0.5, 0.02]; NaN is left out, so m = 5.
    # Sorted: 0.01 (k=1), 0.02 (2), 0.04 (3), 0.045 (4), 0.5 (5); p * m / k:
    #   0.01*5/1 = 0.05, 0.02*5/2 = 0.05, 0.04*5/3 = 0.0666..., 0.045*5/4 = 0.05625, 0.5*5/5 = 0.5
    # Running minimum from the largest p down: 0.5, 0.05625, min(0.0666, 0.05625) = 0.05625, 0.05, 0.05.
    p = [0.04, 0.01, 0.045, np.nan, 0.5, 0.02]
    q = stats.bh_fdr(p)
    np.testing.assert_allclose(q, [0.05625, 0.05, 0.05625, np.nan, 0.5, 0.05], rtol=1e-12)
    assert np.isnan(q[3])
    # q < alpha: at 0.04 nothing passes, at 0.051 the two q = 0.05 genes, at 0.06 all but the 0.5 gene.
    assert not stats.significant(q, 0.04).any()
    np.testing.assert_array_equal(stats.significant(q, 0.051), [False, True, False, False, False, True])
    np.testing.assert_array_equal(stats.significant(q, 0.06), [True, True, True, False, False, True])


def test_bh_fdr_all_nan_and_empty():
    assert np.isnan(stats.bh_fdr([np.nan, np.nan])).all()
    assert stats.bh_fdr([]).shape == (0,)


# ---------------------------------------------------------------------------------------------------
# Published null t test
# ---------------------------------------------------------------------------------------------------


def test_null_tstat_hand_worked_cauchy():
    # n = 2 draws -> 1 df (Cauchy): sf(t) = 1/2 - atan(t)/pi.
    # |r| = 0.3, m = 0.1, s = 0.02: sqrt(s / n) = sqrt(0.01) = 0.1 -> t = (0.3 - 0.1) / 0.1 = 2.
    t, p = stats.null_tstat(-0.3, 0.1, 0.02, 2)
    assert t == pytest.approx(2.0)
    assert p == pytest.approx(0.5 - math.atan(2.0) / math.pi, rel=1e-9)


def test_null_tstat_hand_worked_two_df_and_sd_under_root():
    # n = 3 -> 2 df: sf(t) = 1/2 - t / (2 sqrt(t^2 + 2)).
    # |r| = 0.25, m = 0.05, s = 0.12: sqrt(0.12 / 3) = sqrt(0.04) = 0.2 -> t = 0.2 / 0.2 = 1.
    # (With the variance under the root, sqrt(0.0144 / 3) = 0.0693, t would be 2.89: the SD is used.)
    t, p = stats.null_tstat(np.array([0.25]), np.array([0.05]), np.array([0.12]), 3)
    assert t[0] == pytest.approx(1.0)
    assert p[0] == pytest.approx(0.5 - 1.0 / (2 * math.sqrt(3.0)), rel=1e-9)


def test_null_tstat_negative_t_and_nan():
    t, p = stats.null_tstat(np.array([0.05, np.nan, 0.3, 0.3]), np.array([0.1, 0.1, np.nan, 0.1]),
                            np.array([0.02, 0.02, 0.02, 0.0]), 50)
    assert t[0] < 0 and p[0] == 1.0
    assert np.isnan(t[1:]).all() and np.isnan(p[1:]).all()


# ---------------------------------------------------------------------------------------------------
# Correlations and eQTL
# ---------------------------------------------------------------------------------------------------


def test_pearson_spearman_match_scipy_and_skip_nan():
    rng = np.random.default_rng(0)
    x = rng.normal(size=50)
    y = x + rng.normal(size=50)
    y[[3, 9]] = np.nan
    ok = np.isfinite(y)
    r, p, n = stats.pearson(x, y)
    ref = sps.pearsonr(x[ok], y[ok])
    assert n == 48
    assert r == pytest.approx(ref.statistic, rel=1e-12)
    assert p == pytest.approx(ref.pvalue, rel=1e-8)
    assert stats.spearman(x, y) == pytest.approx(sps.spearmanr(x[ok], y[ok]).statistic, rel=1e-12)
    assert all(np.isnan(v) for v in stats.pearson(np.ones(10), np.arange(10.0))[:2])
    assert np.isnan(stats.spearman([np.nan] * 3, [1.0, 2.0, 3.0]))


def test_eqtl_matches_lstsq_and_linregress():
    rng = np.random.default_rng(1)
    d = rng.integers(0, 3, size=(12, 80)).astype(float)
    d[4] = 1.0  # zero-variance dosage -> NaN
    y = 0.7 * d[2] - 0.3 * d[5] + rng.normal(size=80)
    d[7, [0, 11, 40]] = np.nan  # missing calls: that SNV uses the other 77 samples
    slope, p, r = stats.eqtl(d, y)
    for i in range(12):
        ok = np.isfinite(d[i])
        if i == 4:
            assert np.isnan(slope[i]) and np.isnan(p[i]) and np.isnan(r[i])
            continue
        a = np.column_stack([np.ones(ok.sum()), d[i, ok]])
        coef = np.linalg.lstsq(a, y[ok], rcond=None)[0]
        lr = sps.linregress(d[i, ok], y[ok])
        assert slope[i] == pytest.approx(coef[1], rel=1e-10, abs=1e-12)
        assert p[i] == pytest.approx(lr.pvalue, rel=1e-7)
        assert r[i] == pytest.approx(lr.rvalue, rel=1e-10, abs=1e-12)
    assert p[2] < 1e-3 and slope[2] > 0.3
    # Integer dosage (fast path) with missing expression equals the float, masked computation.
    y2 = y.copy()
    y2[[1, 2]] = np.nan
    d8 = np.nan_to_num(d, nan=0).astype(np.int8)
    fast = stats.eqtl(d8, y2)
    slow = stats.eqtl(np.where(np.isfinite(y2), d8, np.nan), y2)
    for a, b in zip(fast, slow, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-14)
    # A single SNV as a vector returns scalars.
    s1, p1, r1 = stats.eqtl(d[2], y)
    assert s1 == pytest.approx(slope[2]) and p1 == pytest.approx(p[2]) and r1 == pytest.approx(r[2])


def test_eqtl_constant_expression():
    slope, p, r = stats.eqtl(np.array([[0, 1, 2, 1.0]]), np.array([3.0, 3, 3, 3]))
    assert slope[0] == 0.0 and np.isnan(p[0]) and np.isnan(r[0])


# ---------------------------------------------------------------------------------------------------
# Gene-specific null
# ---------------------------------------------------------------------------------------------------


def test_null_abs_r_matches_loop_reference():
    rng = np.random.default_rng(2)
    d = rng.integers(0, 3, size=(25, 60)).astype(float)
    y = rng.normal(size=60)
    n = 300  # 3 blocks of NULL_BLOCK = 125 draws: 125, 125, 50
    # Reference: block b of the weights comes from the b-th spawned child generator; R from scipy on
    # each null prediction, one draw at a time.
    # The weights are float32 draws; the float64 null multiplies by them rounded to multiples of 2^-20.
    def reference(grid):
        children = np.random.default_rng(7).spawn(3)
        ref = []
        for b, k in enumerate((125, 125, 50)):
            w = children[b].standard_normal((k, 25), dtype=np.float32).astype(float)
            w = np.rint(w * 2.0**20) / 2.0**20 if grid else w
            ref += [abs(sps.pearsonr(wi @ d, y).statistic) for wi in w]
        return np.array(ref)

    ref = reference(grid=True)
    got = stats.null_abs_r(d, y, n, rng=np.random.default_rng(7))  # float64 is the default
    np.testing.assert_allclose(got, ref, rtol=1e-12)
    np.testing.assert_array_equal(got, stats.null_abs_r(d.astype(np.int8), y, n, rng=7))
    for method in ("direct", "gram", "auto"):
        got32 = stats.null_abs_r(d.astype(np.int8), y, n, rng=np.random.default_rng(7), dtype=np.float32,
                                 method=method)
        np.testing.assert_allclose(got32, reference(grid=False), rtol=1e-4, atol=1e-6)
    # The grid moves a weight by at most 2^-21: the null's |R| by far less than its spread.
    np.testing.assert_allclose(ref, reference(grid=False), atol=1e-5)
    # Deterministic per seed (the thread pool fills blocks in any order); a constant SNV changes nothing
    # but is not drawn for; constant SNVs only, or constant expression, give NaN draws.
    np.testing.assert_array_equal(got, stats.null_abs_r(d, y, n, rng=7))
    d_const = np.vstack([np.ones((1, 60)), d])
    np.testing.assert_array_equal(stats.null_abs_r(d_const, y, n, rng=7), got)
    assert np.isnan(stats.null_abs_r(np.ones((3, 60)), y, 5, rng=0)).all()
    assert np.isnan(stats.null_abs_r(d, np.ones(60), 5, rng=0)).all()


def test_empirical_p_counts():
    null = np.array([0.1, 0.2, 0.3, 0.4, np.nan])
    # |r| = 0.25: 2 of 4 finite draws >= 0.25 -> (1 + 2) / (1 + 4).
    assert stats.empirical_p(-0.25, null) == pytest.approx(3 / 5)
    assert stats.empirical_p(0.9, null) == pytest.approx(1 / 5)
    assert np.isnan(stats.empirical_p(np.nan, null))
    np.testing.assert_allclose(stats.empirical_p(np.array([0.05, 0.35]), np.vstack([null, null])),
                               [5 / 5, 2 / 5])


def test_empirical_null_planted_effect_small_noise_uniform():
    rng = np.random.default_rng(3)
    n_snv, n_s = 30, 120
    # Planted: the model predicts the SNV effect that drives expression.
    d = rng.integers(0, 3, size=(n_snv, n_s)).astype(float)
    beta = np.zeros(n_snv)
    beta[4] = 1.0
    pred = d.T @ beta
    obs = pred + rng.normal(scale=0.5, size=n_s)
    res = stats.gene_statistics(pred, obs, d, rng=0, n_draws=500)
    assert res["status"] == "ok" and res["null_draws"] == 500
    assert res["null_p"] == pytest.approx(1 / 501)
    # Noise: the "model" is itself a random linear SNV model, unrelated to expression, so its |R| is
    # exchangeable with the null draws and the empirical p is uniform on {1/201, ..., 1}.
    ps = []
    for g in range(300):
        d = rng.integers(0, 3, size=(n_snv, n_s)).astype(float)
        pred = rng.standard_normal(n_snv) @ d
        obs = rng.normal(size=n_s)
        res = stats.gene_statistics(pred, obs, d, rng=stats.gene_rng(0, f"G{g}"), n_draws=200)
        ps.append(res["null_p"])
    ps = np.array(ps)
    assert 0.01 < np.mean(ps < 0.05) < 0.11
    assert 0.40 < np.mean(ps < 0.5) < 0.60
    assert sps.kstest(ps, "uniform").pvalue > 1e-3


def test_gene_statistics_fields_and_paper_test():
    rng = np.random.default_rng(4)
    d = rng.integers(0, 3, size=(20, 90)).astype(float)
    pred = d[1] - 0.5 * d[2] + rng.normal(scale=0.1, size=90)
    obs = pred + rng.normal(size=90)
    obs[[5, 6]] = np.nan
    ok = np.isfinite(obs)
    res = stats.gene_statistics(pred, obs, d, null_test="paper", rng=1)
    assert tuple(res) == stats.GENE_FIELDS
    assert res["n_samples"] == 88 and res["n_snvs"] == 20 and res["null_draws"] == 50
    assert res["r"] == pytest.approx(sps.pearsonr(pred[ok], obs[ok]).statistic, rel=1e-10)
    assert res["spearman"] == pytest.approx(sps.spearmanr(pred[ok], obs[ok]).statistic, rel=1e-10)
    assert res["obs_sd"] == pytest.approx(np.std(obs[ok], ddof=1))
    # The paper p follows from the recorded null mean/SD by the published formula.
    t = (abs(res["r"]) - res["null_mean"]) / math.sqrt(res["null_sd"] / 50)
    assert res["null_t"] == pytest.approx(t)
    assert res["null_p"] == pytest.approx(sps.t.sf(t, 49))
    assert np.isnan(res["approx_r"]) and res["n_drivers"] == 0  # no ISM given


@pytest.mark.parametrize("case,status", [
    ("few", "too_few_samples"), ("const_obs", "constant_expression"),
    ("const_pred", "constant_prediction"), ("no_snv", "no_snvs"), ("mono", "no_snvs"),
])
def test_gene_statistics_degenerate_status(case, status):
    rng = np.random.default_rng(5)
    d = rng.integers(0, 3, size=(5, 40)).astype(float)
    pred = rng.normal(size=40)
    obs = rng.normal(size=40)
    if case == "few":
        obs[10:] = np.nan
    elif case == "const_obs":
        obs[:] = 2.0
    elif case == "const_pred":
        pred[:] = 1.0
    elif case == "no_snv":
        d = np.zeros((0, 40))
    elif case == "mono":
        d[:] = 1.0
    res = stats.gene_statistics(pred, obs, d, ism=np.ones(d.shape[0]), rng=0, n_draws=20)
    assert res["status"] == status
    assert np.isnan(res["null_p"]) and np.isnan(res["null_mean"]) and res["n_drivers"] == 0
    if status == "no_snvs":
        assert np.isfinite(res["r"])  # R is still defined; only the null and ISM parts are not
    else:
        assert np.isnan(res["r"])


def test_gene_statistics_rejects_unknown_null_test():
    with pytest.raises(SeqgxError, match="null_test"):
        stats.gene_statistics(np.zeros(3), np.zeros(3), np.zeros((1, 3)), null_test="bogus")


# ---------------------------------------------------------------------------------------------------
# Linear approximation and drivers
# ---------------------------------------------------------------------------------------------------


def _slow_drivers(ism, d, pred, min_increase=0.05, alpha=0.01):
    """Reference: forward selection written as a plain loop over steps with scipy correlations."""
    order = sorted(range(len(ism)), key=lambda i: -abs(ism[i]))
    full = sum(ism[i] * d[i] for i in range(len(ism)))
    r_full = sps.pearsonr(full, pred).statistic
    prev, out, partial = 0.0, [], np.zeros(d.shape[1])
    for rank, i in enumerate(order, start=1):
        partial = partial + ism[i] * d[i]
        frac = sps.pearsonr(partial, pred).statistic / r_full if np.ptp(partial) > 0 else 0.0
        own = sps.pearsonr(ism[i] * d[i], pred) if np.ptp(ism[i] * d[i]) > 0 else None
        if (frac - prev > min_increase and own is not None and own.statistic > 0
                and own.pvalue < alpha / len(ism)):
            out.append((i, rank, frac - prev))
        prev = frac
    return out


def test_single_driver_carries_prediction():
    rng = np.random.default_rng(6)
    d = rng.integers(0, 3, size=(25, 150)).astype(float)
    ism = rng.normal(scale=0.01, size=25)
    ism[9] = -0.8  # the model's prediction is this SNV's effect alone
    pred = ism @ d + rng.normal(scale=0.01, size=150)
    dr = stats.forward_drivers(ism, d, pred)
    assert list(dr["variant_index"]) == [9]
    assert dr["main_driver"].tolist() == [True] and dr["rank"].tolist() == [1]
    assert dr["frac_increase"].iloc[0] > 0.9 and dr["driver_r"].iloc[0] > 0.9
    approx = stats.linear_approximation(ism, d)
    assert stats.pearson(approx, pred)[0] > 0.99


def test_two_drivers_and_loop_reference():
    rng = np.random.default_rng(7)
    d = rng.integers(0, 3, size=(30, 200)).astype(float)
    ism = rng.normal(scale=0.01, size=30)
    ism[3], ism[17] = 1.0, -0.7
    pred = ism @ d + rng.normal(scale=0.05, size=200)
    dr = stats.forward_drivers(ism, d, pred)
    assert set(dr["variant_index"]) == {3, 17}
    assert dr.loc[dr["main_driver"], "variant_index"].tolist() == [3]
    ref = _slow_drivers(ism, d, pred)
    assert [(i, k) for i, k, _ in ref] == list(zip(dr["variant_index"], dr["rank"], strict=True))
    np.testing.assert_allclose(dr["frac_increase"], [x for _, _, x in ref], rtol=1e-9)


def test_drivers_loop_reference_random_genes():
    rng = np.random.default_rng(8)
    for _ in range(5):
        d = rng.integers(0, 3, size=(40, 100)).astype(float)
        ism = rng.normal(size=40) * (rng.random(40) < 0.3)
        pred = ism @ d + rng.normal(scale=2.0, size=100)
        dr = stats.forward_drivers(ism, d, pred)
        ref = _slow_drivers(ism, d, pred)
        assert [(i, k) for i, k, _ in ref] == list(zip(dr["variant_index"], dr["rank"], strict=True))


def test_drivers_degenerate_inputs_give_empty_tables():
    d = np.ones((3, 10))
    assert stats.forward_drivers(np.array([1.0, 2, 3]), d, np.arange(10.0)).empty
    assert stats.forward_drivers(np.zeros(0), np.zeros((0, 10)), np.arange(10.0)).empty
    rng = np.random.default_rng(9)
    d = rng.integers(0, 3, size=(4, 30)).astype(float)
    assert stats.forward_drivers(np.full(4, np.nan), d, d[0]).empty
    assert list(stats.forward_drivers(np.zeros(4), d, d[0]).columns) == list(stats.DRIVER_FIELDS)


def test_driver_support_and_table():
    support = stats.driver_support([1.0, -2.0, 0.5, 0.0, np.nan], [0.3, -0.1, -0.2, 1.0, 1.0])
    np.testing.assert_array_equal(support, [1.0, 1.0, 0.0, 0.0, np.nan])
    rng = np.random.default_rng(10)
    d = rng.integers(0, 3, size=(10, 120)).astype(float)
    ism = np.zeros(10)
    ism[2] = 1.0
    obs = -0.5 * d[2] + rng.normal(size=120)  # eQTL opposite in sign to the ISM: not supported
    res, dr = stats.gene_statistics(ism @ d, obs, d, ism=ism, rng=0, n_draws=50, with_drivers=True,
                                    distance_to_tss=np.arange(10) * 100 - 500)
    assert res["n_drivers"] == 1 and res["approx_r"] == pytest.approx(1.0)
    row = dr.iloc[0]
    assert row["variant_index"] == 2 and row["distance_to_tss"] == -300
    assert row["carriers"] == int((d[2] > 0).sum()) and row["carrier_fraction"] == pytest.approx(
        (d[2] > 0).mean())
    assert row["eqtl_slope"] == pytest.approx(sps.linregress(d[2], obs).slope)
    assert row["supported"] == 0.0


# ---------------------------------------------------------------------------------------------------
# Summary
# ---------------------------------------------------------------------------------------------------


def test_summarize_hand_worked():
    genes = pd.DataFrame({
        "gene_id": ["A", "B", "C", "D", "E", "A"],
        "readout": ["x", "x", "x", "x", "x", "y"],
        "r": [0.5, -0.3, 0.1, np.nan, 0.25, 0.2],
        "significant": [True, True, False, False, True, False],
        "predixcan_r": [0.4, 0.2, np.nan, 0.3, 0.1, 0.4],
    })
    drivers = pd.DataFrame({
        "gene_id": ["A", "A", "B", "E"],
        "readout": ["x", "x", "x", "x"],
        "supported": [1.0, 0.0, 1.0, np.nan],
    })
    s = stats.summarize(genes, drivers)
    x = s["x"]
    assert x["n_genes_tested"] == 4 and x["n_significant"] == 3
    assert x["n_significant_negative"] == 1 and x["fraction_significant_negative"] == pytest.approx(1 / 3)
    assert x["n_significant_abs_r_gt_0_2"] == 3  # |0.5|, |-0.3|, |0.25|
    assert x["mean_r"] == pytest.approx((0.5 - 0.3 + 0.1 + 0.25) / 4)
    # PrediXcan: A, B, D, E have predixcan_r; D has no model r, so A, B, E are compared.
    assert x["n_genes_with_predixcan"] == 4
    assert x["mean_r_model_on_predixcan_genes"] == pytest.approx((0.5 - 0.3 + 0.25) / 3)
    assert x["mean_r_predixcan"] == pytest.approx((0.4 + 0.2 + 0.1) / 3)
    assert x["corr_abs_r_model_vs_predixcan"] == pytest.approx(
        np.corrcoef([0.5, 0.3, 0.25], [0.4, 0.2, 0.1])[0, 1])
    # Drivers: A (2), B (1), E (1) -> 3 genes, 2 with one driver, all with <= 5.
    assert x["n_genes_with_drivers"] == 3
    assert x["fraction_single_driver"] == pytest.approx(2 / 3) and x["fraction_at_most_5_drivers"] == 1.0
    # Supported: positive genes A (0.5) and E (NaN -> left out) -> 0.5; negative gene B -> 1.0.
    assert x["supported_fraction_positive_genes"] == pytest.approx(0.5)
    assert x["supported_fraction_negative_genes"] == pytest.approx(1.0)
    y = s["y"]
    assert y["n_significant"] == 0 and math.isnan(y["fraction_significant_negative"])
    assert y["n_genes_with_drivers"] == 0 and math.isnan(y["fraction_single_driver"])
    assert math.isnan(y["corr_abs_r_model_vs_predixcan"])


# ---------------------------------------------------------------------------------------------------
# PrediXcan
# ---------------------------------------------------------------------------------------------------


def _make_db(path, rows, columns=("gene", "rsid", "varID", "ref_allele", "eff_allele", "weight"),
             table="weights"):
    con = sqlite3.connect(path)
    con.execute(f"CREATE TABLE {table} ({', '.join(columns)})")
    con.executemany(f"INSERT INTO {table} VALUES ({', '.join('?' * len(columns))})", rows)
    con.execute("CREATE TABLE extra (gene TEXT, genename TEXT)")
    con.commit()
    con.close()
    return path


@pytest.fixture
def predictdb(tmp_path):
    rows = [
        ("ENSG1.3", "rs1", "chr1_100_A_G_b38", "A", "G", 0.5),    # direct
        ("ENSG1.3", "rs2", "chr1_200_T_C_b38", "T", "C", -1.0),   # VCF has C>T: flipped
        ("ENSG1.3", "rs3", "chr1_300_G_A_b38", "G", "A", 9.0),    # absent from the cohort
        ("ENSG1.3", "rs4", "chr1_400_A_C_b38", "A", "C", 7.0),    # cohort has A>G: ambiguous
        ("ENSG2.1", "rs1", "chr1_100_A_G_b38", "A", "G", 2.0),    # direct
        ("ENSG2.1", "rs5", "chr1_500_C_A_b38", "C", "A", 1.0),    # multi-allelic A>C,G: flipped
        ("ENSG2.1", "rs6", "chr1_600_A_T_b38", "A", "T", 0.25),   # strand-ambiguous A/T: used as is
    ]
    return _make_db(tmp_path / "model.db", rows)


def test_predixcan_hand_made_model(predictdb):
    w = read_predictdb(predictdb)
    assert list(w["pos"]) == [100, 200, 300, 400, 100, 500, 600] and w["chrom"].iloc[0] == "1"
    variants = pd.DataFrame({"chrom": ["chr1"] * 6, "pos": [100, 200, 400, 500, 500, 600],
                             "ref": ["A", "C", "A", "A", "A", "A"], "alt": ["G", "T", "G", "C", "G", "T"]})
    dosage = np.array([[0, 1, 2, 1],     # 100 A>G
                       [2, 0, 1, 1],     # 200 C>T
                       [1, 1, 1, 1],     # 400 A>G
                       [0, 1, 0, 1],     # 500 A>C
                       [1, 0, 0, 1],     # 500 A>G
                       [2, 0, 1, 0]], dtype=np.int8)  # 600 A>T
    pred, counts = predixcan_predict(w, variants, dosage, samples=["s1", "s2", "s3", "s4"])
    # ENSG1: 0.5 * d100 + (-1.0) * (2 - d200)  [effect allele C is the VCF REF]
    #   s1: 0 - 1*(2-2) = 0; s2: 0.5 - 1*(2-0) = -1.5; s3: 1.0 - 1*(2-1) = 0; s4: 0.5 - 1 = -0.5
    # ENSG2: 2.0 * d100 + 1.0 * (2 - dC - dG at 500)  [effect allele A is the VCF REF] + 0.25 * d600
    #   s1: 0 + (2-0-1) + 0.5 = 1.5; s2: 2 + (2-1-0) + 0 = 3; s3: 4 + 2 + 0.25 = 6.25; s4: 2 + 0 + 0 = 2
    np.testing.assert_allclose(pred.loc["ENSG1.3"].to_numpy(), [0.0, -1.5, 0.0, -0.5])
    np.testing.assert_allclose(pred.loc["ENSG2.1"].to_numpy(), [1.5, 3.0, 6.25, 2.0])
    assert list(pred.columns) == ["s1", "s2", "s3", "s4"]
    assert counts.loc["ENSG1.3"].to_dict() == {"n_weights": 4, "n_used": 2, "n_flipped": 1,
                                               "n_ambiguous": 1, "n_absent": 1}
    assert counts.loc["ENSG2.1"].to_dict() == {"n_weights": 3, "n_used": 3, "n_flipped": 1,
                                               "n_ambiguous": 0, "n_absent": 0}
    # A missing call (NaN dosage) makes only that sample's prediction missing, for genes that use it.
    dna = dosage.astype(float)
    dna[2, 0] = np.nan  # 400 A>G: only the ambiguous, dropped weight sits there
    dna[1, 1] = np.nan  # 200 C>T: used by ENSG1 only
    pred_na, _ = predixcan_predict(w, variants, dna)
    np.testing.assert_allclose(pred_na.loc["ENSG1.3"].to_numpy(), [0.0, np.nan, 0.0, -0.5])
    np.testing.assert_allclose(pred_na.loc["ENSG2.1"].to_numpy(), [1.5, 3.0, 6.25, 2.0])
    # R vs observed, gene ids matched without the version suffix.
    expr = pd.DataFrame([[1.0, -2.0, 0.5, 0.0], [0.0, 1.0, 2.0, 1.0]], index=["ENSG1", "ENSG2"],
                        columns=["s4", "s2", "s3", "s1"])
    rr = predixcan_r(pred, expr).set_index("gene_id")
    assert rr.loc["ENSG1", "predixcan_gene"] == "ENSG1.3"
    # Aligned by sample name: ENSG1 pred for (s4, s2, s3, s1) = (-0.5, -1.5, 0, 0).
    assert rr.loc["ENSG1", "predixcan_r"] == pytest.approx(
        sps.pearsonr([-0.5, -1.5, 0.0, 0.0], [1.0, -2.0, 0.5, 0.0]).statistic)
    assert rr.loc["ENSG2", "n_samples"] == 4


def test_gene_id_versions():
    assert strip_version("ENSG00000123.12") == "ENSG00000123" and strip_version("GENE") == "GENE"
    m = match_gene_ids(["ENSG1", "ENSG2.4", "ENSG3", "X"], ["ENSG1.2", "ENSG2", "ENSG3.1", "ENSG3.2"])
    assert m == {"ENSG1": "ENSG1.2", "ENSG2.4": "ENSG2"}  # ENSG3 is ambiguous between two versions


def test_predictdb_schema_errors(tmp_path):
    rows = [("G", "rs1", "chr1_1_A_G_b38", "A", "G", 1.0)]
    cases = {
        "no table": (_make_db(tmp_path / "a.db", rows, table="weightz"), "table 'weights'"),
        "no column": (_make_db(tmp_path / "b.db", [r[:4] + r[5:] for r in rows],
                               columns=("gene", "rsid", "varID", "ref_allele", "weight")), "'eff_allele'"),
        "bad varID": (_make_db(tmp_path / "c.db", [("G", "rs1", "rs1", "A", "G", 1.0)]), "'varID'"),
        "bad weight": (_make_db(tmp_path / "d.db", [("G", "rs1", "chr1_1_A_G_b38", "A", "G", "x")]),
                       "'weight'"),
    }
    text = tmp_path / "e.db"
    text.write_text("gene\tweight\n")
    cases["not sqlite"] = (text, "not a SQLite database")
    cases["missing"] = (tmp_path / "nope.db", "does not exist")
    for name, (path, fragment) in cases.items():
        with pytest.raises(SeqgxError) as err:
            read_predictdb(path)
        msg = str(err.value)
        assert fragment in msg and "\n" not in msg and str(path.name) in msg, (name, msg)


def test_elastic_net_baseline_planted():
    rng = np.random.default_rng(11)
    d = rng.integers(0, 3, size=(30, 150)).astype(float)
    y = 0.8 * d[4] - 0.6 * d[20] + rng.normal(scale=0.5, size=150)
    r, p, oof = elastic_net_baseline(d, y, n_outer=3, n_inner=3, seed=0)
    assert r > 0.7 and p < 1e-10 and np.isfinite(oof).all()
    r0, _, _ = elastic_net_baseline(np.ones((3, 150)), y)
    assert np.isnan(r0)


# ---------------------------------------------------------------------------------------------------
# Fine-tuned readout
# ---------------------------------------------------------------------------------------------------


def test_finetune_recovers_planted_weights_and_csv_round_trip(tmp_path):
    rng = np.random.default_rng(12)
    n, k = 600, 30
    X = rng.normal(size=(n, k)) + 3.0
    w_true = np.zeros(k)
    w_true[[1, 7, 20]] = [0.8, -0.5, 0.3]
    y = X @ w_true + 2.0 + rng.normal(scale=0.05, size=n)
    chrom = np.array([f"chr{i % 6 + 1}" for i in range(n)])
    w, b, r, held = stats.finetune_readout(X, y, chrom, n_alphas=20, n_folds=3)
    np.testing.assert_allclose(w, w_true, atol=0.03)
    assert b == pytest.approx(2.0, abs=0.15)
    assert r > 0.99 and len(held) == n and held["predicted"].notna().all()
    # Every gene is predicted by a fold that held its whole chromosome out.
    assert (held.groupby("chrom")["fold"].nunique() == 1).all()

    names = [f"CAGE:track {i}" for i in range(k)]
    path = stats.write_readout_weights(tmp_path / "w.csv", names, w, b)
    raw = path.read_bytes()
    lines = raw.decode().split("\r\n")
    assert lines[0] == "tracks,weights" and lines[-1] == "" and lines[-2].startswith("offset,")
    assert len(lines) == k + 3
    w2, b2 = read_finetuned_weights(path, names)  # the reader the fine-tuned readout uses
    np.testing.assert_allclose(w2, w, atol=5e-7)
    assert b2 == pytest.approx(b, abs=5e-7)


def test_readout_csv_number_format(tmp_path):
    path = stats.write_readout_weights(tmp_path / "w.csv", ["a", "b", "c", "d", "e"],
                                       np.array([0.0, -0.0214591, 1e-7, -3e-6, -2e-7]), 3.877690)
    assert path.read_bytes() == (b"tracks,weights\r\na,0\r\nb,-0.021459\r\nc,0\r\nd,-0.000003\r\ne,0\r\n"
                                 b"offset,3.87769\r\n")
    with pytest.raises(SeqgxError, match="comma"):
        stats.write_readout_weights(tmp_path / "x.csv", ["a,b"], np.array([1.0]), 0.0)
    bad = tmp_path / "bad.csv"
    bad.write_text("tracks,weights\na,1\n")
    with pytest.raises(SeqgxError, match="offset"):
        read_finetuned_weights(bad, ["a"])


def test_finetune_needs_three_chromosomes():
    with pytest.raises(SeqgxError, match="chromosomes"):
        stats.finetune_readout(np.ones((10, 2)), np.arange(10.0), ["chr1"] * 5 + ["chr2"] * 5)


def test_nan_inputs_give_nan_without_error_or_warning():
    import warnings

    rng = np.random.default_rng(13)
    d = rng.integers(0, 3, size=(5, 10)).astype(np.int8)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert all(np.isnan(a).all() for a in stats.eqtl(d, np.full(10, np.nan)))
        assert all(np.isnan(a).all() for a in stats.eqtl(d * np.nan, np.arange(10.0)))
        assert stats.forward_drivers(np.ones(5), d, np.full(10, np.nan)).empty
        res = stats.gene_statistics(np.full(10, np.nan), np.full(10, np.nan), d)
        assert res["status"] == "too_few_samples" and np.isnan(res["r"])
        assert np.isnan(stats.pearson([], [])[0]) and np.isnan(stats.spearman([], []))
        assert all(np.isnan(v) for v in stats.null_tstat(np.nan, np.nan, np.nan, 0))
        assert np.isnan(stats.empirical_p(0.3, np.array([np.nan, np.nan])))
        assert np.isnan(stats.null_abs_r(np.zeros((0, 10)), np.arange(10.0), 5, 0)).all()
        s = stats.summarize(pd.DataFrame({"gene_id": ["a"], "r": [np.nan], "significant": [np.nan]}))
        assert s["all"]["n_genes_tested"] == 0 and math.isnan(s["all"]["mean_r"])
