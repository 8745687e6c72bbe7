"""The report's figures: one function per figure, each returning a :class:`Plot` (the matplotlib figure
and the data it plots), or a Plot with ``reason`` set and no figure where the figure cannot be drawn
(no gene tested, no baseline, no ISM or gradients): the report then says "not computed" and why.

Cohort figures take the merged tables of one readout (``assessment/genes.tsv`` rows, drivers.tsv rows);
gene figures take one gene's :class:`~seqgx.report.genedata.GeneData` and its readout. Study figure
numbers (Sasse et al. 2023) are in each function's docstring. matplotlib's object API only (no pyplot),
so figures are never registered globally and need no closing.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.patches import PathPatch, Rectangle
from matplotlib.path import Path
from matplotlib.ticker import MaxNLocator
from matplotlib.transforms import Affine2D

from seqgx import tables
from seqgx.report.genedata import GeneData

SIG_POS, SIG_NEG, NOT_SIG = "#c0392b", "#2e6fbd", "#b8b8b8"
SUPPORTED, UNSUPPORTED = "#1a9850", "#d73027"
MAIN, OTHER = "#7b3294", "#80a4c8"
BASE_COLOURS = {"A": "#109648", "C": "#255c99", "G": "#f7b32b", "T": "#d62839"}
DOSAGE_COLOURS = ("#9e9e9e", "#f28e2b", "#b2182b")
LOGO_FLANK = 150  # bp each side of the TSS in the saturation logo (Fig 2G)
NO_MATCH = "no match"  # a seqlet's label when TOMTOM found no JASPAR matrix
LABEL_CHAR_PT, LOGO_AXIS_PT = 3.9, 520.0  # a 6.5-pt label character's width; the logo axis's (9-inch figure)
LABEL_ROWS = 3  # rows of horizontal seqlet labels before they turn vertical
TSS_BIN, TSS_FLANK = 50, 1000  # driver positions near the TSS: 50-bp bins over +-1,000 bp
WINDOW_BIN = 1000  # driver positions over the window: 1-kb bins
SMALL, WIDE = (5.2, 3.8), (9.0, 3.2)
DENSE_POINTS = 1000  # a gene scatter with more points is embedded as PNG, not SVG


@dataclass
class Hover:
    """Points a reader can hover and click: their axes, data coordinates and gene ids."""

    ax: Axes
    x: np.ndarray
    y: np.ndarray
    gene_ids: np.ndarray


@dataclass
class Plot:
    """A drawn figure, or why it was not (``fig`` None and ``reason`` set)."""

    name: str
    title: str
    caption: str = ""
    fig: Figure | None = None
    data: pd.DataFrame = field(default_factory=pd.DataFrame)
    reason: str = ""
    raster: bool = False  # embed as PNG (dense points), else inline SVG
    hover: list[Hover] = field(default_factory=list)
    values: dict[str, Any] = field(default_factory=dict)  # the figure's numbers (threshold, tests)


def not_computed(name: str, title: str, reason: str) -> Plot:
    return Plot(name=name, title=title, reason=reason)


def _figure(size: tuple[float, float] = SMALL, ncols: int = 1, **kw: Any) -> tuple[Figure, Any]:
    fig = Figure(figsize=size, layout="constrained")
    axes = fig.subplots(1, ncols, **kw)
    return fig, axes


def _num(s: pd.Series | np.ndarray) -> np.ndarray:
    return pd.to_numeric(pd.Series(s), errors="coerce").to_numpy(dtype=float)


def as_bool(s: pd.Series) -> np.ndarray:
    """A boolean column as read from a table (bools, true/false words in any case, 1/0); unknown is False."""
    return tables.as_bool(pd.Series(s)).to_numpy()


def tristate(s: pd.Series) -> np.ndarray:
    """A true/false/NA column (``supported``) as 1.0 / 0.0 / NaN, whether read as bools, words or numbers."""
    return tables.as_tristate(pd.Series(s)).to_numpy(copy=True)


def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    ok = np.isfinite(x) & np.isfinite(y)
    if ok.sum() < 3 or np.ptp(x[ok]) == 0 or np.ptp(y[ok]) == 0:
        return math.nan
    return float(np.corrcoef(x[ok], y[ok])[0, 1])


def _fmt(x: float, digits: int = 2) -> str:
    """``digits`` significant digits; NA for a missing value."""
    return "NA" if x is None or not np.isfinite(x) else f"{x:.{digits}g}"


def _point_size(n: int) -> float:
    return 4.0 if n > 3000 else 9.0 if n > 500 else 18.0


def bh_threshold(p: np.ndarray, alpha: float) -> float:
    """The largest p-value still significant under Benjamini-Hochberg at ``alpha`` (q < alpha): the
    largest p_(k) with p_(k) m / k < alpha over the m finite p-values; NaN when none is."""
    p = np.sort(np.asarray(p, dtype=float)[np.isfinite(p)])
    if not p.size:
        return math.nan
    below = np.flatnonzero(p * p.size / np.arange(1, p.size + 1) < alpha)
    return float(p[below[-1]]) if below.size else math.nan


def signed_tss_distance(pos: np.ndarray, tss: np.ndarray, strand: np.ndarray) -> np.ndarray:
    """pos - tss on '+', tss - pos on '-': negative upstream, positive into the gene body."""
    d = np.asarray(pos, dtype=float) - np.asarray(tss, dtype=float)
    return np.where(np.asarray(strand).astype(str) == "-", -d, d)


def _categories(r: np.ndarray, sig: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return np.where(sig & (r > 0), "significant positive",
                        np.where(sig & (r < 0), "significant negative", "not significant"))


CATEGORY_COLOURS = {"significant positive": SIG_POS, "significant negative": SIG_NEG,
                    "not significant": NOT_SIG}


def _stacked_bars(ax: Axes, edges: np.ndarray, groups: dict[str, np.ndarray], colours: dict[str, str],
                  ) -> pd.DataFrame:
    """Stacked histogram of each group's values over ``edges``; returns the counts drawn."""
    data = pd.DataFrame({"bin_start": edges[:-1], "bin_end": edges[1:]})
    bottom = np.zeros(len(edges) - 1)
    for label, values in groups.items():
        counts = np.histogram(np.clip(values, edges[0], edges[-1]), edges)[0]
        data[label] = counts
        if counts.any():
            ax.bar(edges[:-1], counts, width=np.diff(edges), bottom=bottom, align="edge",
                   color=colours[label], label=f"{label} ({int(counts.sum())})", linewidth=0)
        bottom += counts
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    return data


# ---------------------------------------------------------------------------------------------------
# Cohort figures (one readout)
# ---------------------------------------------------------------------------------------------------

