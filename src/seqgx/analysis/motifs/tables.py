"""The motif tables on disk: their columns, reading drivers.tsv / genes.tsv and the batches' tables
back (booleans as every seqgx table is read), and writing TSVs."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from seqgx.errors import SeqgxError

DRIVER_COLUMNS = ("gene_id", "readout", "variant_id", "pos", "ref", "alt", "distance_to_tss", "is_main",
                  "supported")
SEQLET_COLUMNS = ["gene_id", "readout", "seqlet_id", "chrom", "start", "end", "start_to_tss", "end_to_tss",
                  "length", "sign", "attribution_sum", "score_sum", "max_abs_score", "p_value", "sequence",
                  "tf_name", "tf_matrix_id", "tf_p", "tf_q", "tf_shuffle_p", "tf_significant", "scale",
                  "scale_kind"]
SNV_COLUMNS = ["gene_id", "readout", "variant_id", "pos", "ref", "alt", "distance_to_tss", "is_driver",
               "control_for", "in_tss_window", "in_seqlet", "ref_context", "alt_context"]


def _tristate(s: pd.Series) -> pd.Series:
    """true/false words, bools or numbers -> 1.0 / 0.0 / NaN (as every seqgx table is read back)."""
    from seqgx.tables import as_tristate

    return as_tristate(s)


def _read_table(path: Path, what: str, columns: Sequence[str], fix: str) -> pd.DataFrame:
    from seqgx.tables import read_tsv

    try:
        t = read_tsv(path, dtype={"gene_id": str, "readout": str, "variant_id": str, "ref": str, "alt": str,
                                  "readout_name": str, "control_for": str, "seqlet_id": str})
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise SeqgxError(f"{what} '{path}' is not a tab-separated table ({str(exc).splitlines()[0]}); "
                         f"{fix}") from None
    missing = [c for c in columns if c not in t.columns]
    if missing:
        raise SeqgxError(f"{what} '{path}' lacks column '{missing[0]}'; {fix}")
    return t


def read_drivers(paths: Sequence[str | Path]) -> pd.DataFrame:
    """drivers.tsv files (batch or merged) concatenated."""
    from seqgx.io import require_file

    frames = [_read_table(require_file(p, "drivers file"), "drivers file", DRIVER_COLUMNS,
                          "pass a drivers.tsv written by 'seqgx stats' or 'seqgx merge'") for p in paths]
    t = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=list(DRIVER_COLUMNS))
    # Several tissues' drivers: a variant that is the main driver in any of them counts as main.
    main = _tristate(t["is_main"]).eq(1.0) if len(t) else None
    if main is not None:
        t = t.assign(_main=main).sort_values("_main", ascending=False, kind="stable").drop(columns="_main")
    return t.drop_duplicates(["gene_id", "readout", "variant_id"]).sort_index().reset_index(drop=True)


def read_gene_r(paths: Sequence[str | Path] | None) -> dict[tuple[str, str], float]:
    """(gene_id, readout) -> r from genes.tsv files (batch or merged)."""
    from seqgx.io import require_file

    out: dict[tuple[str, str], float] = {}
    for p in paths or []:
        t = _read_table(require_file(p, "genes file"), "genes file", ("gene_id", "readout", "r"),
                        "pass a genes.tsv written by 'seqgx stats' or 'seqgx merge'")
        out.update({(str(g), str(r)): float(v) for g, r, v in
                    zip(t["gene_id"], t["readout"], pd.to_numeric(t["r"], errors="coerce"), strict=True)})
    return out


def _write_tsv(table: pd.DataFrame, path: Path) -> Path:
    """The table format of every seqgx table (:func:`seqgx.tables.write_table`)."""
    from seqgx.tables import write_table

    return write_table(table, path)
