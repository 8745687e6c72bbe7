"""The stats step of a batch (`seqgx stats`): a gene's inputs read and lined up, its tables and report data.

The statistics themselves live in :mod:`seqgx.analysis.stats` and :mod:`seqgx.analysis.predixcan`;
this module reads a gene's inputs (haplotypes npz, predictions TSV, ISM TSV, the expression matrix
row), lines them up by sample and variant, calls :func:`seqgx.analysis.stats.gene_statistics` once per
readout and writes the tables described in ``docs/formats.md`` ("Statistics").

Degenerate genes (no expression row, too few samples, constant expression or prediction, no SNV) are
kept with NaN statistics and a ``status``; inconsistent inputs (a gene's predictions missing, samples or
variants that do not match its haplotypes) are one-line :class:`~seqgx.errors.SeqgxError`\\ s.
"""

from __future__ import annotations

import json
import math
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from seqgx.analysis.predixcan import (
    elastic_net_baseline,
    match_gene_ids,
    predixcan_predict,
    predixcan_r,
    read_predictdb,
)
from seqgx.analysis.stats import (
    NULL_TESTS,
    default_null_draws,
    gene_rng,
    gene_statistics,
    partial_pearson,
    residualize,
)
from seqgx.checks import read_expression
from seqgx.errors import SeqgxError
from seqgx.io import require_file
from seqgx.log import get_logger, progress
from seqgx.tables import (
    BASELINE_COLUMNS,
    BATCH_GENE_COLUMNS,
    DRIVER_COLUMNS,
    FINEMAP_COLUMNS,
    GENE_FIELDS,
    ISM_COLUMNS,
    PREDICTION_COLUMNS,
    by_gene,
    empty_drivers,
    expand_inputs,
    read_table,
    write_table,
)
from seqgx.tissues import DEFAULT_TISSUE

log = get_logger(__name__)


# ---------------------------------------------------------------------------------------------------
# Reading a gene's inputs
# ---------------------------------------------------------------------------------------------------

def expression_row(expr: pd.DataFrame, gene_id: str, expression_samples: Sequence[str]) -> np.ndarray | None:
    """Observed expression of ``gene_id`` (matched with or without version suffix) for each expression
    sample id, NaN where the sample has no column; None when the gene has no row."""
    hit = match_gene_ids([gene_id], expr.index).get(str(gene_id))
    if hit is None:
        return None
    return expr.loc[hit].reindex([str(s) for s in expression_samples]).to_numpy(dtype=float)


def read_predictions(path: Path, gene_id: str, samples: Sequence[str]) -> tuple[list[str], np.ndarray]:
    """``<gene_id>.predictions.tsv`` -> (readouts in file order, person values (S, R), ``samples`` order)."""
    fix = "re-run 'seqgx predict' on this gene's haplotypes file"
    t = read_table(path, "predictions file", PREDICTION_COLUMNS, fix,
                   dtype={"gene_id": str, "sample": str, "expression_sample": str, "readout": str})
    other = t.loc[t["gene_id"] != str(gene_id), "gene_id"]
    if len(other):
        raise SeqgxError(f"predictions file '{path}' holds gene '{other.iloc[0]}', expected '{gene_id}'; "
                         f"{fix}")
    if t.empty:
        raise SeqgxError(f"predictions file '{path}' has no rows; {fix}")
    person = pd.to_numeric(t["person"], errors="coerce")
    if (person.isna() & t["person"].notna()).any():
        i = int(np.flatnonzero((person.isna() & t["person"].notna()).to_numpy())[0])
        raise SeqgxError(f"predictions file '{path}' line {i + 2}: person value {t['person'].iloc[i]!r} is "
                         f"not a number; {fix}")
    t = t.assign(person=person)
    dup = t.duplicated(["sample", "readout"])
    if dup.any():
        i = int(np.flatnonzero(dup.to_numpy())[0])
        raise SeqgxError(f"predictions file '{path}' line {i + 2}: sample '{t['sample'].iloc[i]}' appears "
                         f"twice for readout '{t['readout'].iloc[i]}'; {fix}")
    readouts = list(dict.fromkeys(t["readout"]))
    wide = t.pivot(index="sample", columns="readout", values="person")
    missing = [s for s in map(str, samples) if s not in wide.index]
    if missing:
        raise SeqgxError(f"predictions file '{path}' lacks sample '{missing[0]}' of the haplotypes file "
                         f"({len(missing)} missing); {fix}")
    values = wide.reindex(index=[str(s) for s in samples], columns=readouts).to_numpy(dtype=float)
    if len(wide) * len(readouts) != len(t):
        raise SeqgxError(f"predictions file '{path}' does not list every sample for every readout; {fix}")
    return readouts, values


