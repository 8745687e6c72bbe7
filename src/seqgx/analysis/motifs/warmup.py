"""Numba warm-up (``python -m seqgx.analysis.motifs``): compile memelite's TOMTOM and FIMO and the de
novo kernel once, so later processes load them from numba's cache."""

from __future__ import annotations

from seqgx.analysis.motifs.annotate import annotate_sequences, fimo_sites, jaspar_motifs
from seqgx.analysis.motifs.denovo import pair_scores


def warm_up() -> None:
    """Compile memelite's TOMTOM and FIMO and the de novo kernel with numba once (about a minute on 2
    cores), so their cache (``NUMBA_CACHE_DIR``, or ``__pycache__`` beside the packages) serves every
    later process; the images and CI run this once."""
    db = jaspar_motifs()
    annotate_sequences(["TATAAAAG"], db, n_shuffles=2)
    fimo_sites(["ACGTATAAAAGGCTAGCTAGCTAGCTAGCTA"], db, centre_flank=3)
    pair_scores(["ACGTATAAAAGGC", "CCGTATAAAAGGC"], ["ACGTATTAAAGGC", "CCGTATTAAAGGC"])
