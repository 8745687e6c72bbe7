"""Stage 1, the genome: reference sequence, variants, gene windows and personal haplotypes.

``seqgx.genome`` was one module before the package was grouped by stage; its names (``encode``,
``Reference``, ...) stay importable from here and live in :mod:`seqgx.genome.reference`.
"""

from seqgx.genome.reference import (  # noqa: F401  (the former seqgx.genome module's public names)
    ALPHABET,
    N_TOKEN,
    Reference,
    canonical_contig,
    contig_map,
    decode,
    encode,
    is_autosome,
    one_hot,
    reverse_complement_tokens,
)
