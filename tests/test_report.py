"""`seqgx report`: each figure's data on small tables with known answers, the gene data `seqgx stats`
writes for the gene pages, bad input, and a report of a real (small) run.

Expected values are derived here by hand or with plain numpy/scipy, never from the functions under test.
"""

from __future__ import annotations

import io
import json
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from cli_helpers import one_line_error, seqgx_run
from PIL import Image
from scipy import stats as sps

from seqgx.cli import main
from seqgx.report import figures as F
from seqgx.report.genedata import GeneDataStore, forward_curve, write_genedata
from seqgx.report.inputs import load_inputs
from seqgx.report.render import build_report, render, scope_svg, select_genes

ALPHA = 0.05


def _genes(rows: list[dict]) -> pd.DataFrame:
    base = {"gene_name": "", "chrom": "chr1", "tss": 1000, "strand": "+", "readout": "track:1",
            "readout_name": "oracle:TATA", "n_samples": 100, "n_snvs": 10, "obs_mean": 1.0, "pred_mean": 2.0,
            "r": math.nan, "null_p": math.nan, "fdr": math.nan, "significant": False, "predixcan_r": math.nan,
            "approx_r": math.nan, "grad_approx_r": math.nan, "grad_ism_r": math.nan, "n_drivers": 0,
            "status": "ok"}
    return pd.DataFrame([{**base, "gene_name": f"name_{r['gene_id']}", **r} for r in rows])


# The Benjamini-Hochberg example: p sorted, m = 10, alpha = 0.05. p_(k) < k * alpha / m holds for k = 1
# (0.001 < 0.005) and k = 2 (0.008 < 0.010) and for no larger k (0.039 > 0.015, 0.041 > 0.020, ...,
# 0.216 > 0.050): the threshold is p_(2) = 0.008, the two smallest p are significant.
BH_P = [0.001, 0.008, 0.039, 0.041, 0.042, 0.060, 0.074, 0.205, 0.212, 0.216]


@pytest.fixture()
def bh_genes() -> pd.DataFrame:
    rows = [{"gene_id": f"G{i}", "r": (0.5 if i % 2 else -0.4) * (1 - p), "null_p": p, "pred_mean": float(i),
             "significant": p <= 0.008} for i, p in enumerate(BH_P)]
    rows.append({"gene_id": "Gnan", "r": math.nan, "null_p": math.nan})  # not tested: no point
    rows.append({"gene_id": "Gnop", "r": 0.1, "null_p": math.nan})  # no null: no point
    return _genes(rows)


def test_r_vs_null_p_points_and_the_bh_line(bh_genes: pd.DataFrame) -> None:
    plot = F.r_vs_null_p(bh_genes, ALPHA)
    assert plot.fig is not None and len(plot.data) == 10
    assert plot.values["fdr_threshold_p"] == pytest.approx(0.008)
    np.testing.assert_allclose(plot.data["neg_log10_p"], -np.log10(BH_P))
    (ax, *_), = [plot.fig.axes]
    lines = [ln for ln in ax.lines if len(set(ln.get_ydata())) == 1 and ln.get_linestyle() == "--"]
    assert len(lines) == 1 and lines[0].get_ydata()[0] == pytest.approx(-math.log10(0.008))
    # the points drawn are the table's, coloured by the predicted mean
    offsets = ax.collections[0].get_offsets()
    np.testing.assert_allclose(np.asarray(offsets)[:, 1], -np.log10(BH_P))
    np.testing.assert_allclose(ax.collections[0].get_array(), np.arange(10.0))


def test_no_fdr_line_when_nothing_is_significant() -> None:
    g = _genes([{"gene_id": f"G{i}", "r": 0.1, "null_p": 0.5 + i / 100} for i in range(5)])
    plot = F.r_vs_null_p(g, ALPHA)
    assert math.isnan(plot.values["fdr_threshold_p"])
    assert not [ln for ln in plot.fig.axes[0].lines if ln.get_linestyle() == "--"]


def test_hover_points_land_on_drawn_points(bh_genes: pd.DataFrame) -> None:
    """The JS hit-test uses pixel positions from matplotlib's transforms: in the PNG each must be a dot."""
    plot = F.r_vs_null_p(bh_genes, ALPHA)
    rd = render(plot, "t", "f", "d", formats=("png",))
    pts = json.loads(rd.hover)
    image = np.asarray(Image.open(io.BytesIO(rd.files["f/t.png"])).convert("RGB")).astype(int)
    assert (pts["w"], pts["h"]) == (image.shape[1], image.shape[0])
    assert sorted(pts["g"]) == sorted(f"G{i}" for i in range(10))
    for x, y in zip(pts["x"], pts["y"], strict=True):
        assert (image[y, x] < 235).any(), (x, y, image[y, x])  # not white: a point is drawn there


def test_r_distribution_counts_the_three_groups(bh_genes: pd.DataFrame) -> None:
    plot = F.r_distribution(bh_genes)
    # significant: G0 (r -0.4 x 0.999 < 0) and G1 (r > 0); 8 others tested, plus Gnop (r 0.1, no p)
    assert plot.values == {"significant positive": 1, "significant negative": 1, "not significant": 9}
    assert plot.data[["significant positive", "significant negative", "not significant"]].sum().tolist() == \
        [1, 1, 9]


def test_predixcan_comparison_and_not_computed_without_baseline() -> None:
    g = _genes([{"gene_id": f"G{i}", "r": r, "predixcan_r": p}
                for i, (r, p) in enumerate([(-0.5, 0.4), (0.3, 0.35), (0.1, 0.05), (0.6, 0.7),
                                            (0.2, math.nan)])])
    plot = F.predixcan_comparison(g)
    assert len(plot.data) == 4
    x, y = np.array([0.4, 0.35, 0.05, 0.7]), np.array([0.5, 0.3, 0.1, 0.6])
    assert plot.values["pearson_r"] == pytest.approx(np.corrcoef(x, y)[0, 1])
    assert plot.values["mean"] == pytest.approx((x.mean(), y.mean()))
    assert any(f"Pearson R = {np.corrcoef(x, y)[0, 1]:.2f}" in t.get_text()
               for t in plot.fig.axes[0].get_legend().get_texts())
    assert F.predixcan_comparison(g.assign(predixcan_r=math.nan)).fig is None
    assert "baseline" in F.predixcan_comparison(g.drop(columns="predixcan_r")).reason  # says why


