"""Assessment glue: per-gene statistics tables (`seqgx stats`), their merge (`seqgx merge`) and the
fine-tuned readout fit (`seqgx finetune`).

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
    GENE_FIELDS,
    NULL_TESTS,
    bh_fdr,
    default_null_draws,
    finetune_readout,
    gene_rng,
    gene_statistics,
    partial_pearson,
    pearson,
    residualize,
    significant,
    summarize,
    write_readout_weights,
)
from seqgx.checks import read_expression
from seqgx.errors import SeqgxError
from seqgx.io import atomic_output, require_file
from seqgx.log import get_logger, progress
from seqgx.tissues import DEFAULT_TISSUE

log = get_logger(__name__)

PREDICTION_COLUMNS = ("gene_id", "sample", "expression_sample", "readout", "hap1", "hap2", "person")
ISM_COLUMNS = ("variant_id", "pos", "ref", "alt")
REFERENCE_TRACK_COLUMNS = ("track_index", "track_name", "bin_sum")
#: drivers.tsv columns from the fine-mapping table (``finemapped``): empty/NaN without one.
FINEMAP_COLUMNS = ("finemap_match", "finemap_r2", "finemap_pip", "finemap_variant")

#: genes.tsv of one batch (``<batch>.genes.tsv``): gene fields, then
#: :data:`seqgx.analysis.stats.GENE_FIELDS` with the baselines inserted before ``approx_r``.
_STATS_AFTER = ("approx_r", "approx_obs_r", "grad_approx_r", "grad_ism_r", "n_drivers", "status")
_STATS_BEFORE = tuple(f for f in GENE_FIELDS if f not in _STATS_AFTER)
BASELINE_COLUMNS = ("predixcan_r", "predixcan_p", "predixcan_n_used", "predixcan_source", "elastic_net_r",
                    "elastic_net_p")
BATCH_GENE_COLUMNS = ("tissue", "gene_id", "gene_name", "chrom", "tss", "strand", "readout", "readout_name",
                      *_STATS_BEFORE, *BASELINE_COLUMNS, *_STATS_AFTER, "model", "model_sha256")
#: merged genes.tsv: the batch columns with ``fdr`` and ``significant`` after ``null_p`` and
#: ``attribution_status`` after ``status``.
_P = BATCH_GENE_COLUMNS.index("null_p") + 1
_S = BATCH_GENE_COLUMNS.index("status") + 1
MERGED_GENE_COLUMNS = (*BATCH_GENE_COLUMNS[:_P], "fdr", "significant", *BATCH_GENE_COLUMNS[_P:_S],
                       "attribution_status", *BATCH_GENE_COLUMNS[_S:])
DRIVER_COLUMNS = ("tissue", "gene_id", "readout", "readout_name", "variant_id", "pos", "ref", "alt",
                  "distance_to_tss", "ism", "rank", "frac_increase", "driver_r", "driver_p", "eqtl_slope",
                  "eqtl_p", "eqtl_r", "n_carriers", "carrier_fraction", "is_main", "supported", "frac",
                  *FINEMAP_COLUMNS)
#: Columns tables may lack when read back (written by an older seqgx): filled in by :func:`merge_tables`.
_OPTIONAL_ON_READ = ("readout_name", "frac", "grad_approx_r", "grad_ism_r", "tissue", "n_covariates",
                     *FINEMAP_COLUMNS)
#: Boolean columns of the tables seqgx writes: written ``true`` / ``false`` (NA where unknown), read back
#: from that or from ``True`` / ``False`` / ``1`` / ``0``.
BOOLEAN_COLUMNS = ("significant", "is_main", "supported", "selected",  # attribution_genes.tsv
                   "finemapped", "main_driver_causal", "any_driver_causal",  # with a fine-mapping table
                   # the motif tables (seqgx.analysis.motifs)
                   "in_seqlet", "seqlet_tf_significant", "tf_significant", "enriched", "is_driver",
                   "in_tss_window")
TRUE_WORD, FALSE_WORD = "true", "false"


# ---------------------------------------------------------------------------------------------------
# Finding and reading inputs
# ---------------------------------------------------------------------------------------------------

def expand_inputs(items: Sequence[str | Path], suffix: str, what: str) -> list[Path]:
    """Files named on the command line: a directory stands for its ``*<suffix>`` files (sorted)."""
    out: list[Path] = []
    for item in items:
        p = Path(item)
        if p.is_dir():
            found = sorted(f for f in p.iterdir() if f.name.endswith(suffix) and f.is_file()
                           and not f.name.startswith(".tmp-"))
            if not found:
                raise SeqgxError(f"{what} directory '{p}' holds no '*{suffix}' files; pass the directory "
                                 f"the previous step wrote, or the files themselves")
            out.extend(found)
        else:
            out.append(require_file(p, f"{what} file"))
    return list(dict.fromkeys(out))


def _by_gene(paths: Sequence[Path], suffix: str) -> dict[str, Path]:
    """``<gene_id><suffix>`` files keyed by gene id (files named otherwise are ignored)."""
    return {p.name[: -len(suffix)]: p for p in paths if p.name.endswith(suffix)}


def _read_tsv(path: Path, what: str, columns: Sequence[str], fix: str, **kw: Any) -> pd.DataFrame:
    try:
        table = pd.read_csv(path, sep="\t", na_values=["NA", "NaN", "nan", ""], keep_default_na=False, **kw)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise SeqgxError(f"{what} '{path}' is not a tab-separated table "
                         f"({str(exc).splitlines()[0]}); {fix}") from None
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise SeqgxError(f"{what} '{path}' lacks column '{missing[0]}' (has "
                         f"{', '.join(map(str, table.columns))}); {fix}")
    return table


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
    t = _read_tsv(path, "predictions file", PREDICTION_COLUMNS, fix,
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
    t = _read_tsv(path, "ISM file", ISM_COLUMNS, fix, dtype={"variant_id": str, "ref": str, "alt": str})
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


def empty_drivers() -> pd.DataFrame:
    text = ("tissue", "gene_id", "readout", "readout_name", "variant_id", "ref", "alt", "finemap_match",
            "finemap_variant")
    return pd.DataFrame({c: pd.Series(dtype=object if c in text else float) for c in DRIVER_COLUMNS})


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
    The genes table carries the batch's report data (:mod:`seqgx.report.genedata`) in
    ``genes.attrs``, which :func:`write_batch` writes as ``<batch>.genedata.npz``."""
    from seqgx.genome.personalize import GeneHaplotypes
    from seqgx.report.genedata import ATTR, GeneDataBatch, gene_record

    opts = opts or StatsOptions()
    hap_files = expand_inputs(haplotypes, ".haplotypes.npz", "haplotypes")
    pred_files = _by_gene(expand_inputs(predictions, ".predictions.tsv", "predictions"), ".predictions.tsv")
    ism_files = _by_gene(expand_inputs(ism, ".ism.tsv", "ISM"), ".ism.tsv") if ism else None
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


