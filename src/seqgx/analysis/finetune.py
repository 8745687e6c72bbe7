"""`seqgx finetune`: the fine-tuned readout, fitted to genes' reference tracks and mean expression."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from seqgx.analysis.merge import write_json
from seqgx.analysis.predixcan import match_gene_ids
from seqgx.analysis.stats import finetune_readout, pearson, write_readout_weights
from seqgx.checks import read_expression
from seqgx.errors import SeqgxError
from seqgx.io import require_file
from seqgx.log import get_logger
from seqgx.tables import REFERENCE_TRACK_COLUMNS, by_gene, expand_inputs, read_table, write_table

log = get_logger(__name__)


def read_reference_tracks(path: Path) -> tuple[list[str], np.ndarray, list[int]]:
    """``<gene_id>.reference_tracks.tsv`` -> (track names in track order, bin sums (T,), bins)."""
    fix = "re-run 'seqgx predict --reference-tracks'"
    t = read_table(path, "reference tracks file", REFERENCE_TRACK_COLUMNS, fix, dtype={"track_name": str})
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
    files = by_gene(expand_inputs(reference_tracks, ".reference_tracks.tsv", "reference tracks"),
                    ".reference_tracks.tsv")
    if not files:
        raise SeqgxError("no '<gene_id>.reference_tracks.tsv' files given; run 'seqgx predict "
                         "--reference-tracks' and pass its output directory")
    gtab = read_batch(genes)
    chrom_of = dict(zip(gtab["gene_id"].astype(str), gtab["chrom"].astype(str), strict=True))
    expr = read_expression(expression)
    if samples:
        st = read_table(require_file(samples, "samples file"), "samples file", ("expression_sample",),
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
            write_table(heldout, hp)]