def _drivers(rows: list[dict]) -> pd.DataFrame:
    base = {"readout": "track:1", "ref": "A", "alt": "G", "distance_to_tss": 0, "ism": 1.0, "rank": 1,
            "frac_increase": 0.5, "eqtl_slope": 1.0, "is_main": False, "supported": "true"}
    return pd.DataFrame([{**base, "variant_id": f"chr1:{r['pos']}:A:G", **r} for r in rows])


def test_supported_fraction_plain_and_weighted_with_the_mann_whitney_test() -> None:
    g = _genes([{"gene_id": "P1", "r": 0.6, "significant": True},
                {"gene_id": "P2", "r": 0.4, "significant": True},
                {"gene_id": "N1", "r": -0.5, "significant": True},
                {"gene_id": "N2", "r": -0.3, "significant": True},
                {"gene_id": "Z", "r": 0.05}])
    d = _drivers([
        {"gene_id": "P1", "pos": 1, "supported": "true", "frac_increase": 0.6},
        {"gene_id": "P1", "pos": 2, "supported": "false", "frac_increase": 0.2},
        {"gene_id": "P2", "pos": 3, "supported": "true", "frac_increase": 0.9},
        {"gene_id": "N1", "pos": 4, "supported": "false", "frac_increase": 0.7},
        {"gene_id": "N1", "pos": 5, "supported": "true", "frac_increase": 0.1},
        {"gene_id": "N1", "pos": 6, "supported": "NA", "frac_increase": 0.5},  # unknown: left out
        {"gene_id": "N2", "pos": 7, "supported": "false", "frac_increase": 0.3},
        {"gene_id": "Z", "pos": 8, "supported": "true", "frac_increase": 0.2}])
    plot = F.supported_fraction(g, d)
    t = plot.data.set_index("gene_id")
    plain = {"P1": 0.5, "P2": 1.0, "N1": 0.5, "N2": 0.0, "Z": 1.0}
    weighted = {"P1": 0.6 / 0.8, "P2": 1.0, "N1": 0.1 / 0.8, "N2": 0.0, "Z": 1.0}
    for gid in plain:
        assert t.loc[gid, "supported_fraction"] == pytest.approx(plain[gid])
        assert t.loc[gid, "supported_fraction_weighted"] == pytest.approx(weighted[gid])
    expect = sps.mannwhitneyu([0.5, 1.0], [0.5, 0.0], alternative="two-sided").pvalue
    assert plot.values["supported_fraction_mannwhitney_p"] == pytest.approx(expect)
    expect_w = sps.mannwhitneyu([0.75, 1.0], [0.125, 0.0], alternative="two-sided").pvalue
    assert plot.values["supported_fraction_weighted_mannwhitney_p"] == pytest.approx(expect_w)
    assert F.supported_fraction(g, d.iloc[:0]).fig is None


def test_driver_positions_are_signed_in_the_direction_of_transcription() -> None:
    """Upstream is negative on both strands: on '-' a driver at a larger position is upstream."""
    g = _genes([{"gene_id": "plus", "tss": 10_000, "strand": "+"},
                {"gene_id": "minus", "tss": 10_000, "strand": "-"}])
    d = _drivers([{"gene_id": "plus", "pos": 10_100, "is_main": True},  # +100: into the gene
                  {"gene_id": "plus", "pos": 9_700},  # -300: upstream
                  {"gene_id": "minus", "pos": 10_100, "is_main": True},  # -100: upstream on '-'
                  {"gene_id": "minus", "pos": 9_400},  # +600: into the gene on '-'
                  {"gene_id": "minus", "pos": 40_000}])  # -30,000 (upstream on '-'): outside +-1,000 bp
    near = F.driver_positions(d, g)
    assert sorted(near.values["distances"].tolist()) == [-300, -100, 100, 600]
    data = near.data.set_index("bin_start")
    assert data.loc[100, "main drivers"] == 1 and data.loc[-100, "main drivers"] == 1
    assert data.loc[-300, "other drivers"] == 1 and data.loc[600, "other drivers"] == 1
    assert data[["main drivers", "other drivers"]].to_numpy().sum() == 4
    whole = F.driver_positions(d, g, flank=None, bin_size=1000, extent=98_304,
                               name="driver_positions_window")
    assert sorted(whole.values["distances"].tolist()) == [-30_000, -300, -100, 100, 600]
    assert whole.data["bin_start"].min() == -99_000 and whole.data["bin_end"].max() == 99_000
    assert int(whole.data.loc[whole.data["bin_start"] == -30_000, "other drivers"].iloc[0]) == 1


def test_drivers_per_gene_bins() -> None:
    g = _genes([{"gene_id": f"G{i}", "n_drivers": n, "significant": i < 3}
                for i, n in enumerate([1, 1, 12, 2, 0, math.nan])])
    plot = F.drivers_per_gene(g)
    t = plot.data.set_index("n_drivers")
    assert t.loc["1", "significant"] == 2 and t.loc[">=10", "significant"] == 1
    assert t.loc["2", "not significant"] == 1 and t[["significant", "not significant"]].to_numpy().sum() == 4


def test_cohort_figures_not_computed_without_data() -> None:
    """No tested gene, no drivers, no ISM, no gradients: each says why, none draws an empty axis."""
    g = _genes([{"gene_id": "G1", "status": "constant_prediction"}, {"gene_id": "G2", "status": "no_snvs"}])
    empty = _drivers([{"gene_id": "G1", "pos": 1}]).iloc[:0]
    for plot in (F.r_vs_null_p(g, ALPHA), F.r_distribution(g), F.predixcan_comparison(g),
                 F.supported_fraction(g, empty), F.drivers_per_gene(g), F.driver_positions(empty, g),
                 F.approximation_r(g), F.gradient_vs_ism(g), F.gradient_approximation(g)):
        assert plot.fig is None and plot.reason, plot.name
    assert "gradients" in F.gradient_vs_ism(g).reason


# ---------------------------------------------------------------------------------------------------
# Gene data and gene figures
# ---------------------------------------------------------------------------------------------------