def _bool_words(s: pd.Series) -> pd.Series:
    """A boolean column (bool, 1.0/0.0/NaN, or words) as ``true`` / ``false``, NaN where unknown."""
    parsed = _as_tristate(s)
    return pd.Series(np.where(parsed.isna(), None, np.where(parsed == 1.0, TRUE_WORD, FALSE_WORD)),
                     index=s.index, dtype=object)


def _write_tsv(table: pd.DataFrame, path: Path) -> Path:
    """A table as TSV: NA for missing values, floats to 9 significant digits, every boolean column
    (:data:`BOOLEAN_COLUMNS`) as ``true`` / ``false``."""
    bools = [c for c in BOOLEAN_COLUMNS if c in table.columns]
    if bools:
        table = table.assign(**{c: _bool_words(table[c]) for c in bools})
    with atomic_output(path) as tmp:
        table.to_csv(tmp, sep="\t", index=False, na_rep="NA", float_format="%.9g")
    return path


def write_batch(genes: pd.DataFrame, drivers: pd.DataFrame, out_dir: str | Path,
                batch_name: str) -> list[Path]:
    """Write ``<batch>.genes.tsv`` and ``<batch>.drivers.tsv`` under ``out_dir``, and
    ``<batch>.genedata.npz`` when ``genes`` comes from :func:`assess_batch` (the report's gene data)."""
    from seqgx.report.genedata import ATTR, SUFFIX, write_genedata

    if not batch_name or any(c in batch_name for c in "/\\\t\n") or batch_name.startswith("."):
        raise SeqgxError(f"--batch-name {batch_name!r} cannot be a file name; use letters, digits and "
                         f". _ - +")
    out = Path(out_dir)
    paths = [_write_tsv(genes, out / f"{batch_name}.genes.tsv"),
             _write_tsv(drivers, out / f"{batch_name}.drivers.tsv")]
    if genes.attrs.get(ATTR) is not None:
        paths.append(write_genedata(genes.attrs[ATTR], out / f"{batch_name}{SUFFIX}"))
    return paths


