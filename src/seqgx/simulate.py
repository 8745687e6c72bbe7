"""A synthetic cohort that looks like real data, with planted truth (`seqgx simulate`).

What is written (see docs/formats.md, "Simulated cohort"):

- ``reference.fa`` (+ ``.fai``): contigs ``chr1``, ``chr2``, ... with isochore-like GC variation,
  CpG depletion (CpG islands at protein-coding TSSs), tandem repeats and diverged copies of two
  interspersed elements, all repeats soft-masked (lowercase); ``repeats.bed`` lists them.
- ``genes.gtf`` (Gencode-like gene/transcript/exon records) and ``genes.tsv`` (1-based TSS).
- ``cohort.vcf.gz`` (+ ``.tbi``): phased VCF 4.2, rare variants with a power-law allele-count spectrum
  plus common variants in LD blocks (haplotypes copied from a few founders per block, with
  recombination and mutation); also multi-allelic SNV sites, indels, a symbolic ``<DEL>`` and missing
  calls (``.|.`` and one ``./.``). It runs with the default personalize policies.
- ``cohort.bad.vcf.gz``: the same records but one REF disagrees with the FASTA.
- ``cohort.unphased.vcf.gz``: the same records but one heterozygous call is unphased (``0/1``).
- with ``vcf_per_contig``: ``cohort.<contig>.vcf.gz`` (+ ``.tbi``), the main VCF split by contig, and
  ``vcfs.csv`` (``contig,vcf``), a samplesheet naming them, as cohorts split by chromosome come.
- ``expression.tsv``: genes x samples, ``baseline + sum(beta * alt dosage) + N(0, noise_sd)``.
- ``truth.json``: planted causal SNVs, effect sizes, noise SD, the R of a perfect predictor and the
  positions of every awkward record; ``params.yaml`` for ``seqgx run``.
- the same cohort as two tissues, as tensorQTL takes them (``tissues``, on by default):
  ``tissues/<tissue>.expression.bed.gz`` (phenotype BED: ``#chr start end phenotype_id`` then samples,
  start = TSS - 1, end = TSS, sorted by contig and start) and ``tissues/<tissue>.covariates.txt`` (``ID``
  then one column per sample, one row per covariate: ``batch``, ``rin``, ``PC1``..``PC3``) for ``brain``
  (every expression sample) and ``liver`` (a random ~90% of them). Each tissue's expression is
  ``baseline + genetic part (as in expression.tsv) + a * batch + b * (rin - 7) + N(0, noise_sd)`` with a
  fresh noise draw; the batch effect (per gene and tissue) is ten times the SD of the rest and
  uncorrelated with the genetic part, so a planted gene is significant only with the covariates
  regressed out; the PCs have no effect. In the liver one 'single' gene is silent (no genetic part).
  ``tissues.csv`` (``tissue,expression,covariates,readouts``, paths relative to it) names them,
  ``finemapped.tsv`` (``gene_id chrom pos ref alt pip credible_set``) lists the causal SNVs as a
  fine-mapping would, ``params_tissues.yaml`` runs them (``tissues`` and ``finemapped`` instead of
  ``expression``); truth.json's ``tissues`` entry holds the covariates, effect sizes and silent gene.

Causal SNVs sit within ``CAUSAL_MAX_DISTANCE`` bp of the TSS, inside the 384 bp that the oracle model's
readout (output bins 447-449) sees, and their alt allele creates or breaks a ``TATA`` motif
(``oracle:TATA`` changes by exactly +1 or -1 per alt allele). For most genes the expression effect
follows the oracle's direction (creation raises expression); for two it is the opposite, so the oracle
gets those genes' direction wrong (a negative R with unsupported drivers).
"""

from __future__ import annotations

import gzip
import json
import math
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import pysam

from seqgx.errors import SeqgxError
from seqgx.io import atomic_output
from seqgx.log import get_logger

log = get_logger(__name__)

FILES = {
    "fasta": "reference.fa",
    "fai": "reference.fa.fai",
    "repeats": "repeats.bed",
    "gtf": "genes.gtf",
    "annotation_tsv": "genes.tsv",
    "vcf": "cohort.vcf.gz",
    "vcf_index": "cohort.vcf.gz.tbi",
    "bad_vcf": "cohort.bad.vcf.gz",
    "bad_vcf_index": "cohort.bad.vcf.gz.tbi",
    "unphased_vcf": "cohort.unphased.vcf.gz",
    "unphased_vcf_index": "cohort.unphased.vcf.gz.tbi",
    "expression": "expression.tsv",
    "truth": "truth.json",
    "params": "params.yaml",
    # The two-tissue layout (written with tissues=True, the default; listed last so that truth.json's
    # list of the files above keeps its order).
    "tissues": "tissues.csv",
    "brain_expression": "tissues/brain.expression.bed.gz",
    "brain_covariates": "tissues/brain.covariates.txt",
    "liver_expression": "tissues/liver.expression.bed.gz",
    "liver_covariates": "tissues/liver.covariates.txt",
    "finemapped": "finemapped.tsv",
    "params_tissues": "params_tissues.yaml",
}
TISSUE_KEYS = ("tissues", "brain_expression", "brain_covariates", "liver_expression", "liver_covariates",
               "finemapped", "params_tissues")
# Only with vcf_per_contig (kept out of FILES, which truth.json lists, so other files stay identical).
CONTIG_VCF = "cohort.{contig}.vcf.gz"
VCF_SHEET = "vcfs.csv"

# Planted causal SNVs lie within this many bp of the TSS: inside the oracle readout, window indices
# 98,176..98,559 = TSS-128..TSS+255 (bins 447-449), with room for the motif and for either strand's mirror.
CAUSAL_MAX_DISTANCE = 100
MOTIF = "TATA"  # the oracle:TATA motif a causal alt allele creates or breaks
N_UNSUPPORTED = 2  # one-SNV genes whose expression effect opposes the oracle's direction
_CAUSAL_CLEAR = 15  # no other variant record within this many bp of a causal SNV (indels reach <= 12 bp)
_GENE_MARGIN = 5000  # windows of genes other than the edge gene stay this far inside the contig
_N_GAP = 1000  # chr2 starts with a run of N, like a telomere gap
_ACGT = np.frombuffer(b"ACGT", dtype=np.uint8)
_TRANSITION = {"A": "G", "G": "A", "C": "T", "T": "C"}

# Tissues: the oracle's tracks are 0 oracle:GC, 1 oracle:TATA, 2 oracle:CACGTG; the liver row names a
# track twice (by name and by index) so that both readout forms get exercised.
TISSUE_READOUTS = {"brain": "oracle:TATA", "liver": "oracle:TATA;0"}
TISSUE_COVARIATES = ("batch", "rin", "PC1", "PC2", "PC3")  # batch and rin have effects, the PCs none
LIVER_FRACTION = 0.9  # of the expression samples, so the two tissues' sample sets differ
# Batch-effect SD / SD of the rest (genetic part + noise): with 10, R without covariates is ~1/10 of R
# with them (p > 0.1 at 100-240 samples), while with them R is about expression.tsv's perfect_r.
BATCH_FOLD = 10.0
RIN_CENTRE = 7.0  # expression += b * (rin - RIN_CENTRE), so the baseline stays the mean level
FINEMAP_PIP = 0.95
_TISSUE_STREAM = 5  # np.random.default_rng([seed, 5, k]): new streams, so today's files stay identical


@dataclass(frozen=True)
class SimulationSizes:
    """Sizes of the simulated cohort; the defaults are what the test-suite ``cohort`` fixture uses."""

    n_samples: int = 240  # samples in the VCF
    n_genes: int = 10
    n_contigs: int = 2
    contig_length: int = 1_000_000
    window_length: int = 196_608
    variant_density: float = 1.5  # variant sites per kb
    n_expression_only: int = 4  # expression samples absent from the VCF
    n_vcf_only: int = 6  # VCF samples without expression
    noise_sd: float = 0.5  # SD of the non-genetic part of expression

    def validate(self) -> None:
        def bad(name: str, rule: str, value: Any) -> SeqgxError:
            return SeqgxError(f"--{name.replace('_', '-')} must be {rule}, got {value!r}")

        if self.n_samples < 30:
            raise bad("n_samples", ">= 30", self.n_samples)
        if not 3 <= self.n_genes <= 1000:
            raise bad("n_genes", "between 3 and 1000 (one gene without effect, one with two opposite "
                      "effects, at least one more)", self.n_genes)
        if not 1 <= self.n_contigs <= 22:
            raise bad("n_contigs", "between 1 and 22", self.n_contigs)
        if self.window_length < 16384 or self.window_length % 128:
            raise bad("window_length", "a multiple of 128 and >= 16384", self.window_length)
        min_len = self.window_length + 2 * _GENE_MARGIN + 50_000
        if not min_len <= self.contig_length <= 50_000_000:
            raise bad("contig_length", f"between {min_len} (window plus flanks) and 50000000",
                      self.contig_length)
        if not 0.05 <= self.variant_density <= 50:
            raise bad("variant_density", "between 0.05 and 50 sites per kb", self.variant_density)
        if self.n_expression_only < 0:
            raise bad("n_expression_only", ">= 0", self.n_expression_only)
        if not 0 <= self.n_vcf_only <= self.n_samples - 30:
            raise bad("n_vcf_only", f"between 0 and n_samples - 30 = {self.n_samples - 30}", self.n_vcf_only)
        if not 0 < self.noise_sd <= 100:
            raise bad("noise_sd", "> 0 and <= 100", self.noise_sd)