def read_ism(path: Path, variants: pd.DataFrame, readouts: Sequence[str],
             prefix: str = "ism_") -> dict[str, np.ndarray]:
    """``<gene_id>.ism.tsv`` -> ISM per readout (V,), rows in the order of the haplotypes' variant table.

    Readouts without an ``ism_<readout>`` column are left out (their ISM statistics are NaN).
    ``prefix="grad_"`` reads the gradient attributions instead."""
    fix = "re-run 'seqgx ism' on this gene's haplotypes file"
    t = read_table(path, "ISM file", ISM_COLUMNS, fix, dtype={"variant_id": str, "ref": str, "alt": str})
    dup = t["variant_id"][t["variant_id"].duplicated()]
    if len(dup):
        raise SeqgxError(f"ISM file '{path}' lists variant '{dup.iloc[0]}' twice; {fix}")
    idx = pd.Index(t["variant_id"]).get_indexer(variants["variant_id"].astype(str))
    if (idx < 0).any():
        v = variants["variant_id"].iloc[int(np.flatnonzero(idx < 0)[0])]
        raise SeqgxError(f"ISM file '{path}' lacks variant '{v}' of the haplotypes file "
                         f"({int((idx < 0).sum())} missing); {fix}")
    out = {}
    for r in readouts:
        col = f"{prefix}{r}"
        if col not in t.columns:
            continue
        vals = pd.to_numeric(t[col], errors="coerce").to_numpy(dtype=float)
        out[r] = vals[idx]
    return out


def model_identity(reference_json: Path) -> dict[str, str]:
    """``model`` (source) and ``model_sha256`` from the ``<gene_id>.reference.json`` that `seqgx predict`
    writes beside its predictions; empty strings when that file was not passed along."""
    if not reference_json.is_file():
        return {"model": "", "model_sha256": ""}
    try:
        identity = json.loads(reference_json.read_text()).get("model") or {}
    except json.JSONDecodeError:
        raise SeqgxError(f"'{reference_json}' is not valid JSON; re-run 'seqgx predict' for this "
                         f"gene") from None
    return {"model": str(identity.get("source", "")), "model_sha256": str(identity.get("sha256", ""))}


def readout_names(reference_json: Path, readouts: Sequence[str]) -> dict[str, str]:
    """Readout id -> the name a reader knows it by, from the ``readouts`` of ``<gene_id>.reference.json``:
    a track readout's track name (``track:4980`` -> ``CAGE:brain; adult;``, the oracle's ``track:1`` ->
    ``oracle:TATA``), ``finetuned:<weights file name>`` for the fine-tuned readout. The readout id itself
    where that file (or the readout in it) is missing or the track has no name."""
    names = {str(r): str(r) for r in readouts}
    if not reference_json.is_file():
        return names
    try:
        described = json.loads(reference_json.read_text()).get("readouts") or []
    except json.JSONDecodeError:
        raise SeqgxError(f"'{reference_json}' is not valid JSON; re-run 'seqgx predict' for this "
                         f"gene") from None
    for d in described:
        if not isinstance(d, dict) or str(d.get("name")) not in names:
            continue
        if d.get("track_name"):
            names[str(d["name"])] = str(d["track_name"])
        elif d.get("kind") == "finetuned" and d.get("weights"):
            names[str(d["name"])] = f"finetuned:{Path(str(d['weights'])).name}"
    return names


def signed_distance(pos: np.ndarray, tss: int, strand: str) -> np.ndarray:
    """Distance to the TSS signed in the direction of transcription: pos - tss on '+', tss - pos on '-'
    (positive = downstream, into the gene body)."""
    d = np.asarray(pos, dtype=np.int64) - int(tss)
    return -d if strand == "-" else d


# ---------------------------------------------------------------------------------------------------
# PrediXcan baseline: a gene's weights applied to its window variants plus, optionally, VCF sites
# ---------------------------------------------------------------------------------------------------