def _record(gid: str, n_people: int, pos: list[int], readouts: list[str], seed: int = 0,
            strand: str = "+") -> dict:
    rng = np.random.default_rng(seed)
    v, r = len(pos), len(readouts)
    return {"gene_id": gid, "gene_name": f"N{gid}", "chrom": "chr1", "strand": strand, "tss": 1000,
            "window_start": 1000 - 65, "window_length": 128, "readouts": readouts,
            "reference": list(rng.normal(size=r)), "n_distinct_haplotypes": n_people, "dedup_ratio": 2.0,
            "counts": {"indels_skipped": seed}, "samples": [f"S{i}" for i in range(n_people)],
            "observed": rng.normal(size=n_people), "prediction": rng.normal(size=(n_people, r)),
            "main_dosage": rng.integers(-1, 3, (n_people, r)), "pos": np.array(pos),
            "ref": np.full(v, "A"), "alt": np.full(v, "C"), "allele_frequency": rng.uniform(size=v),
            "carrier_fraction": rng.uniform(size=v), "eqtl_slope": rng.normal(size=v),
            "eqtl_p": rng.uniform(size=v), "ism": rng.normal(size=(v, r)),
            "gradient": rng.normal(size=(v, r)), "forward_frac": rng.uniform(size=(v, r))}


def test_gene_data_round_trip(tmp_path: Path) -> None:
    a = _record("A.1", 5, [990, 1005, 1010], ["x", "y"], seed=1)
    b = _record("B.2", 4, [1002], ["y"], seed=2, strand="-")  # other people, SNVs and readouts
    c = _record("C.3", 3, [], ["x"], seed=3)  # no SNVs
    path = write_genedata([a, b, c], tmp_path / "b1.genedata.npz")
    newer = _record("A.1", 5, [990], ["x"], seed=4)
    write_genedata([newer], tmp_path / "b2.genedata.npz")
    store = GeneDataStore([path])
    ga = store.get("A.1")
    assert ga.readouts == ["x", "y"] and list(ga.samples) == [f"S{i}" for i in range(5)]
    np.testing.assert_allclose(ga.prediction, a["prediction"], rtol=1e-6)
    np.testing.assert_allclose(ga.ism, a["ism"], rtol=1e-6)
    np.testing.assert_array_equal(ga.main_dosage, a["main_dosage"])
    assert ga.snvs["distance_to_tss"].tolist() == [-10, 5, 10]
    gb = store.get("B.2")
    assert gb.snvs["distance_to_tss"].tolist() == [-2]  # '-' strand: tss - pos
    k = gb.readout_index("y")
    np.testing.assert_allclose(gb.ism[:, k], b["ism"][:, 0], rtol=1e-6)
    assert np.isnan(gb.ism[:, gb.readout_index("x")]).all()  # readout the gene lacks: NaN
    assert (gb.main_dosage[:, gb.readout_index("x")] == -1).all()
    assert len(store.get("C.3").snvs) == 0 and store.get("nope") is None
    assert store.genes.set_index("gene_id").loc["B.2", "indels_skipped"] == 2
    # a later file (phase 2's) wins for a gene in both
    assert len(GeneDataStore([path, tmp_path / "b2.genedata.npz"]).get("A.1").snvs) == 1


def test_forward_curve_matches_a_direct_computation() -> None:
    rng = np.random.default_rng(5)
    d = rng.integers(0, 3, (12, 60)).astype(np.int8)
    ism = rng.normal(size=12)
    ism[3] = 0.0
    pred = ism @ d + rng.normal(scale=0.5, size=60)
    order = sorted(range(12), key=lambda i: -abs(ism[i]))  # stable: ties keep input order
    full = np.corrcoef(ism @ d, pred)[0, 1]
    expect = []
    for i in range(1, 13):
        a = ism[order[:i]] @ d[order[:i]]
        expect.append(np.corrcoef(a, pred)[0, 1] / full if np.ptp(a) > 0 else 0.0)
    np.testing.assert_allclose(forward_curve(ism, d, pred), expect, atol=1e-9)
    assert np.isnan(forward_curve(np.zeros(12), d, pred)).all()  # no approximation: no curve


def _gene_data(tmp_path: Path, strand: str = "+") -> tuple:
    rec = _record("G.1", 30, [900, 995, 1040, 1100], ["track:1"], seed=7, strand=strand)
    rec["main_dosage"] = np.repeat([[0], [1], [2]], 10, axis=0)
    rec["eqtl_slope"] = np.array([0.5, -0.4, 0.3, np.nan])
    rec["ism"] = np.array([[1.0], [-2.0], [0.5], [0.1]])
    store = GeneDataStore([write_genedata([rec], tmp_path / "g.genedata.npz")])
    drivers = _drivers([{"gene_id": "G.1", "pos": 995, "ref": "A", "alt": "C", "is_main": True,
                         "supported": "false",
                         "rank": 1},
                        {"gene_id": "G.1", "pos": 900, "ref": "A", "alt": "C", "supported": "true",
                         "rank": 2}])
    return store.get("G.1"), drivers, rec


def test_prediction_figure_colours_people_by_the_main_drivers_dosage(tmp_path: Path) -> None:
    gd, drivers, rec = _gene_data(tmp_path)
    row = pd.Series({"r": 0.42, "null_p": 0.003, "status": "ok"})
    plot = F.prediction_vs_observed(gd, 0, row, drivers)
    assert len(plot.data) == 30
    ax = plot.fig.axes[0]
    assert "R = 0.42" in ax.get_title() and "null p = 0.003" in ax.get_title()
    colours = {tuple(np.round(c.get_facecolor()[0][:3], 3)): len(c.get_offsets()) for c in ax.collections}
    from matplotlib.colors import to_rgb
    assert colours == {tuple(np.round(to_rgb(F.DOSAGE_COLOURS[k]), 3)): 10 for k in (0, 1, 2)}


def test_ism_figures_mark_drivers_and_their_support(tmp_path: Path) -> None:
    from matplotlib.colors import to_rgb

    gd, drivers, rec = _gene_data(tmp_path, strand="-")
    dist = F.ism_vs_distance(gd, 0, drivers)
    assert dist.data["distance_to_tss"].tolist() == [100, 5, -40, -100]  # '-' strand: tss - pos
    assert dist.data["driver"].tolist() == [True, True, False, False]
    assert dist.data["main_driver"].tolist() == [False, True, False, False]
    assert any("main driver 995:A>C" in t.get_text() for t in dist.fig.axes[0].texts)
    eq = F.ism_vs_eqtl(gd, 0, drivers)
    assert len(eq.data) == 3  # the SNV without an eQTL slope is left out
    rings = {tuple(np.round(c.get_edgecolor()[0][:3], 3)): np.asarray(c.get_offsets())
             for c in eq.fig.axes[0].collections[1:]}
    # pos 900: ISM 1 and slope 0.5, supported; pos 995: ISM -2 and slope -0.4 (float32), not
    np.testing.assert_allclose(rings[tuple(np.round(to_rgb(F.SUPPORTED), 3))], [[0.5, 1.0]], rtol=1e-6)
    np.testing.assert_allclose(rings[tuple(np.round(to_rgb(F.UNSUPPORTED), 3))], [[-0.4, -2.0]], rtol=1e-6)


