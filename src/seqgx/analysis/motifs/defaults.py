"""Defaults of the motif analysis (docs/motifs.md): the pipeline parameters' come from seqgx.params; the
rest are fixed choices. Also the bases' order and complement shared by the modules of the package."""

from __future__ import annotations

import numpy as np

from seqgx.errors import SeqgxError
from seqgx.params import PARAMS_BY_NAME

# Pipeline parameters: their defaults live in seqgx.params.
DRIVER_FLANK = PARAMS_BY_NAME["driver_flank"].default  # bp each side of a driver (41 positions at 20)
MOTIF_WINDOW = PARAMS_BY_NAME["motif_window"].default  # bp each side of the TSS: scale and seqlets
MOTIF_SCALE = PARAMS_BY_NAME["motif_scale"].default  # 'max' (largest |a|) or 'sd' (SD of a: z-scores)
CONTEXT_THRESHOLDS = {"max": (0.05, 0.1, 0.2, 0.5), "sd": (1.64, 1.96, 2.58, 3.29)}
SEQLET_THRESHOLD = {"max": 0.4, "sd": 1.5}  # |a / scale| of every base of a seqlet
SEQLET_MIN_LENGTH = PARAMS_BY_NAME["seqlet_min_length"].default  # bp
SEQLET_SHUFFLES = 100  # position shuffles of the track for a seqlet's p-value
TOMTOM_SHUFFLES = 100  # column shuffles of a seqlet for its match's shuffle p-value
MATCH_ALPHA = 0.05  # a TOMTOM match is significant when q < alpha and shuffle p < alpha
JASPAR_RELEASE = "JASPAR2024"
DENOVO_FLANK = 6  # 13-bp windows around each driver
DENOVO_MIN_LENGTH = 5  # the aligned stretch: at least 5 bases ...
DENOVO_MAX_MISMATCHES = 1  # ... with at most one mismatch, containing both centre bases
DENOVO_CUT = 0.25  # complete-linkage height at which the tree is cut
CONTEXT_FLANK = 30  # bp each side of a driver / control stored as sequence (FIMO scans these)
CONTROLS_PER_DRIVER = 5  # non-driver SNVs of the same gene matched on distance to the TSS
FIMO_THRESHOLD = 1e-4  # FIMO p-value of a motif hit
ENRICHMENT_ALPHA = 0.05

BASES = "ACGT"
_COMPLEMENT = np.array([3, 2, 1, 0, 4], dtype=np.int8)  # A<->T, C<->G, N stays N


def thresholds_for(scale_kind: str) -> tuple[float, ...]:
    """Default driver-context thresholds of a scale kind (``max`` or ``sd``)."""
    if scale_kind not in CONTEXT_THRESHOLDS:
        raise SeqgxError(f"motif scale '{scale_kind}' is not known; use 'max' or 'sd'")
    return CONTEXT_THRESHOLDS[scale_kind]