class VcfSites:
    """Alt-allele dosages at given positions from the cohort VCF, for PrediXcan weights outside the
    window. Missing calls count as the reference allele (as ``seqgx personalize`` does by default)."""

    def __init__(self, path: str | Path):
        import pysam

        self.path = require_file(path, "VCF", "pass the cohort's bgzipped, indexed VCF")
        try:
            self.vf = pysam.VariantFile(str(self.path))
        except (OSError, ValueError) as exc:
            raise SeqgxError(f"VCF '{self.path}' cannot be opened ({exc}); pass a bgzipped, indexed VCF") \
                from None
        self.contigs = list(self.vf.header.contigs)
        self.samples = list(self.vf.header.samples)

    def fetch(self, chrom: str, positions: Sequence[int],
              samples: Sequence[str]) -> tuple[pd.DataFrame, np.ndarray]:
        """Variant rows (chrom, pos, ref, alt; one per alt allele) and dosage (rows x samples)."""
        from seqgx.genome.reference import contig_map

        contig = contig_map([chrom], self.contigs, "haplotypes", f"VCF '{self.path}'").get(chrom)
        absent = [s for s in samples if s not in set(self.samples)]
        if absent:
            raise SeqgxError(f"VCF '{self.path}' lacks sample '{absent[0]}' of the haplotypes file; pass the "
                             f"VCF the haplotypes were made from")
        col = {s: i for i, s in enumerate(self.samples)}
        cols = [col[s] for s in samples]
        rows, dos = [], []
        if contig is None:
            return pd.DataFrame(columns=["chrom", "pos", "ref", "alt"]), np.zeros((0, len(samples)))
        for pos in sorted(set(int(p) for p in positions)):
            try:
                records = list(self.vf.fetch(contig, pos - 1, pos))
            except ValueError as exc:
                raise SeqgxError(f"VCF '{self.path}' cannot be searched at {contig}:{pos} ({exc}); "
                                 f"index it with 'tabix -p vcf'") from None
            for rec in records:
                if rec.pos != pos or not rec.alts:
                    continue
                gts = [rec.samples[c].get("GT") or () for c in cols]
                for k, alt in enumerate(rec.alts, start=1):
                    rows.append((chrom, pos, rec.ref, alt))
                    dos.append([sum(1 for a in gt if a == k) for gt in gts])
        table = pd.DataFrame(rows, columns=["chrom", "pos", "ref", "alt"])
        return table, np.asarray(dos, dtype=float).reshape(len(rows), len(samples))


def gene_predixcan(weights: pd.DataFrame, gene_id: str, gh: Any, observed: np.ndarray,
                   vcf: VcfSites | None = None, covariates: np.ndarray | None = None,
                   ) -> tuple[float, float, int]:
    """PrediXcan R, p and number of weights used for one gene; NaN (0 used) without a model for it.

    Weights are matched to the gene's window SNVs; with ``vcf`` the weights at positions outside the
    window's SNVs are looked up there too. ``covariates`` (samples x k, the gene's expression samples):
    the partial correlation on them (:func:`seqgx.analysis.stats.partial_pearson`)."""
    hit = match_gene_ids([gene_id], pd.unique(weights["gene"].astype(str))).get(str(gene_id))
    if hit is None:
        return math.nan, math.nan, 0
    w = weights[weights["gene"].astype(str) == hit]
    var = pd.DataFrame({"chrom": gh.chrom, "pos": gh.variants["pos"].to_numpy(np.int64),
                        "ref": gh.variants["ref"].astype(str).to_numpy(),
                        "alt": gh.variants["alt"].astype(str).to_numpy()})
    dosage = np.asarray(gh.dosage, dtype=float)
    if vcf is not None:
        outside = sorted(set(w["pos"].astype(int)) - set(var["pos"].astype(int)))
        if outside:
            extra, extra_d = vcf.fetch(gh.chrom, outside, [str(s) for s in gh.samples])
            var = pd.concat([var, extra], ignore_index=True)
            dosage = np.vstack([dosage, extra_d]) if len(extra) else dosage
    samples = [str(s) for s in gh.expression_samples]
    pred, counts = predixcan_predict(w, var, dosage, samples)
    obs = pd.DataFrame([observed], index=[str(gene_id)], columns=samples)
    res = predixcan_r(pred, obs)
    if res.empty:
        return math.nan, math.nan, 0
    n_used = int(counts["n_used"].iloc[0])
    if n_used == 0:
        return math.nan, math.nan, 0
    if covariates is not None:
        x = pred.loc[res["predixcan_gene"].iloc[0]].reindex(samples).to_numpy(dtype=float)
        r, p, _ = partial_pearson(x, np.asarray(observed, dtype=float), covariates)
        return r, p, n_used
    return float(res["predixcan_r"].iloc[0]), float(res["predixcan_p"].iloc[0]), n_used