# ---------------------------------------------------------------------------------------------------
# Merge across batches
# ---------------------------------------------------------------------------------------------------

def _read_batch_table(path: Path, columns: Sequence[str], what: str) -> pd.DataFrame:
    fix = "pass the files 'seqgx stats' wrote"
    t = _read_tsv(path, what, [c for c in columns if c not in _OPTIONAL_ON_READ], fix,
                  dtype={"gene_id": str, "gene_name": str, "chrom": str, "readout": str, "readout_name": str,
                         "status": str, "strand": str, "tissue": str, "finemap_match": str,
                         "finemap_variant": str,
                         "variant_id": str, "ref": str, "alt": str, "predixcan_source": str})
    return t


def _with_tissue(t: pd.DataFrame) -> pd.DataFrame:
    """A table of an older seqgx (no ``tissue`` column) is the one tissue of its run."""
    if "tissue" not in t:
        t.insert(0, "tissue", DEFAULT_TISSUE)
    t["tissue"] = t["tissue"].fillna(DEFAULT_TISSUE).astype(str)
    return t


_TRUE = frozenset({"true", "1", "1.0"})
_FALSE = frozenset({"false", "0", "0.0"})


def _as_tristate(s: pd.Series) -> pd.Series:
    """A boolean column read back -> 1.0 / 0.0 / NaN: bools, numbers, or the words true/false in any case
    (``True``/``False`` of older tables too); anything else is NaN."""
    def one(v: Any) -> float:
        if isinstance(v, bool | np.bool_):
            return 1.0 if v else 0.0
        if v is None or (isinstance(v, float | np.floating) and math.isnan(v)):
            return math.nan
        w = str(v).strip().lower()
        return 1.0 if w in _TRUE else 0.0 if w in _FALSE else math.nan
    return s.map(one).astype(float)


def _as_bool(s: pd.Series) -> pd.Series:
    """A boolean column read back -> bool (unknown is False)."""
    return _as_tristate(s).eq(1.0)


#: The genes.tsv columns attribution (phase 2) fills; NaN for genes it did not run on.
ATTRIBUTION_COLUMNS = ("approx_r", "approx_obs_r", "grad_approx_r", "grad_ism_r", "n_drivers")
#: ``attribution_status`` of merged genes.tsv: 'computed' (the gene's attribution ran; its columns may
#: still be NaN for a degenerate gene, see ``status``), 'not_selected_for_attribution' (two-phase run,
#: gene not selected), 'not_computed' (one-phase tables made without ``--ism``).
ATTRIBUTION_STATUSES = ("computed", "not_selected_for_attribution", "not_computed")


