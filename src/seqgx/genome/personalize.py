"""Each person's two haplotype sequences per gene (`seqgx personalize`).

A gene's cohort is stored once, compactly: the reference window's tokens, the SNV table, the genotype
matrices and the *distinct* haplotypes (most people share haplotypes, so H << 2S). Sequences are
made on demand, a batch of distinct haplotypes at a time, by tiling the reference and scattering the
alt tokens with fancy indexing; the whole cohort's one-hot is never held in memory.

The file ``<gene_id>.haplotypes.npz`` holds only numeric and fixed-width unicode arrays, so
``np.load(path, allow_pickle=False)`` reads it (keys in docs/formats.md).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from seqgx.checks import fasta_lengths
from seqgx.errors import SeqgxError
from seqgx.genome.genes import check_tss_in_contig, read_batch
from seqgx.genome.reference import Reference, encode
from seqgx.genome.reference import one_hot as genome_one_hot
from seqgx.genome.variants import Policy, VcfReader, WindowVariants
from seqgx.io import atomic_output, require_file
from seqgx.log import get_logger, progress

log = get_logger(__name__)

FORMAT_VERSION = 1
# Bool matrices are stored bit-packed: ~3x smaller files and ~10x faster to write than plain bools
# through zlib (a 2,000 x 839 gene: 0.4 MB, 0.08 s).
VARIANT_COLUMNS = ["variant_id", "pos", "ref", "alt", "window_index", "allele_count", "allele_frequency",
                   "n_carriers", "distance_to_tss"]
_STR_FIELDS = ("gene_id", "gene_name", "chrom", "strand")
_INT_FIELDS = ("tss", "window_start", "window_length", "tss_index")
_ARRAY_FIELDS = ("reference", "samples", "expression_samples", "hap_index")


def _unicode(values: Sequence[str] | np.ndarray) -> np.ndarray:
    """Fixed-width numpy unicode array (never object dtype: files must load without pickle)."""
    arr = np.asarray([str(v) for v in values])
    return arr if arr.size else np.zeros(0, dtype="<U1")


@dataclass
class GeneHaplotypes:
    """One gene's reference window, SNVs and every sample's two haplotypes (see module docstring)."""

    gene_id: str
    gene_name: str
    chrom: str
    tss: int
    strand: str
    window_start: int
    window_length: int
    tss_index: int
    reference: np.ndarray
    variants: pd.DataFrame
    samples: np.ndarray
    expression_samples: np.ndarray
    dosage: np.ndarray
    haplotypes: np.ndarray
    hap_index: np.ndarray
    distinct: np.ndarray
    counts: dict[str, int] = field(default_factory=dict)
    _alt_cache: tuple[np.ndarray, np.ndarray] | None = field(default=None, init=False, repr=False,
                                                             compare=False)

    # -- sizes ---------------------------------------------------------------------------------
    @property
    def n_variants(self) -> int:
        return int(self.distinct.shape[1])

    @property
    def n_samples(self) -> int:
        return int(self.hap_index.shape[0])

    @property
    def n_distinct(self) -> int:
        return int(self.distinct.shape[0])

    # -- sequences -----------------------------------------------------------------------------
    def _alt(self) -> tuple[np.ndarray, np.ndarray]:
        """(window_index, alt token) per variant, computed once (iterating pandas per batch is slow)."""
        if self._alt_cache is None or len(self._alt_cache[0]) != len(self.variants):
            wi = self.variants["window_index"].to_numpy(np.int64)
            alt = encode("".join(self.variants["alt"].astype(str))) if len(wi) else np.zeros(0, np.uint8)
            self._alt_cache = (wi, alt)
        return self._alt_cache

    def _tiled(self, n: int) -> np.ndarray:
        out = np.empty((n, self.window_length), dtype=np.uint8)
        out[:] = self.reference
        return out

    def distinct_tokens(self, indices: Sequence[int] | np.ndarray) -> np.ndarray:
        """uint8 tokens (n, L) of the given distinct haplotypes."""
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        out = self._tiled(len(idx))
        if self.n_variants and len(idx):
            wi, alt = self._alt()
            rows, cols = np.nonzero(self.distinct[idx])
            out[rows, wi[cols]] = alt[cols]
        return out

    def iter_distinct(self, batch_size: int,
                      one_hot: bool = False) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield (indices into distinct, tokens (b, L) uint8 or one-hot (b, L, 4) float32) batches."""
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        for lo in range(0, self.n_distinct, batch_size):
            idx = np.arange(lo, min(lo + batch_size, self.n_distinct))
            tokens = self.distinct_tokens(idx)
            yield idx, (genome_one_hot(tokens) if one_hot else tokens)

    def reference_with_alt(self, variant_indices: Sequence[int] | np.ndarray) -> np.ndarray:
        """uint8 (n, L): the reference with exactly one alt allele (variant_indices[i]) per row, for ISM."""
        vi = np.asarray(variant_indices, dtype=np.int64).reshape(-1)
        out = self._tiled(len(vi))
        if len(vi):
            wi, alt = self._alt()
            out[np.arange(len(vi)), wi[vi]] = alt[vi]
        return out

    def to_samples(self, values_per_distinct: np.ndarray) -> np.ndarray:
        """Map per-distinct-haplotype values (H, ...) to per-sample-haplotype values (S, 2, ...)."""
        values = np.asarray(values_per_distinct)
        if values.shape[0] != self.n_distinct:
            raise ValueError(f"expected {self.n_distinct} rows (one per distinct haplotype), "
                             f"got {values.shape[0]}")
        return values[self.hap_index]

    def sample_tokens(self, sample: int, haplotype: int) -> np.ndarray:
        """uint8 (L,) tokens of one sample-haplotype (convenience; use iter_distinct for many)."""
        return self.distinct_tokens([self.hap_index[sample, haplotype]])[0]

    # -- files ---------------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write the npz atomically (compressed; no pickled objects)."""
        arrays: dict[str, np.ndarray] = {"format_version": np.array(FORMAT_VERSION, dtype=np.int64)}
        for k in _STR_FIELDS:
            arrays[k] = np.array(str(getattr(self, k)))
        for k in _INT_FIELDS:
            arrays[k] = np.array(int(getattr(self, k)), dtype=np.int64)
        arrays["reference"] = np.asarray(self.reference, dtype=np.uint8)
        arrays["samples"] = _unicode(self.samples)
        arrays["expression_samples"] = _unicode(self.expression_samples)
        V, S = self.haplotypes.shape[:2]
        arrays["haplotypes_packed"] = np.packbits(np.asarray(self.haplotypes, bool).reshape(V, 2 * S), axis=1)
        arrays["hap_index"] = np.asarray(self.hap_index, dtype=np.int32)
        arrays["distinct_packed"] = np.packbits(np.asarray(self.distinct, bool), axis=1)
        for c in VARIANT_COLUMNS:
            col = self.variants[c]
            arrays[f"variant_{c}"] = _unicode(col) if c in ("variant_id", "ref", "alt") else col.to_numpy()
        arrays["count_names"] = _unicode(list(self.counts))
        arrays["count_values"] = np.array(list(self.counts.values()), dtype=np.int64)
        with atomic_output(path) as tmp, open(tmp, "wb") as fh:
            np.savez_compressed(fh, **arrays)
        return Path(path)

    @classmethod
    def load(cls, path: str | Path) -> GeneHaplotypes:
        path = require_file(path, "haplotypes file", "run 'seqgx personalize' to make it")
        try:
            with np.load(path, allow_pickle=False) as z:
                data = {k: z[k] for k in z.files}
        except (ValueError, OSError) as exc:
            raise SeqgxError(f"haplotypes file '{path}' cannot be read ({exc}); re-run 'seqgx personalize'") \
                from None
        if int(data.get("format_version", -1)) != FORMAT_VERSION:
            raise SeqgxError(f"haplotypes file '{path}' has format version {data.get('format_version')}, "
                             f"expected {FORMAT_VERSION}; re-run 'seqgx personalize'")
        variants = pd.DataFrame({c: data[f"variant_{c}"] for c in VARIANT_COLUMNS})
        for c in ("variant_id", "ref", "alt"):
            variants[c] = variants[c].astype(str)
        kw = {k: str(data[k]) for k in _STR_FIELDS}
        kw.update({k: int(data[k]) for k in _INT_FIELDS})
        kw.update({k: data[k] for k in _ARRAY_FIELDS})
        V, S = len(variants), len(data["samples"])
        haps = np.unpackbits(data["haplotypes_packed"], axis=1, count=2 * S).view(bool).reshape(V, S, 2)
        kw["haplotypes"] = haps
        kw["dosage"] = haps[:, :, 0].view(np.int8) + haps[:, :, 1].view(np.int8)
        kw["distinct"] = np.unpackbits(data["distinct_packed"], axis=1, count=V).view(bool)
        counts = {str(k): int(v) for k, v in zip(data["count_names"], data["count_values"], strict=True)}
        return cls(variants=variants, counts=counts, **kw)


