"""Enrichment around the drivers: de novo clusters (supported vs unsupported drivers) and known JASPAR
motifs (drivers vs matched controls, FIMO), Fisher's exact tests with BH q-values, MEME output; and the
pipeline's MERGE step over all batches (:func:`merge_motif_tables`, :func:`run_enrichment`)."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from seqgx.analysis.motifs.annotate import MotifDatabase, fimo_sites, jaspar_motifs
from seqgx.analysis.motifs.defaults import (
    BASES,
    DENOVO_CUT,
    DENOVO_FLANK,
    DENOVO_MAX_MISMATCHES,
    DENOVO_MIN_LENGTH,
    ENRICHMENT_ALPHA,
    FIMO_THRESHOLD,
)
from seqgx.analysis.motifs.denovo import _consensus, cluster_counts, cluster_windows, pair_scores
from seqgx.analysis.motifs.summary import motif_summary
from seqgx.analysis.motifs.tables import (
    SEQLET_COLUMNS,
    SNV_COLUMNS,
    _read_table,
    _tristate,
    _write_tsv,
    read_gene_r,
)
from seqgx.errors import SeqgxError
from seqgx.io import atomic_output


def _fisher(table: np.ndarray) -> tuple[float, float]:
    from scipy.stats import fisher_exact

    res = fisher_exact(table, alternative="two-sided")
    return float(res[0]), float(res[1])


def denovo_enrichment(drivers: pd.DataFrame, min_length: int = DENOVO_MIN_LENGTH,
                      max_mismatches: int = DENOVO_MAX_MISMATCHES, cut: float = DENOVO_CUT,
                      flank: int = DENOVO_FLANK) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """De novo clusters of one readout's drivers (rows with ``ref_context``, ``alt_context``,
    ``supported``): the central ``2 * flank + 1`` bases of each context, :func:`pair_scores`,
    :func:`cluster_windows`; per cluster of >= 2 drivers its counts (:func:`cluster_counts`) and
    Fisher's exact test (two-sided) of supported vs unsupported drivers in vs out of the cluster
    (drivers with unknown support are members but not counted), BH across those clusters.
    Returns (table, {motif id: counts (4, L)})."""
    cols = ["motif_id", "motif_name", "consensus", "n_members", "cases_with", "cases_without",
            "controls_with", "controls_without", "odds_ratio", "p_value", "counts"]
    d = drivers.reset_index(drop=True)
    if len(d) < 2:
        return pd.DataFrame(columns=cols), {}
    c = len(str(d["ref_context"].iloc[0])) // 2
    ref_w = [str(s)[c - flank:c + flank + 1] for s in d["ref_context"]]
    alt_w = [str(s)[c - flank:c + flank + 1] for s in d["alt_context"]]
    scores = pair_scores(ref_w, alt_w, min_length, max_mismatches)
    labels = cluster_windows(scores, min_length, cut)
    sup = _tristate(d["supported"]).to_numpy()
    known = np.isfinite(sup)
    rows, matrices = [], {}
    for lab in range(int(labels.max()) + 1):
        members = np.flatnonzero(labels == lab)
        if len(members) < 2:
            continue
        counts = cluster_counts(members, scores, ref_w, alt_w, min_length, max_mismatches)
        inside = labels == lab
        t = np.array([[np.sum(inside & known & (sup == 1)), np.sum(~inside & known & (sup == 1))],
                      [np.sum(inside & known & (sup == 0)), np.sum(~inside & known & (sup == 0))]])
        odds, p = _fisher(t) if t.sum() else (math.nan, math.nan)
        mid = f"cluster_{lab + 1}"
        matrices[mid] = counts
        rows.append({"motif_id": mid, "motif_name": _consensus(counts), "consensus": _consensus(counts),
                     "n_members": int(len(members)), "cases_with": int(t[0, 0]),
                     "cases_without": int(t[0, 1]),
                     "controls_with": int(t[1, 0]), "controls_without": int(t[1, 1]), "odds_ratio": odds,
                     "p_value": p, "counts": json.dumps({b: counts[i].tolist() for i, b in enumerate(BASES)},
                                                        separators=(",", ":"))})
    return pd.DataFrame(rows, columns=cols), matrices


def known_enrichment(drivers: pd.DataFrame, controls: pd.DataFrame, db: MotifDatabase | None = None,
                     flank: int = DENOVO_FLANK, threshold: float = FIMO_THRESHOLD) -> pd.DataFrame:
    """Known motifs around one readout's drivers vs their matched controls: a site carries a matrix when
    FIMO finds it (p < threshold, either strand) overlapping the central ``2 * flank + 1`` bases of its
    reference or alt context; Fisher's exact test (two-sided) per matrix of drivers vs controls, for
    matrices found at least once (the others cannot be significant)."""
    cols = ["motif_id", "motif_name", "consensus", "n_members", "cases_with", "cases_without",
            "controls_with", "controls_without", "odds_ratio", "p_value", "counts"]
    db = db or jaspar_motifs()
    nd, nc = len(drivers), len(controls)
    if nd == 0 or nc == 0:
        return pd.DataFrame(columns=cols)
    seqs = [*drivers["ref_context"], *drivers["alt_context"], *controls["ref_context"],
            *controls["alt_context"]]
    hit = fimo_sites([str(s) for s in seqs], db, flank, threshold)
    drv = hit[:nd] | hit[nd:2 * nd]
    ctl = hit[2 * nd:2 * nd + nc] | hit[2 * nd + nc:]
    rows = []
    for j in np.flatnonzero(drv.any(0) | ctl.any(0)):
        t = np.array([[drv[:, j].sum(), nd - drv[:, j].sum()], [ctl[:, j].sum(), nc - ctl[:, j].sum()]])
        odds, p = _fisher(t)
        rows.append({"motif_id": db.ids[j], "motif_name": db.names[j], "consensus": db.consensus(j),
                     "n_members": int(t[0, 0]), "cases_with": int(t[0, 0]), "cases_without": int(t[0, 1]),
                     "controls_with": int(t[1, 0]), "controls_without": int(t[1, 1]), "odds_ratio": odds,
                     "p_value": p, "counts": ""})
    return pd.DataFrame(rows, columns=cols)


def enrichment(driver_motifs: pd.DataFrame, snvs: pd.DataFrame, db: MotifDatabase | None = None,
               alpha: float = ENRICHMENT_ALPHA, fimo_threshold: float = FIMO_THRESHOLD
               ) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """Both enrichments for every readout of merged tables (``driver_motifs.tsv``, ``motif_snvs.tsv``):
    the rows of ``motif_enrichment.tsv`` (``q_value`` = BH per readout and analysis, ``enriched`` =
    q < alpha and odds ratio > 1) and the de novo count matrices keyed ``<readout>/<motif_id>``."""
    frames, matrices = [], {}
    readouts = list(dict.fromkeys(driver_motifs["readout"].astype(str))) if len(driver_motifs) else []
    for r in readouts:
        d = driver_motifs[driver_motifs["readout"].astype(str) == r]
        d = d[d["ref_context"].notna() & d["alt_context"].notna()]
        ctl = snvs[(snvs["readout"].astype(str) == r) & (snvs["control_for"].fillna("").astype(str) != "")]
        den, mats = denovo_enrichment(d)
        kn = known_enrichment(d, ctl, db, threshold=fimo_threshold)
        for name, f in (("de_novo", den), ("known", kn)):
            if len(f):
                frames.append(f.assign(readout=r, analysis=name))
        matrices.update({f"{r}/{k}": v for k, v in mats.items()})
    cols = ["readout", "analysis", "motif_id", "motif_name", "consensus", "n_members", "cases_with",
            "cases_without", "controls_with", "controls_without", "odds_ratio", "p_value", "q_value",
            "enriched", "counts"]
    if not frames:
        return pd.DataFrame(columns=cols), matrices
    from seqgx.analysis.stats import bh_fdr

    t = pd.concat(frames, ignore_index=True)
    t["q_value"] = np.nan
    for _, idx in t.groupby(["readout", "analysis"], sort=False).groups.items():
        t.loc[idx, "q_value"] = bh_fdr(t.loc[idx, "p_value"].to_numpy(float))
    t["enriched"] = (t["q_value"] < alpha) & (t["odds_ratio"] > 1)
    t = t.sort_values(["readout", "analysis", "p_value", "motif_id"], kind="stable").reset_index(drop=True)
    return t[cols], matrices


def write_meme(path: str | Path, matrices: Mapping[str, np.ndarray]) -> Path:
    """MEME (version 4) letter-probability matrices from count matrices (4, L); empty columns 0.25."""
    lines = ["MEME version 4", "", "ALPHABET= ACGT", "", "strands: + -", "",
             "Background letter frequencies", "A 0.25 C 0.25 G 0.25 T 0.25", ""]
    for name, counts in matrices.items():
        counts = np.asarray(counts, dtype=np.float64)
        tot = counts.sum(0)
        prob = np.where(tot > 0, counts / np.maximum(tot, 1), 0.25)
        nsites = int(tot.max()) if tot.size else 0
        lines += [f"MOTIF {name.replace(' ', '_')}",
                  f"letter-probability matrix: alength= 4 w= {counts.shape[1]} nsites= {nsites} E= 0"]
        lines += [" ".join(f"{x:.6f}" for x in col) for col in prob.T]
        lines.append("")
    path = Path(path)
    with atomic_output(path) as tmp:
        tmp.write_text("\n".join(lines) + "\n")
    return path


DRIVER_MOTIF_REQUIRED = ("gene_id", "readout", "variant_id", "is_main", "supported", "in_seqlet",
                         "ref_context", "alt_context")


def _sibling(path: Path, suffix: str) -> Path:
    return path.with_name(path.name[: -len("driver_motifs.tsv")] + suffix)


def merge_motif_tables(driver_motifs: Sequence[str | Path]
                       ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Concatenate ``<batch>.driver_motifs.tsv`` files (a directory stands for its ``*.driver_motifs.tsv``,
    a previous merge's ``driver_motifs.tsv`` excepted unless named) with the ``<batch>.seqlets.tsv`` and
    ``<batch>.motif_snvs.tsv`` beside each."""
    from seqgx.tables import expand_inputs

    files: list[Path] = []
    for item in driver_motifs:
        found = expand_inputs([item], "driver_motifs.tsv", "driver motifs")
        if Path(item).is_dir():
            found = [p for p in found if p.name.endswith(".driver_motifs.tsv")]
            if not found:
                raise SeqgxError(f"driver motifs directory '{item}' holds no '<batch>.driver_motifs.tsv' "
                                 f"files; pass the directory 'seqgx motifs' wrote")
        files.extend(found)
    files = list(dict.fromkeys(files))
    fix = "pass the files 'seqgx motifs' wrote"
    dms, seqs, snvs = [], [], []
    for f in files:
        if not f.name.endswith("driver_motifs.tsv"):
            raise SeqgxError(f"driver motifs file '{f}' is not named '<batch>.driver_motifs.tsv'; {fix}")
        dms.append(_read_table(f, "driver motifs file", DRIVER_MOTIF_REQUIRED, fix))
        sn = _sibling(f, "motif_snvs.tsv")
        if not sn.is_file():
            raise SeqgxError(f"driver motifs file '{f}' has no '{sn.name}' beside it; {fix} (all three "
                             f"tables of a batch)")
        snvs.append(_read_table(sn, "motif SNVs file", SNV_COLUMNS, fix))
        sq = _sibling(f, "seqlets.tsv")
        if sq.is_file():
            seqs.append(_read_table(sq, "seqlets file", ("gene_id", "readout", "seqlet_id"), fix))
    dm = pd.concat(dms, ignore_index=True) if dms else pd.DataFrame()
    key = ["gene_id", "readout", "variant_id"]
    if len(dm) and dm.duplicated(key).any():
        g = dm[dm.duplicated(key)].iloc[0]
        raise SeqgxError(f"driver {g['variant_id']} of gene {g['gene_id']} (readout {g['readout']}) is in "
                         f"two driver motifs tables; pass each batch once")
    sq = pd.concat(seqs, ignore_index=True) if seqs else pd.DataFrame(columns=SEQLET_COLUMNS)
    sn = pd.concat(snvs, ignore_index=True) if snvs else pd.DataFrame(columns=SNV_COLUMNS)
    return dm, sq, sn