def test_gene_figures_not_computed_without_attribution(tmp_path: Path) -> None:
    gd, drivers, _ = _gene_data(tmp_path)
    gd.ism[:] = np.nan
    gd.forward_frac[:] = np.nan
    for plot in (F.ism_vs_distance(gd, 0, drivers), F.ism_vs_eqtl(gd, 0, drivers),
                 F.forward_selection(gd, 0, drivers), F.gradient_track(None, gd, 64, drivers),
                 F.saturation_logo(None, None, gd, drivers)):
        assert plot.fig is None and plot.reason, plot.name


def test_saturation_logo_normalises_by_the_sd_of_the_window(tmp_path: Path) -> None:
    gd, drivers, _ = _gene_data(tmp_path)
    positions = np.arange(1000 - 200, 1000 + 201)
    rng = np.random.default_rng(3)
    ref = rng.integers(0, 4, len(positions))
    m = rng.normal(size=(len(positions), 4))
    m[np.arange(len(positions)), ref] = 0.0
    sat = {"matrix": m[None].astype(np.float32), "positions": positions, "ref": ref.astype(np.uint8),
           "readouts": np.array(["track:1"])}
    plot = F.saturation_logo(sat, 0, gd, drivers)
    subs = m[np.arange(4)[None, :] != ref[:, None]]  # every substitution of the +-200 bp window
    sd = float(np.std(subs.astype(np.float32)))
    assert plot.values["sd"] == pytest.approx(sd, rel=1e-5)
    assert len(plot.data) == 301 and plot.data["offset"].tolist() == list(range(-150, 151))
    i = 200 + 17  # position tss + 17
    expect = -m[i][np.arange(4) != ref[i]].mean() / sd
    assert plot.data.loc[plot.data["offset"] == 17, "attribution"].iloc[0] == pytest.approx(expect, rel=1e-4)
    assert plot.values["main_driver_offset"] == -5  # main driver at 995


def _saturation(tss: int = 1000, flank: int = 200, readouts: tuple[str, ...] = ("track:1",), seed: int = 3
                ) -> dict:
    """A saturation file's arrays: +-``flank`` bp of ``tss``, random effects, 0 at the reference base."""
    positions = np.arange(tss - flank, tss + flank + 1)
    rng = np.random.default_rng(seed)
    ref = rng.integers(0, 4, len(positions))
    m = rng.normal(size=(len(readouts), len(positions), 4))
    m[:, np.arange(len(positions)), ref] = 0.0
    return {"matrix": m.astype(np.float32), "positions": positions, "ref": ref.astype(np.uint8),
            "readouts": np.array(readouts), "tss": np.int64(tss)}


def _seqlets(rows: list[dict]) -> pd.DataFrame:
    base = {"gene_id": "G.1", "readout": "track:1", "tf_name": None, "tf_q": math.nan,
            "tf_significant": "false"}
    return pd.DataFrame([{**base, "seqlet_id": f"{r.get('gene_id', 'G.1')}:{r.get('readout', 'track:1')}:{k}",
                          **r} for k, r in enumerate(rows, 1)])


# A '-' strand gene, TSS at 1000. The logo is in genomic (+ strand) orientation, x = position - TSS, one bp
# per unit, each base from x - 0.5 to x + 0.5. So a seqlet over 1010..1015 is framed from 1010 - 1000 - 0.5
# = 9.5 to 1015 - 1000 + 0.5 = 15.5 (not -15.5..-9.5, as it would be in the direction of transcription);
# 990..993 from -10.5 to -6.5; 845..853 (offsets -155..-147) is cut at the panel's edge, -150: -150.5 to
# -146.5; 1200..1205 (offsets 200..205) lies outside +-150 bp and is not drawn.
SEQLET_ROWS = [{"start": 1010, "end": 1015, "tf_name": "TBP", "tf_q": 0.001, "tf_significant": "true"},
               {"start": 990, "end": 993, "tf_name": "SRF", "tf_q": 0.5},
               {"start": 845, "end": 853},  # no JASPAR match
               {"start": 1200, "end": 1205, "tf_name": "CTCF"}]
SEQLET_BOXES = [(-150.5, -146.5, "no match"), (-10.5, -6.5, "SRF"), (9.5, 15.5, "TBP*")]


def test_saturation_logo_frames_seqlets_in_genomic_orientation(tmp_path: Path) -> None:
    from matplotlib.patches import Rectangle

    gd, drivers, _ = _gene_data(tmp_path, strand="-")
    plot = F.saturation_logo(_saturation(), 0, gd, drivers, seqlets=_seqlets(SEQLET_ROWS))
    labels_ax, logo_ax, _heat, _colorbar = plot.fig.axes
    boxes = sorted((r.get_x(), r.get_x() + r.get_width()) for r in logo_ax.patches
                   if isinstance(r, Rectangle))
    np.testing.assert_allclose(boxes, [b[:2] for b in SEQLET_BOXES])
    texts = {t.get_text(): t for t in labels_ax.texts}
    assert set(texts) == {b[2] for b in SEQLET_BOXES}
    for x0, x1, label in SEQLET_BOXES:  # each label centred over its box
        assert texts[label].get_position()[0] == pytest.approx((x0 + x1) / 2)
    assert texts["TBP*"].get_fontweight() == "bold" and texts["SRF"].get_fontweight() == "normal"
    # the figure's data names each base's seqlet: offsets 10..15 TBP, -150..-147 no match
    t = plot.data.set_index("offset")
    assert t.loc[10:15, "seqlet_tf"].tolist() == ["TBP*"] * 6 and pd.isna(t.loc[[9, 16], "seqlet_tf"]).all()
    assert t.loc[-150:-147, "seqlet_tf"].tolist() == ["no match"] * 4 and pd.isna(t.loc[-146, "seqlet_tf"])
    assert "3 seqlets" in plot.caption
    # no seqlets table: not computed, said in the caption; none in range: said too
    bare = F.saturation_logo(_saturation(), 0, gd, drivers)
    assert len(bare.fig.axes) == 3 and "Seqlets: not computed" in bare.caption
    assert "No seqlet" in F.saturation_logo(_saturation(), 0, gd, drivers,
                                           seqlets=_seqlets(SEQLET_ROWS[3:])).caption


