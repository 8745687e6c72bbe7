"""``python -m seqgx.analysis.motifs``: compile the motif tools' numba code once (:func:`warm_up`)."""

from seqgx.analysis.motifs.warmup import warm_up

if __name__ == "__main__":
    warm_up()
