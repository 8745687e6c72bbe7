"""PrediXcan baseline: apply a PredictDB elastic-net model to a cohort's own dosages.

- :func:`read_predictdb` reads the ``weights`` table of a PredictDB SQLite file;
- :func:`predixcan_predict` matches weights to the cohort's variants by position and alleles and
  sums weight x effect-allele dosage per gene;
- :func:`predixcan_r` correlates the predictions with observed expression, matching gene ids with or
  without a version suffix;
- :func:`elastic_net_baseline` fits an elastic net on the cohort's own genotypes with nested
  cross-validation (out-of-fold R), for genes without a PredictDB model.

Allele matching (see ``docs/methods.md``): a weight at a position present in the cohort is used as is
when (VCF REF, ALT) == (ref_allele, eff_allele), flipped when (VCF REF, ALT) == (eff_allele, ref_allele)
(effect dosage = 2 - the site's total alt dosage), and counted as ``ambiguous`` and dropped when the
alleles match neither orientation. Strand-ambiguous pairs (A/T, C/G) are matched like any other pair:
both PredictDB (b38) and the VCF are on the + strand, so no strand flip is attempted.
"""

from __future__ import annotations

import sqlite3
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import sparse

from seqgx.analysis.stats import elastic_net_cv, pearson
from seqgx.errors import SeqgxError
from seqgx.genome.genes import strip_version
from seqgx.io import require_file

WEIGHT_COLUMNS = ("gene", "rsid", "varID", "ref_allele", "eff_allele", "weight")
COUNT_COLUMNS = ("n_weights", "n_used", "n_flipped", "n_ambiguous", "n_absent")


def normalize_chrom(chrom: str) -> str:
    """Contig name without a 'chr' prefix ('chr1', 'Chr1', '1' -> '1')."""
    c = str(chrom)
    return c[3:] if c[:3].lower() == "chr" else c


def match_gene_ids(query: Sequence[str], target: Sequence[str]) -> dict[str, str]:
    """Map each query gene id to a target id: the same id, else the same id without version suffix
    (only when that is unique among the targets). Unmatched queries are left out."""
    target = [str(t) for t in target]
    exact = set(target)
    by_base: dict[str, list[str]] = {}
    for t in target:
        by_base.setdefault(strip_version(t), []).append(t)
    out = {}
    for q in map(str, query):
        if q in exact:
            out[q] = q
        else:
            cands = by_base.get(strip_version(q), [])
            if len(cands) == 1:
                out[q] = cands[0]
    return out


def read_predictdb(path: str | Path) -> pd.DataFrame:
    """Read the ``weights`` table of a PredictDB SQLite model.

    Returns columns gene, rsid, varID, ref_allele, eff_allele, weight (float), chrom (no 'chr'
    prefix) and pos (int), the last two parsed from varID ``chr{c}_{pos}_{ref}_{alt}_b38``. An
    unexpected schema or record raises a one-line SeqgxError naming the table/column/record.
    """
    p = require_file(path, "PredictDB file", "pass a PredictDB SQLite model (.db)")
    try:
        con = sqlite3.connect(f"file:{p.resolve()}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise SeqgxError(f"PredictDB file '{p}' cannot be opened as SQLite ({exc}); "
                         f"pass a PredictDB .db file") from None
    try:
        try:
            tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        except sqlite3.DatabaseError as exc:
            raise SeqgxError(f"PredictDB file '{p}' is not a SQLite database ({exc}); "
                             f"pass a PredictDB .db file") from None
        if "weights" not in tables:
            raise SeqgxError(f"PredictDB file '{p}': table 'weights' not found (tables: "
                             f"{', '.join(sorted(tables)) or 'none'}); pass a PredictDB model file")
        cols = [r[1] for r in con.execute("PRAGMA table_info(weights)")]
        missing = [c for c in WEIGHT_COLUMNS if c not in cols]
        if missing:
            raise SeqgxError(f"PredictDB file '{p}': table 'weights' lacks column '{missing[0]}' (has "
                             f"{', '.join(cols)}); pass a PredictDB model with columns "
                             f"{', '.join(WEIGHT_COLUMNS)}")
        df = pd.read_sql_query(f"SELECT {', '.join(WEIGHT_COLUMNS)} FROM weights", con)
    finally:
        con.close()
    weight = pd.to_numeric(df["weight"], errors="coerce")
    bad = weight.isna() & df["weight"].notna() | df["weight"].isna()
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise SeqgxError(f"PredictDB file '{p}': table 'weights' column 'weight' is not a number for "
                         f"gene {df['gene'].iloc[i]} varID {df['varID'].iloc[i]} ({df['weight'].iloc[i]!r}); "
                         f"fix or remove that row")
    df["weight"] = weight.astype(float)
    parts = df["varID"].astype(str).str.split("_", expand=True)
    pos = pd.to_numeric(parts[1], errors="coerce") if parts.shape[1] > 1 else pd.Series(np.nan, df.index)
    if pos.isna().any():
        i = int(np.flatnonzero(pos.isna().to_numpy())[0])
        raise SeqgxError(f"PredictDB file '{p}': table 'weights' column 'varID' value "
                         f"{df['varID'].iloc[i]!r} is not chr{{c}}_{{pos}}_{{ref}}_{{alt}}_b38; "
                         f"use a PredictDB model with standard varIDs")
    df["chrom"] = parts[0].map(normalize_chrom)
    df["pos"] = pos.astype(np.int64)
    for c in ("ref_allele", "eff_allele"):
        df[c] = df[c].astype(str).str.upper()
    return df


