"""Former home of the statistics tables' code, kept so that its names still import (``seqgx.assess`` too).

The code lives in :mod:`seqgx.analysis.batch_stats` (`seqgx stats` on a batch), :mod:`seqgx.analysis.merge`
(`seqgx merge`), :mod:`seqgx.analysis.finetune` (`seqgx finetune`) and :mod:`seqgx.tables` (the TSV table
format: columns, NA spellings, booleans, reading and writing); new code imports from there. The private
helpers keep their former names here: ``_read_tsv`` is :func:`seqgx.tables.read_table`, ``_write_tsv``
:func:`seqgx.tables.write_table`, ``_as_bool`` / ``_as_tristate`` / ``_bool_words`` the public names without
the underscore, ``_TRUE`` / ``_FALSE`` :data:`seqgx.tables.TRUE_SPELLINGS` / ``FALSE_SPELLINGS``.
"""

from __future__ import annotations

from seqgx.analysis.batch_stats import (
    StatsOptions,
    VcfSites,
    assess_batch,
    default_batch_name,
    elastic_net_partial,
    expression_row,
    gene_predixcan,
    gene_tables,
    model_identity,
    read_ism,
    read_predictions,
    readout_names,
    select_readouts,
    signed_distance,
    write_batch,
)
from seqgx.analysis.finetune import finetune, read_reference_tracks, write_finetune
from seqgx.analysis.merge import (
    ATTRIBUTION_COLUMNS,
    ATTRIBUTION_STATUSES,
    COST_FILES,
    _annotate,
    _combine_phases,
    _json_safe,
    _read_batches,
    _with_tissue,
    cost_totals,
    merge_tables,
    write_json,
    write_merged,
)
from seqgx.tables import (
    _OPTIONAL_ON_READ,
    _P,
    _S,
    _STATS_AFTER,
    _STATS_BEFORE,
    BASELINE_COLUMNS,
    BATCH_GENE_COLUMNS,
    BOOLEAN_COLUMNS,
    DRIVER_COLUMNS,
    FALSE_WORD,
    FINEMAP_COLUMNS,
    ISM_COLUMNS,
    MERGED_GENE_COLUMNS,
    PREDICTION_COLUMNS,
    REFERENCE_TRACK_COLUMNS,
    TRUE_WORD,
    empty_drivers,
    expand_inputs,
)
from seqgx.tables import FALSE_SPELLINGS as _FALSE
from seqgx.tables import TRUE_SPELLINGS as _TRUE
from seqgx.tables import as_bool as _as_bool
from seqgx.tables import as_tristate as _as_tristate
from seqgx.tables import bool_words as _bool_words
from seqgx.tables import by_gene as _by_gene
from seqgx.tables import read_batch_table as _read_batch_table
from seqgx.tables import read_table as _read_tsv
from seqgx.tables import write_table as _write_tsv

__all__ = [
    # seqgx.tables
    "PREDICTION_COLUMNS", "ISM_COLUMNS", "REFERENCE_TRACK_COLUMNS", "FINEMAP_COLUMNS", "_STATS_AFTER",
    "_STATS_BEFORE", "BASELINE_COLUMNS", "BATCH_GENE_COLUMNS", "_P", "_S", "MERGED_GENE_COLUMNS",
    "DRIVER_COLUMNS", "_OPTIONAL_ON_READ", "BOOLEAN_COLUMNS", "TRUE_WORD", "FALSE_WORD", "_TRUE", "_FALSE",
    "expand_inputs", "_by_gene", "_read_tsv", "_read_batch_table", "empty_drivers", "_write_tsv",
    "_bool_words", "_as_tristate", "_as_bool",
    # seqgx.analysis.batch_stats
    "expression_row", "read_predictions", "read_ism", "model_identity", "readout_names", "signed_distance",
    "VcfSites", "gene_predixcan", "elastic_net_partial", "StatsOptions", "gene_tables", "select_readouts",
    "assess_batch", "default_batch_name", "write_batch",
    # seqgx.analysis.merge
    "_with_tissue", "ATTRIBUTION_COLUMNS", "ATTRIBUTION_STATUSES", "merge_tables", "COST_FILES",
    "cost_totals", "_combine_phases", "_read_batches", "_annotate", "_json_safe", "write_json",
    "write_merged",
    # seqgx.analysis.finetune
    "read_reference_tracks", "finetune", "write_finetune",
]