def elastic_net_partial(dosage: np.ndarray, observed: np.ndarray, covariates: np.ndarray | None,
                        seed: int) -> tuple[float, float]:
    """The cohort's own elastic net (:func:`elastic_net_baseline`): R and p, or with ``covariates`` fitted
    to the expression residualised on them (as PredictDB trains) and scored by the partial correlation
    of its out-of-fold prediction with expression."""
    if covariates is None:
        r, p, _ = elastic_net_baseline(dosage, observed, seed=seed)
        return r, p
    y = np.asarray(observed, dtype=float).copy()
    ok = np.isfinite(y) & np.all(np.isfinite(covariates), axis=1)
    y[ok] = residualize(y[ok], covariates[ok])
    y[~ok] = np.nan
    _, _, oof = elastic_net_baseline(dosage, y, seed=seed)
    r, p, _ = partial_pearson(oof, np.asarray(observed, dtype=float), covariates)
    return r, p


# ---------------------------------------------------------------------------------------------------
# One gene, one batch
# ---------------------------------------------------------------------------------------------------

@dataclass
class StatsOptions:
    """Options of `seqgx stats` (see its --help)."""

    null_test: str = "empirical"
    null_draws: int | None = None
    seed: int = 0
    min_samples: int = 20
    elastic_net_baseline: bool = False

    def __post_init__(self) -> None:
        if self.null_test not in NULL_TESTS:
            raise SeqgxError(f"--null-test must be one of {', '.join(NULL_TESTS)}, got {self.null_test!r}")
        if self.null_draws is None:
            self.null_draws = default_null_draws(self.null_test)
        if self.null_draws < 2:
            raise SeqgxError(f"--null-draws must be >= 2, got {self.null_draws}")
        if self.min_samples < 3:
            raise SeqgxError(f"--min-samples must be >= 3 (a correlation needs 3 samples), got "
                             f"{self.min_samples}")