def merge_tables(genes: Sequence[str | Path], drivers: Sequence[str | Path] | None = None,
                 annotation: str | Path | None = None, fdr_alpha: float = 0.05,
                 attribution: Sequence[str | Path] | None = None, selection: str | Path | None = None,
                 costs: Sequence[str | Path] | None = None, finemapped: str | Path | None = None,
                 ) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """Concatenate batch tables, add BH ``fdr`` per readout over ``null_p`` across all genes and
    ``significant`` (fdr < alpha); return (genes, drivers, summary).

    Two-phase runs: ``genes`` are phase 1's tables (every gene, no attribution), ``attribution`` the
    phase-2 tables of the genes ``selection`` (attribution_genes.tsv) chose; their rows replace phase
    1's, whose statistics they must repeat exactly. ``costs``: the model steps' per-gene JSON files
    (predictions' ``*.reference.json``, ``*.ism.json``, ``*.motifs.json``) summed into ``summary['cost']``.
    ``finemapped``: the fine-mapping table (:mod:`seqgx.analysis.finemap`): per gene and readout whether
    its drivers are the causal variants, summed in ``summary['finemapping']``."""
    if not 0 < fdr_alpha <= 1:
        raise SeqgxError(f"--fdr-alpha must be in (0, 1], got {fdr_alpha}")
    g, d, gene_files = _read_batches(genes, drivers)
    if selection is not None:
        from seqgx.analysis.selection import read_selection

        chosen = read_selection(selection)
        files = attribution or []
        ag, ad, _ = _read_batches(files, None) if files else (g.iloc[:0], empty_drivers(), [])
        g, d = _combine_phases(g, ag, ad, chosen, selection)
    else:
        computed = g["n_drivers"].notna() if len(g) else pd.Series(dtype=bool)
        g["attribution_status"] = np.where(computed, "computed", "not_computed")
    if len(d):
        names = dict(zip(zip(g["gene_id"], g["readout"], strict=True), g["readout_name"], strict=True))
        missing = d["readout_name"].isna()
        keys = zip(d.loc[missing, "gene_id"], d.loc[missing, "readout"], strict=True)
        d.loc[missing, "readout_name"] = [names.get(k, k[1]) for k in keys]
    if annotation:
        g = _annotate(g, annotation)
    fdr = np.full(len(g), np.nan)
    for _, idx in g.groupby(["tissue", "readout"], sort=False).indices.items():  # per tissue, readout
        fdr[idx] = bh_fdr(g["null_p"].to_numpy(dtype=float)[idx])
    g.insert(g.columns.get_loc("null_p") + 1, "fdr", fdr)
    g.insert(g.columns.get_loc("fdr") + 1, "significant", significant(fdr, fdr_alpha))
    g.insert(g.columns.get_loc("status") + 1, "attribution_status", g.pop("attribution_status"))
    extra = [c for c in g.columns if c not in MERGED_GENE_COLUMNS]
    g = g[list(MERGED_GENE_COLUMNS) + extra]
    computed_rows = g["attribution_status"] == "computed"
    summary = {"fdr_alpha": fdr_alpha, "n_batches": len(gene_files), "n_genes": int(g["gene_id"].nunique()),
               "status_counts": {str(r): {str(k): int(v) for k, v in t["status"].value_counts().items()}
                                 for r, t in g.groupby("readout", sort=True)},
               "attribution": {"n_genes": int(g.loc[computed_rows, "gene_id"].nunique()),
                               **({"selection": Path(selection).name} if selection is not None else {})},
               "tissues": sorted(pd.unique(g["tissue"]).tolist()),
               "models": sorted({f"{m} (sha256 {s})" for m, s in zip(g["model"].astype(object).fillna(""),
                                                                          g["model_sha256"].astype(object)
                                                                          .fillna(""), strict=True) if m}),
               "readouts": summarize(g, d)}
    if finemapped:
        from seqgx.analysis.finemap import finemap_summary, gene_finemap_columns, read_finemapped

        g = gene_finemap_columns(g, d, read_finemapped(finemapped))
        summary["finemapping"] = finemap_summary(g)
    if costs:
        summary["cost"] = cost_totals(costs)
    return g, d, summary


#: Per-gene JSON files of the model steps and the step each stands for (cost accounting).
COST_FILES = {".reference.json": "predict", ".ism.json": "ism", ".motifs.json": "motifs"}


