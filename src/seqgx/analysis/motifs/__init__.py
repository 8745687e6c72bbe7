"""Motifs around driver SNVs (`seqgx motifs`, docs/motifs.md): do the drivers sit in motifs the model
learned, and which ones?

- **Driver neighbourhood ISM**: saturation ISM of every base within ``DRIVER_FLANK`` bp of a driver, on the
  reference background and on the background with the driver's alt allele (:func:`driver_neighbourhood_ism`;
  exact fast ISM, the alt background's trunk spliced in like any substitution).
- **Per-base attribution** ``a_i = -(sum_b ISM[i, b]) / 3`` (:func:`per_base_attribution`), scaled per gene by
  the largest ``|a|`` (or the SD of ``a``) within ``MOTIF_WINDOW`` bp of the TSS (:func:`gene_scale`).
- **Published driver-context statistics** (:func:`driver_context`): score, motif size, distance to the nearest
  motif base and its score, at several thresholds.
- **Seqlets** (:func:`call_seqlets`, :func:`seqlet_pvalues`) in the TSS track, annotated with TOMTOM against
  JASPAR 2024 CORE vertebrates non-redundant (:func:`annotate_sequences`).
- **Enrichment around drivers** (:func:`denovo_enrichment`, :func:`known_enrichment`, :func:`enrichment`)
  and a per-readout summary (:func:`motif_summary`).

The package's modules:

- :mod:`~seqgx.analysis.motifs.defaults`: the defaults (pipeline parameters and fixed choices), the bases;
- :mod:`~seqgx.analysis.motifs.attribution`: per-base attribution, the gene's scale, driver-context
  statistics;
- :mod:`~seqgx.analysis.motifs.driver_ism`: the driver neighbourhood ISM and its ``.driver_ism.npz``;
- :mod:`~seqgx.analysis.motifs.seqlets`: seqlet calls and their p-values;
- :mod:`~seqgx.analysis.motifs.annotate`: JASPAR, TOMTOM and FIMO;
- :mod:`~seqgx.analysis.motifs.denovo`: pairwise alignment of driver windows (numba) and clusters;
- :mod:`~seqgx.analysis.motifs.tables`: the tables' columns, reading and writing them;
- :mod:`~seqgx.analysis.motifs.summary`: the per-readout summary;
- :mod:`~seqgx.analysis.motifs.enrichment`: the enrichment tests and the MERGE step (:func:`run_enrichment`);
- :mod:`~seqgx.analysis.motifs.batch`: one batch of ``seqgx motifs`` (:func:`motifs_batch`);
- :mod:`~seqgx.analysis.motifs.warmup`: numba compilation once (``python -m seqgx.analysis.motifs``).

Every name of the former single module that other code uses is importable from here.
"""

from __future__ import annotations

from seqgx.analysis.motifs.annotate import (  # noqa: F401
    MotifDatabase,
    annotate_matrices,
    annotate_sequences,
    fimo_sites,
    jaspar_motifs,
    sequence_matrix,
    tomtom_best,
)
from seqgx.analysis.motifs.attribution import (  # noqa: F401
    context_columns,
    context_row,
    driver_context,
    gene_scale,
    per_base_attribution,
)
from seqgx.analysis.motifs.batch import (  # noqa: F401
    BatchTables,
    MotifOptions,
    Saturation,
    load_saturation,
    motifs_batch,
    write_batch_tables,
)
from seqgx.analysis.motifs.defaults import (  # noqa: F401
    BASES,
    CONTEXT_FLANK,
    CONTEXT_THRESHOLDS,
    CONTROLS_PER_DRIVER,
    DENOVO_CUT,
    DENOVO_FLANK,
    DENOVO_MAX_MISMATCHES,
    DENOVO_MIN_LENGTH,
    DRIVER_FLANK,
    ENRICHMENT_ALPHA,
    FIMO_THRESHOLD,
    JASPAR_RELEASE,
    MATCH_ALPHA,
    MOTIF_SCALE,
    MOTIF_WINDOW,
    SEQLET_MIN_LENGTH,
    SEQLET_SHUFFLES,
    SEQLET_THRESHOLD,
    TOMTOM_SHUFFLES,
    thresholds_for,
)
from seqgx.analysis.motifs.denovo import (  # noqa: F401
    cluster_counts,
    cluster_windows,
    pair_scores,
    window_score,
)
from seqgx.analysis.motifs.driver_ism import (  # noqa: F401
    DriverISM,
    _spliced_background,
    driver_neighbourhood_ism,
    neighbourhood,
    write_driver_ism,
)
from seqgx.analysis.motifs.enrichment import (  # noqa: F401
    DRIVER_MOTIF_REQUIRED,
    denovo_enrichment,
    enrichment,
    known_enrichment,
    merge_motif_tables,
    run_enrichment,
    write_meme,
)
from seqgx.analysis.motifs.seqlets import (  # noqa: F401
    call_seqlets,
    seqlet_pvalues,
)
from seqgx.analysis.motifs.summary import (  # noqa: F401
    motif_summary,
)
from seqgx.analysis.motifs.tables import (  # noqa: F401
    DRIVER_COLUMNS,
    SEQLET_COLUMNS,
    SNV_COLUMNS,
    read_drivers,
    read_gene_r,
)
from seqgx.analysis.motifs.warmup import (  # noqa: F401
    warm_up,
)