def gene_tables(gh: Any, readouts: Sequence[str], person: np.ndarray, observed: np.ndarray | None,
                ism: dict[str, np.ndarray] | None, opts: StatsOptions,
                baselines: dict[str, Any] | None = None, names: dict[str, str] | None = None,
                grads: dict[str, np.ndarray] | None = None, covariates: np.ndarray | None = None,
                tissue: str = DEFAULT_TISSUE) -> tuple[list[dict[str, Any]], pd.DataFrame]:
    """genes.tsv rows (one per readout) and drivers.tsv rows of one gene.

    ``person``: (S, R) predictions in the haplotypes' sample order; ``observed``: (S,) expression or None
    (gene not in the expression matrix: status ``no_expression``); ``ism``: readout -> (V,) or None;
    ``names``: readout -> ``readout_name`` (:func:`readout_names`; default the readout id); ``grads``:
    readout -> (V,) gradient attributions or None (``grad_approx_r``, ``grad_ism_r`` NaN); ``covariates``:
    (S, k) in the haplotypes' sample order, or None (every R a partial correlation on them).
    """
    head = {"tissue": tissue, "gene_id": str(gh.gene_id), "gene_name": str(gh.gene_name),
            "chrom": str(gh.chrom), "tss": int(gh.tss), "strand": str(gh.strand)}
    base = {c: math.nan for c in BASELINE_COLUMNS}
    base.update(predixcan_n_used=0, predixcan_source="")
    base.update(baselines or {})
    dist = signed_distance(gh.variants["pos"].to_numpy(np.int64), gh.tss, gh.strand)
    d = np.asarray(gh.dosage)
    varies = bool(d.size and np.any(d != d[:, :1]))
    rows: list[dict[str, Any]] = []
    drivers: list[pd.DataFrame] = []
    for k, readout in enumerate(readouts):
        rname = (names or {}).get(readout, readout)
        if observed is None:
            fields: dict[str, Any] = dict.fromkeys(GENE_FIELDS, math.nan)
            fields.update(n_samples=0, n_snvs=int(gh.n_variants), n_covariates=0, null_draws=0, n_drivers=0,
                          status="no_expression")
            dr = None
        else:
            iv = ism.get(readout) if ism is not None else None
            fields, dr = gene_statistics(person[:, k], observed, gh.dosage, ism=iv, null_test=opts.null_test,
                                         n_draws=opts.null_draws, rng=gene_rng(opts.seed, gh.gene_id),
                                         min_samples=opts.min_samples, with_drivers=True,
                                         distance_to_tss=dist, grad=(grads or {}).get(readout),
                                         covariates=covariates)
            if iv is None:
                fields["n_drivers"] = math.nan  # no ISM for this readout: drivers unknown, not zero
            if fields["status"] == "constant_prediction" and not varies:
                fields["status"] = "no_snvs"  # the root cause: nothing differs between people
        rows.append({**head, "readout": readout, "readout_name": rname, **fields, **base})
        if dr is not None and len(dr):
            vi = dr["variant_index"].to_numpy(np.int64)
            v = gh.variants.iloc[vi]
            drivers.append(pd.DataFrame({
                "tissue": tissue, "gene_id": str(gh.gene_id), "readout": readout, "readout_name": rname,
                "variant_id": v["variant_id"].astype(str).to_numpy(), "pos": v["pos"].to_numpy(np.int64),
                "ref": v["ref"].astype(str).to_numpy(), "alt": v["alt"].astype(str).to_numpy(),
                "distance_to_tss": dr["distance_to_tss"].to_numpy(np.int64), "ism": dr["ism"].to_numpy(),
                "rank": dr["rank"].to_numpy(), "frac_increase": dr["frac_increase"].to_numpy(),
                "driver_r": dr["driver_r"].to_numpy(), "driver_p": dr["driver_p"].to_numpy(),
                "eqtl_slope": dr["eqtl_slope"].to_numpy(), "eqtl_p": dr["eqtl_p"].to_numpy(),
                "eqtl_r": dr["eqtl_r"].to_numpy(), "n_carriers": dr["carriers"].to_numpy(),
                "carrier_fraction": dr["carrier_fraction"].to_numpy(),
                "is_main": dr["main_driver"].to_numpy(bool), "supported": dr["supported"].to_numpy(),
                "frac": dr["frac"].to_numpy()}))
    table = pd.concat(drivers, ignore_index=True) if drivers else empty_drivers()
    for c in FINEMAP_COLUMNS:  # filled by seqgx.analysis.finemap when a fine-mapping table is given
        if c not in table:
            table[c] = "" if c in ("finemap_match", "finemap_variant") else np.nan
    return rows, table


def select_readouts(readouts: Sequence[str], reference_json: Path, items: Sequence[str] | None,
                    source: str) -> list[int]:
    """Positions in ``readouts`` of a tissue's readouts: those `seqgx predict` made for ``items`` (track
    indices or names, 'default', fine-tuned weights files; as the tissues samplesheet gives them), found
    by the specs each readout records in ``<gene_id>.reference.json``; also a readout id itself
    ('track:4980'). None: every readout."""
    if items is None:
        return list(range(len(readouts)))
    described = {}
    if reference_json.is_file():
        listed = json.loads(reference_json.read_text()).get("readouts") or []
        described = {str(d.get("name")): d for d in listed if isinstance(d, dict)}
    chosen: list[int] = []
    for item in items:
        key = Path(item).name if str(item).lower().endswith(".csv") else str(item).strip()
        hits = [k for k, r in enumerate(readouts)
                if r == key or key in (described.get(r, {}).get("specs") or [])]
        if not hits:
            raise SeqgxError(f"{source}: readout '{item}' is not among the predicted readouts "
                             f"({', '.join(readouts)} in '{reference_json}'); predict with the union of the "
                             f"tissues' readouts (seqgx run and the pipeline do)")
        chosen += [k for k in hits if k not in chosen]
    return chosen