def predixcan_predict(weights: pd.DataFrame, variants: pd.DataFrame, dosage: np.ndarray,
                      samples: Sequence[str] | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Predicted expression per gene = sum of weight x effect-allele dosage over matched variants.

    ``weights``: as :func:`read_predictdb` returns (chrom/pos are parsed from varID when absent);
    ``variants``: the cohort's variant table with columns chrom, pos (1-based), ref, alt, one row per
    alt allele (multi-allelic sites split), rows matching ``dosage`` (variants x samples, alt dosage;
    NaN propagates to that sample's prediction). Returns ``(prediction, counts)``: prediction is a
    DataFrame genes x samples (columns ``samples`` or 0..S-1); counts has one row per gene with
    :data:`COUNT_COLUMNS` (used = direct + flipped; ambiguous: position present, alleles match neither
    orientation; absent: position not in the cohort). Genes with no usable weight predict 0.
    """
    d = np.asarray(dosage, dtype=float)
    if d.ndim != 2 or d.shape[0] != len(variants):
        raise ValueError(f"dosage {d.shape} does not match {len(variants)} variants")
    w = weights.reset_index(drop=True).copy()
    if "chrom" not in w or "pos" not in w:
        parts = w["varID"].astype(str).str.split("_", expand=True)
        w["chrom"], w["pos"] = parts[0].map(normalize_chrom), parts[1].astype(np.int64)
    w["_wid"] = np.arange(len(w))
    w["_ref"] = w["ref_allele"].astype(str).str.upper()
    w["_eff"] = w["eff_allele"].astype(str).str.upper()
    v = pd.DataFrame({"chrom": variants["chrom"].map(normalize_chrom).to_numpy(),
                      "pos": variants["pos"].astype(np.int64).to_numpy(),
                      "vref": variants["ref"].astype(str).str.upper().to_numpy(),
                      "valt": variants["alt"].astype(str).str.upper().to_numpy(),
                      "_row": np.arange(len(variants))})
    cand = w[["_wid", "chrom", "pos", "_ref", "_eff"]].merge(v, on=["chrom", "pos"], how="inner")
    direct = cand[(cand["vref"] == cand["_ref"]) & (cand["valt"] == cand["_eff"])].drop_duplicates("_wid")
    flipped = cand[(cand["vref"] == cand["_eff"]) & (cand["valt"] == cand["_ref"])]
    flipped = flipped[~flipped["_wid"].isin(direct["_wid"])].drop_duplicates("_wid")
    present = np.zeros(len(w), bool)
    present[cand["_wid"].to_numpy()] = True
    status = np.where(present, "ambiguous", "absent").astype(object)
    status[direct["_wid"].to_numpy()] = "direct"
    status[flipped["_wid"].to_numpy()] = "flipped"

    genes = pd.Index(pd.unique(w["gene"].astype(str)))
    gidx = genes.get_indexer(w["gene"].astype(str))
    wt = w["weight"].to_numpy(dtype=float)
    # Sparse linear map genes x variants plus a constant: prediction = M @ dosage + c.
    rows, cols, vals = [gidx[direct["_wid"]]], [direct["_row"].to_numpy()], [wt[direct["_wid"]]]
    const = np.zeros(len(genes))
    if len(flipped):
        # Effect allele is the VCF REF: its dosage is 2 minus every alt allele's dosage at that site.
        site = flipped[["_wid", "chrom", "pos", "vref"]].merge(v, on=["chrom", "pos", "vref"], how="inner")
        rows.append(gidx[site["_wid"]])
        cols.append(site["_row"].to_numpy())
        vals.append(-wt[site["_wid"]])
        np.add.at(const, gidx[flipped["_wid"]], 2.0 * wt[flipped["_wid"]])
    m = sparse.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                          shape=(len(genes), d.shape[0]))
    pred = np.asarray(m @ d) + const[:, None] if len(genes) else np.zeros((0, d.shape[1]))
    columns = list(samples) if samples is not None else list(range(d.shape[1]))
    prediction = pd.DataFrame(pred, index=genes.rename("gene"), columns=columns)
    st = pd.DataFrame({"gene": w["gene"].astype(str), "status": status})
    tab = pd.crosstab(st["gene"], st["status"]).reindex(index=genes, fill_value=0)
    for c in ("direct", "flipped", "ambiguous", "absent"):
        if c not in tab:
            tab[c] = 0
    counts = pd.DataFrame({"n_weights": tab[["direct", "flipped", "ambiguous", "absent"]].sum(axis=1),
                           "n_used": tab["direct"] + tab["flipped"], "n_flipped": tab["flipped"],
                           "n_ambiguous": tab["ambiguous"], "n_absent": tab["absent"]}).astype(np.int64)
    counts.index.name = "gene"
    return prediction, counts


def predixcan_r(prediction: pd.DataFrame, expression: pd.DataFrame) -> pd.DataFrame:
    """Pearson R of PrediXcan predictions with observed expression per gene.

    ``prediction``: genes x samples; ``expression``: genes x samples (index gene ids); samples are
    matched by column name, genes by id with or without version suffix. Returns columns gene_id (the
    expression's id), predixcan_gene, predixcan_r, predixcan_p, n_samples.
    """
    mapping = match_gene_ids(expression.index.astype(str), prediction.index.astype(str))
    common = [s for s in expression.columns if s in set(prediction.columns)]
    rows = []
    for gid, pid in mapping.items():
        r, p, n = pearson(prediction.loc[pid, common].to_numpy(dtype=float),
                          expression.loc[gid, common].to_numpy(dtype=float))
        rows.append((gid, pid, r, p, n))
    return pd.DataFrame(rows, columns=["gene_id", "predixcan_gene", "predixcan_r", "predixcan_p",
                                       "n_samples"])


def elastic_net_baseline(dosage: np.ndarray, expression: np.ndarray, n_outer: int = 5, n_inner: int = 5,
                         l1_ratio: float = 0.5, seed: int = 0) -> tuple[float, float, np.ndarray]:
    """PrediXcan-style elastic net on the cohort's own genotypes, nested cross-validation.

    Outer KFold (``n_outer``, shuffled with ``seed``): fit ElasticNetCV (penalty chosen by an inner
    ``n_inner``-fold CV, ``l1_ratio`` 0.5 as PredictDB) on the training people, predict the held-out
    people. Returns (R, two-sided p, out-of-fold prediction) over samples with finite expression;
    NaN R when no SNV varies or too few samples.
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import KFold

    d = np.asarray(dosage, dtype=float)
    y = np.asarray(expression, dtype=float)
    ok = np.isfinite(y) & np.all(np.isfinite(d), axis=0)
    oof = np.full(y.shape[0], np.nan)
    x = d[:, ok].T
    yy = y[ok]
    x = x[:, x.std(axis=0) > 0] if x.size else x
    if x.shape[1] == 0 or yy.shape[0] < 2 * max(n_outer, n_inner) or not np.ptp(yy) > 0:
        return float("nan"), float("nan"), oof
    pred = np.full(yy.shape[0], np.nan)
    for tr, te in KFold(n_splits=n_outer, shuffle=True, random_state=seed).split(x):
        model = elastic_net_cv(30, l1_ratio=l1_ratio, max_iter=5000,
                               cv=KFold(n_splits=n_inner, shuffle=True, random_state=seed))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(x[tr], yy[tr])
        pred[te] = model.predict(x[te])
    oof[ok] = pred
    r, p, _ = pearson(pred, yy)
    return r, p, oof