def r_vs_null_p(genes: pd.DataFrame, alpha: float, name: str = "r_vs_null_p") -> Plot:
    """Fig 2A: per-gene R vs -log10 null p, colour = predicted mean, the BH FDR threshold as a line."""
    title = "Accuracy per gene: R vs gene-specific null p"
    r, p, mean = _num(genes["r"]), _num(genes["null_p"]), _num(genes["pred_mean"])
    ok = np.isfinite(r) & np.isfinite(p) & (p > 0)
    if not ok.any():
        return not_computed(name, title, "no gene has a finite R and null p")
    t = genes.loc[ok, ["gene_id", "gene_name"]].assign(r=r[ok], null_p=p[ok], neg_log10_p=-np.log10(p[ok]),
                                                       pred_mean=mean[ok])
    threshold = bh_threshold(p, alpha)
    fig, ax = _figure()
    finite_mean = t["pred_mean"].to_numpy()[np.isfinite(t["pred_mean"].to_numpy())]
    lo, hi = (np.percentile(finite_mean, [2, 98]) if finite_mean.size else (0.0, 1.0))
    sc = ax.scatter(t["r"], t["neg_log10_p"], c=t["pred_mean"], cmap="viridis",
                    norm=Normalize(lo, hi if hi > lo else lo + 1), s=_point_size(len(t)), linewidths=0,
                    plotnonfinite=True)
    fig.colorbar(sc, ax=ax, label="predicted mean")
    if np.isfinite(threshold):
        ax.axhline(-math.log10(threshold), color="k", ls="--", lw=0.9)
        ax.set_title(f"dashed: FDR < {alpha:g} (null p <= {threshold:.3g})", fontsize=8)
    else:
        ax.set_title(f"no gene reaches FDR < {alpha:g}", fontsize=8)
    ax.axvline(0, color="0.6", lw=0.6)
    ax.set(xlabel="R (prediction vs observed expression)", ylabel="-log10 null p", xlim=(-1.02, 1.02))
    return Plot(name, title, f"{len(t)} genes; the dashed line is the largest null p with BH FDR < "
                f"{alpha:g}; colour: predicted mean, 2nd-98th percentile.", fig, t, raster=True,
                hover=[Hover(ax, t["r"].to_numpy(), t["neg_log10_p"].to_numpy(), t["gene_id"].to_numpy())],
                values={"fdr_threshold_p": threshold, "n_points": len(t)})


def r_distribution(genes: pd.DataFrame, name: str = "r_distribution") -> Plot:
    """Distribution of R: significant positive, significant negative, not significant."""
    title = "Distribution of R"
    r = _num(genes["r"])
    ok = np.isfinite(r)
    if not ok.any():
        return not_computed(name, title, "no gene has a finite R")
    sig = as_bool(genes["significant"]) if "significant" in genes else np.zeros(len(genes), bool)
    cat = _categories(r, sig)[ok]
    fig, ax = _figure()
    edges = np.linspace(-1, 1, 41)
    data = _stacked_bars(ax, edges, {c: r[ok][cat == c] for c in CATEGORY_COLOURS}, CATEGORY_COLOURS)
    ax.legend(fontsize=8, frameon=False, loc="upper left")
    ax.set(xlabel="R (prediction vs observed expression)", ylabel="genes")
    return Plot(name, title, f"{int(ok.sum())} genes with a finite R, 0.05-wide bins.", fig, data,
                values={c: int((cat == c).sum()) for c in CATEGORY_COLOURS})


def predixcan_comparison(genes: pd.DataFrame, name: str = "predixcan") -> Plot:
    """Fig 2C: PrediXcan (or the cohort's elastic net) R vs the model's |R|, |R| = 0.2 lines, the mean as
    a cross, Pearson R of the two in the legend."""
    title = "Model |R| vs the PrediXcan baseline"
    if "predixcan_r" not in genes:
        return not_computed(name, title, "no PrediXcan / elastic-net baseline was computed")
    r, base = _num(genes["r"]), _num(genes["predixcan_r"])
    ok = np.isfinite(r) & np.isfinite(base)
    if not ok.any():
        return not_computed(name, title, "no PrediXcan / elastic-net baseline was computed (set predictdb or "
                                         "elastic_net_baseline)")
    t = genes.loc[ok, ["gene_id", "gene_name"]].assign(predixcan_r=base[ok], abs_r=np.abs(r[ok]), r=r[ok])
    if "predixcan_source" in genes:
        t["predixcan_source"] = genes.loc[ok, "predixcan_source"].fillna("").astype(str).to_numpy()
    corr = _pearson(t["predixcan_r"].to_numpy(), t["abs_r"].to_numpy())
    mx, my = float(t["predixcan_r"].mean()), float(t["abs_r"].mean())
    fig, ax = _figure()
    ax.scatter(t["predixcan_r"], t["abs_r"], s=_point_size(len(t)), color="#4a6fa5", alpha=0.7, linewidths=0,
               label=f"genes (n = {len(t)}), Pearson R = {_fmt(corr)}")
    ax.scatter([mx], [my], marker="x", s=90, color="k", linewidths=2,
               label=f"mean ({mx:.2f}, {my:.2f})", zorder=5)
    ax.axvline(0.2, color="0.4", ls=":", lw=0.9)
    ax.axhline(0.2, color="0.4", ls=":", lw=0.9, label="|R| = 0.2")
    lim = (min(-0.05, float(t["predixcan_r"].min()) - 0.02), 1.0)
    ax.plot(lim, lim, color="0.75", lw=0.7)
    ax.set(xlabel="baseline R (PrediXcan / elastic net)", ylabel="model |R|", xlim=lim, ylim=(0, 1))
    ax.legend(fontsize=8, frameon=False, loc="upper left")
    return Plot(name, title, "Each point a gene with both R; dotted lines at |R| = 0.2.", fig, t, raster=True,
                hover=[Hover(ax, t["predixcan_r"].to_numpy(), t["abs_r"].to_numpy(),
                             t["gene_id"].to_numpy())],
                values={"pearson_r": corr, "mean": (mx, my), "n_points": len(t)})


def gene_support(genes: pd.DataFrame, drivers: pd.DataFrame) -> pd.DataFrame:
    """Per gene with drivers: drivers, supported fraction (drivers with unknown support left out) and the
    same weighted by each driver's ``frac_increase``, with the gene's R and significance."""
    cols = ["gene_id", "n_drivers_found", "supported_fraction", "supported_fraction_weighted"]
    if drivers.empty:
        return pd.DataFrame(columns=[*cols, "gene_name", "r", "significant"])
    s, w = tristate(drivers["supported"]), _num(drivers["frac_increase"])
    known = np.isfinite(s)
    weighted = known & np.isfinite(w)
    d = pd.DataFrame({"gene_id": drivers["gene_id"].to_numpy(), "n": 1, "known": known.astype(float),
                      "s": np.where(known, s, 0.0), "w": np.where(weighted, w, 0.0),
                      "sw": np.where(weighted, s * w, 0.0)})
    sums = d.groupby("gene_id", sort=False)[["n", "known", "s", "w", "sw"]].sum()
    with np.errstate(invalid="ignore", divide="ignore"):
        plain = np.where(sums["known"] > 0, sums["s"] / sums["known"], np.nan)
        weighted_fraction = np.where(sums["w"] > 0, sums["sw"] / sums["w"], np.nan)
    out = pd.DataFrame({"gene_id": sums.index.to_numpy(), "n_drivers_found": sums["n"].to_numpy(int),
                        "supported_fraction": plain, "supported_fraction_weighted": weighted_fraction})
    g = genes.drop_duplicates("gene_id").set_index("gene_id")
    out["gene_name"] = g["gene_name"].reindex(out["gene_id"]).to_numpy()
    out["r"] = _num(g["r"].reindex(out["gene_id"]))
    out["significant"] = (as_bool(g["significant"].reindex(out["gene_id"]))
                          if "significant" in g else np.zeros(len(out), bool))
    return out