def test_dense_seqlet_labels_turn_vertical(tmp_path: Path) -> None:
    """30 seqlets of 4 bp, 5 bp apart: 12-character labels (~29 bp wide on the 301-bp axis) cannot share
    three rows (each would get 15 bp)."""
    gd, drivers, _ = _gene_data(tmp_path)
    rows = [{"start": 855 + 5 * k, "end": 858 + 5 * k, "tf_name": "ZNF1234::ABC"} for k in range(30)]
    plot = F.saturation_logo(_saturation(), 0, gd, drivers, seqlets=_seqlets(rows))
    assert len(plot.values["seqlet_boxes"]) == 30
    assert {t.get_rotation() for t in plot.fig.axes[0].texts} == {90.0}


# ---------------------------------------------------------------------------------------------------
# Rendering helpers
# ---------------------------------------------------------------------------------------------------

def test_inline_svg_ids_are_scoped() -> None:
    svg = ('<?xml version="1.0"?>\n'
           '<svg xmlns:xlink="http://www.w3.org/1999/xlink" xmlns="http://www.w3.org/2000/svg">'
           '<metadata><rdf:RDF xmlns:dc="http://purl.org/dc/elements/1.1/"/></metadata>'
           '<defs><path id="m1" d="M0"/><clipPath id="c1"/></defs>'
           '<g id="patch_1"><use xlink:href="#m1"/><g clip-path="url(#c1)"/></g></svg>')
    out = scope_svg(svg, "fig")
    assert out.startswith("<svg>") and "http" not in out
    assert 'id="fig-m1"' in out and 'xlink:href="#fig-m1"' in out
    assert 'url(#fig-c1)' in out and "patch_1" not in out  # ids nothing refers to are dropped


def test_select_genes_ranks_significant_genes_and_adds_asked_ones() -> None:
    g = _genes([{"gene_id": "A.1", "r": 0.3, "significant": True},
                {"gene_id": "A.1", "r": -0.7, "significant": True, "readout": "t2"},
                {"gene_id": "B.1", "r": 0.5, "significant": True},
                {"gene_id": "C.1", "r": 0.9, "significant": False},
                {"gene_id": "D.4", "r": 0.1, "significant": False, "gene_name": "DDD"},
                {"gene_id": "E.2", "r": 0.1, "significant": False}])
    assert select_genes(g, 50) == ["A.1", "B.1"]  # |R| 0.7, 0.5; C.1 is not significant
    assert select_genes(g, 1) == ["A.1"]
    assert select_genes(g, 1, ["DDD", "E", "C.1", "nope"]) == ["A.1", "D.4", "E.2", "C.1"]


# ---------------------------------------------------------------------------------------------------
# Bad input
# ---------------------------------------------------------------------------------------------------

def test_missing_assessment_file_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "assessment").mkdir()
    (tmp_path / "assessment" / "genes.tsv").write_text("gene_id\treadout\tr\tnull_p\n")
    (tmp_path / "assessment" / "summary.json").write_text("{}")
    rc = main(["report", "--results", str(tmp_path)])
    line = one_line_error(capsys, rc, "drivers.tsv", "seqgx merge")
    assert str(tmp_path / "assessment" / "drivers.tsv") in line and rc == 2
    rc = main(["report", "--assessment", str(tmp_path / "assessment" / "genes.tsv"), "--out",
               str(tmp_path / "r")])
    one_line_error(capsys, rc, "drivers.tsv", "seqgx merge")
    rc = main(["report", "--results", str(tmp_path / "none")])
    one_line_error(capsys, rc, "does not exist")


def test_report_of_degenerate_tables_says_not_computed(tmp_path: Path) -> None:
    """NaN statistics, no SNVs, no drivers, no baseline, no gene data, ISM or gradients: no crash, every
    figure place says why, gene pages are still written for the asked genes."""
    g = _genes([{"gene_id": "G1", "status": "no_snvs", "n_snvs": 0},
                {"gene_id": "G2", "status": "constant_prediction"},
                {"gene_id": "G3", "r": 0.4, "null_p": 0.001, "fdr": 0.002, "significant": True}])
    (tmp_path / "assessment").mkdir()
    g.assign(significant=g["significant"].map({True: "true", False: "false"})).to_csv(
        tmp_path / "assessment" / "genes.tsv", sep="\t", index=False, na_rep="NA")
    no_drivers = _drivers([{"gene_id": "G1", "pos": 1}]).iloc[:0]
    no_drivers.to_csv(tmp_path / "assessment" / "drivers.tsv", sep="\t", index=False)
    (tmp_path / "assessment" / "summary.json").write_text(json.dumps(
        {"fdr_alpha": 0.05, "status_counts": {"track:1": {"ok": 1, "no_snvs": 1, "constant_prediction": 1}},
         "readouts": {"track:1": {"n_genes_tested": 1, "n_significant": 1, "n_significant_negative": 0,
                                  "fraction_significant_negative": 0.0, "mean_r": 0.4,
                                  "supported_fraction_positive_genes": None}}}))
    result = build_report(load_inputs(tmp_path), tmp_path / "report", top_genes=5, genes=["G1"])
    assert result.gene_pages == ["G3", "G1"]
    html = (tmp_path / "report" / "index.html").read_text()
    assert html.count("Not computed") >= 6 and "1 of 1 genes are significant" in html
    page = (tmp_path / "report" / "genes" / "G1.html").read_text()
    assert "Not computed" in page and "No driver SNVs" in page


# ---------------------------------------------------------------------------------------------------
# The motif analysis in the report
# ---------------------------------------------------------------------------------------------------