def run_enrichment(driver_motifs: Sequence[str | Path], out_dir: str | Path, *,
                   genes: Sequence[str | Path] | None = None, alpha: float = ENRICHMENT_ALPHA,
                   fimo_threshold: float = FIMO_THRESHOLD, db: MotifDatabase | None = None,
                   drivers: pd.DataFrame | None = None) -> tuple[dict[str, Any], list[Path]]:
    """Merge the batches' motif tables and test enrichment around all drivers of the run. Writes under
    ``out_dir``: ``driver_motifs.tsv``, ``seqlets.tsv``, ``motif_snvs.tsv`` (concatenated),
    ``motif_enrichment.tsv``, ``motif_clusters.meme`` and ``motif_summary.json`` (:func:`motif_summary`).
    ``genes`` (a merged genes.tsv) replaces the drivers' ``gene_r``. ``drivers`` (one tissue's merged
    drivers): only their rows are kept, and the seqlets of their genes and readouts (the motif step ran
    once on every tissue's drivers). Returns (summary, paths)."""
    if not 0 < alpha <= 1:
        raise SeqgxError(f"--fdr-alpha must be in (0, 1], got {alpha}")
    dm, sq, sn = merge_motif_tables(driver_motifs)
    if drivers is not None:
        keys = set(zip(drivers["gene_id"].astype(str), drivers["readout"].astype(str),
                       drivers["variant_id"].astype(str), strict=True))
        pairs = {k[:2] for k in keys}

        def of_tissue(t: pd.DataFrame, key: list[str]) -> pd.DataFrame:
            wanted = keys if len(key) == 3 else pairs
            hit = [tuple(map(str, k)) in wanted for k in zip(*(t[c] for c in key), strict=True)]
            return t[np.asarray(hit, dtype=bool)].reset_index(drop=True) if len(t) else t

        dm = of_tissue(dm, ["gene_id", "readout", "variant_id"])
        sn = of_tissue(sn, ["gene_id", "readout"])
        sq = of_tissue(sq, ["gene_id", "readout"])
    if genes:
        r = read_gene_r(genes)
        dm["gene_r"] = [r.get((str(g), str(x)), math.nan)
                        for g, x in zip(dm["gene_id"], dm["readout"], strict=True)]
    table, matrices = enrichment(dm, sn, db, alpha, fimo_threshold)
    summary = motif_summary(dm, sn, table, alpha)
    out = Path(out_dir)
    paths = [_write_tsv(dm, out / "driver_motifs.tsv"), _write_tsv(sq, out / "seqlets.tsv"),
             _write_tsv(sn, out / "motif_snvs.tsv"), _write_tsv(table, out / "motif_enrichment.tsv"),
             write_meme(out / "motif_clusters.meme", matrices)]
    js = out / "motif_summary.json"
    with atomic_output(js) as tmp:
        tmp.write_text(json.dumps({"fdr_alpha": alpha, "readouts": summary}, indent=1,
                                  default=lambda x: None) .replace("NaN", "null") + "\n")
    paths.append(js)
    return summary, paths