def cost_totals(items: Sequence[str | Path]) -> dict[str, Any]:
    """Sum the ``cost`` of every per-gene JSON file (directories: their files named as in
    :data:`COST_FILES`) per step: model_calls, sequences, forward_equivalents, genes; and the total."""
    files: list[Path] = []
    for item in map(Path, items):
        if item.is_dir():
            files += sorted(p for s in COST_FILES for p in item.glob(f"*{s}"))
        elif item.is_file():
            files.append(item)
        else:
            raise SeqgxError(f"cost file or folder '{item}' does not exist; pass the predictions/ism folders")
    steps: dict[str, dict[str, float]] = {}
    for f in files:
        step = next((s for suffix, s in COST_FILES.items() if f.name.endswith(suffix)), None)
        if step is None:
            continue
        try:
            cost = json.loads(f.read_text()).get("cost")
        except (ValueError, OSError) as exc:
            raise SeqgxError(f"cost file '{f}' is not readable JSON ({exc}); re-run its step") from None
        if not cost:  # written by an older seqgx: no accounting
            continue
        total = steps.setdefault(step, {"genes": 0, "model_calls": 0, "sequences": 0,
                                        "forward_equivalents": 0.0})
        total["genes"] += int(cost.get("genes", 1))  # per-gene files; a batch file says how many
        for k in ("model_calls", "sequences", "forward_equivalents"):
            total[k] += cost.get(k, 0)
    order = [s for s in dict.fromkeys(COST_FILES.values()) if s in steps]
    out: dict[str, Any] = {s: steps[s] for s in order}
    out["total_forward_equivalents"] = float(sum(v["forward_equivalents"] for v in steps.values()))
    return out