MOTIF_SUMMARY = {
    # 0.3 x 40 = 12 of 40 main drivers in a seqlet, all within the TSS window
    "track:1": {"n_main_drivers": 40, "n_main_drivers_in_tss_window": 40,
                "fraction_main_drivers_in_seqlet": 0.3,
                "fraction_in_seqlet_supported": 0.45, "fraction_in_seqlet_unsupported": 0.1,
                "fraction_in_seqlet_positive_r": 0.35, "fraction_in_seqlet_negative_r": 0.2,
                "fraction_snvs_in_seqlet": 0.08, "fraction_snvs_in_seqlet_all_genes": 0.07,
                "n_snvs_in_tss_window": 500, "n_enriched_known": 1, "n_enriched_de_novo": 0},
    # 10 main drivers, 8 within the window, 0.25 x 8 = 2 of them in a seqlet; no unsupported one there
    "track:2": {"n_main_drivers": 10, "n_main_drivers_in_tss_window": 8,
                "fraction_main_drivers_in_seqlet": 0.25,
                "fraction_in_seqlet_supported": 0.5, "fraction_in_seqlet_unsupported": None,
                "fraction_in_seqlet_positive_r": 0.25, "fraction_in_seqlet_negative_r": None,
                "fraction_snvs_in_seqlet": 0.125, "fraction_snvs_in_seqlet_all_genes": 0.1,
                "n_snvs_in_tss_window": 64, "n_enriched_known": 0, "n_enriched_de_novo": 0}}


def _motif_results(root: Path, motifs: bool = True) -> Path:
    """A results folder: one significant '-' strand gene G.1 (TSS 1000) in two readouts, its gene data and
    saturation file, drivers at 1012 (main; in the TBP seqlet) and 995 in track:1 and at 1100 in track:2;
    with ``motifs`` the motif analysis's files and summary.json's ``motifs``."""
    a = root / "assessment"
    a.mkdir(parents=True)
    g = _genes([{"gene_id": "G.1", "strand": "-", "r": 0.5, "null_p": 0.001, "fdr": 0.01, "significant": True,
                 "n_drivers": 2},
                {"gene_id": "G.1", "strand": "-", "readout": "track:2", "readout_name": "oracle:GC",
                 "r": -0.4, "null_p": 0.002, "fdr": 0.02, "significant": True, "n_drivers": 1}])
    g["gene_name"] = "GENE1"
    g.to_csv(a / "genes.tsv", sep="\t", index=False, na_rep="NA")
    drivers = _drivers([{"gene_id": "G.1", "pos": 1012, "alt": "C", "is_main": True, "rank": 1},
                        {"gene_id": "G.1", "pos": 995, "alt": "C", "rank": 2},
                        {"gene_id": "G.1", "pos": 1100, "alt": "C", "readout": "track:2", "is_main": True}])
    drivers["variant_id"] = [f"chr1:{p}:A:C" for p in drivers["pos"]]
    drivers.to_csv(a / "drivers.tsv", sep="\t", index=False, na_rep="NA")
    summary = {"fdr_alpha": 0.05, "readouts": {"track:1": {"n_genes_tested": 1, "n_significant": 1}}}
    rec = _record("G.1", 30, [995, 1012, 1100], ["track:1", "track:2"], seed=7, strand="-")
    (root / "stats").mkdir()
    write_genedata([rec], root / "stats" / "b0.genedata.npz")
    (root / "ism").mkdir()
    np.savez(root / "ism" / "G.1.saturation.npz", **_saturation(readouts=("track:1", "track:2")))
    if motifs:
        summary["motifs"] = MOTIF_SUMMARY
        dm = pd.DataFrame([
            {"gene_id": "G.1", "readout": "track:1", "variant_id": "chr1:1012:A:C", "pos": 1012,
             "is_main": "true", "supported": "true", "status": "ok", "score_ref": 0.8,
             "motif_size_ref_0.05": 5, "motif_size_ref_0.1": 3, "score_alt": -0.1, "motif_size_alt_0.05": 0,
             "motif_size_alt_0.1": 0,
             "in_seqlet": "true", "seqlet_id": "G.1:track:1:1", "seqlet_tf": "TBP", "seqlet_tf_q": 0.001,
             "seqlet_tf_significant": "true", "seqlet_distance": 0},
            {"gene_id": "G.1", "readout": "track:1", "variant_id": "chr1:995:A:C", "pos": 995,
             "is_main": "false", "supported": "true", "status": "not_computed", "in_seqlet": "false",
             "seqlet_distance": 5},
            {"gene_id": "G.1", "readout": "track:2", "variant_id": "chr1:1100:A:C", "pos": 1100,
             "is_main": "true", "supported": "false", "status": "ok", "score_ref": -0.05,
             "motif_size_ref_0.05": 1, "score_alt": 0.02, "motif_size_alt_0.05": 0, "in_seqlet": "false",
             "seqlet_distance": 70}])
        dm.to_csv(a / "driver_motifs.tsv", sep="\t", index=False, na_rep="NA")
        sq = _seqlets([*SEQLET_ROWS, {"readout": "track:2", "start": 1020, "end": 1030, "tf_name": "CTCF"}])
        sq.to_csv(a / "seqlets.tsv", sep="\t", index=False, na_rep="NA")
        pd.DataFrame([
            {"readout": "track:1", "analysis": "known", "motif_id": "MA0108.3", "motif_name": "TBP",
             "consensus": "TATAAAAG", "n_members": 9, "cases_with": 9, "cases_without": 31,
             "controls_with": 10, "controls_without": 190, "odds_ratio": 5.52, "p_value": 0.0004,
             "q_value": 0.012, "enriched": "true"},
            {"readout": "track:1", "analysis": "de_novo", "motif_id": "cluster_1", "motif_name": "GGGCGGGG",
             "consensus": "GGGCGGGG", "n_members": 3, "cases_with": 2, "cases_without": 10,
             "controls_with": 1, "controls_without": 20, "odds_ratio": 4.0, "p_value": 0.2, "q_value": 0.4,
             "enriched": "false"},
            {"readout": "track:2", "analysis": "known", "motif_id": "MA0139.2", "motif_name": "CTCF",
             "consensus": "CCACCAGGGGGCGC", "n_members": 1, "cases_with": 1, "cases_without": 9,
             "controls_with": 0, "controls_without": 50, "odds_ratio": "inf", "p_value": 0.17, "q_value": 0.5,
             "enriched": "false"}]).to_csv(a / "motif_enrichment.tsv", sep="\t", index=False, na_rep="NA")
        (a / "motif_summary.json").write_text(json.dumps({"fdr_alpha": 0.05, "readouts": MOTIF_SUMMARY}))
        (a / "motif_snvs.tsv").write_text("gene_id\treadout\n")  # not read: too large to copy
    (a / "summary.json").write_text(json.dumps(summary))
    return root


