"""Which genes attribution (ISM, gradients, saturation ISM, drivers) runs on: the two-phase run.

Phase 1 gives every gene its personal predictions and the statistics that need no attribution (R, the
gene-specific null, baselines, FDR). Attribution then runs only where it answers a question: by default
the genes the study explained, significant (FDR < ``fdr_alpha``) with |R| > ``min_abs_r`` on any
readout; ``all`` keeps the one-phase behaviour; a file names the genes. Genes named in
``report_genes`` are always included. ``seqgx attribution-genes`` writes the selection with the reason
per gene and re-batches the selected genes per chromosome for phase 2.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from seqgx.errors import SeqgxError
from seqgx.genome.genes import split_batches, strip_version
from seqgx.io import atomic_output, require_file
from seqgx.log import get_logger
from seqgx.tables import FALSE_WORD, TRUE_WORD

log = get_logger(__name__)

ATTRIBUTION_MODES = ("significant", "all")
#: attribution_genes.tsv: one row per gene of the run, selected or not, and why.
SELECTION_COLUMNS = ("gene_id", "gene_name", "chrom", "tss", "selected", "reason", "batch")
#: Phase-2 batch names: ``attribution_<chrom>_<k>``, apart from phase 1's ``<chrom>_<k>``.
BATCH_PREFIX = "attribution_"


def read_gene_names(spec: str | Path | Sequence[str] | None, what: str) -> list[str]:
    """Gene ids or names from a comma list (``report_genes``) or a file with one per line."""
    if spec is None or (isinstance(spec, str) and not spec.strip()):
        return []
    if not isinstance(spec, str | Path):
        return [str(s).strip() for s in spec if str(s).strip()]
    path = Path(spec)
    if path.is_file():
        lines = path.read_text().splitlines()
        return [ln.split("\t")[0].strip() for ln in lines if ln.strip() and not ln.startswith("#")]
    return [s.strip() for s in str(spec).split(",") if s.strip()]


def _match(names: Sequence[str], genes: pd.DataFrame, source: str) -> tuple[set[str], list[str]]:
    """Gene ids of ``genes`` named by id (with or without version) or name; and the names not found."""
    by_id = {g: g for g in genes["gene_id"]}
    by_id.update({strip_version(g): g for g in genes["gene_id"]})
    by_name: dict[str, list[str]] = {}
    for g, n in zip(genes["gene_id"], genes["gene_name"].fillna(""), strict=True):
        by_name.setdefault(str(n), []).append(g)
    hits, missing = set(), []
    for name in names:
        if name in by_id or strip_version(name) in by_id:
            hits.add(by_id.get(name) or by_id[strip_version(name)])
        elif name in by_name:
            hits.update(by_name[name])
        else:
            missing.append(name)
    if missing:
        log.warning("%s: %d gene(s) not in this run: %s", source, len(missing), ", ".join(missing[:5]))
    return hits, missing


def select_genes(screen: pd.DataFrame, mode: str, fdr_alpha: float = 0.05, min_abs_r: float = 0.2,
                 report_genes: Sequence[str] = ()) -> pd.DataFrame:
    """The selection (:data:`SELECTION_COLUMNS` but ``batch``) from the phase-1 merged genes table
    (one row per gene and readout, with ``fdr``).

    ``mode``: 'significant' (FDR < ``fdr_alpha`` and |R| > ``min_abs_r`` on any readout of any tissue:
    the FDR is per tissue and readout), 'all', or a
    file of gene ids or names (one per line)."""
    if screen.empty:
        return pd.DataFrame(columns=[c for c in SELECTION_COLUMNS if c != "batch"])
    genes = screen.drop_duplicates("gene_id")[["gene_id", "gene_name", "chrom", "tss"]].reset_index(drop=True)
    reason = pd.Series("", index=genes["gene_id"], dtype=object)
    if mode == "all":
        reason[:] = "all genes (attribution_genes: all)"
    elif mode == "significant":
        fdr = screen["fdr"].to_numpy(dtype=float)
        r = screen["r"].to_numpy(dtype=float)
        hit = np.isfinite(fdr) & (fdr < fdr_alpha) & np.isfinite(r) & (np.abs(r) > min_abs_r)
        for row in screen[hit].itertuples():
            if not reason[row.gene_id]:
                where = row.readout if getattr(row, "tissue", "default") == "default" else \
                    f"{row.tissue} {row.readout}"
                reason[row.gene_id] = (f"significant on {where}: FDR {row.fdr:.3g} < {fdr_alpha:g}, "
                                       f"|R| {abs(row.r):.3f} > {min_abs_r:g}")
    else:
        path = require_file(mode, "attribution gene list", "give 'significant', 'all' or a file of gene "
                            "ids or names, one per line")
        names = read_gene_names(path, "attribution_genes")
        hits, _ = _match(names, genes, f"attribution gene list '{path}'")
        for g in hits:
            reason[g] = f"named in {path.name}"
    hits, _ = _match(list(report_genes), genes, "report_genes")
    for g in hits:
        if not reason[g]:
            reason[g] = "named in report_genes"
    out = genes.copy()
    out["selected"] = (reason != "").to_numpy()
    out["reason"] = reason.to_numpy()
    if mode == "significant":
        best = screen.assign(abs_r=screen["r"].abs()).sort_values("fdr").drop_duplicates("gene_id")
        def why_not(row: tuple) -> str:
            if not np.isfinite(row.fdr):
                return f"no statistics (status {row.status})"
            return f"not significant with |R| > {min_abs_r:g} (best FDR {row.fdr:.3g}, R {row.r:.3f})"

        why = {row.gene_id: why_not(row) for row in best.itertuples()}
        unsel = ~out["selected"]
        out.loc[unsel, "reason"] = out.loc[unsel, "gene_id"].map(why)
    else:
        out.loc[~out["selected"], "reason"] = "not in the list"
    return out


def phase2_batches(selection: pd.DataFrame, windows: pd.DataFrame, genes_per_batch: int
                   ) -> dict[str, pd.DataFrame]:
    """The selected genes' rows of ``windows`` (seqgx genes' genes.tsv), in its order, re-batched per
    chromosome (at most ``genes_per_batch`` each), named ``attribution_<chrom>_<k>``."""
    chosen = set(selection.loc[selection["selected"], "gene_id"])
    missing = chosen - set(windows["gene_id"])
    if missing:
        raise SeqgxError(f"selected gene '{sorted(missing)[0]}' is not in the gene windows table; pass the "
                         f"genes.tsv of 'seqgx genes' of the same run")
    rows = windows[windows["gene_id"].isin(chosen)]
    return {f"{BATCH_PREFIX}{k}": t for k, t in split_batches(rows, genes_per_batch).items()}


def write_selection(selection: pd.DataFrame, batches: dict[str, pd.DataFrame], out_dir: str | Path
                    ) -> list[Path]:
    """``attribution_genes.tsv`` and ``batches/<name>.tsv`` under ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    batch_of = {g: name for name, t in batches.items() for g in t["gene_id"]}
    table = selection.copy()
    table["batch"] = table["gene_id"].map(batch_of).fillna("")
    table["selected"] = np.where(table["selected"].astype(bool), TRUE_WORD, FALSE_WORD)
    written = []
    with atomic_output(out / "attribution_genes.tsv") as tmp:
        table[list(SELECTION_COLUMNS)].to_csv(tmp, sep="\t", index=False)
    written.append(out / "attribution_genes.tsv")
    with atomic_output(out / "batches", directory=True) as tmp_dir:
        for name, t in batches.items():
            t.to_csv(tmp_dir / f"{name}.tsv", sep="\t", index=False)
    written += [out / "batches" / f"{name}.tsv" for name in batches]
    return written


def read_selection(path: str | Path) -> pd.DataFrame:
    """attribution_genes.tsv as written by :func:`write_selection` (``selected`` as bool)."""
    path = require_file(path, "attribution genes table", "pass the attribution_genes.tsv that "
                        "'seqgx attribution-genes' wrote")
    t = pd.read_csv(path, sep="\t", dtype={"gene_id": str, "batch": str, "reason": str},
                    keep_default_na=False)
    lacking = [c for c in ("gene_id", "selected") if c not in t]
    if lacking:
        raise SeqgxError(f"attribution genes table '{path}' lacks column '{lacking[0]}'; pass the file "
                         f"'seqgx attribution-genes' wrote")
    t["selected"] = t["selected"].astype(str).str.lower().isin([TRUE_WORD, "1"])
    return t
