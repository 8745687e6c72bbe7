"""The one home of seqgx's TSV table format: columns, NA spellings, boolean words, reading, writing."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from seqgx.errors import SeqgxError
from seqgx.io import atomic_output, require_file

#: How a missing value is spelled: read back from any of these (nothing else is NA), written ``NA``.
NA_VALUES = ("NA", "NaN", "nan", "")
NA_WORD = "NA"
#: Floats are written with 9 significant digits.
FLOAT_FORMAT = "%.9g"

#: Columns of genes.tsv that :func:`seqgx.analysis.stats.gene_statistics` fills, in output order.
GENE_FIELDS = ("n_samples", "n_snvs", "n_covariates", "obs_mean", "obs_sd", "pred_mean", "pred_sd", "r",
               "r_pvalue", "spearman", "null_mean", "null_sd", "null_draws", "null_t", "null_p", "approx_r",
               "approx_obs_r", "grad_approx_r", "grad_ism_r", "n_drivers", "status")

#: Columns the stats step and `seqgx finetune` require of the model steps' per-gene tables.
PREDICTION_COLUMNS = ("gene_id", "sample", "expression_sample", "readout", "hap1", "hap2", "person")
ISM_COLUMNS = ("variant_id", "pos", "ref", "alt")
REFERENCE_TRACK_COLUMNS = ("track_index", "track_name", "bin_sum")
#: drivers.tsv columns from the fine-mapping table (``finemapped``): empty/NaN without one.
FINEMAP_COLUMNS = ("finemap_match", "finemap_r2", "finemap_pip", "finemap_variant")

#: genes.tsv of one batch (``<batch>.genes.tsv``): gene fields, then
#: :data:`GENE_FIELDS` with the baselines inserted before ``approx_r``.
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
#: Columns tables may lack when read back (written by an older seqgx): filled in by
#: :func:`seqgx.analysis.merge.merge_tables`.
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
TRUE_SPELLINGS = frozenset({"true", "1", "1.0"})
FALSE_SPELLINGS = frozenset({"false", "0", "0.0"})


# ---------------------------------------------------------------------------------------------------
# Finding the tables a step reads
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


def by_gene(paths: Sequence[Path], suffix: str) -> dict[str, Path]:
    """``<gene_id><suffix>`` files keyed by gene id (files named otherwise are ignored)."""
    return {p.name[: -len(suffix)]: p for p in paths if p.name.endswith(suffix)}


# ---------------------------------------------------------------------------------------------------
# Reading and writing
# ---------------------------------------------------------------------------------------------------

def read_tsv(path: str | Path, **kw: Any) -> pd.DataFrame:
    """A TSV as seqgx reads its tables: NA only where a cell is spelled as in :data:`NA_VALUES`; ``kw`` go
    to :func:`pandas.read_csv`. Parse errors are left to the caller to word."""
    return pd.read_csv(path, sep="\t", na_values=list(NA_VALUES), keep_default_na=False, **kw)


def read_table(path: Path, what: str, columns: Sequence[str], fix: str, **kw: Any) -> pd.DataFrame:
    """A seqgx TSV (:func:`read_tsv`) that must have ``columns``: otherwise, or when it does not parse, a
    one-line error naming ``what``, the file and the ``fix``."""
    try:
        table = read_tsv(path, **kw)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise SeqgxError(f"{what} '{path}' is not a tab-separated table "
                         f"({str(exc).splitlines()[0]}); {fix}") from None
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise SeqgxError(f"{what} '{path}' lacks column '{missing[0]}' (has "
                         f"{', '.join(map(str, table.columns))}); {fix}")
    return table


def read_batch_table(path: Path, columns: Sequence[str], what: str) -> pd.DataFrame:
    fix = "pass the files 'seqgx stats' wrote"
    t = read_table(path, what, [c for c in columns if c not in _OPTIONAL_ON_READ], fix,
                   dtype={"gene_id": str, "gene_name": str, "chrom": str, "readout": str, "readout_name": str,
                          "status": str, "strand": str, "tissue": str, "finemap_match": str,
                          "finemap_variant": str,
                          "variant_id": str, "ref": str, "alt": str, "predixcan_source": str})
    return t


def empty_drivers() -> pd.DataFrame:
    text = ("tissue", "gene_id", "readout", "readout_name", "variant_id", "ref", "alt", "finemap_match",
            "finemap_variant")
    return pd.DataFrame({c: pd.Series(dtype=object if c in text else float) for c in DRIVER_COLUMNS})


def write_table(table: pd.DataFrame, path: Path) -> Path:
    """A table as TSV: NA for missing values, floats to 9 significant digits, every boolean column
    (:data:`BOOLEAN_COLUMNS`) as ``true`` / ``false``."""
    bools = [c for c in BOOLEAN_COLUMNS if c in table.columns]
    if bools:
        table = table.assign(**{c: bool_words(table[c]) for c in bools})
    with atomic_output(path) as tmp:
        table.to_csv(tmp, sep="\t", index=False, na_rep=NA_WORD, float_format=FLOAT_FORMAT)
    return path


# ---------------------------------------------------------------------------------------------------
# Booleans
# ---------------------------------------------------------------------------------------------------

def as_tristate(s: pd.Series) -> pd.Series:
    """A boolean column read back -> 1.0 / 0.0 / NaN: bools, numbers, or the words true/false in any case
    (``True``/``False`` of older tables too); anything else is NaN."""
    def one(v: Any) -> float:
        if isinstance(v, bool | np.bool_):
            return 1.0 if v else 0.0
        if v is None or (isinstance(v, float | np.floating) and math.isnan(v)):
            return math.nan
        w = str(v).strip().lower()
        return 1.0 if w in TRUE_SPELLINGS else 0.0 if w in FALSE_SPELLINGS else math.nan
    return s.map(one).astype(float)


def as_bool(s: pd.Series) -> pd.Series:
    """A boolean column read back -> bool (unknown is False)."""
    return as_tristate(s).eq(1.0)


def bool_words(s: pd.Series) -> pd.Series:
    """A boolean column (bool, 1.0/0.0/NaN, or words) as ``true`` / ``false``, NaN where unknown."""
    parsed = as_tristate(s)
    return pd.Series(np.where(parsed.isna(), None, np.where(parsed == 1.0, TRUE_WORD, FALSE_WORD)),
                     index=s.index, dtype=object)