def assess_batch(haplotypes: Sequence[str | Path], predictions: Sequence[str | Path], expression: str | Path,
                 ism: Sequence[str | Path] | None = None, predictdb: str | Path | None = None,
                 vcf: str | Path | None = None, opts: StatsOptions | None = None,
                 covariates: str | Path | None = None, readouts: Sequence[str] | None = None,
                 tissue: str = DEFAULT_TISSUE, finemapped: str | Path | None = None,
                 ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """`seqgx stats` on a batch: (genes table, drivers table) for every haplotypes file given.

    One tissue: ``expression`` and its ``covariates`` (every R a partial correlation on them), the
    tissue's ``readouts`` of the predictions (:func:`select_readouts`; None: all); rows carry ``tissue``.
    Genes without a row in ``expression`` are left out under a tissue name other than 'default' (a gene
    not expressed in a tissue is absent from its tables), kept with status ``no_expression`` otherwise.
    ``finemapped``: drivers annotated with the fine-mapped causal variants (:mod:`seqgx.analysis.finemap`).
    The genes table carries the batch's report data (:mod:`seqgx.analysis.genedata`) in
    ``genes.attrs``, which :func:`write_batch` writes as ``<batch>.genedata.npz``."""
    from seqgx.analysis.genedata import ATTR, GeneDataBatch, gene_record
    from seqgx.genome.personalize import GeneHaplotypes

    opts = opts or StatsOptions()
    hap_files = expand_inputs(haplotypes, ".haplotypes.npz", "haplotypes")
    pred_files = by_gene(expand_inputs(predictions, ".predictions.tsv", "predictions"), ".predictions.tsv")
    ism_files = by_gene(expand_inputs(ism, ".ism.tsv", "ISM"), ".ism.tsv") if ism else None
    pred_dir = Path(predictions[0]) if len(predictions) == 1 and Path(predictions[0]).is_dir() else None
    ism_dir = Path(ism[0]) if ism and len(ism) == 1 and Path(ism[0]).is_dir() else None
    expr = read_expression(expression)
    cov = None
    if covariates:
        from seqgx.analysis.covariates import read_covariates

        cov = read_covariates(covariates, [str(c) for c in expr.columns])
        cov_of = pd.DataFrame(cov.values, index=[str(c) for c in expr.columns])
        if cov.n_missing:
            log.warning("covariates %s lack %d of the %d expression samples: those samples are left out of "
                        "every statistic", covariates, cov.n_missing, expr.shape[1])
    fine = None
    if finemapped:
        from seqgx.analysis.finemap import annotate_drivers, read_finemapped

        fine = read_finemapped(finemapped)
    weights = read_predictdb(predictdb) if predictdb else None
    sites = VcfSites(vcf) if vcf and weights is not None else None
    if vcf and weights is None:
        log.warning("--vcf is only used for PredictDB weights outside the window; no --predictdb given")
    if ism_files is None:
        log.info("no --ism given (phase 1 of a two-phase run, or no attribution): approx_r, approx_obs_r "
                 "and drivers are not computed")
    rows: list[dict[str, Any]] = []
    drivers: list[pd.DataFrame] = []
    records = GeneDataBatch()
    seen: dict[str, Path] = {}
    for path in progress(hap_files, "genes"):
        gh = GeneHaplotypes.load(path)
        gid = str(gh.gene_id)
        if gid in seen:
            raise SeqgxError(f"gene '{gid}' comes twice: haplotypes files '{seen[gid]}' and '{path}'; "
                             f"pass each gene once")
        seen[gid] = path
        ppath = pred_files.get(gid)
        if ppath is None:
            where = pred_dir / f"{gid}.predictions.tsv" if pred_dir else f"{gid}.predictions.tsv"
            raise SeqgxError(f"gene '{gid}' has haplotypes '{path}' but no predictions file '{where}'; run "
                             f"'seqgx predict' on it or pass its predictions")
        readouts_all, person = read_predictions(ppath, gid, [str(s) for s in gh.samples])
        ref_json = ppath.with_name(f"{gid}.reference.json")
        keep = select_readouts(readouts_all, ref_json, readouts, f"tissue '{tissue}'")
        readouts_of_tissue, person = [readouts_all[k] for k in keep], person[:, keep]
        ism_values = grad_values = None
        if ism_files is not None:
            ipath = ism_files.get(gid)
            if ipath is None:
                where = ism_dir / f"{gid}.ism.tsv" if ism_dir else f"{gid}.ism.tsv"
                raise SeqgxError(f"gene '{gid}' has haplotypes '{path}' but no ISM file '{where}'; run "
                                 f"'seqgx ism' on it or pass its ISM table")
            ism_values = read_ism(ipath, gh.variants, readouts_of_tissue)
            # Without --gradients the grad_ columns are all NA: no gradient statistics, not zeros.
            grad_values = {r: g for r, g in read_ism(ipath, gh.variants, readouts_of_tissue,
                                                     prefix="grad_").items() if np.isfinite(g).any()}
            lacking = [r for r in readouts_of_tissue if r not in ism_values]
            if lacking:
                log.warning("%s: ISM file %s has no column ism_%s: its ISM statistics are NaN", gid, ipath,
                            lacking[0])
        observed = expression_row(expr, gid, [str(s) for s in gh.expression_samples])
        if observed is None and tissue != DEFAULT_TISSUE:
            log.info("%s: not in tissue %s's expression %s; absent from its tables", gid, tissue, expression)
            continue
        if observed is None:
            log.warning("%s: not in the expression matrix %s; kept with status no_expression", gid,
                        expression)
        # The gene's samples' covariates (NaN rows: samples the covariates file lacks, left out).
        gene_cov = (None if cov is None
                    else cov_of.reindex([str(s) for s in gh.expression_samples]).to_numpy())
        baselines: dict[str, Any] = model_identity(ref_json)
        if observed is not None and weights is not None:
            r, p, n_used = gene_predixcan(weights, gid, gh, observed, sites, gene_cov)
            baselines.update(predixcan_r=r, predixcan_p=p, predixcan_n_used=n_used,
                             predixcan_source="predictdb" if np.isfinite(r) else "")
        if observed is not None and opts.elastic_net_baseline:
            er, ep = elastic_net_partial(gh.dosage, observed, gene_cov, opts.seed)
            baselines.update(elastic_net_r=er, elastic_net_p=ep)
            # The cohort's own elastic net stands in for PrediXcan where PredictDB has no model.
            if not np.isfinite(baselines.get("predixcan_r", math.nan)) and np.isfinite(er):
                baselines.update(predixcan_r=er, predixcan_p=ep, predixcan_source="elastic_net")
        gene_rows, gene_drivers = gene_tables(gh, readouts_of_tissue, person, observed, ism_values, opts,
                                              baselines, readout_names(ref_json, readouts_of_tissue),
                                              grad_values, gene_cov, tissue)
        if fine is not None:
            gene_drivers = annotate_drivers(gene_drivers, gh.variants, np.asarray(gh.dosage), str(gh.chrom),
                                            fine, gid)
        records.append(gene_record(gh, readouts_of_tissue, person, observed, ism_values, grad_values,
                                   gene_drivers, ref_json, gene_cov))
        rows.extend(gene_rows)
        if len(gene_drivers):
            drivers.append(gene_drivers)
        log.info("%s: %s", gid, ", ".join(f"{r['readout']} r={r['r']:.3f} ({r['status']})"
                                          for r in gene_rows))
    genes = pd.DataFrame(rows, columns=list(BATCH_GENE_COLUMNS))
    genes.attrs[ATTR] = records
    dr = pd.concat(drivers, ignore_index=True)[list(DRIVER_COLUMNS)] if drivers else empty_drivers()
    return genes, dr


def default_batch_name(haplotypes: Sequence[str | Path]) -> str:
    """A batch name derived from the inputs: the gene id for one gene, else the first gene id, the
    number of genes and a checksum of all input names (stable across runs)."""
    files = expand_inputs(haplotypes, ".haplotypes.npz", "haplotypes")
    ids = [p.name.removesuffix(".haplotypes.npz") for p in files]
    if len(ids) == 1:
        return ids[0]
    return f"{ids[0]}+{len(ids) - 1}_{zlib.crc32(chr(9).join(sorted(ids)).encode()):08x}"


def write_batch(genes: pd.DataFrame, drivers: pd.DataFrame, out_dir: str | Path,
                batch_name: str) -> list[Path]:
    """Write ``<batch>.genes.tsv`` and ``<batch>.drivers.tsv`` under ``out_dir``, and
    ``<batch>.genedata.npz`` when ``genes`` comes from :func:`assess_batch` (the report's gene data)."""
    from seqgx.analysis.genedata import ATTR, SUFFIX, write_genedata

    if not batch_name or any(c in batch_name for c in "/\\\t\n") or batch_name.startswith("."):
        raise SeqgxError(f"--batch-name {batch_name!r} cannot be a file name; use letters, digits and "
                         f". _ - +")
    out = Path(out_dir)
    paths = [write_table(genes, out / f"{batch_name}.genes.tsv"),
             write_table(drivers, out / f"{batch_name}.drivers.tsv")]
    if genes.attrs.get(ATTR) is not None:
        paths.append(write_genedata(genes.attrs[ATTR], out / f"{batch_name}{SUFFIX}"))
    return paths