def supported_fraction(genes: pd.DataFrame, drivers: pd.DataFrame, name: str = "supported_fraction") -> Plot:
    """Fig 2E: per gene the fraction of its drivers whose ISM sign matches the observed eQTL's, plain and
    weighted by ``frac_increase``, vs R; Mann-Whitney test of significant positive vs negative genes."""
    from scipy.stats import mannwhitneyu

    title = "Drivers supported by the observed eQTL, per gene"
    t = gene_support(genes, drivers)
    t = t[np.isfinite(t["r"].to_numpy(dtype=float))
          & np.isfinite(t["supported_fraction"].to_numpy(dtype=float))]
    if t.empty:
        return not_computed(name, title, "no gene has drivers with a known eQTL direction (no ISM, or no "
                                         "drivers)")
    fig, axes = _figure(WIDE, ncols=2, sharey=True)
    values: dict[str, Any] = {"n_genes": len(t)}
    hovers = []
    r = t["r"].to_numpy(dtype=float)
    sig = t["significant"].to_numpy(bool)
    cat = _categories(r, sig)
    for ax, col, label in zip(axes, ("supported_fraction", "supported_fraction_weighted"),
                              ("supported fraction", "weighted by frac_increase"), strict=True):
        y = t[col].to_numpy(dtype=float)
        for c, colour in CATEGORY_COLOURS.items():
            m = (cat == c) & np.isfinite(y)
            if m.any():
                ax.scatter(r[m], y[m], s=_point_size(len(t)) + 6, color=colour, alpha=0.75, linewidths=0,
                           label=f"{c} ({int(m.sum())})")
        pos = y[(cat == "significant positive") & np.isfinite(y)]
        neg = y[(cat == "significant negative") & np.isfinite(y)]
        p = math.nan
        if pos.size and neg.size:
            p = float(mannwhitneyu(pos, neg, alternative="two-sided").pvalue)
        values[f"{col}_mannwhitney_p"] = p
        values[f"{col}_mean_positive"] = float(pos.mean()) if pos.size else math.nan
        values[f"{col}_mean_negative"] = float(neg.mean()) if neg.size else math.nan
        ax.set_title(f"{label}; positive vs negative: Mann-Whitney p = {_fmt(p)}", fontsize=8)
        ax.set(xlabel="R", xlim=(-1.02, 1.02), ylim=(-0.05, 1.05))
        ax.axvline(0, color="0.6", lw=0.6)
        ok = np.isfinite(y)
        hovers.append(Hover(ax, r[ok], y[ok], t["gene_id"].to_numpy()[ok]))
    axes[0].set_ylabel("fraction of drivers supported")
    axes[0].legend(fontsize=7, frameon=False, loc="center left")
    return Plot(name, title, "Each point a gene with drivers; the test compares significant genes with "
                "positive and negative R.", fig, t, raster=True, hover=hovers, values=values)


def drivers_per_gene(genes: pd.DataFrame, name: str = "drivers_per_gene") -> Plot:
    """Fig S10: number of driver SNVs per gene (genes with at least one), significant genes apart."""
    title = "Driver SNVs per gene"
    n = _num(genes["n_drivers"]) if "n_drivers" in genes else np.full(len(genes), np.nan)
    ok = np.isfinite(n) & (n > 0)
    if not ok.any():
        return not_computed(name, title, "no gene has driver SNVs (no ISM, or no approximation correlates "
                                         "with its prediction)")
    sig = as_bool(genes["significant"]) if "significant" in genes else np.zeros(len(genes), bool)
    edges = np.arange(0.5, 11.5)  # 1..9 and >= 10 in the last bin
    fig, ax = _figure()
    groups = {"significant": np.minimum(n[ok & sig], 10), "not significant": np.minimum(n[ok & ~sig], 10)}
    data = _stacked_bars(ax, edges, groups, {"significant": "#555555", "not significant": NOT_SIG})
    data.insert(0, "n_drivers", [str(i) for i in range(1, 10)] + [">=10"])
    ax.set_xticks(range(1, 11), [str(i) for i in range(1, 10)] + [">=10"])
    ax.set(xlabel="driver SNVs", ylabel="genes")
    ax.legend(fontsize=8, frameon=False, loc="upper right")
    return Plot(name, title, f"{int(ok.sum())} genes with drivers.", fig, data,
                values={"n_genes": int(ok.sum()), "single": int((n[ok] == 1).sum())})


def driver_distances(drivers: pd.DataFrame, genes: pd.DataFrame) -> pd.DataFrame:
    """Drivers with their distance to the gene's TSS signed in the direction of transcription, from
    pos and the gene's tss and strand (``distance_to_tss`` of drivers.tsv where the gene is unknown)."""
    g = genes.drop_duplicates("gene_id").set_index("gene_id")
    tss = _num(g["tss"].reindex(drivers["gene_id"])) if "tss" in g else np.full(len(drivers), np.nan)
    strand = (g["strand"].reindex(drivers["gene_id"]).astype(str).to_numpy() if "strand" in g
              else np.full(len(drivers), "+"))
    d = signed_tss_distance(_num(drivers["pos"]), tss, strand)
    fallback = _num(drivers["distance_to_tss"]) if "distance_to_tss" in drivers else np.full(len(d), np.nan)
    d = np.where(np.isfinite(d), d, fallback)
    return pd.DataFrame({"gene_id": drivers["gene_id"].to_numpy(),
                         "variant_id": drivers["variant_id"].to_numpy(), "distance": d,
                         "is_main": as_bool(drivers["is_main"])})


def driver_positions(drivers: pd.DataFrame, genes: pd.DataFrame, flank: int | None = TSS_FLANK,
                     bin_size: int = TSS_BIN, extent: int | None = None,
                     name: str = "driver_positions_tss") -> Plot:
    """Fig 2F / S12: driver positions relative to the TSS, signed in the direction of transcription
    (negative upstream), main drivers apart; ``flank`` None: the whole window (+-``extent`` bp, by default
    the farthest driver) in ``bin_size`` bins."""
    where = f"within +-{flank:,} bp of the TSS" if flank else "over the window"
    title = f"Driver positions {where}"
    if drivers.empty:
        return not_computed(name, title, "no driver SNVs")
    t = driver_distances(drivers, genes)
    t = t[np.isfinite(t["distance"].to_numpy(dtype=float))]
    extent = flank or extent or max(int(np.abs(t["distance"]).max()) if len(t) else 0, bin_size)
    extent = int(math.ceil(extent / bin_size) * bin_size)
    t = t[np.abs(t["distance"]) <= extent]
    if t.empty:
        return not_computed(name, title, f"no driver SNV {where}")
    edges = np.arange(-extent, extent + bin_size, bin_size, dtype=float)
    fig, ax = _figure(WIDE if flank is None else SMALL)
    main = t["is_main"].to_numpy(bool)
    dist = t["distance"].to_numpy(dtype=float)
    data = _stacked_bars(ax, edges, {"main drivers": dist[main], "other drivers": dist[~main]},
                         {"main drivers": MAIN, "other drivers": OTHER})
    ax.axvline(0, color="k", lw=0.7)
    ax.set(xlabel="distance to TSS (bp; negative = upstream, direction of transcription)", ylabel="drivers")
    ax.legend(fontsize=8, frameon=False, loc="upper left")
    return Plot(name, title, f"{len(t)} drivers, {bin_size:,}-bp bins.", fig, data,
                values={"distances": dist, "main": main})