def _table(html: str, css_class: str) -> tuple[list[str], list[list[str]]]:
    """Header and cell texts of the first <table class="css_class"> of a page."""
    body = html[html.index(f'<table class="{css_class}">'):]
    body = body[:body.index("</table>")]
    cells = [[re.sub(r"<[^>]+>", "", c) for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, re.S)]
             for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)]
    return [c.replace("&gt;", ">") for c in cells[0]], cells[1:]


def _section(html: str, section_id: str) -> str:
    start = html.index(f'<section id="{section_id}"')
    return html[start:html.index("</section>", start)]


def test_report_shows_the_motif_analysis(tmp_path: Path) -> None:
    results = _motif_results(tmp_path / "results")
    build_report(load_inputs(results), tmp_path / "report", top_genes=5, formats=("png", "svg", "pdf"))
    report = tmp_path / "report"
    html = (report / "index.html").read_text()
    motifs = _section(html, "motifs")
    # the headline, by hand from MOTIF_SUMMARY
    assert ("oracle:TATA</b>: 12 of 40 main drivers (30%) sit in a seqlet the model learned; 45% of "
            "supported and 10% of unsupported drivers; 35% in genes with positive R, 20% with negative R; by "
            "chance 8% of the 500 SNVs within") in motifs
    assert "at FDR 0.05: 1 known (JASPAR), 0 de novo." in motifs
    assert "oracle:GC</b>: 2 of 8 main drivers (25%) sit in a seqlet" in motifs
    assert "the other 2 lie beyond" in motifs and "NA of unsupported drivers" in motifs
    assert "by chance 12% of the 64 SNVs" in motifs  # 0.125: 12% (Python rounds half to even)
    # the figure: its data are the summary's fractions, its files the cohort figures'
    data = pd.read_csv(report / "data" / "motif_seqlet_fraction.tsv", sep="\t")
    data = data.set_index(["readout", "group"])
    expect = {("track:1", "all main drivers"): 0.3, ("track:1", "supported"): 0.45,
              ("track:1", "unsupported"): 0.1, ("track:1", "all SNVs (chance)"): 0.08,
              ("track:2", "all main drivers"): 0.25, ("track:2", "supported"): 0.5,
              ("track:2", "all SNVs (chance)"): 0.125}
    for key, value in expect.items():
        assert data.loc[key, "fraction"] == pytest.approx(value)
    assert np.isnan(data.loc[("track:2", "unsupported"), "fraction"])
    for ext in ("png", "svg", "pdf"):
        assert (report / "figures" / f"motif_seqlet_fraction.{ext}").stat().st_size > 1000
    assert 'data-figure="motif_seqlet_fraction"' in motifs and "<svg" in motifs
    # the enriched motifs: TBP only (the others have enriched false)
    header, rows = _table(motifs, "enrichment")
    assert len(rows) == 1 and dict(zip(header, rows[0], strict=True)) == {
        "readout": "oracle:TATA", "analysis": "known (JASPAR)", "motif": "MA0108.3", "name": "TBP",
        "consensus": "TATAAAAG", "members": "9", "cases with": "9", "cases without": "31",
        "controls with": "10", "controls without": "190", "odds ratio": "5.52", "p": "0.0004", "q": "0.012"}
    assert "JASPAR 2024" in html and "Rauluseviciute" in _section(html, "provenance")
    assert "memelite" in _section(html, "provenance")
    assert (report / "data" / "driver_motifs.tsv").read_bytes() == \
        (results / "assessment" / "driver_motifs.tsv").read_bytes()
    assert not (report / "data" / "motif_snvs.tsv").exists()

    page = (report / "genes" / "G.1.html").read_text()
    track1 = _section(page, "readout-track_1")
    header, rows = _table(track1, "drivers")
    cells = {row[0]: dict(zip(header, row, strict=True)) for row in rows}
    # the main driver: in the TBP seqlet (significant: *), the 0.05 threshold (the first) on ref and alt
    assert {k: cells["chr1:1012:A:C"][k] for k in header[header.index("in seqlet"):]} == {
        "in seqlet": "yes", "seqlet TF": "TBP*", "TF q": "0.001", "bp to nearest seqlet": "0",
        "score ref": "0.8", "score alt": "-0.1", "motif size ref (|score| >= 0.05)": "5",
        "motif size alt (|score| >= 0.05)": "0", "motif status": "ok"}
    assert cells["chr1:995:A:C"]["in seqlet"] == "no" and cells["chr1:995:A:C"]["seqlet TF"] == "NA"
    assert cells["chr1:995:A:C"]["bp to nearest seqlet"] == "5" and cells["chr1:995:A:C"]["score ref"] == "NA"
    assert "JASPAR 2024" in track1
    # the logo's seqlets: this readout's only (CTCF is track:2's), offsets as worked out for SEQLET_BOXES
    sat = pd.read_csv(report / "data" / "genes" / "G.1" / "saturation.track_1.tsv", sep="\t")
    named = sat.dropna(subset=["seqlet_tf"]).groupby("seqlet_tf")["offset"].agg(["min", "max"])
    assert named.to_dict("index") == {"TBP*": {"min": 10, "max": 15}, "SRF": {"min": -10, "max": -7},
                                      "no match": {"min": -150, "max": -147}}
    sat2 = pd.read_csv(report / "data" / "genes" / "G.1" / "saturation.track_2.tsv", sep="\t")
    assert sat2.dropna(subset=["seqlet_tf"])["offset"].tolist() == list(range(20, 31))
    assert set(sat2["seqlet_tf"].dropna()) == {"CTCF"}


def test_motif_files_staged_one_by_one_and_nothing_enriched(tmp_path: Path) -> None:
    """A Nextflow task passes MERGE's files one by one; without an enriched row the section says so."""
    results = _motif_results(tmp_path / "results")
    a = results / "assessment"
    e = pd.read_csv(a / "motif_enrichment.tsv", sep="\t").assign(enriched="false")
    e.to_csv(a / "motif_enrichment.tsv", sep="\t", index=False)
    inputs = load_inputs(assessment=[str(p) for p in sorted(a.iterdir())], stats=[str(results / "stats")])
    assert set(inputs.motif_files) == {"driver_motifs.tsv", "seqlets.tsv", "motif_enrichment.tsv",
                                       "motif_summary.json"}
    assert inputs.motif_summary == MOTIF_SUMMARY and inputs.motif_fdr_alpha == 0.05
    build_report(inputs, tmp_path / "report", top_genes=0, formats=("png",))
    motifs = _section((tmp_path / "report" / "index.html").read_text(), "motifs")
    assert "No motif enriched at FDR 0.05." in motifs and "12 of 40 main drivers" in motifs