# -- building ---------------------------------------------------------------------------------------
def deduplicate(haplotypes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(hap_index int32 (S, 2), distinct bool (H, V)) of a haplotype matrix bool (V, S, 2).

    Distinct haplotypes are numbered in order of first appearance (sample 0 haplotype 0 first).
    Rows are packed to bits and compared as fixed-size byte strings, so np.unique sorts H*V/8 bytes.
    """
    V, S, _ = haplotypes.shape
    rows = np.ascontiguousarray(haplotypes.transpose(1, 2, 0).reshape(S * 2, V))
    if V == 0 or S == 0:
        return np.zeros((S, 2), np.int32), np.zeros((1 if S else 0, V), bool)
    packed = np.ascontiguousarray(np.packbits(rows, axis=1))
    keys = packed.view(np.dtype((np.void, packed.shape[1]))).reshape(-1)
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")  # renumber by first appearance
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    hap_index = rank[inverse.reshape(-1)].astype(np.int32).reshape(S, 2)
    return hap_index, rows[first[order]]


def build_gene(gene: dict, window: WindowVariants, reference: np.ndarray, samples: Sequence[str],
               expression_samples: Sequence[str], vcf_path: str | Path = "VCF") -> GeneHaplotypes:
    """Assemble a GeneHaplotypes from one window's SNVs (``gene`` is a row of a batch file)."""
    L = int(gene["window_length"])
    ws, tss = int(gene["window_start"]), int(gene["tss"])
    chrom = str(gene["fasta_contig"])
    haps = window.haplotypes
    dosage = haps[:, :, 0].view(np.int8) + haps[:, :, 1].view(np.int8)  # faster than sum(axis=2)
    S = haps.shape[1]
    pos = window.pos
    wi = pos - 1 - ws
    ac = dosage.sum(axis=1, dtype=np.int64)
    variants = pd.DataFrame({
        "variant_id": [f"{chrom}:{p}:{r}:{a}" for p, r, a in zip(pos.tolist(), window.ref, window.alt,
                                                                  strict=True)],
        "pos": pos.astype(np.int64),
        "ref": window.ref.astype(str),
        "alt": window.alt.astype(str),
        "window_index": wi.astype(np.int64),
        "allele_count": ac,
        "allele_frequency": ac / (2 * S) if S else np.zeros(len(pos)),
        "n_carriers": (dosage > 0).sum(axis=1).astype(np.int64),
        "distance_to_tss": (pos - tss).astype(np.int64),
    })
    hap_index, distinct = deduplicate(haps)
    _check_one_allele_per_site(distinct, wi, pos, hap_index, samples, chrom, vcf_path)
    return GeneHaplotypes(
        gene_id=str(gene["gene_id"]), gene_name=str(gene["gene_name"]), chrom=chrom, tss=tss,
        strand=str(gene["strand"]), window_start=ws, window_length=L, tss_index=int(gene["tss_index"]),
        reference=reference, variants=variants, samples=_unicode(samples),
        expression_samples=_unicode(expression_samples), dosage=dosage, haplotypes=haps,
        hap_index=hap_index, distinct=distinct, counts=dict(window.counts))


def _check_one_allele_per_site(distinct: np.ndarray, wi: np.ndarray, pos: np.ndarray, hap_index: np.ndarray,
                               samples: Sequence[str], chrom: str, vcf_path: str | Path) -> None:
    """A haplotype cannot carry two alt alleles at one position (happens with split multi-allelics)."""
    if len(wi) < 2:
        return
    same = np.flatnonzero(wi[1:] == wi[:-1])
    for j in same:
        cols = np.flatnonzero(wi == wi[j])
        both = np.flatnonzero(distinct[:, cols].sum(axis=1) > 1)
        if len(both):
            s, _ = np.argwhere(hap_index == both[0])[0]
            raise SeqgxError(f"VCF '{vcf_path}' records at {chrom}:{pos[j]}: one haplotype of sample "
                             f"{samples[s]} carries two alt alleles; join split multi-allelic records with "
                             f"'bcftools norm -m +any'")


def read_samples(path: str | Path) -> pd.DataFrame:
    """samples.tsv (expression_sample, vcf_sample); each sample once."""
    path = require_file(path, "samples file", "pass the samples.tsv written by 'seqgx check-inputs'")
    try:
        table = pd.read_csv(path, sep="\t", dtype=str)
    except pd.errors.EmptyDataError:
        raise SeqgxError(f"samples file '{path}' is empty; re-run 'seqgx check-inputs'") from None
    if "vcf_sample" not in table.columns:
        raise SeqgxError(f"samples file '{path}' needs a vcf_sample column (and expression_sample); "
                         f"re-run 'seqgx check-inputs'")
    if "expression_sample" not in table.columns:
        table["expression_sample"] = table["vcf_sample"]
    table = table[["expression_sample", "vcf_sample"]]
    if table.empty or table.isna().any().any():
        raise SeqgxError(f"samples file '{path}' has no samples or empty cells; re-run 'seqgx check-inputs'")
    for col in ("vcf_sample", "expression_sample"):
        dup = table[col][table[col].duplicated()]
        if len(dup):
            raise SeqgxError(f"samples file '{path}' lists {col} '{dup.iloc[0]}' twice; list each sample "
                             f"once (re-run 'seqgx check-inputs')")
    return table.reset_index(drop=True)


def personalize_batch(batch: str | Path, fasta: str | Path, vcf: str | Path, samples: str | Path,
                      out_dir: str | Path, policy: Policy | None = None) -> list[Path]:
    """Write ``out_dir/<gene_id>.haplotypes.npz`` for each gene of a batch file; return the paths."""
    policy = policy or Policy()
    genes = read_batch(batch)
    sample_table = read_samples(samples)
    fasta_lengths(require_file(fasta, "FASTA"))  # plain gzip, missing, stale or foreign .fai: one line
    out = Path(out_dir)
    built = []
    with Reference(fasta) as ref, VcfReader(vcf, list(sample_table["vcf_sample"]),
                                            samples_source=f"samples file '{samples}'") as reader:
        for row in genes.itertuples(index=False):
            if row.fasta_contig not in ref.lengths:
                raise SeqgxError(f"batch file '{batch}' gene '{row.gene_id}': contig '{row.fasta_contig}' is "
                                 f"not in FASTA '{fasta}'; use the FASTA the annotation and VCF refer to or "
                                 f"fix contigs.tsv (re-run 'seqgx check-inputs')")
        check_tss_in_contig(genes, genes["fasta_contig"].map(ref.lengths), f"batch file '{batch}', "
                            f"FASTA '{fasta}'")
        for row in progress(list(genes.to_dict("records")), desc="personalize"):
            ws, L = int(row["window_start"]), int(row["window_length"])
            window_ref = ref.fetch(row["fasta_contig"], ws, ws + L)
            window = reader.read_window(row["vcf_contig"], ws, ws + L, window_ref, fasta=ref,
                                        fasta_contig=row["fasta_contig"], policy=policy)
            gene = build_gene(row, window, window_ref, reader.samples,
                              list(sample_table["expression_sample"]), vcf_path=vcf)
            built.append(gene)  # saved after the loop: a later gene's error must not leave a partial batch
            skipped = {k: v for k, v in gene.counts.items()
                       if v and k not in ("records_in_window", "snv_alleles")}
            log.info("%s (%s): %d SNVs, %d distinct haplotypes of %d%s", gene.gene_id, gene.gene_name,
                     gene.n_variants, gene.n_distinct, 2 * gene.n_samples,
                     "; " + ", ".join(f"{k} {v}" for k, v in skipped.items()) if skipped else "")
    paths = [gene.save(out / f"{gene.gene_id}.haplotypes.npz") for gene in built]
    return paths