def approximation_r(genes: pd.DataFrame, name: str = "approximation") -> Plot:
    """How linear the model is: R of the ISM linear approximation with the model's prediction per gene."""
    title = "Linear approximation: R(approximation, model) per gene"
    a = _num(genes["approx_r"]) if "approx_r" in genes else np.full(len(genes), np.nan)
    ok = np.isfinite(a)
    if not ok.any():
        return not_computed(name, title, "ISM was not computed (or no gene has varying SNVs)")
    sig = as_bool(genes["significant"]) if "significant" in genes else np.zeros(len(genes), bool)
    fig, ax = _figure()
    data = _stacked_bars(ax, np.linspace(-1, 1, 41), {"significant": a[ok & sig], "not significant":
                                                     a[ok & ~sig]},
                         {"significant": "#555555", "not significant": NOT_SIG})
    ax.set(xlabel="R(sum of ISM x dosage, model prediction)", ylabel="genes")
    ax.legend(fontsize=8, frameon=False, loc="upper left")
    return Plot(name, title, f"{int(ok.sum())} genes; 1 = the model is additive in the gene's SNVs.", fig,
                data, values={"median": float(np.median(a[ok]))})


def gradient_vs_ism(genes: pd.DataFrame, name: str = "gradient_vs_ism") -> Plot:
    """Fig S8: per gene, R between gradient and ISM attributions over its SNVs."""
    title = "Gradient vs ISM attributions: R over SNVs per gene"
    g = _num(genes["grad_ism_r"]) if "grad_ism_r" in genes else np.full(len(genes), np.nan)
    ok = np.isfinite(g)
    if not ok.any():
        return not_computed(name, title, "gradients were not computed (run with gradients: true)")
    fig, ax = _figure()
    data = _stacked_bars(ax, np.linspace(-1, 1, 41), {"genes": g[ok]}, {"genes": "#6a51a3"})
    ax.set(xlabel="R(gradient, ISM) over the gene's SNVs", ylabel="genes")
    return Plot(name, title, f"{int(ok.sum())} genes.", fig, data, values={"median": float(np.median(g[ok]))})


def gradient_approximation(genes: pd.DataFrame, name: str = "gradient_approximation") -> Plot:
    """Fig S9: R(approximation, model) of the approximation built from gradients vs from ISM."""
    title = "Linear approximation from gradients vs from ISM"
    if "grad_approx_r" not in genes:
        return not_computed(name, title, "gradients were not computed (run with gradients: true)")
    a, g = _num(genes["approx_r"]), _num(genes["grad_approx_r"])
    ok = np.isfinite(a) & np.isfinite(g)
    if not ok.any():
        return not_computed(name, title, "gradients were not computed (run with gradients: true)")
    t = genes.loc[ok, ["gene_id", "gene_name"]].assign(approx_r=a[ok], grad_approx_r=g[ok])
    fig, ax = _figure()
    ax.scatter(t["approx_r"], t["grad_approx_r"], s=_point_size(len(t)) + 4, color="#6a51a3", alpha=0.7,
               linewidths=0, label=f"genes (n = {len(t)})")
    ax.plot((-1, 1), (-1, 1), color="0.7", lw=0.7)
    ax.set(xlabel="R(ISM approximation, model)", ylabel="R(gradient approximation, model)",
           xlim=(-1.02, 1.02), ylim=(-1.02, 1.02))
    ax.legend(fontsize=8, frameon=False, loc="upper left")
    return Plot(name, title, "Each point a gene.", fig, t, raster=True,
                hover=[Hover(ax, t["approx_r"].to_numpy(), t["grad_approx_r"].to_numpy(),
                             t["gene_id"].to_numpy())])


def reference_vs_observed(table: pd.DataFrame, x: str, y: str, xlabel: str, ylabel: str, name: str,
                          title: str) -> Plot:
    """Fig 1B: across genes, a prediction of the reference sequence (or the fine-tuned readout's held-out
    prediction) vs the gene's mean observed expression."""
    xs, ys = _num(table[x]), _num(table[y])
    ok = np.isfinite(xs) & np.isfinite(ys)
    if ok.sum() < 2:
        return not_computed(name, title, "fewer than 2 genes with both values")
    t = table.loc[ok, ["gene_id"] + (["gene_name"] if "gene_name" in table else [])].assign(
        **{x: xs[ok], y: ys[ok]})
    r = _pearson(xs[ok], ys[ok])
    rho = _pearson(pd.Series(xs[ok]).rank().to_numpy(), pd.Series(ys[ok]).rank().to_numpy())
    fig, ax = _figure()
    ax.scatter(t[x], t[y], s=_point_size(len(t)) + 4, color="#2c7fb8", alpha=0.7, linewidths=0,
               label=f"genes (n = {len(t)}), Pearson R = {_fmt(r)}, Spearman = {_fmt(rho)}")
    positive = t[x].to_numpy() > 0
    if positive.all() and t[x].max() / t[x].min() > 100:
        ax.set_xscale("log")
    ax.set(xlabel=xlabel, ylabel=ylabel)
    ax.legend(fontsize=8, frameon=False, loc="upper left")
    return Plot(name, title, "Each point a gene: how well the model ranks genes (not people).", fig, t,
                raster=True, hover=[Hover(ax, t[x].to_numpy(), t[y].to_numpy(), t["gene_id"].to_numpy())],
                values={"pearson_r": r, "spearman": rho})


#: Bars of the motif figure: summary.json ``motifs`` key, label, colour.
SEQLET_FRACTION_BARS = (("fraction_main_drivers_in_seqlet", "all main drivers", MAIN),
                        ("fraction_in_seqlet_supported", "supported", SUPPORTED),
                        ("fraction_in_seqlet_unsupported", "unsupported", UNSUPPORTED),
                        ("fraction_snvs_in_seqlet", "all SNVs (chance)", NOT_SIG))


