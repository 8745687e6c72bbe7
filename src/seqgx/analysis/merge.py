"""`seqgx merge`: the batch tables joined, FDR per tissue and readout, the two phases combined, a summary."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from seqgx.analysis.predixcan import match_gene_ids
from seqgx.analysis.stats import bh_fdr, significant, summarize
from seqgx.errors import SeqgxError
from seqgx.io import atomic_output
from seqgx.log import get_logger
from seqgx.tables import (
    BATCH_GENE_COLUMNS,
    DRIVER_COLUMNS,
    MERGED_GENE_COLUMNS,
    as_bool,
    as_tristate,
    empty_drivers,
    expand_inputs,
    read_batch_table,
    write_table,
)
from seqgx.tissues import DEFAULT_TISSUE

log = get_logger(__name__)


def _with_tissue(t: pd.DataFrame) -> pd.DataFrame:
    """A table of an older seqgx (no ``tissue`` column) is the one tissue of its run."""
    if "tissue" not in t:
        t.insert(0, "tissue", DEFAULT_TISSUE)
    t["tissue"] = t["tissue"].fillna(DEFAULT_TISSUE).astype(str)
    return t


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
        t = _with_tissue(read_batch_table(p, BATCH_GENE_COLUMNS, "genes table"))
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
    dtabs = [_with_tissue(read_batch_table(p, DRIVER_COLUMNS, "drivers table")) for p in driver_files]
    d = pd.concat(dtabs, ignore_index=True) if dtabs else empty_drivers()
    for c in DRIVER_COLUMNS:
        if c not in d:
            d[c] = np.nan
    d = d[list(DRIVER_COLUMNS)]
    d["finemap_match"] = d["finemap_match"].fillna("").astype(str)
    d["finemap_variant"] = d["finemap_variant"].fillna("").astype(str)
    if len(d):
        d["is_main"] = as_bool(d["is_main"])
        d["supported"] = as_tristate(d["supported"])  # 1.0 / 0.0 / NaN, as summarize averages it
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
    return [write_table(genes, out / "genes.tsv"), write_table(drivers, out / "drivers.tsv"),
            write_json(summary, out / "summary.json")]
