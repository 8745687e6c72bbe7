"""Reference genome access, the token alphabet and contig-name reconciliation.

Tokens are uint8: A=0, C=1, G=2, T=3, N (and any other IUPAC code) = 4. One-hot is float32 with
columns in A, C, G, T order and N as an all-zero row, the input Enformer expects.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pyfaidx

from seqgx.errors import SeqgxError

ALPHABET = "ACGTN"
N_TOKEN = 4
_LUT = np.full(256, N_TOKEN, dtype=np.uint8)
for _i, _b in enumerate("ACGT"):
    _LUT[ord(_b)] = _i
    _LUT[ord(_b.lower())] = _i
# Token -> the 4 bytes of its one-hot row as one little-endian uint32; N -> zeros. One lookup per base
# and a byte view is ~5x faster than gathering 16-byte float rows.
_ONEHOT_U32 = np.array([1, 1 << 8, 1 << 16, 1 << 24, 0], dtype="<u4")
_COMPLEMENT_TOKEN = np.array([3, 2, 1, 0, 4], dtype=np.uint8)


def encode(seq: str | bytes) -> np.ndarray:
    """DNA string -> uint8 tokens (case-insensitive; non-ACGT -> N)."""
    data = seq.encode("ascii") if isinstance(seq, str) else seq
    return _LUT[np.frombuffer(data, dtype=np.uint8)]


def decode(tokens: np.ndarray) -> str:
    return "".join(ALPHABET[t] for t in np.asarray(tokens).tolist())


def one_hot(tokens: np.ndarray) -> np.ndarray:
    """Tokens (..., L) -> float32 one-hot (..., L, 4); N rows are zeros."""
    tokens = np.asarray(tokens)
    return np.take(_ONEHOT_U32, tokens).view(np.uint8).reshape(tokens.shape + (4,)).astype(np.float32)


def reverse_complement_tokens(tokens: np.ndarray) -> np.ndarray:
    """Reverse complement along the last axis."""
    return _COMPLEMENT_TOKEN[np.asarray(tokens)][..., ::-1]


def canonical_contig(name: str) -> str:
    """Name used to match contigs across files: 'chr' prefix dropped, chrM/MT unified."""
    c = name[3:] if name.lower().startswith("chr") else name
    return "MT" if c.upper() in ("M", "MT") else c


def is_autosome(name: str) -> bool:
    c = canonical_contig(name)
    return c.isdigit() and 1 <= int(c) <= 22


def contig_map(names: Iterable[str], targets: Iterable[str], source: str, target: str) -> dict[str, str]:
    """Map each name in ``names`` to the same contig in ``targets``.

    Exact names win; otherwise a unique match after dropping/adding 'chr' (e.g. '1' <-> 'chr1').
    Names with no match are left out (the caller decides whether that is an error).
    """
    targets = list(targets)
    exact = set(targets)
    by_canon: dict[str, list[str]] = {}
    for t in targets:
        by_canon.setdefault(canonical_contig(t), []).append(t)
    out: dict[str, str] = {}
    for n in names:
        if n in exact:
            out[n] = n
            continue
        cands = by_canon.get(canonical_contig(n), [])
        if len(cands) == 1:
            out[n] = cands[0]
        elif len(cands) > 1:
            raise SeqgxError(f"contig '{n}' of the {source} matches several contigs of the {target} "
                             f"({', '.join(cands)}); rename contigs so they agree")
    return out


class Reference:
    """An indexed FASTA. Fetches windows as tokens, padding with N past contig ends."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if not self.path.is_file():
            raise SeqgxError(f"FASTA '{self.path}' does not exist")
        fai = Path(str(self.path) + ".fai")
        if not fai.is_file():
            raise SeqgxError(f"FASTA '{self.path}' has no index '{fai.name}'; "
                             f"run 'samtools faidx {self.path}'")
        try:
            self._fa = pyfaidx.Fasta(str(self.path), as_raw=True, sequence_always_upper=True,
                                     rebuild=False, build_index=False)
        except (pyfaidx.FastaIndexingError, ValueError) as exc:
            raise SeqgxError(f"FASTA '{self.path}' could not be read ({exc}); "
                             f"re-create its index with 'samtools faidx'") from None
        self.lengths = {name: len(rec) for name, rec in self._fa.records.items()}

    @property
    def contigs(self) -> list[str]:
        return list(self.lengths)

    def fetch(self, contig: str, start: int, end: int) -> np.ndarray:
        """Tokens of 0-based half-open [start, end); positions outside the contig are N."""
        if contig not in self.lengths:
            raise SeqgxError(f"contig '{contig}' is not in FASTA '{self.path}'; "
                             f"check the annotation's or VCF's contig names")
        length = self.lengths[contig]
        out = np.full(end - start, N_TOKEN, dtype=np.uint8)
        lo, hi = max(start, 0), min(end, length)
        if hi > lo:
            out[lo - start:hi - start] = encode(self._fa[contig][lo:hi])
        return out

    def close(self) -> None:
        self._fa.close()

    def __enter__(self) -> Reference:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