def seqlet_fractions(motifs: dict[str, dict[str, Any]], names: dict[str, str], window: str = "the TSS window",
                     name: str = "motif_seqlet_fraction") -> Plot:
    """The fraction of main drivers that lie in a seqlet, all and by support (ISM sign = eQTL sign), against
    the fraction of every SNV within ``window`` of the TSS of the same genes (chance), per readout (summary
    .json's ``motifs``)."""
    title = "Main drivers in a seqlet"
    rows = []
    for readout, fig_values in motifs.items():
        for key, label, _ in SEQLET_FRACTION_BARS:
            v = fig_values.get(key)
            fraction = float(v) if isinstance(v, int | float) and math.isfinite(v) else math.nan
            rows.append({"readout": readout, "readout_name": names.get(readout, readout), "group": label,
                         "fraction": fraction})
    t = pd.DataFrame(rows, columns=["readout", "readout_name", "group", "fraction"])
    if t.empty or not np.isfinite(t["fraction"].to_numpy(dtype=float)).any():
        return not_computed(name, title, "no main driver lies within the TSS window where seqlets are called")
    n = len(motifs)
    fig, ax = _figure((max(SMALL[0], 1.8 + 2.0 * n), SMALL[1]))
    width = 0.8 / len(SEQLET_FRACTION_BARS)
    for j, (_, label, colour) in enumerate(SEQLET_FRACTION_BARS):
        y = t.loc[t["group"] == label, "fraction"].to_numpy(dtype=float)
        x = np.arange(n) - 0.4 + width * (j + 0.5)
        ax.bar(x, np.nan_to_num(y), width=width * 0.92, color=colour, label=label, linewidth=0)
        for xi, yi in zip(x, y, strict=True):
            known = bool(np.isfinite(yi))
            ax.text(xi, (yi if known else 0.0) + 0.01, f"{100 * yi:.0f}%" if known else "NA", ha="center",
                    va="bottom", fontsize=6.5)
    ax.set_xticks(range(n), [names.get(r, r) for r in motifs])
    ax.set(ylabel="fraction in a seqlet", ylim=(0, 1.12))
    ax.legend(fontsize=7, frameon=False, loc="upper right", ncols=2)
    return Plot(name, title, f"Main drivers within the TSS window that lie in a seqlet of their readout; "
                f"supported: ISM sign = observed eQTL sign; chance: every SNV within {window} of the TSS of "
                f"the genes with a main driver.", fig, t)


def finemapped_genes(genes: pd.DataFrame, name: str = "finemapped_genes") -> Plot:
    """Fig S6A: the fraction of genes with significant R and with significant negative R, among genes with
    a known causal SNV (a fine-mapped credible set) vs all genes; one pair of groups per readout in
    ``genes`` (a cohort page passes one readout). Numbers from
    :func:`seqgx.analysis.finemap.finemap_summary`, fractions of the genes with a finite R."""
    from seqgx.analysis.finemap import finemap_summary

    title = "Genes with a known causal variant: significant and negative"
    if "finemapped" not in genes or not as_bool(genes["finemapped"]).any():
        return not_computed(name, title, "no gene has a fine-mapped credible set (no finemapped table given, "
                                         "or none of its genes was assessed)")
    if "significant" not in genes:
        return not_computed(name, title, "genes.tsv has no 'significant' column (tables not merged)")
    summary = finemap_summary(genes)
    names = (dict(zip(genes["readout"].astype(str), genes["readout_name"].astype(str), strict=True))
             if "readout" in genes and "readout_name" in genes else {})
    groups = (("genes_with_causal_snv", "known causal SNV"), ("all_genes", "all genes"))
    rows = [{"readout": readout, "readout_name": names.get(readout, readout), "group": label,
             **{k: s[key][k] for k in ("n_genes", "n_tested", "n_significant", "n_significant_negative",
                                      "fraction_significant", "fraction_significant_negative")}}
            for readout, s in summary.items() for key, label in groups]
    t = pd.DataFrame(rows)
    bars = (("fraction_significant", "n_significant", "significant", "#555555"),
            ("fraction_significant_negative", "n_significant_negative", "significant, R < 0", SIG_NEG))
    n = len(t)
    fig, ax = _figure((max(SMALL[0], 1.8 + 1.3 * n), SMALL[1]))
    width = 0.8 / len(bars)
    fractions = t[[b[0] for b in bars]].to_numpy(dtype=float)
    # Headroom above the tallest bar for its label and the legend.
    top = max(0.1, 1.3 * (float(np.nanmax(fractions)) if np.isfinite(fractions).any() else 0.0) + 0.05)
    for j, (col, count, label, colour) in enumerate(bars):
        y = t[col].to_numpy(dtype=float)
        x = np.arange(n) - 0.4 + width * (j + 0.5)
        ax.bar(x, np.nan_to_num(y), width=width * 0.92, color=colour, label=label, linewidth=0)
        for xi, yi, k, m in zip(x, y, t[count], t["n_tested"], strict=True):
            known = bool(np.isfinite(yi))
            ax.text(xi, (yi if known else 0.0) + 0.01 * top, f"{int(k)}/{int(m)}" if known else "NA",
                    ha="center", va="bottom", fontsize=6.5)
    several = t["readout"].nunique() > 1
    ax.set_xticks(range(n), [f"{r.readout_name}\n{r.group}" if several else r.group for r in t.itertuples()])
    ax.set(ylabel="fraction of genes (finite R)", ylim=(0, top))
    ax.legend(fontsize=7, frameon=False, loc="upper right")
    n_fm = max(s["n_finemapped"] for s in summary.values())
    n_all = max(s["n_genes"] for s in summary.values())
    return Plot(name, title, f"Known causal SNV: the {n_fm} of {n_all} genes with a fine-mapped credible "
                f"set; bar labels: significant genes / genes with a finite R.", fig, t, values=summary)


# ---------------------------------------------------------------------------------------------------
# Gene figures (one gene, one readout)
# ---------------------------------------------------------------------------------------------------

def _snv_key(pos: Any, ref: Any, alt: Any) -> tuple[int, str, str]:
    return int(pos), str(ref), str(alt)


def driver_rows(gd: GeneData, drivers: pd.DataFrame) -> np.ndarray:
    """Index of each driver in the gene's SNVs (matched by pos, ref, alt); -1 when absent."""
    index = {_snv_key(p, r, a): i for i, (p, r, a) in enumerate(zip(gd.snvs["pos"], gd.snvs["ref"],
                                                                     gd.snvs["alt"], strict=True))}
    return np.array([index.get(_snv_key(p, r, a), -1) for p, r, a in zip(drivers["pos"], drivers["ref"],
                                                                          drivers["alt"], strict=True)],
                    dtype=np.int64)