def _combine_phases(g: pd.DataFrame, ag: pd.DataFrame, ad: pd.DataFrame, chosen: pd.DataFrame,
                    selection: str | Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Phase-1 rows, with the phase-2 rows of the selected genes in their place."""
    # A gene selected on another tissue but not expressed in this one has no rows here.
    selected = set(chosen.loc[chosen["selected"], "gene_id"]) & set(g["gene_id"])
    have = set(ag["gene_id"])
    lost = sorted(selected - have)
    if lost:
        batch = chosen.set_index("gene_id").get("batch", pd.Series(dtype=str)).get(lost[0], "")
        raise SeqgxError(f"gene '{lost[0]}' is selected in '{selection}' but has no attribution statistics"
                         f"{f' (batch {batch})' if batch else ''}; re-run the attribution steps")
    extra = sorted(have - selected)
    if extra:
        raise SeqgxError(f"gene '{extra[0]}' has attribution statistics but is not selected in "
                         f"'{selection}'; pass the tables of this run's attribution batches only")
    key1 = pd.MultiIndex.from_frame(g[["gene_id", "readout", "tissue"]])
    key2 = pd.MultiIndex.from_frame(ag[["gene_id", "readout", "tissue"]])
    pos = key1.get_indexer(key2)
    if (pos < 0).any():
        k = key2[int(np.flatnonzero(pos < 0)[0])]
        raise SeqgxError(f"gene '{k[0]}' readout '{k[1]}' has attribution statistics but none from phase 1; "
                         f"pass both phases of the same run")
    for col in ("r", "null_p"):
        a, b = g[col].to_numpy(dtype=float)[pos], ag[col].to_numpy(dtype=float)
        differ = ~((np.isnan(a) & np.isnan(b)) | np.isclose(a, b, rtol=1e-7, atol=1e-12))
        if differ.any():
            k = key2[int(np.flatnonzero(differ)[0])]
            raise SeqgxError(f"gene '{k[0]}' readout '{k[1]}': {col} differs between phase 1 and the "
                             f"attribution phase ({a[differ][0]:.9g} vs {b[differ][0]:.9g}): its inputs "
                             f"changed between the phases; re-run both")
    out = g.copy()
    for col in ag.columns:
        if col in out.columns:
            values = out[col].astype(object) if out[col].dtype != ag[col].dtype else out[col]
            values.iloc[pos] = ag[col].to_numpy()
            out[col] = values
    status = np.full(len(out), "not_selected_for_attribution", dtype=object)
    status[pos] = "computed"
    out["attribution_status"] = status
    for col in ATTRIBUTION_COLUMNS:  # never a value left from phase 1 where attribution did not run
        out.loc[status != "computed", col] = np.nan
    return out, ad.reset_index(drop=True)


def _read_batches(genes: Sequence[str | Path], drivers: Sequence[str | Path] | None
                  ) -> tuple[pd.DataFrame, pd.DataFrame, list[Path]]:
    """The batch genes and drivers tables concatenated (each gene-readout once); the genes files."""
    gene_files = expand_inputs(genes, ".genes.tsv", "genes")
    gene_files = [p for p in gene_files if p.name != "genes.tsv"]  # a previous merge's output
    if not gene_files:
        raise SeqgxError("no '<batch>.genes.tsv' files given; pass the directory 'seqgx stats' wrote")
    if drivers:
        driver_files = [p for p in expand_inputs(drivers, ".drivers.tsv", "drivers")
                        if p.name != "drivers.tsv"]
    else:
        driver_files = []
        for g in gene_files:
            d = g.with_name(g.name.removesuffix(".genes.tsv") + ".drivers.tsv")
            if not d.is_file():
                raise SeqgxError(f"genes table '{g}' has no drivers table '{d}' beside it; pass --drivers")
            driver_files.append(d)
    tables = []
    where: dict[tuple[str, str, str], Path] = {}
    for p in gene_files:
        t = _with_tissue(_read_batch_table(p, BATCH_GENE_COLUMNS, "genes table"))
        for key in zip(t["tissue"], t["gene_id"], t["readout"], strict=True):
            if key in where:
                tissue = f" (tissue {key[0]})" if key[0] != DEFAULT_TISSUE else ""
                raise SeqgxError(f"gene '{key[1]}' readout '{key[2]}'{tissue} is in both '{where[key]}' and "
                                 f"'{p}'; pass each batch once")
            where[key] = p
        tables.append(t)
    g = pd.concat(tables, ignore_index=True)
    if "n_covariates" not in g:  # tables of an older seqgx: no covariates
        g.insert(g.columns.get_loc("n_snvs") + 1, "n_covariates", 0)
    if "readout_name" not in g:
        g.insert(g.columns.get_loc("readout") + 1, "readout_name", np.nan)
    for c in ("grad_approx_r", "grad_ism_r"):  # tables of an older seqgx: not computed
        if c not in g:
            g[c] = np.nan
    g["readout_name"] = g["readout_name"].fillna(g["readout"])
    g["predixcan_source"] = g["predixcan_source"].fillna("")
    dtabs = [_with_tissue(_read_batch_table(p, DRIVER_COLUMNS, "drivers table")) for p in driver_files]
    d = pd.concat(dtabs, ignore_index=True) if dtabs else empty_drivers()
    for c in DRIVER_COLUMNS:
        if c not in d:
            d[c] = np.nan
    d = d[list(DRIVER_COLUMNS)]
    d["finemap_match"] = d["finemap_match"].fillna("").astype(str)
    d["finemap_variant"] = d["finemap_variant"].fillna("").astype(str)
    if len(d):
        d["is_main"] = _as_bool(d["is_main"])
        d["supported"] = _as_tristate(d["supported"])  # 1.0 / 0.0 / NaN, as summarize averages it
    return g, d, gene_files


def _annotate(g: pd.DataFrame, annotation: str | Path) -> pd.DataFrame:
    """Take gene_name, chrom, tss and strand from an annotation (GTF, TSV or a genes.tsv)."""
    from seqgx.genome.genes import read_annotation

    ann = read_annotation(annotation).set_index("gene_id")
    mapping = match_gene_ids(pd.unique(g["gene_id"]), ann.index)
    hit = g["gene_id"].map(mapping)
    ok = hit.notna().to_numpy()
    if not ok.all():
        log.warning("annotation %s: %d of %d genes not found; their gene fields are kept", annotation,
                    int(g.loc[~ok, "gene_id"].nunique()), int(g["gene_id"].nunique()))
    for c in ("gene_name", "chrom", "tss", "strand"):
        g.loc[ok, c] = ann.loc[hit[ok], c].to_numpy()
    return g


def _json_safe(x: Any) -> Any:
    """NaN/inf -> None (JSON has no NaN), numpy scalars -> Python."""
    if isinstance(x, dict):
        return {k: _json_safe(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_json_safe(v) for v in x]
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def write_json(obj: dict[str, Any], path: str | Path) -> Path:
    path = Path(path)
    with atomic_output(path) as tmp:
        tmp.write_text(json.dumps(_json_safe(obj), indent=1) + "\n")
    return path


def write_merged(genes: pd.DataFrame, drivers: pd.DataFrame, summary: dict[str, Any],
                 out_dir: str | Path) -> list[Path]:
    out = Path(out_dir)
    return [_write_tsv(genes, out / "genes.tsv"), _write_tsv(drivers, out / "drivers.tsv"),
            write_json(summary, out / "summary.json")]


# ---------------------------------------------------------------------------------------------------
# Fine-tuned readout
# ---------------------------------------------------------------------------------------------------

def read_reference_tracks(path: Path) -> tuple[list[str], np.ndarray, list[int]]:
    """``<gene_id>.reference_tracks.tsv`` -> (track names in track order, bin sums (T,), bins)."""
    fix = "re-run 'seqgx predict --reference-tracks'"
    t = _read_tsv(path, "reference tracks file", REFERENCE_TRACK_COLUMNS, fix, dtype={"track_name": str})
    t = t.sort_values("track_index", kind="stable")
    if not np.array_equal(t["track_index"].to_numpy(), np.arange(len(t))):
        raise SeqgxError(f"reference tracks file '{path}': track_index must run 0..{len(t) - 1} once "
                         f"each; {fix}")
    vals = pd.to_numeric(t["bin_sum"], errors="coerce").to_numpy(dtype=float)
    if not np.all(np.isfinite(vals)):
        i = int(np.flatnonzero(~np.isfinite(vals))[0])
        raise SeqgxError(f"reference tracks file '{path}': bin_sum of track {i} is not a finite number; "
                         f"{fix}")
    bins = [int(c[4:]) for c in t.columns if c.startswith("bin_") and c != "bin_sum" and c[4:].isdigit()]
    return t["track_name"].fillna("").astype(str).tolist(), vals, bins


def finetune(reference_tracks: Sequence[str | Path], expression: str | Path, genes: str | Path,
             pseudocount: float = 1.0, folds: int = 5, seed: int = 0,
             samples: str | Path | None = None) -> tuple[list[str], np.ndarray, float, dict[str, Any],
                                                        pd.DataFrame]:
    """Fit the fine-tuned readout: features log2(bin_sum + pseudocount) of every track of each gene's
    reference sequence, target the gene's mean observed expression across samples, chromosomes held
    out (:func:`seqgx.analysis.stats.finetune_readout`). Returns (track names, weights, intercept, report,
    held-out table)."""
    from seqgx.genome.genes import read_batch

    if not pseudocount > 0:
        raise SeqgxError(f"--pseudocount must be > 0 so log2 is finite, got {pseudocount}")
    if folds < 2:
        raise SeqgxError(f"--folds must be >= 2, got {folds}")
    files = _by_gene(expand_inputs(reference_tracks, ".reference_tracks.tsv", "reference tracks"),
                     ".reference_tracks.tsv")
    if not files:
        raise SeqgxError("no '<gene_id>.reference_tracks.tsv' files given; run 'seqgx predict "
                         "--reference-tracks' and pass its output directory")
    gtab = read_batch(genes)
    chrom_of = dict(zip(gtab["gene_id"].astype(str), gtab["chrom"].astype(str), strict=True))
    expr = read_expression(expression)
    if samples:
        st = _read_tsv(require_file(samples, "samples file"), "samples file", ("expression_sample",),
                       "pass samples.tsv from 'seqgx check-inputs'", dtype=str)
        keep = [s for s in st["expression_sample"] if s in set(expr.columns)]
        if not keep:
            raise SeqgxError(f"samples file '{samples}': none of its expression samples is in the expression "
                             f"matrix '{expression}'; pass the matching files")
        expr = expr[keep]
    names: list[str] | None = None
    bins: list[int] = []
    first = None
    X, y, chrom, ids = [], [], [], []
    skipped = {"not_in_genes": 0, "not_in_expression": 0, "no_expression_values": 0}
    emap = match_gene_ids(list(files), expr.index)
    for gid, path in files.items():
        tn, vals, b = read_reference_tracks(path)
        if names is None:
            names, bins, first = tn, b, path
        elif tn != names or b != bins:
            raise SeqgxError(f"reference tracks file '{path}' has other tracks or bins than '{first}'; pass "
                             f"files from one 'seqgx predict' run (same model and --bins)")
        if gid not in chrom_of:
            skipped["not_in_genes"] += 1
            continue
        if gid not in emap:
            skipped["not_in_expression"] += 1
            continue
        row = expr.loc[emap[gid]].to_numpy(dtype=float)
        row = row[np.isfinite(row)]
        if not row.size:
            skipped["no_expression_values"] += 1
            continue
        if np.any(vals + pseudocount <= 0):
            t = int(np.flatnonzero(vals + pseudocount <= 0)[0])
            raise SeqgxError(f"reference tracks file '{path}': track {t} bin_sum {vals[t]} + pseudocount "
                             f"{pseudocount} is not positive, so its log2 is undefined; raise --pseudocount")
        X.append(np.log2(vals + pseudocount))
        y.append(float(row.mean()))
        chrom.append(chrom_of[gid])
        ids.append(gid)
    for k, v in skipped.items():
        if v:
            log.warning("fine-tuning: %d genes skipped (%s)", v, k.replace("_", " "))
    if len(ids) < 3:
        raise SeqgxError(f"fine-tuning needs at least 3 genes with reference tracks, a chromosome in "
                         f"'{genes}' and expression; got {len(ids)}")
    assert names is not None
    weights, intercept, heldout_r, heldout = finetune_readout(np.vstack(X), np.asarray(y), chrom,
                                                              n_folds=folds, seed=seed)
    heldout.insert(0, "gene_id", ids)
    per_fold = {}
    for f, t in heldout.groupby("fold"):
        per_fold[str(int(f))] = {"chromosomes": sorted(set(t["chrom"])), "n_genes": int(len(t)),
                                 "r": pearson(t["predicted"].to_numpy(), t["observed"].to_numpy())[0]}
    report = {"heldout_r": heldout_r, "n_genes": len(ids), "n_tracks": len(names),
              "n_nonzero_weights": int(np.count_nonzero(np.round(weights, 6))), "intercept": intercept,
              "pseudocount": pseudocount, "bins": bins, "folds": per_fold,
              "n_folds": int(heldout["fold"].max() + 1),
              "seed": seed, "n_chromosomes": len(set(chrom)), "skipped": skipped,
              "feature": "log2(bin_sum + pseudocount) of the reference sequence, every track",
              "target": "mean observed expression across samples"}
    return names, weights, intercept, report, heldout


def write_finetune(names: Sequence[str], weights: np.ndarray, intercept: float, report: dict[str, Any],
                   heldout: pd.DataFrame, out: str | Path,
                   report_path: str | Path | None = None) -> list[Path]:
    """Weights CSV (:func:`seqgx.analysis.stats.write_readout_weights`), JSON report, held-out TSV."""
    out = Path(out)
    rp = Path(report_path) if report_path else out.with_suffix(".report.json")
    hp = rp.with_name(rp.name.removesuffix(".json").removesuffix(".report") + ".heldout.tsv")
    report = {**report, "weights": str(out), "heldout_table": str(hp)}
    return [write_readout_weights(out, names, weights, intercept), write_json(report, rp),
            _write_tsv(heldout, hp)]