def test_without_motif_files_the_report_says_not_computed(tmp_path: Path) -> None:
    results = _motif_results(tmp_path / "results", motifs=False)
    inputs = load_inputs(results)
    assert inputs.driver_motifs is None and inputs.seqlets is None and not inputs.motif_summary
    build_report(inputs, tmp_path / "report", top_genes=5, formats=("png",))
    html = (tmp_path / "report" / "index.html").read_text()
    motifs = _section(html, "motifs")
    assert "Not computed" in motifs and "motifs: false" in motifs and "<table" not in motifs
    assert "Rauluseviciute" not in html  # nothing of JASPAR was used
    page = (tmp_path / "report" / "genes" / "G.1.html").read_text()
    assert "Motif context of the drivers: not computed" in page and "Seqlets: not computed" in page
    header, _ = _table(_section(page, "readout-track_1"), "drivers")
    assert "in seqlet" not in header and header[0] == "variant_id"
    # a motif table short of a needed column is left out with a warning, not a crash
    results2 = _motif_results(tmp_path / "results2")
    (results2 / "assessment" / "seqlets.tsv").write_text("gene_id\treadout\nG.1\ttrack:1\n")
    inputs = load_inputs(results2)
    assert inputs.seqlets is None and inputs.driver_motifs is not None
    build_report(inputs, tmp_path / "report2", top_genes=5, formats=("png",))
    assert "Seqlets: not computed" in (tmp_path / "report2" / "genes" / "G.1.html").read_text()


# ---------------------------------------------------------------------------------------------------
# A real run
# ---------------------------------------------------------------------------------------------------

REPORT_RUN_PARAMS = {"tracks": "oracle:TATA,oracle:GC", "window_length": 128 * 96, "gradients": True,
                     "tss_window": 200, "null_draws": 200, "genes_per_batch": 5}


def report_run(cohort: dict, base: Path) -> Path:
    """A small `seqgx run` (oracle, short windows, gradients) and its `seqgx report`, made once per session
    in ``base`` (the browser tests use it too)."""
    work = base / "report_run"
    results = work / "results"
    if not (work / "done").is_file():
        work.mkdir(parents=True, exist_ok=True)
        seqgx_run(cohort, work, **REPORT_RUN_PARAMS)
        assert main(["report", "--results", str(results), "--threads", "2", "--genes", "SIMG6", "-q"]) == 0
        (work / "done").write_text("")
    return results


@pytest.fixture(scope="session")
def run_report(cohort: dict, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return report_run(cohort, tmp_path_factory.getbasetemp())


def test_stats_writes_gene_data_the_report_reads(run_report: Path) -> None:
    genes = pd.read_csv(run_report / "assessment" / "genes.tsv", sep="\t")
    drivers = pd.read_csv(run_report / "assessment" / "drivers.tsv", sep="\t")
    # phase 1 (every gene) first, then phase 2 (attribution), whose data wins
    files = [*sorted((run_report / "stats").glob("*.genedata.npz")),
             *sorted((run_report / "attribution" / "stats").glob("*.genedata.npz"))]
    assert files
    store = GeneDataStore(files)
    assert set(genes["gene_id"]) <= set(store.where)
    for row in drivers.itertuples():  # the stored curve reaches each driver's frac at its rank
        gd = store.get(row.gene_id)
        k = gd.readout_index(row.readout)
        assert gd.forward_frac[row.rank - 1, k] == pytest.approx(row.frac, abs=1e-6)
    assert genes["grad_approx_r"].notna().any() and genes["grad_ism_r"].notna().any()


def test_report_of_a_run(run_report: Path) -> None:
    report = run_report / "report"
    html = (report / "index.html").read_text()
    genes = pd.read_csv(run_report / "assessment" / "genes.tsv", sep="\t")
    sig = genes[genes["significant"]]
    pages = sorted(p.stem for p in (report / "genes").glob("*.html"))
    simg6 = genes.loc[genes["gene_name"] == "SIMG6", "gene_id"].iloc[0]
    assert set(pages) == set(sig["gene_id"]) | {simg6}
    for text in [html, *[p.read_text() for p in (report / "genes").glob("*.html")]]:
        assert "http://" not in text and "https://" not in text and "<link" not in text
        assert all(src.startswith("data:") for src in re.findall(r'\bsrc="([^"]*)"', text))
    for readout in ("track_0", "track_1"):
        for name in ("r_vs_null_p", "r_distribution", "approximation"):
            for ext in ("png", "svg", "pdf"):
                assert (report / "figures" / f"{name}.{readout}.{ext}").stat().st_size > 1000
            assert (report / "data" / f"{name}.{readout}.tsv").is_file()
    data = pd.read_csv(report / "data" / "r_vs_null_p.track_1.tsv", sep="\t")
    tested = genes[(genes["readout"] == "track:1") & genes["r"].notna() & genes["null_p"].notna()]
    assert sorted(data["gene_id"]) == sorted(tested["gene_id"])
    assert "PrediXcan" in html and "Not computed" in html  # no baseline in this run
    one = genes[genes["readout"] == "track:1"]
    assert f"{int(one['significant'].sum())} of {int(one['r'].notna().sum())} genes are significant" in html
    # the run's motif analysis (motifs: true by default, tss_window 200): its summary in the Motifs section
    summary = json.loads((run_report / "assessment" / "summary.json").read_text())
    section = html[html.index('<section id="motifs"'):html.index('<section id="genes"')]
    for readout, f in summary["motifs"].items():
        n, frac = f["n_main_drivers_in_tss_window"], f["fraction_main_drivers_in_seqlet"]
        assert f"{round(frac * n)} of {n} main drivers ({100 * frac:.0f}%)" in section, readout
    assert (report / "figures" / "motif_seqlet_fraction.pdf").is_file()
    with_drivers = sorted(set(pages) & set(pd.read_csv(run_report / "assessment" / "drivers.tsv",
                                                      sep="\t")["gene_id"]))
    page = (report / "genes" / f"{with_drivers[0]}.html").read_text()
    assert "<th>in seqlet</th>" in page and "<th>seqlet TF</th>" in page