def prediction_vs_observed(gd: GeneData, k: int, row: pd.Series, drivers: pd.DataFrame,
                           name: str = "prediction") -> Plot:
    """Fig 1D / 2B: predicted vs observed expression per person, R and null p in the title, points
    coloured by the main driver's dosage."""
    title = "Predicted vs observed expression per person"
    x, y = gd.observed.astype(float), gd.prediction[:, k].astype(float)
    ok = np.isfinite(x) & np.isfinite(y)
    if not ok.any():
        return not_computed(name, title, f"no person has both a prediction and an observation "
                                         f"(status {row.get('status', 'NA')})")
    dosage = gd.main_dosage[:, k]
    main = drivers[as_bool(drivers["is_main"])] if len(drivers) else drivers
    t = pd.DataFrame({"sample": gd.samples[ok], "observed": x[ok], "predicted": y[ok],
                      "main_driver_dosage": dosage[ok]})
    fig, ax = _figure()
    if len(main) and (dosage[ok] >= 0).any():
        for d in (0, 1, 2):
            m = t["main_driver_dosage"].to_numpy() == d
            if m.any():
                ax.scatter(t["observed"][m], t["predicted"][m], s=14, color=DOSAGE_COLOURS[d], alpha=0.8,
                           linewidths=0, label=f"{d} ({int(m.sum())})")
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=7, title_fontsize=7, frameon=False,
                  title=f"main driver\n{main['variant_id'].iloc[0]}\ndosage")
    else:
        ax.scatter(t["observed"], t["predicted"], s=14, color=DOSAGE_COLOURS[0], alpha=0.8, linewidths=0)
        ax.text(0.02, 0.97, "no main driver", transform=ax.transAxes, va="top", fontsize=7)
    r, p = float(row.get("r", math.nan)), float(row.get("null_p", math.nan))
    ax.set_title(f"R = {_fmt(r, 3)}, null p = {_fmt(p)}", fontsize=9)
    ax.set(xlabel="observed expression", ylabel="predicted (model readout)")
    return Plot(name, title, f"{len(t)} people.", fig, t, raster=len(t) > DENSE_POINTS,
                values={"r": r, "null_p": p})


def ism_vs_distance(gd: GeneData, k: int, drivers: pd.DataFrame, name: str = "ism_distance") -> Plot:
    """Fig 1E: ISM of every SNV vs its distance to the TSS (direction of transcription), colour = allele
    frequency as the fraction of carriers, drivers outlined, the main driver labelled."""
    title = "ISM of every SNV vs distance to the TSS"
    ism = gd.ism[:, k].astype(float)
    if not len(ism):
        return not_computed(name, title, "the gene has no SNVs")
    if not np.isfinite(ism).any():
        return not_computed(name, title, "ISM was not computed for this readout")
    t = gd.snvs.assign(ism=ism)
    t = t[np.isfinite(t["ism"].to_numpy())]
    fig, ax = _figure(WIDE)
    sc = ax.scatter(t["distance_to_tss"], t["ism"], c=t["carrier_fraction"], cmap="viridis", vmin=0, vmax=1,
                    s=10, linewidths=0, zorder=2)
    fig.colorbar(sc, ax=ax, label="carrier fraction", pad=0.01)
    rows = driver_rows(gd, drivers) if len(drivers) else np.zeros(0, np.int64)
    t["driver"] = False
    t["main_driver"] = False
    if (rows >= 0).any():
        main = as_bool(drivers["is_main"])
        dt = gd.snvs.iloc[rows[rows >= 0]].assign(ism=ism[rows[rows >= 0]])
        t.loc[t.index.isin(rows[rows >= 0]), "driver"] = True
        t.loc[t.index.isin(rows[(rows >= 0) & main]), "main_driver"] = True
        ax.scatter(dt["distance_to_tss"], dt["ism"], s=40, facecolors="none", edgecolors="k", linewidths=1.1,
                   zorder=3, label=f"drivers ({len(dt)})")
        for i in rows[(rows >= 0) & main]:
            ax.annotate(f"main driver {gd.snvs['pos'].iloc[i]}:{gd.snvs['ref'].iloc[i]}>"
                        f"{gd.snvs['alt'].iloc[i]}", (gd.snvs["distance_to_tss"].iloc[i], ism[i]),
                        xytext=(8, 8), textcoords="offset points", fontsize=7,
                        arrowprops={"arrowstyle": "-", "lw": 0.6})
        ax.legend(fontsize=7, frameon=False, loc="lower left")
    ax.axhline(0, color="0.7", lw=0.6, zorder=1)
    ax.set(xlabel="distance to TSS (bp; negative = upstream)", ylabel="ISM (alt - ref readout)")
    return Plot(name, title, f"{len(t)} SNVs.", fig, t, raster=len(t) > DENSE_POINTS)