@dataclass
class _Gene:
    index: int
    gene_id: str
    gene_name: str
    transcript_id: str
    chrom: str
    tss: int
    strand: str
    start: int
    end: int
    gene_type: str
    exons: list[tuple[int, int]]
    window_start: int
    window_length: int
    kind: str = "single"  # single | opposite | none
    causal: list[int] = field(default_factory=list)  # indices into the variant table
    betas: list[float] = field(default_factory=list)
    oracle_supported: bool = True  # expression effect sign == oracle:TATA delta sign for each causal SNV
    oracle_deltas: list[int] = field(default_factory=list)  # oracle:TATA change per alt allele
    motif_starts: list[int] = field(default_factory=list)  # 1-based first base of each causal's motif

    def in_window(self, chrom: np.ndarray, pos: np.ndarray) -> np.ndarray:
        end = self.window_start + self.window_length
        return (chrom == self.chrom) & (pos > self.window_start) & (pos <= end)


# ----------------------------------------------------------------------------------------- genes

def _layout_genes(s: SimulationSizes, rng: np.random.Generator) -> list[_Gene]:
    """Place TSSs evenly so windows overlap little; the last gene of chr1 sits near the contig end."""
    half = s.window_length // 2
    lo = half + _GENE_MARGIN + 1
    hi = s.contig_length - half - _GENE_MARGIN
    per_contig = [s.n_genes // s.n_contigs + (1 if i < s.n_genes % s.n_contigs else 0)
                  for i in range(s.n_contigs)]
    placed: list[tuple[str, int, bool]] = []
    for ci, k in enumerate(per_contig):
        chrom = f"chr{ci + 1}"
        if k == 0:
            continue
        if ci == 0:
            # TSS 20-45 kb from the end: its window runs ~50-80 kb past the contig end.
            edge = s.contig_length - int(rng.integers(20_000, 45_001))
            tss = np.linspace(lo, edge, k).round().astype(int) if k > 1 else np.array([edge])
        else:
            tss = np.linspace(lo, hi, k).round().astype(int) if k > 1 else np.array([(lo + hi) // 2])
        spacing = np.diff(tss).min() if k > 1 else s.contig_length
        if spacing < 30_000:
            raise SeqgxError(f"{k} genes on a {s.contig_length}-bp contig are closer than 30 kb; "
                             f"raise --contig-length or --n-contigs, or lower --n-genes")
        jitter = min(5000, int(spacing) // 10)
        for j, t in enumerate(tss):
            is_edge = ci == 0 and j == k - 1
            if not is_edge:
                t = int(np.clip(t + rng.integers(-jitter, jitter + 1), lo, hi))
            placed.append((chrom, int(t), is_edge))

    n = len(placed)
    strands = np.array(["+", "-"] * (n // 2 + 1))[:n]
    strands = strands[rng.permutation(n)]
    edge_index = next(i for i, p in enumerate(placed) if p[2])
    others = [i for i in range(n) if i != edge_index]
    none_i, opposite_i = (int(x) for x in rng.choice(others, 2, replace=False))
    genes = []
    for i, (chrom, tss, _) in enumerate(placed):
        strand = str(strands[i])
        gene_type = "lncRNA" if rng.random() < 0.2 else "protein_coding"
        length = int(math.exp(rng.uniform(math.log(4000), math.log(60_000))))
        if strand == "+":
            start, end = tss, min(tss + length - 1, s.contig_length - 200)
        else:
            start, end = max(tss - length + 1, _N_GAP + 200), tss
        idx = i + 1
        genes.append(_Gene(
            index=idx, gene_id=f"ENSGSIM{idx:011d}.{int(rng.integers(1, 6))}", gene_name=f"SIMG{idx}",
            transcript_id=f"ENSTSIM{idx:011d}.1", chrom=chrom, tss=tss, strand=strand, start=start, end=end,
            gene_type=gene_type, exons=_exons(start, end, rng), window_start=tss - 1 - half,
            window_length=s.window_length,
            kind="none" if i == none_i else "opposite" if i == opposite_i else "single"))
    return genes


def _exons(start: int, end: int, rng: np.random.Generator) -> list[tuple[int, int]]:
    """First exon at the gene start, last at the gene end, a few in between (genomic order)."""
    n = int(rng.integers(2, 8))
    bounds = np.linspace(start, end + 1, n + 1).astype(int)
    exons = []
    for i in range(n):
        seg_lo, seg_hi = int(bounds[i]), int(bounds[i + 1]) - 1
        ln = int(min(rng.integers(80, 400), seg_hi - seg_lo + 1))
        if i == 0:
            a = seg_lo
        elif i == n - 1:
            a = end - ln + 1
        else:
            a = int(rng.integers(seg_lo, seg_hi - ln + 2))
        exons.append((a, a + ln - 1))
    return exons


# -------------------------------------------------------------------------------------- sequence

def _random_bases(gc: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Independent bases (ASCII codes) with a per-position GC probability."""
    u = rng.random(gc.shape[0])
    v = rng.random(gc.shape[0]) < 0.5
    is_gc = u < gc
    return np.where(is_gc, np.where(v, ord("C"), ord("G")), np.where(v, ord("A"), ord("T"))).astype(np.uint8)


def _deplete_cpg(seq: np.ndarray, rng: np.random.Generator, fraction: float) -> None:
    """Turn a fraction of CpGs into TpG or CpA, as methyl-cytosine deamination does in vertebrates."""
    upper = seq & 0xDF
    idx = np.flatnonzero((upper[:-1] == ord("C")) & (upper[1:] == ord("G")))
    hit = idx[rng.random(idx.size) < fraction]
    to_t = rng.random(hit.size) < 0.5
    seq[hit[to_t]] = ord("T") | (seq[hit[to_t]] & 0x20)  # keep soft-masking (lowercase bit)
    seq[hit[~to_t] + 1] = ord("A") | (seq[hit[~to_t] + 1] & 0x20)


def _revcomp(seq: np.ndarray) -> np.ndarray:
    lut = np.arange(256, dtype=np.uint8)
    for a, b in ("AT", "TA", "CG", "GC"):
        lut[ord(a)] = ord(b)
    return lut[seq[::-1]]


def _mutate(seq: np.ndarray, rate: float, rng: np.random.Generator) -> np.ndarray:
    out = seq.copy()
    hit = rng.random(out.size) < rate
    out[hit] = rng.choice(_ACGT, int(hit.sum()))
    return out


@dataclass
class _RepeatLibrary:
    alu: np.ndarray
    l1: np.ndarray

    @classmethod
    def make(cls, rng: np.random.Generator) -> _RepeatLibrary:
        alu = _random_bases(np.full(282, 0.56), rng)  # a GC-rich SINE-like element
        l1 = _random_bases(np.full(6000, 0.40), rng)  # an AT-rich LINE-like element
        _deplete_cpg(l1, rng, 0.5)
        return cls(alu=alu, l1=l1)


def _simulate_sequence(length: int, n_gap: int, islands: list[tuple[int, int]], lib: _RepeatLibrary,
                       rng: np.random.Generator) -> tuple[np.ndarray, list[tuple[int, int, str, str]]]:
    """One contig as ASCII codes (lowercase = soft-masked repeat) and its repeats (0-based, half-open)."""
    # Isochores: long segments at a few GC levels (human L1..H3 families), plus a slow local wobble.
    levels = np.array([0.37, 0.41, 0.46, 0.52, 0.58])
    starts = [0]
    while starts[-1] < length:
        starts.append(starts[-1] + int(max(30_000, rng.exponential(150_000))))
    seg_gc = rng.choice(levels, len(starts) - 1, p=[0.3, 0.3, 0.2, 0.12, 0.08])
    if seg_gc.max() - seg_gc.min() < 0.1:  # every contig gets both a GC-poor and a GC-rich isochore
        lo_i, hi_i = rng.choice(seg_gc.size, 2, replace=seg_gc.size < 2)
        seg_gc[lo_i], seg_gc[hi_i] = levels[0], levels[-1]
    gc = np.repeat(seg_gc, np.diff(starts))[:length]
    knots = rng.normal(0.0, 0.03, length // 2000 + 2)
    gc += np.interp(np.arange(length), np.arange(knots.size) * 2000, knots)
    seq = _random_bases(np.clip(gc, 0.25, 0.72), rng)
    _deplete_cpg(seq, rng, 0.7)
    occupied = np.zeros(length, dtype=bool)
    occupied[:n_gap] = True
    islands = [(max(a, n_gap), min(b, length)) for a, b in islands]
    for a, b in islands:  # CpG islands: GC-rich and not depleted, as at most protein-coding promoters
        seq[a:b] = _random_bases(np.full(b - a, 0.67), rng)
        occupied[a:b] = True

    repeats: list[tuple[int, int, str, str]] = []

    def place(unit_seq: np.ndarray, name: str, strand: str) -> None:
        n = unit_seq.size
        for _ in range(20):
            a = int(rng.integers(0, length - n))
            if not occupied[a:a + n].any():
                seq[a:a + n] = unit_seq | 0x20  # soft-mask: lowercase
                occupied[a:a + n] = True
                repeats.append((a, a + n, name, strand))
                return

    for _ in range(max(1, length // 200_000)):  # VNTRs (minisatellites)
        unit = _random_bases(np.full(int(rng.integers(15, 51)), 0.6), rng)
        place(_mutate(np.tile(unit, int(rng.integers(8, 26))), 0.02, rng), f"VNTR_{unit.size}bp", "+")
    for _ in range(length // 25_000):  # 5'-truncated LINE copies
        keep = int(min(lib.l1.size, 300 + rng.exponential(1200)))
        copy = _mutate(lib.l1[-keep:], rng.uniform(0.05, 0.2), rng)
        strand = "+" if rng.random() < 0.5 else "-"
        place(copy if strand == "+" else _revcomp(copy), "SimL1", strand)
    for _ in range(length // 4000):  # SINE copies with a poly-A tail
        body = lib.alu if rng.random() < 0.9 else lib.alu[int(rng.integers(20, 150)):]
        copy = np.concatenate([_mutate(body, rng.uniform(0.04, 0.15), rng),
                               np.full(int(rng.integers(8, 30)), ord("A"), dtype=np.uint8)])
        strand = "+" if rng.random() < 0.5 else "-"
        place(copy if strand == "+" else _revcomp(copy), "SimAlu", strand)
    motifs = ["A", "CA", "AT", "AAT", "AAAT", "AGAT", "TTC", "GGAA"]
    for _ in range(length // 3000):  # microsatellites
        motif = motifs[int(rng.integers(len(motifs)))]
        unit = np.frombuffer(motif.encode(), dtype=np.uint8)
        copies = max(6, int(rng.integers(20, 81)) // unit.size)
        place(_mutate(np.tile(unit, copies), 0.03, rng), f"({motif})n", "+")
    # Old repeat copies lose their CpGs too; CpG islands keep theirs.
    saved = [(a, seq[a:b].copy()) for a, b in islands]
    _deplete_cpg(seq, rng, 0.5)
    for a, kept in saved:
        seq[a:a + kept.size] = kept
    seq[:n_gap] = ord("N")
    repeats.sort()
    return seq, repeats


# -------------------------------------------------------------------------------------- variants

def _simulate_haplotypes(length: int, n_gap: int, genes: list[_Gene], s: SimulationSizes, n_hap: int,
                         rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sites of one contig: (pos 1-based, is_common, alleles (V, n_hap) int8)."""
    n_random = max(1, round(s.variant_density * (length - n_gap) / 1000))
    pos = rng.choice(np.arange(n_gap + 1, length + 1), size=n_random, replace=False)
    forced, boundaries = [], []
    for g in genes:
        # Common SNVs near each TSS so every gene can get a causal variant (and the no-effect gene has
        # candidates too); the two-effect gene gets sites on both sides of an LD-block boundary at the TSS.
        # Causal candidates sit inside the oracle readout (CAUSAL_MAX_DISTANCE); the no-effect gene's
        # candidates keep to a few kb.
        if g.kind == "opposite":
            forced += list(g.tss + rng.integers(-CAUSAL_MAX_DISTANCE, -2 * _CAUSAL_CLEAR, 3))
            forced += list(g.tss + rng.integers(2 * _CAUSAL_CLEAR, CAUSAL_MAX_DISTANCE + 1, 3))
            boundaries.append(g.tss)
        elif g.kind == "none":
            forced += list(g.tss + rng.integers(-4500, 4501, 5))
        else:
            forced += list(g.tss + rng.integers(-CAUSAL_MAX_DISTANCE, CAUSAL_MAX_DISTANCE + 1, 3))
    forced_arr = np.clip(np.array(forced, dtype=np.int64), n_gap + 1, length)
    pos = np.concatenate([pos, forced_arr])
    is_forced = np.concatenate([np.zeros(n_random, bool), np.ones(forced_arr.size, bool)])
    pos, first = np.unique(pos, return_index=True)
    is_forced = is_forced[first]
    common = is_forced | (rng.random(pos.size) < 0.35)

    alleles = np.zeros((pos.size, n_hap), dtype=np.int8)
    # LD blocks: breakpoints ~ every 20 kb (recombination hotspots), plus the forced ones.
    cuts = np.cumsum(rng.exponential(20_000, int(length / 20_000 * 3) + 10))
    cuts = np.unique(np.concatenate([cuts[cuts < length], np.array(boundaries, dtype=float)]))
    block = np.searchsorted(cuts, pos, side="left")
    for b in np.unique(block[common]):
        idx = np.flatnonzero(common & (block == b))
        m = idx.size
        k = int(rng.integers(3, 9))
        w = rng.dirichlet(np.full(k, 0.7))
        founders = rng.random((k, m)) < rng.uniform(0.1, 0.9, m)[None, :]
        # A site carried by all founders or none would be fixed or absent; flip one founder instead.
        flat = founders.all(0) | ~founders.any(0)
        founders[rng.integers(0, k, int(flat.sum())), np.flatnonzero(flat)] ^= True
        for j in np.flatnonzero(is_forced[idx]):
            # Forced sites: the founder subset whose total frequency is closest to 0.3 among a few tries.
            tries = rng.random((50, k)) < 0.5
            founders[:, j] = tries[np.argmin(np.abs(tries.astype(float) @ w - 0.3))]
        f1 = rng.choice(k, n_hap, p=w)
        f2 = rng.choice(k, n_hap, p=w)
        breakpoint = rng.integers(0, m + 1, n_hap)
        breakpoint[rng.random(n_hap) >= 0.2] = m  # 20% of haplotypes recombine inside the block
        hap = np.where(np.arange(m)[None, :] < breakpoint[:, None], founders[f1], founders[f2])
        hap ^= rng.random(hap.shape) < 0.002  # recurrent mutation / genotyping noise breaks perfect LD
        alleles[idx] = hap.T
    # Rare sites: allele counts with P(k) ~ k^-1.6 up to 5% of haplotypes (many singletons).
    kmax = max(1, int(0.05 * n_hap))
    ks = np.arange(1, kmax + 1)
    p = ks ** -1.6
    rare = np.flatnonzero(~common)
    counts = rng.choice(ks, rare.size, p=p / p.sum())
    for v, c in zip(rare, counts, strict=True):
        alleles[v, rng.choice(n_hap, int(c), replace=False)] = 1
    return pos, common, alleles


@dataclass
class _Variants:
    chrom: np.ndarray  # str
    pos: np.ndarray  # int64, 1-based
    common: np.ndarray  # bool
    alleles: np.ndarray  # int8 (V, n_individuals, 2), -1 = missing
    kind: np.ndarray  # snv | multi | del | ins | sv
    ref: list[str] = field(default_factory=list)
    alts: list[list[str]] = field(default_factory=list)
    info_extra: dict[int, str] = field(default_factory=dict)
    forced_alt: dict[int, str] = field(default_factory=dict)  # causal SNVs: the motif-making ALT base
    slash_cells: list[tuple[int, int]] = field(default_factory=list)  # (variant, individual) written '/'

    def subset(self, keep: np.ndarray) -> _Variants:
        return _Variants(self.chrom[keep], self.pos[keep], self.common[keep], self.alleles[keep],
                         self.kind[keep])


def _alt_base(ref: str, rng: np.random.Generator) -> str:
    if rng.random() < 2 / 3:  # transitions are about twice as common as transversions
        return _TRANSITION[ref]
    return str(rng.choice([b for b in "ACGT" if b not in (ref, _TRANSITION[ref])]))


# -------------------------------------------------------------------------------------- the cohort

def simulate_cohort(out_dir: str | Path, seed: int = 0, overwrite: bool = False,
                    vcf_per_contig: bool = False, tissues: bool = True, **sizes: Any) -> dict[str, Path]:
    """Write a synthetic cohort into ``out_dir`` and return the written paths by key.

    Keys: fasta, fai, repeats, gtf, annotation_tsv, vcf, vcf_index, bad_vcf, bad_vcf_index,
    unphased_vcf, unphased_vcf_index, expression, truth, params; with ``tissues`` (the default) also
    tissues (``tissues.csv``), brain_expression, brain_covariates, liver_expression, liver_covariates,
    finemapped and params_tissues (:data:`TISSUE_KEYS`); with ``vcf_per_contig`` also ``vcf_sheet``
    (``vcfs.csv``, naming ``cohort.<contig>.vcf.gz`` per contig with records). ``sizes`` are the fields of
    :class:`SimulationSizes`. The same seed and sizes give byte-identical files; the tissue files draw on
    their own random streams, so ``tissues=False`` writes the other files exactly as with it, truth.json
    aside (it then has no ``tissues`` entry and does not list the tissue files). An existing non-empty
    ``out_dir`` is replaced only with ``overwrite=True``.
    """
    known = {f.name for f in fields(SimulationSizes)}
    unknown = sorted(set(sizes) - known)
    if unknown:
        raise TypeError(f"simulate_cohort: unknown size(s) {', '.join(unknown)}")
    s = SimulationSizes(**sizes)
    s.validate()
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise SeqgxError(f"--seed must be a non-negative integer, got {seed!r}")
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise SeqgxError(f"output '{out}' exists and is not a directory; choose another --out")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise SeqgxError(f"output directory '{out}' is not empty; choose an empty --out or pass "
                         f"--overwrite to replace it")

    cohort = _simulate(s, int(seed), tissues)
    with atomic_output(out, directory=True) as tmp:
        _write(cohort, s, int(seed), tmp, vcf_per_contig, final=out)
    log.info("simulated cohort in %s: %d contigs, %d genes, %d variant records, %d VCF samples",
             out, s.n_contigs, s.n_genes, cohort["variants"].pos.size, s.n_samples)
    paths = {key: out / name for key, name in _files(tissues).items()}
    if vcf_per_contig:
        paths["vcf_sheet"] = out / VCF_SHEET
    return paths


def _files(tissues: bool) -> dict[str, str]:
    """FILES, less the tissue files when they are not written."""
    return {k: v for k, v in FILES.items() if tissues or k not in TISSUE_KEYS}


def _simulate(s: SimulationSizes, seed: int, tissues: bool = True) -> dict[str, Any]:
    # Independent streams per component, so each part is reproducible from the seed alone.
    rng_genes, rng_seq, rng_var, rng_awk, rng_expr = (np.random.default_rng([seed, k]) for k in range(5))
    genes = _layout_genes(s, rng_genes)
    contigs = [f"chr{i + 1}" for i in range(s.n_contigs)]
    gaps = {c: (_N_GAP if i == 1 else 0) for i, c in enumerate(contigs)}

    lib = _RepeatLibrary.make(rng_seq)
    sequences: dict[str, np.ndarray] = {}
    repeats: dict[str, list] = {}
    for c in contigs:
        islands = [(g.tss - 500, g.tss + 500) for g in genes
                   if g.chrom == c and g.gene_type == "protein_coding"]
        sequences[c], repeats[c] = _simulate_sequence(s.contig_length, gaps[c], islands, lib, rng_seq)

    # Individuals: the VCF samples first, then people genotyped only for expression (absent from the VCF).
    n_ind = s.n_samples + s.n_expression_only
    width = max(4, len(str(n_ind)))
    names = np.array([f"SIM{i + 1:0{width}d}" for i in range(n_ind)])
    vcf_ind = np.arange(s.n_samples)
    vcf_only = np.sort(rng_expr.choice(s.n_samples, s.n_vcf_only, replace=False))
    expr_ind = np.concatenate([np.setdiff1d(vcf_ind, vcf_only), np.arange(s.n_samples, n_ind)])

    parts = []
    for c in contigs:
        on_contig = [g for g in genes if g.chrom == c]
        pos, common, alleles = _simulate_haplotypes(s.contig_length, gaps[c], on_contig, s, 2 * n_ind,
                                                    rng_var)
        parts.append((np.full(pos.size, c, dtype=object), pos, common, alleles.reshape(pos.size, n_ind, 2)))
    var = _Variants(chrom=np.concatenate([p[0] for p in parts]), pos=np.concatenate([p[1] for p in parts]),
                    common=np.concatenate([p[2] for p in parts]),
                    alleles=np.concatenate([p[3] for p in parts]),
                    kind=np.full(sum(p[1].size for p in parts), "snv", dtype=object))
    # Sites monomorphic in the VCF samples are dropped, as a cohort call set would not hold them.
    var = var.subset(var.alleles[:, vcf_ind].sum(axis=(1, 2)) > 0)

    _plant_causal(genes, var, expr_ind, vcf_ind, rng_var)
    var = _clear_around_causal(genes, var)
    _plant_motifs(genes, var, sequences, rng_var)
    awkward = _make_awkward(genes, var, sequences, vcf_ind, names, rng_awk)
    expression, expr_truth = _expression(genes, var, s, expr_ind, vcf_ind, rng_expr)
    # Expression columns in a shuffled order (real matrices rarely follow the VCF order); the tissues
    # keep it.
    order = np.random.default_rng([seed, 99]).permutation(expr_ind.size)
    tissue_data = (_tissues(genes, var, s, seed, expr_ind, order, vcf_ind, expr_truth) if tissues
                   else None)
    return {"genes": genes, "contigs": contigs, "sequences": sequences, "repeats": repeats, "variants": var,
            "names": names, "vcf_ind": vcf_ind, "vcf_only": vcf_only, "expr_ind": expr_ind,
            "expression": expression, "expr_truth": expr_truth, "awkward": awkward, "expr_order": order,
            "tissues": tissue_data}


def _plant_causal(genes: list[_Gene], var: _Variants, expr_ind: np.ndarray, vcf_ind: np.ndarray,
                  rng: np.random.Generator) -> None:
    """Pick common biallelic SNVs near each TSS as causal, with effect sizes and signs."""
    both = np.intersect1d(expr_ind, vcf_ind)
    dosage = var.alleles[:, both].sum(-1).astype(float)
    af = dosage.mean(1) / 2
    maf = np.minimum(af, 1 - af)
    singles = [g for g in genes if g.kind == "single"]
    n_unsupported = min(N_UNSUPPORTED, max(0, len(singles) - 1))  # keep at least one supported single
    for i in rng.choice(len(singles), n_unsupported, replace=False):
        singles[int(i)].oracle_supported = False
    sign = 1.0
    gap = 2 * _CAUSAL_CLEAR  # the two-effect gene's causal SNVs lie this far from the TSS, so far apart
    for g in genes:
        if g.kind == "none":
            continue
        near = (var.chrom == g.chrom) & (np.abs(var.pos - g.tss) <= CAUSAL_MAX_DISTANCE) & var.common
        if g.kind == "opposite":
            near &= np.abs(var.pos - g.tss) >= gap
        ok = np.flatnonzero(near & (maf >= 0.1))
        both_sides = (var.pos[ok] < g.tss).any() and (var.pos[ok] > g.tss).any()
        if ok.size == 0 or (g.kind == "opposite" and not both_sides):
            # Rare with skewed founder frequencies: redraw the forced sites nearest the TSS on each side
            # as common SNVs in Hardy-Weinberg equilibrium (no LD with neighbours, still a valid SNV).
            cand = np.flatnonzero(near)
            for side in (cand[var.pos[cand] < g.tss], cand[var.pos[cand] > g.tss]):
                if side.size:
                    v = side[np.argmin(np.abs(var.pos[side] - g.tss))]
                    var.alleles[v] = rng.random(var.alleles[v].shape) < rng.uniform(0.2, 0.5)
                    dosage[v] = var.alleles[v, both].sum(-1)
                    af[v] = dosage[v].mean() / 2
                    maf[v] = min(af[v], 1 - af[v])
            ok = np.flatnonzero(near & (maf >= 0.1))
        if g.kind == "opposite":
            up, down = ok[var.pos[ok] < g.tss], ok[var.pos[ok] > g.tss]
            if up.size == 0 or down.size == 0:
                raise SeqgxError(f"no common SNVs on both sides of the TSS of {g.gene_name}; raise "
                                 f"--n-samples or --variant-density")
            r = np.corrcoef(dosage[up], dosage[down])[: up.size, up.size:]
            i, j = np.unravel_index(np.argmin(np.abs(r)), r.shape)
            g.causal = [int(up[i]), int(down[j])]
            mags = rng.uniform(0.45, 0.8, 2)
            g.betas = [float(mags[0]), -float(mags[1])]
        else:
            if ok.size == 0:
                raise SeqgxError(f"no common SNV near the TSS of {g.gene_name}; raise --n-samples "
                                 f"or --variant-density")
            g.causal = [int(rng.choice(ok))]
            g.betas = [sign * float(rng.uniform(0.3, 0.8))]
            sign = -sign  # alternate signs so both directions are planted


def _clear_around_causal(genes: list[_Gene], var: _Variants) -> _Variants:
    """Drop every other record within ``_CAUSAL_CLEAR`` bp of a causal SNV, so no SNV, indel or missing
    call touches its motif; causal indices are remapped."""
    keep = np.ones(var.pos.size, dtype=bool)
    for g in genes:
        for v in g.causal:
            near = (var.chrom == var.chrom[v]) & (np.abs(var.pos - var.pos[v]) <= _CAUSAL_CLEAR)
            near[v] = False
            keep &= ~near
    new_index = np.cumsum(keep) - 1
    for g in genes:
        g.causal = [int(new_index[v]) for v in g.causal]
    return var.subset(keep)


def _plant_motifs(genes: list[_Gene], var: _Variants, sequences: dict[str, np.ndarray],
                  rng: np.random.Generator) -> None:
    """Edit the reference around each causal SNV so its alt allele creates (+1) or breaks (-1) one TATA.

    The 4-bp motif holds the SNV at a random offset and is flanked by C/G on both sides, so no other
    TATA can overlap it in either allele (any overlapping occurrence would include a flank). Creation
    goes with a positive beta on supported genes and a negative one on unsupported genes.
    """
    for g in genes:
        for v, beta in zip(g.causal, g.betas, strict=True):
            seq = sequences[g.chrom]
            k = int(rng.integers(0, len(MOTIF)))  # the SNV's offset inside the motif
            m = int(var.pos[v]) - k  # 1-based motif start
            creates = (beta > 0) == g.oracle_supported
            other = str(rng.choice([b for b in "ACGT" if b != MOTIF[k]]))
            ref_base, alt_base = (other, MOTIF[k]) if creates else (MOTIF[k], other)
            flanks = rng.choice(["C", "G"], 2)
            edit = flanks[0] + MOTIF[:k] + ref_base + MOTIF[k + 1:] + flanks[1]
            i0 = m - 2  # 0-based index of the left flank
            case = seq[i0:i0 + len(edit)] & 0x20  # keep soft-masking
            seq[i0:i0 + len(edit)] = np.frombuffer(edit.encode(), dtype=np.uint8) | case
            var.forced_alt[v] = alt_base
            g.oracle_deltas.append(1 if creates else -1)
            g.motif_starts.append(m)


def _make_awkward(genes: list[_Gene], var: _Variants, sequences: dict[str, np.ndarray], vcf_ind: np.ndarray,
                  names: np.ndarray, rng: np.random.Generator) -> dict[str, Any]:
    """Turn some sites into the records real VCFs hold and pipelines trip over; fill REF/ALT strings."""
    special = np.zeros(var.pos.size, dtype=bool)
    for g in genes:
        special[g.causal] = True
    vcf_alleles = var.alleles[:, vcf_ind]
    af = (vcf_alleles == 1).sum((1, 2)) / (2 * vcf_ind.size)

    def pick(g: _Gene, cond: np.ndarray) -> int:
        cand = np.flatnonzero(g.in_window(var.chrom, var.pos) & ~special & (var.kind == "snv") & cond)
        if cand.size == 0:
            raise SeqgxError(f"too few variants in the window of {g.gene_name} to place the awkward "
                             f"records; raise --variant-density")
        v = int(rng.choice(cand))
        special[v] = True
        return v

    multi, missing = [], []
    for g in genes:
        # One multi-allelic SNV site per window: some reference haplotypes get a second ALT allele.
        v = pick(g, (af >= 0.05) & (af <= 0.7))
        hap = var.alleles[v]
        second = (hap == 0) & (rng.random(hap.shape) < 0.12)
        if not second[vcf_ind].any():
            second[vcf_ind[0], 0] = True
            hap[vcf_ind[0], 0] = 0
        hap[second] = 2
        var.kind[v] = "multi"
        multi.append(v)
        # Two sites per window with a few missing calls.
        for _ in range(2):
            v = pick(g, np.ones(var.pos.size, bool))
            who = rng.choice(vcf_ind, int(rng.integers(1, 5)), replace=False)
            var.alleles[v, who] = -1
            missing.append(v)
    # One low-call-rate site (5% missing) and one './.' call, both in the first gene's window.
    v = pick(genes[0], np.ones(var.pos.size, bool))
    var.alleles[v, rng.choice(vcf_ind, max(2, vcf_ind.size // 20), replace=False)] = -1
    missing.append(v)
    slash_v = missing[0]
    slash_ind = int(np.flatnonzero(var.alleles[slash_v, :, 0] < 0)[0])
    var.slash_cells.append((slash_v, slash_ind))
    # A symbolic deletion spanning a few hundred bp, in the second gene's window.
    # Its span (up to 800 bp) keeps clear of every readout region, so it never covers a causal motif.
    near_tss = np.zeros(var.pos.size, dtype=bool)
    for g in genes:
        near_tss |= (var.chrom == g.chrom) & (var.pos >= g.tss - 1200) & (var.pos <= g.tss + 400)
    sv = pick(genes[1 % len(genes)], (af < 0.05) & ~near_tss)
    var.kind[sv] = "sv"
    sv_len = int(rng.integers(200, 800))
    var.info_extra[sv] = f"SVTYPE=DEL;SVLEN=-{sv_len};END={int(var.pos[sv]) + sv_len}"
    # Unphased het (for the unphased VCF only) and REF mismatch (for the bad VCF only) in other windows.
    het_any = ((vcf_alleles[:, :, 0] + vcf_alleles[:, :, 1]) == 1).any(1)
    unph_gene = genes[2 % len(genes)]
    unph_v = pick(unph_gene, het_any & (af < 0.5))
    hets = vcf_ind[(var.alleles[unph_v, vcf_ind].sum(-1) == 1) & (var.alleles[unph_v, vcf_ind] >= 0).all(-1)]
    unph_ind = int(rng.choice(hets))
    bad_gene = genes[3 % len(genes)]
    bad_v = pick(bad_gene, np.ones(var.pos.size, bool))

    # Indels: ~8% of the ordinary sites, where the next site leaves room for the deleted bases.
    nxt = np.append(var.pos[1:], 0)
    same_chrom_next = np.append(var.chrom[1:] == var.chrom[:-1], False)
    room = np.where(same_chrom_next, nxt - var.pos, 12)
    ordinary = np.flatnonzero(~special & (var.kind == "snv"))
    for v in ordinary[rng.random(ordinary.size) < 0.08]:
        max_del = min(10, int(room[v]) - 1, len(sequences[var.chrom[v]]) - int(var.pos[v]))
        var.kind[v] = "del" if max_del >= 1 and rng.random() < 0.55 else "ins"

    # REF/ALT strings from the FASTA.
    for v in range(var.pos.size):
        seq = sequences[var.chrom[v]]
        p = int(var.pos[v])
        ref = chr(seq[p - 1] & 0xDF)
        kind = var.kind[v]
        if kind == "snv":
            alts = [var.forced_alt[v] if v in var.forced_alt else _alt_base(ref, rng)]
        elif kind == "multi":
            a1 = _alt_base(ref, rng)
            alts = [a1, str(rng.choice([b for b in "ACGT" if b not in (ref, a1)]))]
        elif kind == "sv":
            alts = ["<DEL>"]
        elif kind == "del":
            max_del = min(10, int(room[v]) - 1, len(seq) - p)
            n = min(int(rng.geometric(0.45)), max_del)
            ref = bytes(seq[p - 1:p + n] & 0xDF).decode()
            alts = [ref[0]]
        else:
            alts = [ref + bytes(rng.choice(_ACGT, min(int(rng.geometric(0.4)), 12))).decode()]
        var.ref.append(ref)
        var.alts.append(alts)

    def rec(v: int) -> dict[str, Any]:
        return {"chrom": str(var.chrom[v]), "pos": int(var.pos[v]), "ref": var.ref[v], "alts": var.alts[v]}

    def gene_of(v: int) -> str:
        return next(g.gene_id for g in genes if g.in_window(var.chrom[v:v + 1], var.pos[v:v + 1])[0])

    fasta_ref = var.ref[bad_v]
    wrong = str(rng.choice([b for b in "ACGT" if b not in (fasta_ref, var.alts[bad_v][0])]))
    return {
        "multiallelic": [{**rec(v), "gene_id": gene_of(v)} for v in multi],
        "missing": [{**rec(v), "samples": [str(x) for x in names[var.alleles[v, :, 0] < 0]],
                     "form": "./." if v == slash_v else ".|."} for v in missing],
        "missing_unphased_form": {"chrom": str(var.chrom[slash_v]), "pos": int(var.pos[slash_v]),
                                  "sample": str(names[slash_ind]), "genotype": "./."},
        "indels": [rec(v) for v in np.flatnonzero(np.isin(var.kind, ["del", "ins"]))],
        "symbolic": [{**rec(sv), "end": int(var.pos[sv]) + sv_len, "gene_id": gene_of(sv)}],
        "unphased": {"file": FILES["unphased_vcf"], **rec(unph_v), "sample": str(names[unph_ind]),
                     "genotype": "0/1" if var.alleles[unph_v, unph_ind, 0] == 0 else "1/0",
                     "gene_id": unph_gene.gene_id, "_v": unph_v, "_ind": unph_ind},
        "ref_mismatch": {"file": FILES["bad_vcf"], "chrom": str(var.chrom[bad_v]), "pos": int(var.pos[bad_v]),
                         "vcf_ref": wrong, "fasta_ref": fasta_ref, "alts": var.alts[bad_v],
                         "gene_id": bad_gene.gene_id, "_v": bad_v},
    }


def _expression(genes: list[_Gene], var: _Variants, s: SimulationSizes, expr_ind: np.ndarray,
                vcf_ind: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, list[dict]]:
    """Expression (genes x expression individuals) and per-gene truth."""
    values = np.empty((len(genes), expr_ind.size))
    in_vcf = np.isin(expr_ind, vcf_ind)
    truth = []
    for gi, g in enumerate(genes):
        baseline = float(rng.uniform(2.0, 8.0))
        genetic = _genetic(g, var, expr_ind)
        y = np.round(baseline + genetic + rng.normal(0.0, s.noise_sd, expr_ind.size), 6)
        values[gi] = y
        gb, yb = genetic[in_vcf], y[in_vcf]
        perfect = float(np.corrcoef(gb, yb)[0, 1]) if gb.std() > 0 else None
        truth.append({"baseline": baseline, "genetic_sd": float(gb.std()),
                      "heritability": float(gb.var() / yb.var()), "perfect_r": perfect})
    return values, truth


def _genetic(g: _Gene, var: _Variants, ind: np.ndarray) -> np.ndarray:
    """The genetic part of ``g``'s expression in individuals ``ind``: sum(beta * alt dosage)."""
    genetic = np.zeros(ind.size)
    for v, beta in zip(g.causal, g.betas, strict=True):
        genetic += beta * (var.alleles[v, ind] == 1).sum(-1)
    return genetic


@dataclass
class _Tissue:
    name: str
    ind: np.ndarray  # individuals, in the column order of the files
    covariates: dict[str, np.ndarray]  # TISSUE_COVARIATES, as written (rounded)
    values: np.ndarray  # genes x ind, rounded to 6 decimals as written
    effects: list[dict[str, float]]  # per gene: batch, rin (the planted coefficients), sd
    silent: str | None  # gene id without a genetic part in this tissue


def _tissues(genes: list[_Gene], var: _Variants, s: SimulationSizes, seed: int, expr_ind: np.ndarray,
             order: np.ndarray, vcf_ind: np.ndarray, expr_truth: list[dict]) -> list[_Tissue]:
    """The cohort as brain and liver: today's genetic part, fresh noise, a batch effect; liver silences
    one single-SNV gene. Only new generators are drawn from, so every other file stays as it was."""
    rng = np.random.default_rng([seed, _TISSUE_STREAM, 0])
    singles = [g for g in genes if g.kind == "single"]
    silent = singles[int(rng.integers(len(singles)))].gene_id
    columns = expr_ind[order]  # expression.tsv's column order
    n_liver = round(LIVER_FRACTION * columns.size)
    liver = columns[np.sort(rng.choice(columns.size, n_liver, replace=False))]
    out = []
    for k, (name, ind) in enumerate((("brain", columns), ("liver", liver)), 1):
        trng = np.random.default_rng([seed, _TISSUE_STREAM, k])
        n = ind.size
        batch = trng.permutation(np.arange(n) % 2)  # two sequencing batches of equal size
        rin = np.round(np.clip(trng.normal(RIN_CENTRE, 1.0, n), 3.0, 10.0), 1)  # RIN as reported, 0.1 steps
        # Genotype PCs are unit-norm eigenvectors (entries ~ 1/sqrt(n)); these are drawn independently of
        # the genotypes, so they are nuisance covariates without an effect.
        pcs = np.round(trng.normal(0.0, 1.0 / math.sqrt(n), (3, n)), 6)
        covariates = {"batch": batch, "rin": rin, "PC1": pcs[0], "PC2": pcs[1], "PC3": pcs[2]}
        in_vcf = np.isin(ind, vcf_ind)
        values = np.empty((len(genes), n))
        effects = []
        for gi, g in enumerate(genes):
            genetic = _genetic(g, var, ind)
            noise = trng.normal(0.0, s.noise_sd, n)
            sign, angle = float(trng.choice([-1.0, 1.0])), float(trng.uniform(0.0, 2 * math.pi))
            a, b = _batch_coefficients(genetic, batch, rin, in_vcf, s.noise_sd, sign, angle)
            effect = a * batch + b * (rin - RIN_CENTRE)
            if name == "liver" and g.gene_id == silent:
                genetic = np.zeros(n)
            values[gi] = np.round(expr_truth[gi]["baseline"] + genetic + noise + effect, 6)
            effects.append({"batch": a, "rin": b, "sd": round(float(effect.std()), 6)})
        out.append(_Tissue(name, ind, covariates, values, effects, silent if name == "liver" else None))
    return out


def _batch_coefficients(genetic: np.ndarray, batch: np.ndarray, rin: np.ndarray, in_vcf: np.ndarray,
                        noise_sd: float, sign: float, angle: float) -> tuple[float, float]:
    """Coefficients (a, b) of batch and rin: the effect's SD is BATCH_FOLD x that of genetic part + noise.

    A batch effect 10x the signal would, if correlated with the genetic part by chance (|r| ~ 1/sqrt(n)),
    make the gene look significant without covariates. So its direction in the (batch, rin) plane is the
    one uncorrelated with the genetic part over the genotyped samples (those an eQTL test uses); genes
    without a genetic part take the random ``angle``.
    """
    zb = (batch - batch.mean()) / batch.std()
    zr = (rin - rin.mean()) / rin.std()
    gc = genetic[in_vcf] - genetic[in_vcf].mean()
    cb, cr = float(zb[in_vcf] @ gc), float(zr[in_vcf] @ gc)
    norm = math.hypot(cb, cr)
    u, v = (cr / norm, -cb / norm) if norm > 0 else (math.cos(angle), math.sin(angle))
    scale = sign * BATCH_FOLD * math.sqrt(float(genetic.var()) + noise_sd ** 2)
    # Rounded as truth.json records them; the written values use these rounded coefficients.
    return round(scale * u / float(batch.std()), 6), round(scale * v / float(rin.std()), 6)


# ------------------------------------------------------------------------------------------ writers

def _write(c: dict[str, Any], s: SimulationSizes, seed: int, d: Path, vcf_per_contig: bool = False,
           final: Path | None = None) -> None:
    """Write the cohort's files into ``d``; ``final`` is the folder ``d`` becomes (for params.yaml)."""
    genes: list[_Gene] = c["genes"]
    # FASTA (60 bp lines) and its index.
    with open(d / FILES["fasta"], "wb") as fh:
        for name in c["contigs"]:
            seq = c["sequences"][name].tobytes()
            fh.write(f">{name}\n".encode())
            fh.write(b"\n".join(seq[i:i + 60] for i in range(0, len(seq), 60)) + b"\n")
    pysam.faidx(str(d / FILES["fasta"]))
    with open(d / FILES["repeats"], "w") as fh:
        for name in c["contigs"]:
            for a, b, rname, strand in c["repeats"][name]:
                fh.write(f"{name}\t{a}\t{b}\t{rname}\t0\t{strand}\n")
    _write_gtf(genes, d / FILES["gtf"])
    with open(d / FILES["annotation_tsv"], "w") as fh:
        fh.write("gene_id\tgene_name\tchrom\ttss\tstrand\n")
        for g in genes:
            fh.write(f"{g.gene_id}\t{g.gene_name}\t{g.chrom}\t{g.tss}\t{g.strand}\n")
    _write_vcfs(c, s, seed, d, vcf_per_contig)
    names, expr_ind, order = c["names"], c["expr_ind"], c["expr_order"]
    with open(d / FILES["expression"], "w") as fh:
        fh.write("gene_id\t" + "\t".join(names[expr_ind[order]]) + "\n")
        for g, row in zip(genes, c["expression"], strict=True):
            fh.write(g.gene_id + "\t" + "\t".join(f"{x:.6f}" for x in row[order]) + "\n")
    if c["tissues"] is not None:
        _write_tissues(c, d)
    (d / FILES["truth"]).write_text(json.dumps(_truth(c, s, seed), indent=1) + "\n")
    # Paths as seen from the folder simulate runs in (relative when the cohort lies below it): seqgx run
    # and nextflow run -params-file both resolve relative paths against the launch folder.
    folder = (final or d).resolve()
    try:
        folder = folder.relative_to(Path.cwd().resolve())
        where = "relative to the folder seqgx simulate ran in: run seqgx or nextflow from there"
    except ValueError:
        where = "absolute"
    inputs = [f"fasta: {folder / FILES['fasta']}", f"vcf: {folder / FILES['vcf']}",
              f"annotation: {folder / FILES['gtf']}"]
    model = ["# The oracle is a closed-form test model (no weights needed); real runs use Enformer.",
             "model: oracle"]
    if s.window_length != SimulationSizes.window_length:
        model.append(f"window_length: {s.window_length}")
    lines = [f"# seqgx run parameters for this simulated cohort (paths {where})", *inputs,
             f"expression: {folder / FILES['expression']}", "outdir: results", *model]
    (d / FILES["params"]).write_text("\n".join(lines) + "\n")
    if c["tissues"] is not None:
        # Its own outdir, so both parameter files can run from the same folder.
        lines = [f"# seqgx run parameters for this simulated cohort as two tissues (paths {where})",
                 *inputs, f"tissues: {folder / FILES['tissues']}",
                 f"finemapped: {folder / FILES['finemapped']}", "outdir: results_tissues", *model]
        (d / FILES["params_tissues"]).write_text("\n".join(lines) + "\n")


def _write_tissues(c: dict[str, Any], d: Path) -> None:
    """The tissue BEDs and covariates, tissues.csv and finemapped.tsv."""
    genes: list[_Gene] = c["genes"]
    names = c["names"]
    (d / "tissues").mkdir(exist_ok=True)
    rows = sorted(range(len(genes)), key=lambda i: (int(genes[i].chrom[3:]), genes[i].tss))
    sheet = ["tissue,expression,covariates,readouts"]
    for t in c["tissues"]:
        samples = "\t".join(names[t.ind])
        bed = [f"#chr\tstart\tend\tphenotype_id\t{samples}"]
        for i in rows:
            g = genes[i]
            bed.append(f"{g.chrom}\t{g.tss - 1}\t{g.tss}\t{g.gene_id}\t"
                       + "\t".join(f"{x:.6f}" for x in t.values[i]))
        expr_name, cov_name = FILES[f"{t.name}_expression"], FILES[f"{t.name}_covariates"]
        # mtime=0 and no file name in the gzip header: the same seed gives the same bytes.
        with open(d / expr_name, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw,
                                                            mtime=0) as gz:
            gz.write(("\n".join(bed) + "\n").encode())
        cov = [f"ID\t{samples}"]
        for key in TISSUE_COVARIATES:
            fmt = {"batch": "{:d}", "rin": "{:.1f}"}.get(key, "{:.6f}")
            cov.append(key + "\t" + "\t".join(fmt.format(x) for x in t.covariates[key].tolist()))
        (d / cov_name).write_text("\n".join(cov) + "\n")
        sheet.append(f"{t.name},{expr_name},{cov_name},{TISSUE_READOUTS[t.name]}")
    (d / FILES["tissues"]).write_text("\n".join(sheet) + "\n")
    var: _Variants = c["variants"]
    fm = ["gene_id\tchrom\tpos\tref\talt\tpip\tcredible_set"]
    for g in genes:
        for k, v in enumerate(g.causal, 1):  # the two-effect gene: two credible sets, _1 and _2
            fm.append(f"{g.gene_id}\t{var.chrom[v]}\t{var.pos[v]}\t{var.ref[v]}\t{var.alts[v][0]}\t"
                      f"{FINEMAP_PIP}\t{g.gene_id}_{k}")
    (d / FILES["finemapped"]).write_text("\n".join(fm) + "\n")


def _gtf_attrs(pairs: list[tuple[str, Any]]) -> str:
    return " ".join(f'{k} {v};' if isinstance(v, int) else f'{k} "{v}";' for k, v in pairs)


def _write_gtf(genes: list[_Gene], path: Path) -> None:
    with open(path, "w") as fh:
        fh.write("##description: seqgx simulated annotation, Gencode-like\n##provider: seqgx\n"
                 "##format: gtf\n##date: 2024-01-01\n")
        for g in sorted(genes, key=lambda g: (int(g.chrom[3:]), g.start)):
            base = [("gene_id", g.gene_id)]
            gene_attrs = base + [("gene_type", g.gene_type), ("gene_name", g.gene_name), ("level", 2)]
            tx = base + [("transcript_id", g.transcript_id), ("gene_type", g.gene_type),
                         ("gene_name", g.gene_name), ("transcript_type", g.gene_type),
                         ("transcript_name", f"{g.gene_name}-201")]
            cols = f"{g.chrom}\tseqgx\t{{}}\t{{}}\t{{}}\t.\t{g.strand}\t.\t"
            fh.write(cols.format("gene", g.start, g.end) + _gtf_attrs(gene_attrs) + "\n")
            fh.write(cols.format("transcript", g.start, g.end) + _gtf_attrs(tx + [("level", 2)]) + "\n")
            exons = g.exons if g.strand == "+" else g.exons[::-1]  # exon_number follows transcription
            for n, (a, b) in enumerate(exons, 1):
                ex = tx + [("exon_number", n), ("exon_id", f"ENSESIM{g.index:08d}{n:03d}.1"), ("level", 2)]
                fh.write(cols.format("exon", a, b) + _gtf_attrs(ex) + "\n")


def _write_vcfs(c: dict[str, Any], s: SimulationSizes, seed: int, d: Path, per_contig: bool = False) -> None:
    var: _Variants = c["variants"]
    vcf_ind = c["vcf_ind"]
    awk = c["awkward"]
    header = ["##fileformat=VCFv4.2", '##FILTER=<ID=PASS,Description="All filters passed">',
              f"##source=seqgx simulate (seed {seed})", f"##reference={FILES['fasta']}"]
    header += [f"##contig=<ID={name},length={s.contig_length}>" for name in c["contigs"]]
    header += ['##INFO=<ID=AC,Number=A,Type=Integer,Description="Alternate allele count in calls">',
               '##INFO=<ID=AN,Number=1,Type=Integer,Description="Number of called alleles">',
               '##INFO=<ID=AF,Number=A,Type=Float,Description="Alternate allele frequency">',
               '##INFO=<ID=SVTYPE,Number=1,Type=String,Description="Type of structural variant">',
               '##INFO=<ID=SVLEN,Number=1,Type=Integer,Description="Length difference of the variant">',
               '##INFO=<ID=END,Number=1,Type=Integer,Description="End position of the variant">',
               '##ALT=<ID=DEL,Description="Deletion">',
               '##FORMAT=<ID=GT,Number=1,Type=String,Description="Phased genotype">',
               "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t" + "\t".join(c["names"][vcf_ind])]
    head = ("\n".join(header) + "\n").encode()

    a = var.alleles[:, vcf_ind]  # (V, S, 2)
    chars = np.where(a < 0, ord("."), a + ord("0")).astype(np.uint8)
    buf = np.empty(a.shape[:2] + (4,), dtype=np.uint8)
    buf[..., 0], buf[..., 1], buf[..., 2], buf[..., 3] = chars[..., 0], ord("|"), chars[..., 1], ord("\t")
    buf[:, -1, 3] = ord("\n")
    col = {int(i): k for k, i in enumerate(vcf_ind)}
    for v, ind in var.slash_cells:
        buf[v, col[ind], 1] = ord("/")

    def line(v: int, ref: str | None = None) -> bytes:
        n_alt = len(var.alts[v])
        called = a[v][a[v] >= 0]
        ac = [int((called == k).sum()) for k in range(1, n_alt + 1)]
        an = int(called.size)
        info = (f"AC={','.join(map(str, ac))};AN={an};AF={','.join(f'{x / an:.6g}' for x in ac)}"
                + (f";{var.info_extra[v]}" if v in var.info_extra else ""))
        fixed = (f"{var.chrom[v]}\t{var.pos[v]}\t.\t{ref or var.ref[v]}\t{','.join(var.alts[v])}\t.\tPASS\t"
                 f"{info}\tGT\t")
        return fixed.encode() + buf[v].tobytes()

    lines = [line(v) for v in range(var.pos.size)]
    bad = list(lines)
    bad[awk["ref_mismatch"]["_v"]] = line(awk["ref_mismatch"]["_v"], ref=awk["ref_mismatch"]["vcf_ref"])
    uv, ui = awk["unphased"]["_v"], col[awk["unphased"]["_ind"]]
    buf[uv, ui, 1] = ord("/")
    unphased = list(lines)
    unphased[uv] = line(uv)
    buf[uv, ui, 1] = ord("|")
    outputs = [(FILES["vcf"], lines), (FILES["bad_vcf"], bad), (FILES["unphased_vcf"], unphased)]
    if per_contig:  # the main VCF split by contig (same header), named in a samplesheet
        contigs = list(dict.fromkeys(var.chrom.tolist()))  # contigs with records, in file order
        for k in contigs:
            outputs.append((CONTIG_VCF.format(contig=k), [lines[v] for v in np.flatnonzero(var.chrom == k)]))
        (d / VCF_SHEET).write_text("contig,vcf\n" + "".join(f"{k},{CONTIG_VCF.format(contig=k)}\n"
                                                           for k in contigs))
    for name, body in outputs:
        plain = d / name.removesuffix(".gz")
        plain.write_bytes(head + b"".join(body))
        pysam.tabix_index(str(plain), preset="vcf", force=True)  # bgzips to name, writes the .tbi


def _truth(c: dict[str, Any], s: SimulationSizes, seed: int) -> dict[str, Any]:
    var: _Variants = c["variants"]
    names = c["names"]
    genes_out = []
    both = np.intersect1d(c["expr_ind"], c["vcf_ind"])
    for g, et in zip(c["genes"], c["expr_truth"], strict=True):
        causal = []
        for v, beta, delta, m in zip(g.causal, g.betas, g.oracle_deltas, g.motif_starts, strict=True):
            chrom, pos, ref, alt = str(var.chrom[v]), int(var.pos[v]), var.ref[v], var.alts[v][0]
            dos = (var.alleles[v, c["vcf_ind"]] == 1).sum(-1)
            causal.append({"chrom": chrom, "pos": pos, "ref": ref, "alt": alt,
                           "variant_id": f"{chrom}:{pos}:{ref}:{alt}", "beta": beta,
                           "sign": 1 if beta > 0 else -1, "distance_to_tss": pos - g.tss,
                           "alt_allele_frequency": float(dos.mean() / 2),
                           "oracle_delta": delta, "oracle_supported": (beta > 0) == (delta > 0),
                           "motif": MOTIF, "motif_start": m})
        # Sign of corr(oracle TATA prediction from the causal SNVs, genetic part of expression).
        expected = None
        if g.causal:
            d = (var.alleles[g.causal][:, both] == 1).sum(-1).astype(float)  # (causal, samples)
            pred, genetic = np.array(g.oracle_deltas) @ d, np.array(g.betas) @ d
            if pred.std() > 0 and genetic.std() > 0:
                expected = int(np.sign(np.corrcoef(pred, genetic)[0, 1]))
        n_in = int(g.in_window(var.chrom, var.pos).sum())
        genes_out.append({
            "gene_id": g.gene_id, "gene_name": g.gene_name, "chrom": g.chrom, "tss": g.tss,
            "strand": g.strand,
            "gene_type": g.gene_type, "start": g.start, "end": g.end, "window_start": g.window_start,
            "window_length": g.window_length,
            "window_past_contig_end": g.window_start + g.window_length > s.contig_length,
            "effect": {"single": "one causal SNV", "opposite": "two causal SNVs of opposite sign",
                       "none": "no genetic effect"}[g.kind],
            "kind": g.kind, "causal": causal, "noise_sd": s.noise_sd, **et,
            "oracle_supported": g.oracle_supported if g.causal else None,
            "expected_sign_oracle_tata": expected,
            "n_variant_records_in_window": n_in,
        })
    awk = {k: ({kk: vv for kk, vv in v.items() if not kk.startswith("_")} if isinstance(v, dict) else v)
           for k, v in c["awkward"].items()}
    vcf_names = [str(x) for x in names[c["vcf_ind"]]]
    expr_names = [str(x) for x in names[c["expr_ind"]]]
    out = {
        "seed": seed,
        "sizes": asdict(s),
        "files": _files(c["tissues"] is not None),
        "expression_model": "expression = baseline + sum(beta * alt dosage) + Normal(0, noise_sd); "
                            "perfect_r = corr(genetic part, expression) over samples in both VCF and "
                            "expression (null where there is no genetic part)",
        "noise_sd": s.noise_sd,
        "contigs": {name: s.contig_length for name in c["contigs"]},
        "n_gap": {"chrom": "chr2", "start": 0, "end": _N_GAP} if s.n_contigs > 1 else None,
        "samples": {
            "n_vcf": len(vcf_names), "n_expression": len(expr_names),
            "n_both": len(set(vcf_names) & set(expr_names)),
            "vcf_only": [str(x) for x in names[c["vcf_only"]]],
            "expression_only": [str(x) for x in names[s.n_samples:]],
        },
        "genes": genes_out,
        "awkward": awk,
        "n_variant_records": int(var.pos.size),
        "repeats": {name: len(c["repeats"][name]) for name in c["contigs"]},
    }
    if c["tissues"] is not None:
        out["tissues"] = _tissues_truth(c, s)
    return out


def _tissues_truth(c: dict[str, Any], s: SimulationSizes) -> dict[str, Any]:
    names, genes = c["names"], c["genes"]
    out: dict[str, Any] = {
        "model": f"expression = baseline + genetic part (as in expression.tsv; 0 for the tissue's silent "
                 f"gene) + batch_effects.batch * batch + batch_effects.rin * (rin - {RIN_CENTRE}) + "
                 f"Normal(0, noise_sd), rounded to 6 decimals; the batch effect's SD is {BATCH_FOLD:g} x "
                 f"sqrt(var(planted genetic part, also for a silent gene) + noise_sd^2) and it is "
                 f"uncorrelated with the planted genetic part over the samples in the VCF; PC1..PC3 have "
                 f"no effect",
        "sheet": FILES["tissues"], "finemapped": FILES["finemapped"], "params": FILES["params_tissues"],
        "silent_gene": next(t.silent for t in c["tissues"] if t.silent),
    }
    for t in c["tissues"]:
        dropped = np.setdiff1d(c["expr_ind"], t.ind)
        out[t.name] = {
            "expression": FILES[f"{t.name}_expression"], "covariates_file": FILES[f"{t.name}_covariates"],
            "readouts": TISSUE_READOUTS[t.name], "n_samples": int(t.ind.size),
            "n_in_vcf": int(np.isin(t.ind, c["vcf_ind"]).sum()),
            "expression_samples_left_out": [str(x) for x in names[dropped]],
            "covariates": list(TISSUE_COVARIATES), "effect_covariates": ["batch", "rin"],
            "noise_sd": s.noise_sd, "silent_gene": t.silent,
            "batch_effects": {g.gene_id: e for g, e in zip(genes, t.effects, strict=True)},
        }
    return out