def ism_vs_eqtl(gd: GeneData, k: int, drivers: pd.DataFrame, name: str = "ism_eqtl") -> Plot:
    """Fig 2D: ISM vs observed eQTL slope per SNV; drivers circled, supported (same sign) or not."""
    title = "ISM vs observed eQTL slope per SNV"
    ism = gd.ism[:, k].astype(float)
    slope = gd.snvs["eqtl_slope"].to_numpy(dtype=float)
    ok = np.isfinite(ism) & np.isfinite(slope)
    if not ok.any():
        return not_computed(name, title, "no SNV has both an ISM and an eQTL slope (no ISM for this readout, "
                                         "no expression or no varying SNV)")
    t = gd.snvs.assign(ism=ism)[ok]
    fig, ax = _figure()
    ax.scatter(t["eqtl_slope"], t["ism"], s=8, color="0.6", linewidths=0, label=f"SNVs ({len(t)})")
    t["supported"] = np.nan
    rows = driver_rows(gd, drivers) if len(drivers) else np.zeros(0, np.int64)
    if (rows >= 0).any():
        sup = tristate(drivers["supported"])
        for value, colour, label in ((1.0, SUPPORTED, "supported driver"), (0.0, UNSUPPORTED,
                                                                           "unsupported driver")):
            m = (rows >= 0) & (sup == value)
            if m.any():
                ax.scatter(slope[rows[m]], ism[rows[m]], s=60, facecolors="none", edgecolors=colour,
                           linewidths=1.6, label=f"{label} ({int(m.sum())})", zorder=3)
            t.loc[t.index.isin(rows[m]), "supported"] = value
    ax.axhline(0, color="0.7", lw=0.6)
    ax.axvline(0, color="0.7", lw=0.6)
    ax.set(xlabel="observed eQTL slope (expression per alt allele)", ylabel="ISM")
    ax.legend(fontsize=7, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return Plot(name, title, "Supported: the model's ISM and the observed eQTL have the same sign.", fig, t,
                raster=len(t) > DENSE_POINTS)


def forward_selection(gd: GeneData, k: int, drivers: pd.DataFrame, name: str = "forward") -> Plot:
    """Forward-selection curve: the fraction of the approximation's R with the prediction reached by the
    first i SNVs in |ISM| order, drivers marked."""
    title = "Forward selection in |ISM| order"
    frac = gd.forward_frac[:, k].astype(float)
    if not np.isfinite(frac).any():
        return not_computed(name, title, "not computed: no ISM for this readout, or the approximation does "
                                         "not correlate with the prediction")
    i = np.arange(1, len(frac) + 1)
    t = pd.DataFrame({"snvs": i, "fraction": frac})
    fig, ax = _figure()
    ax.step(i, frac, where="post", color="#333333", lw=1.1)
    if len(drivers):
        rank = _num(drivers["rank"]).astype(int)
        rank = rank[(rank >= 1) & (rank <= len(frac))]
        ax.scatter(rank, frac[rank - 1], color=MAIN, s=30, zorder=3, label=f"drivers ({len(rank)})")
        ax.legend(fontsize=8, frameon=False, loc="lower right")
    ax.axhline(1, color="0.6", ls=":", lw=0.8)
    ax.set_xscale("log")
    ax.set(xlabel="SNVs in the partial approximation (|ISM| order)",
           ylabel="R(partial) / R(full approximation)")
    return Plot(name, title, f"{len(frac)} SNVs.", fig, t)


def gradient_track(grad: np.ndarray | None, gd: GeneData, tss_index: int, drivers: pd.DataFrame,
                   name: str = "gradient_track", max_bins: int = 2000) -> Plot:
    """Fig 2G (top): gradient x input over the whole window, SNVs and drivers as ticks. ``grad``: (L,)
    for this readout, None when gradients were not computed."""
    title = "Gradient x input over the window"
    if grad is None:
        return not_computed(name, title, "gradients were not computed (run with gradients: true)")
    grad = np.asarray(grad, dtype=float)
    sign = -1 if gd.strand == "-" else 1
    size = max(1, math.ceil(len(grad) / max_bins))
    n_bins = math.ceil(len(grad) / size)
    padded = np.full(n_bins * size, np.nan)
    padded[:len(grad)] = grad
    blocks = padded.reshape(n_bins, size)
    with np.errstate(invalid="ignore"), np.testing.suppress_warnings() as sup:
        sup.filter(RuntimeWarning)
        hi, lo = np.nanmax(blocks, axis=1), np.nanmin(blocks, axis=1)
    centre = (np.arange(n_bins) * size + (size - 1) / 2 - tss_index) * sign
    t = pd.DataFrame({"distance_to_tss": centre, "max": hi, "min": lo})
    fig, ax = _figure(WIDE)
    order = np.argsort(centre)
    ax.fill_between(centre[order], lo[order], hi[order], color="#3f3f3f", lw=0, step="mid")
    ymin, ymax = np.nanmin(lo), np.nanmax(hi)
    span = (ymax - ymin) or 1.0
    base = ymin - 0.08 * span
    ax.plot(gd.snvs["distance_to_tss"], np.full(len(gd.snvs), base), "|", color="0.55", ms=6,
            label=f"SNVs ({len(gd.snvs)})")
    rows = driver_rows(gd, drivers) if len(drivers) else np.zeros(0, np.int64)
    if (rows >= 0).any():
        dd = gd.snvs["distance_to_tss"].to_numpy()[rows[rows >= 0]]
        ax.plot(dd, np.full(len(dd), base - 0.06 * span), "|", color=MAIN, ms=9, mew=1.6,
                label=f"drivers ({len(dd)})")
    ax.set(xlabel="distance to TSS (bp; direction of transcription)", ylabel="gradient x input",
           ylim=(base - 0.14 * span, ymax + 0.05 * span))
    ax.legend(fontsize=7, frameon=False, loc="upper right", ncols=2)
    return Plot(name, title, f"max and min per {size}-bp bin.", fig, t, raster=True)


@functools.cache
def _glyph_paths() -> dict[str, Path]:
    """logomaker's glyph of each base in a unit box (x -0.475..0.475, y 0..1), made once: a Glyph builds
    two text paths each time, ~2 ms, too slow for 300 positions per logo."""
    import logomaker

    ax = Figure().add_subplot()
    return {b: logomaker.Glyph(0.0, b, ax=ax, floor=0.0, ceiling=1.0, color="k", vpad=0.0, width=0.95)
            .patch.get_path() for b in "ACGT"}


def draw_logo(ax: Axes, x: np.ndarray, ref: np.ndarray, height: np.ndarray) -> None:
    """One letter per position (the reference base, ``ref`` token 0-3) of signed ``height``, logomaker's
    glyphs, one compound patch per base."""
    glyphs = _glyph_paths()
    for t, base in enumerate("ACGT"):
        keep = (ref == t) & np.isfinite(height) & (height != 0)
        if not keep.any():
            continue
        parts = [Affine2D().scale(1.0, abs(h)).translate(float(px), min(0.0, float(h)))
                 .transform_path(glyphs[base]) for px, h in zip(x[keep], height[keep], strict=True)]
        patch = PathPatch(Path.make_compound_path(*parts), color=BASE_COLOURS[base], lw=0)
        patch.set_in_layout(False)  # the limits are set below: no need to measure every curve
        ax.add_artist(patch)
    ax.set_xlim(float(np.min(x)) - 0.5, float(np.max(x)) + 0.5)


@dataclass
class SeqletBox:
    """A seqlet framed on the logo: x from ``x0`` to ``x1`` in bp from the TSS (genomic orientation, the
    edges of its first and last base, clipped to the range shown) and its label."""

    seqlet_id: str
    x0: float
    x1: float
    label: str
    significant: bool


def seqlet_label(tf_name: Any, significant: Any) -> str:
    """The seqlet's best JASPAR match, ``*`` when significant; "no match" without one."""
    name = "" if tf_name is None or (isinstance(tf_name, float) and math.isnan(tf_name)) else str(tf_name)
    if not name.strip() or name == "NA":
        return NO_MATCH
    return name + ("*" if as_bool(pd.Series([significant]))[0] else "")


def seqlet_boxes(seqlets: pd.DataFrame, tss: int, lo: int, hi: int) -> list[SeqletBox]:
    """The seqlets (1-based inclusive ``start``..``end``) overlapping offsets ``lo``..``hi`` from ``tss``
    (genomic + strand orientation, as the logo: never flipped for '-' strand genes), left to right."""
    out = []
    for s in seqlets.itertuples(index=False):
        start, end = int(s.start) - tss, int(s.end) - tss
        if end < lo or start > hi:
            continue
        sig = getattr(s, "tf_significant", False)
        label = seqlet_label(getattr(s, "tf_name", None), sig)
        out.append(SeqletBox(str(s.seqlet_id), max(start, lo) - 0.5, min(end, hi) + 0.5, label,
                             bool(as_bool(pd.Series([sig]))[0])))
    return sorted(out, key=lambda b: (b.x0, b.x1))


def seqlet_label_rows(boxes: list[SeqletBox], span: float) -> list[int] | None:
    """Row of each box's horizontal label, up to LABEL_ROWS rows, none overlapping another in its row; None
    when they do not fit (dense seqlets: vertical labels). ``span``: bp the logo shows."""
    bp_per_char = LABEL_CHAR_PT * span / LOGO_AXIS_PT
    row_end = [-math.inf] * LABEL_ROWS
    rows = []
    for b in boxes:
        centre, half = (b.x0 + b.x1) / 2, (len(b.label) + 1) * bp_per_char / 2
        row = next((k for k, end in enumerate(row_end) if end < centre - half), None)
        if row is None:
            return None
        row_end[row] = centre + half
        rows.append(row)
    return rows


def _draw_seqlet_boxes(ax: Axes, ax_labels: Axes, boxes: list[SeqletBox], rows: list[int] | None) -> None:
    """Each box the logo's full height; its label above, in ``ax_labels`` (same x), in its row or vertical."""
    for b in boxes:
        rect = Rectangle((b.x0, 0.0), b.x1 - b.x0, 1.0, transform=ax.get_xaxis_transform(),
                         facecolor=(0.55, 0.55, 0.55, 0.12), edgecolor="#333333", lw=0.8, zorder=0.5,
                         label=f"seqlet {b.seqlet_id}")
        rect.set_in_layout(False)
        ax.add_artist(rect)
    n_rows = max(rows) + 1 if rows else 1
    for b, row in zip(boxes, rows or [0] * len(boxes), strict=True):
        ax_labels.text((b.x0 + b.x1) / 2, 0.04 + row / n_rows, b.label, ha="center", va="bottom",
                       rotation=0 if rows else 90, fontsize=6.5, color="#222222", clip_on=False,
                       fontweight="bold" if b.significant else "normal")
    ax_labels.set_ylim(0, 1)
    ax_labels.axis("off")


def saturation_logo(sat: dict[str, np.ndarray] | None, r: int | None, gd: GeneData, drivers: pd.DataFrame,
                    name: str = "saturation", flank: int = LOGO_FLANK,
                    seqlets: pd.DataFrame | None = None) -> Plot:
    """Fig 2G: saturation ISM within +-``flank`` bp of the TSS as a per-base attribution logo (the reference
    base's height: minus the mean effect of its substitutions) over a heat map of every substitution, both
    divided by the SD of the substitution effects over the whole saturation window (+-1,000 bp by
    default); the main driver marked; each seqlet of the gene and readout (``seqlets``: seqlets.tsv rows;
    None when the motif analysis was not run) framed on the logo with its best JASPAR match. ``sat``: the
    gene's ``.saturation.npz`` arrays, ``r`` the readout's row of its matrix; None when not computed.
    Genomic (+ strand) orientation."""
    title = f"Saturation ISM within +-{flank} bp of the TSS"
    if sat is None or r is None:
        return not_computed(name, title, "saturation ISM was not computed for this readout (tss_window: 0)")
    m = np.asarray(sat["matrix"][r], dtype=float)  # (P, 4)
    positions = np.asarray(sat["positions"], dtype=np.int64)
    ref = np.asarray(sat["ref"], dtype=np.int64)
    is_ref = np.zeros_like(m, dtype=bool)
    known = ref < 4
    is_ref[np.flatnonzero(known), ref[known]] = True
    subs = m[~is_ref & np.isfinite(m)]
    sd = float(subs.std()) if subs.size > 1 else math.nan
    if not np.isfinite(sd) or sd == 0:
        return not_computed(name, title, "every substitution near the TSS has the same effect (SD 0)")
    near = np.abs(positions - gd.tss) <= flank
    if not near.any():
        return not_computed(name, title, "the saturation window does not reach the TSS")
    mn = m[near] / sd
    rel = positions[near] - gd.tss
    subs_near = ~is_ref[near] & np.isfinite(mn)
    attribution = -np.where(subs_near, mn, 0.0).sum(axis=1) / np.maximum(subs_near.sum(axis=1), 1)
    bases = "ACGT"
    t = pd.DataFrame({"position": positions[near], "offset": rel,
                      "ref": [bases[b] if b < 4 else "N" for b in ref[near]], "attribution": attribution,
                      **{f"ism_{b}": mn[:, j] for j, b in enumerate(bases)}})
    boxes = seqlet_boxes(seqlets, gd.tss, int(rel.min()), int(rel.max())) if seqlets is not None else []
    label_rows = seqlet_label_rows(boxes, float(rel.max() - rel.min() + 1))
    if boxes:  # a band above the logo for the labels: each row adds 0.2 in (and 0.2 to the ratios)
        band = 0.2 * (max(label_rows) + 1) if label_rows else 0.75
        fig = Figure(figsize=(9.0, 3.6 + band), layout="constrained")
        ax_labels, ax_logo, ax_heat = fig.subplots(3, 1, sharex=True, height_ratios=(band, 1.2, 1))
    else:
        fig = Figure(figsize=(9.0, 3.6), layout="constrained")
        (ax_logo, ax_heat), ax_labels = fig.subplots(2, 1, sharex=True, height_ratios=(1.2, 1)), None
    draw_logo(ax_logo, rel, ref[near], attribution)
    lim = float(np.nanmax(np.abs(attribution))) if np.isfinite(attribution).any() else 1.0
    ax_logo.set(ylim=(-lim * 1.1 - 1e-9, lim * 1.1 + 1e-9), ylabel="attribution / SD")
    ax_logo.axhline(0, color="0.6", lw=0.5)
    vmax = float(np.nanmax(np.abs(mn))) or 1.0
    im = ax_heat.imshow(np.where(is_ref[near], np.nan, mn).T, aspect="auto", cmap="RdBu_r", vmin=-vmax,
                        vmax=vmax, extent=(rel[0] - 0.5, rel[-1] + 0.5, 3.5, -0.5), interpolation="nearest")
    ax_heat.set_yticks(range(4), list(bases))
    fig.colorbar(im, ax=ax_heat, label="ISM / SD", pad=0.01, aspect=10)
    ax_heat.set(xlabel="genomic position - TSS (bp, + strand)", xlim=(rel[0] - 0.5, rel[-1] + 0.5))
    main = drivers[as_bool(drivers["is_main"])] if len(drivers) else drivers
    values: dict[str, Any] = {"sd": sd, "seqlet_boxes": boxes}
    t["seqlet_id"], t["seqlet_tf"] = None, None
    for b in boxes:
        inside = (t["offset"] > b.x0) & (t["offset"] < b.x1)
        t.loc[inside, "seqlet_id"], t.loc[inside, "seqlet_tf"] = b.seqlet_id, b.label
    if ax_labels is not None:
        _draw_seqlet_boxes(ax_logo, ax_labels, boxes, label_rows)
    if len(main):
        off = int(main["pos"].iloc[0]) - gd.tss
        values["main_driver_offset"] = off
        if abs(off) <= flank:
            for ax in (ax_logo, ax_heat):
                ax.axvline(off, color=MAIN, lw=1.0, ls="--")
            ax_logo.annotate(f"main driver {main['variant_id'].iloc[0]}", (off, lim), fontsize=7,
                             color=MAIN, xytext=(4, 0), textcoords="offset points")
    top = ax_labels if ax_labels is not None else ax_logo
    top.set_title(f"strand {gd.strand}; divided by the SD of all substitution effects within "
                  f"{int(np.abs(positions - gd.tss).max()):,} bp", fontsize=8)
    caption = "Logo: the reference base's attribution; heat map: each substitution."
    if seqlets is None:
        caption += (" Seqlets: not computed (no seqlets.tsv: the run's motif analysis was off, motifs: false "
                    "or tss_window: 0).")
    elif boxes:
        caption += (f" Boxes: the {len(boxes)} seqlet{'s' if len(boxes) > 1 else ''} of this readout in the "
                    f"range shown (runs of bases the model attributes, 'seqgx motifs') with the best JASPAR "
                    f"2024 match of each (TOMTOM); * and bold: significant (q < 0.05 and shuffle p < 0.05).")
    else:
        caption += " No seqlet of this readout in the range shown."
    return Plot(name, title, caption, fig, t, values=values)
