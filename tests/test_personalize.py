"""`seqgx personalize`: haplotypes checked against a deliberately simple second implementation.

The reference implementation here reads the VCF with pysam's ordinary per-sample API and the FASTA with
pysam.FastaFile, and builds each sample-haplotype by editing a copy of the reference string.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pysam
import pysam.bcftools
import pytest
from cli_helpers import one_line_error

from seqgx.cli import main
from seqgx.errors import SeqgxError
from seqgx.genome.personalize import GeneHaplotypes, build_gene, deduplicate
from seqgx.genome.reference import decode, encode, one_hot
from seqgx.genome.variants import Policy, VcfReader, WindowVariants, _parse_gt_slow, parse_gt

L = 2048
VCF_SAMPLES = [f"s{i}" for i in range(6)]
CHOSEN = ["s3", "s0", "s5", "s1", "s4"]  # samples.tsv order differs from the VCF's
LEN = {"chr1": 12000, "chr2": 8000}
# gene_id, name, chrom, start, end, strand: TSS is start on '+', end on '-'.
GENES = [("G1.1", "GENE1", "chr1", 3000, 3500, "+"), ("G2.3", "GENE2", "chr1", 8000, 9000, "-"),
         ("G3.1", "GENE3", "chr2", 500, 900, "+"), ("G4.2", "GENE4", "chr2", 7000, 7900, "-")]
TSS = {g[0]: g[3] if g[5] == "+" else g[4] for g in GENES}


# --------------------------------------------------------------------------------- fixtures
def write_fasta(d: Path, lengths: dict[str, int], seed: int = 1) -> tuple[Path, dict[str, str]]:
    rng = np.random.default_rng(seed)
    seqs = {c: "".join(rng.choice(list("ACGT"), n)) for c, n in lengths.items()}
    if "chr1" in seqs and lengths["chr1"] > 2600:  # soft-masked stretch: REF checks must ignore case
        s = seqs["chr1"]
        seqs["chr1"] = s[:2000] + s[2000:2600].lower() + s[2600:]
    path = d / "ref.fa"
    with open(path, "w") as fh:
        for c, s in seqs.items():
            fh.write(f">{c}\n")
            for i in range(0, len(s), 60):
                fh.write(s[i:i + 60] + "\n")
    pysam.faidx(str(path))
    return path, {c: s.upper() for c, s in seqs.items()}


def write_vcf(path: Path, samples: list[str], records: list[tuple], contigs: dict[str, int]) -> Path:
    """records: (chrom, pos, ref, alt, FORMAT, [sample fields]); written as text, bgzipped, indexed."""
    header = ["##fileformat=VCFv4.2"] + [f"##contig=<ID={c},length={n}>" for c, n in contigs.items()]
    header += ['##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
               '##FORMAT=<ID=DP,Number=1,Type=Integer,Description="Depth">',
               '##ALT=<ID=DEL,Description="Deletion">',
               '##INFO=<ID=END,Number=1,Type=Integer,Description="End of the variant">',
               "#" + "\t".join(["CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO", "FORMAT",
                                *samples])]
    order = {c: i for i, c in enumerate(contigs)}
    lines = [f"{c}\t{p}\t.\t{r}\t{a}\t.\tPASS\t.\t{f}\t" + "\t".join(gts)
             for c, p, r, a, f, gts in sorted(records, key=lambda x: (order[x[0]], x[1]))]
    path.write_text("\n".join(header + lines) + "\n")
    return Path(pysam.tabix_index(str(path), preset="vcf", force=True))


def make_records(seqs: dict[str, str], rng: np.random.Generator, *, n_random: int = 25,
                 unphased: bool = False, mismatch: bool = False) -> list[tuple]:
    """Random phased SNVs in every gene window (haplotypes drawn from 3 founders) plus awkward records."""
    recs = []
    special = set(range(2490, 3610))  # awkward records below live here, away from the random ones
    n = len(VCF_SAMPLES)
    for gid, _, chrom, *_ in GENES:
        ws = TSS[gid] - 1 - L // 2
        lo, hi = max(ws + 1, 1), min(ws + L, LEN[chrom])
        cand = [p for p in range(lo, hi + 1) if p not in special]
        pos = np.sort(rng.choice(cand, n_random, replace=False))
        founders = rng.random((3, n_random)) < 0.4
        pick = rng.integers(0, 3, (n, 2))
        for j, p in enumerate(pos.tolist()):
            ref = seqs[chrom][p - 1]
            alt = rng.choice([b for b in "ACGT" if b != ref])
            gts = [f"{int(founders[pick[s, 0], j])}|{int(founders[pick[s, 1], j])}" for s in range(n)]
            recs.append((chrom, p, ref, alt, "GT", gts))
    s1 = seqs["chr1"]

    def b(p: int) -> str:
        return s1[p - 1]

    def other(p: int, k: int = 1) -> str:
        return [x for x in "ACGT" if x != b(p)][k]

    recs += [
        # multi-allelic SNV site: each alt its own variant
        ("chr1", 2500, b(2500), f"{other(2500, 0)},{other(2500, 1)}", "GT",
         ["1|2", "2|2", "0|1", "2|0", "0|0", "1|1"]),
        # mixed site: the SNV alt is kept, the insertion alt skipped
        ("chr1", 2600, b(2600), f"{other(2600)},{b(2600)}T", "GT",
         ["1|2", "0|1", "2|2", "1|0", "0|0", "0|1"]),
        ("chr1", 2700, b(2700) + b(2701), b(2700), "GT", ["0|1"] * n),  # deletion
        ("chr1", 2800, b(2800), "<DEL>", "GT", ["0|1"] * n),  # symbolic
        # padded SNV (REF/ALT share a suffix) plus a deletion alt
        ("chr1", 2900, b(2900) + b(2901), f"{other(2900)}{b(2901)},{b(2900)}", "GT",
         ["1|0", "0|1", "1|1", "2|1", "0|0", "1|2"]),
        ("chr1", 3000, b(3000), other(3000), "GT", ["0|1", "1|1", "0|0", "1|0", "0|1", "0|0"]),  # at TSS
        ("chr1", 3100, b(3100), other(3100), "GT", ["./.", "0|1", "1|1", ".|1", "1|0", "0|0"]),  # missing
        ("chr1", 3200, b(3200), other(3200), "GT", ["0|1", "1", "0|0", "1|1", "0|0", "0|1"]),  # haploid
        # allele index 10 (two digits: the GT parser's slow path); alts 4-10 are insertions
        ("chr1", 3300, b(3300), ",".join([x for x in "ACGT" if x != b(3300)]
                                         + [b(3300) + x for x in ("A", "C", "G", "T", "AA", "CC", "GG")]),
         "GT:DP", ["10|1:5", "1|10:7", "3|2:3", "0|0:2", "2|10:9", "4|1:1"]),
        ("chr1", 3400, b(3400), other(3400), "GT:DP", ["0|1:4", "1|1:2", "0|0:8", "1|0:1", "0|1:3", "0|0:5"]),
        # shared prefix: SNV at POS + 1
        ("chr1", 3500, b(3500) + b(3501), b(3500) + other(3501), "GT", ["0|1", "1|0", "0|0", "1|1", "0|0",
                                                                          "0|1"]),
        # unphased homozygous calls are unambiguous
        ("chr1", 3551, b(3551), other(3551), "GT", ["0/0", "1/1", "0|1", "0/0", "1|1", "0/0"]),
    ]
    if unphased:
        recs.append(("chr1", 3590, b(3590), other(3590), "GT", ["0|0", "0/1", "0|0", "1/0", "0|0", "0|0"]))
    if mismatch:
        recs.append(("chr1", 3590, other(3590, 2), b(3590), "GT", ["0|1"] * n))
    return recs


def write_gtf(path: Path, genes=GENES) -> Path:
    lines = []
    for gid, name, chrom, start, end, strand in genes:
        attrs = f'gene_id "{gid}"; gene_name "{name}"; gene_type "protein_coding";'
        lines.append(f"{chrom}\tsim\tgene\t{start}\t{end}\t.\t{strand}\t.\t{attrs}")
        lines.append(f"{chrom}\tsim\texon\t{start}\t{end}\t.\t{strand}\t.\t{attrs}")
    path.write_text("\n".join(lines) + "\n")
    return path


def write_samples(path: Path, chosen: list[str]) -> Path:
    pd.DataFrame({"expression_sample": [f"e{s}" for s in chosen], "vcf_sample": chosen}).to_csv(
        path, sep="\t", index=False)
    return path


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> dict:
    d = tmp_path_factory.mktemp("personalize")
    fasta, seqs = write_fasta(d, LEN)
    rng = np.random.default_rng(7)
    records = make_records(seqs, rng)
    vcf = write_vcf(d / "cohort.vcf", VCF_SAMPLES, records, LEN)
    gtf = write_gtf(d / "genes.gtf")
    samples = write_samples(d / "samples.tsv", CHOSEN)
    assert main(["genes", "--annotation", str(gtf), "--window-length", str(L), "--genes-per-batch", "1",
                 "--out", str(d / "genes")]) == 0
    batches = sorted((d / "genes" / "batches").glob("*.tsv"))
    for b in batches:
        assert main(["personalize", "--batch", str(b), "--fasta", str(fasta), "--vcf", str(vcf),
                     "--samples", str(samples), "--out", str(d / "hap")]) == 0
    return {"dir": d, "fasta": fasta, "seqs": seqs, "vcf": vcf, "samples": samples, "batches": batches,
            "records": records, "gtf": gtf,
            "genes": {g[0]: GeneHaplotypes.load(d / "hap" / f"{g[0]}.haplotypes.npz") for g in GENES}}


# ------------------------------------------------------------------ the simple second implementation
def simple_window(fasta: Path, chrom: str, ws: int, length: int) -> str:
    fa = pysam.FastaFile(str(fasta))
    n = fa.get_reference_length(chrom)
    lo, hi = max(ws, 0), min(ws + length, n)
    return "N" * (lo - ws) + fa.fetch(chrom, lo, hi).upper() + "N" * (ws + length - hi)


def simple_snvs(vcf: Path, chrom: str, ws: int, length: int, samples: list[str]) -> list[tuple]:
    """(pos, ref, alt, {(sample, hap): carries}) read with pysam's normal API; missing = reference,
    haploid = both haplotypes."""
    out = []
    with pysam.VariantFile(str(vcf)) as vf:
        for rec in vf.fetch(chrom, max(ws, 0), ws + length):
            for k, alt in enumerate(rec.alts or (), 1):
                if alt.startswith("<") or len(alt) != len(rec.ref):
                    continue
                diff = [i for i in range(len(alt)) if alt[i].upper() != rec.ref[i].upper()]
                if len(diff) != 1:
                    continue
                i = diff[0]
                pos = rec.pos + i
                if not ws < pos <= ws + length:
                    continue
                carry = {}
                for s in samples:
                    gt = rec.samples[s]["GT"]
                    if len(gt) == 1:
                        gt = (gt[0], gt[0])
                    for h in (0, 1):
                        carry[(s, h)] = gt[h] == k
                out.append((pos, rec.ref[i].upper(), alt[i].upper(), carry))
    return sorted(out, key=lambda x: x[0])


def simple_sequences(fasta: Path, vcf: Path, chrom: str, ws: int, length: int, samples: list[str]) -> dict:
    base = simple_window(fasta, chrom, ws, length)
    seqs = {(s, h): list(base) for s in samples for h in (0, 1)}
    for pos, _, alt, carry in simple_snvs(vcf, chrom, ws, length, samples):
        for key, c in carry.items():
            if c:
                seqs[key][pos - 1 - ws] = alt
    return {k: "".join(v) for k, v in seqs.items()}


# ------------------------------------------------------------------------------------------ tests
def test_sequences_equal_simple_implementation(data: dict) -> None:
    for gid, gene in data["genes"].items():
        expected = simple_sequences(data["fasta"], data["vcf"], gene.chrom, gene.window_start, L, CHOSEN)
        assert list(gene.samples) == CHOSEN
        assert list(gene.expression_samples) == [f"e{s}" for s in CHOSEN]
        tokens = gene.distinct_tokens(np.arange(gene.n_distinct))
        for si, s in enumerate(CHOSEN):
            for h in (0, 1):
                assert decode(tokens[gene.hap_index[si, h]]) == expected[(s, h)], (gid, s, h)
                assert decode(gene.sample_tokens(si, h)) == expected[(s, h)]
    assert {g.strand for g in data["genes"].values()} == {"+", "-"}


def test_matrices_and_table_agree_with_pysam(data: dict) -> None:
    for gid, gene in data["genes"].items():
        snvs = simple_snvs(data["vcf"], gene.chrom, gene.window_start, L, CHOSEN)
        v = gene.variants
        assert list(v["pos"]) == [x[0] for x in snvs], gid
        assert list(v["ref"]) == [x[1] for x in snvs]
        assert list(v["alt"]) == [x[2] for x in snvs]
        assert list(v["variant_id"]) == [f"{gene.chrom}:{p}:{r}:{a}" for p, r, a, _ in snvs]
        assert list(v["window_index"]) == [p - 1 - gene.window_start for p, *_ in snvs]
        assert list(v["distance_to_tss"]) == [p - TSS[gid] for p, *_ in snvs]
        want = np.array([[[c[(s, h)] for h in (0, 1)] for s in CHOSEN] for *_, c in snvs], dtype=bool)
        assert gene.haplotypes.dtype == bool and gene.dosage.dtype == np.int8
        np.testing.assert_array_equal(gene.haplotypes, want.reshape(len(snvs), len(CHOSEN), 2))
        np.testing.assert_array_equal(gene.dosage, want.sum(axis=2))
        np.testing.assert_array_equal(v["allele_count"], want.sum(axis=(1, 2)))
        np.testing.assert_allclose(v["allele_frequency"], want.sum(axis=(1, 2)) / (2 * len(CHOSEN)))
        np.testing.assert_array_equal(v["n_carriers"], want.any(axis=2).sum(axis=1))
        # every sample-haplotype points to a distinct row equal to its own column of the matrix
        np.testing.assert_array_equal(gene.distinct[gene.hap_index], gene.haplotypes.transpose(1, 2, 0))
        assert len(np.unique(gene.distinct, axis=0)) == gene.n_distinct


def test_awkward_records_counted(data: dict) -> None:
    g = data["genes"]["G1.1"]
    c = g.counts
    # deletion at 2700, insertion alt at 2600, deletion alt at 2900, 7 insertion alts at 3300
    assert c["indels_skipped"] == 3 + 7 and c["symbolic_skipped"] == 1
    assert c["missing_as_reference"] == 2  # s0 './.' and s3 '.|1' (s3 and s0 are chosen)
    assert c["haploid_as_homozygous"] == 1  # s1 '1'
    assert c["ref_mismatch_skipped"] == 0 and c["unphased_randomly_phased"] == 0
    pos = list(g.variants["pos"])
    assert pos.count(2500) == 2 and pos.count(2600) == 1 and 2700 not in pos and 2800 not in pos
    assert 2900 in pos and 2901 not in pos and 3501 in pos and 3500 not in pos
    # haploid '1' of s1 counts as homozygous: dosage 2
    s1 = CHOSEN.index("s1")
    assert g.dosage[g.variants["pos"].to_numpy() == 3200, s1][0] == 2
    for other in ("G2.3", "G3.1", "G4.2"):
        assert data["genes"][other].counts["indels_skipped"] == 0


def test_tss_base_and_padding(data: dict) -> None:
    fa = pysam.FastaFile(str(data["fasta"]))
    for gid, gene in data["genes"].items():
        assert gene.tss == TSS[gid] and gene.tss_index == L // 2 and gene.window_length == L
        assert gene.window_start == TSS[gid] - 1 - L // 2
        assert decode(gene.reference[gene.tss_index:gene.tss_index + 1]) == fa.fetch(gene.chrom, gene.tss - 1,
                                                                                     gene.tss).upper()
    g3 = data["genes"]["G3.1"]  # window starts before the contig
    n_before = -g3.window_start
    assert n_before > 0 and (g3.reference[:n_before] == 4).all() and (g3.reference[n_before] != 4)
    assert (one_hot(g3.distinct_tokens([0]))[0, :n_before] == 0).all()
    g4 = data["genes"]["G4.2"]  # window runs past the contig end
    n_in = LEN["chr2"] - g4.window_start
    assert 0 < n_in < L and (g4.reference[n_in:] == 4).all() and (g4.reference[:n_in] != 4).all()


def test_sequence_api(data: dict) -> None:
    g = data["genes"]["G1.1"]
    batches = list(g.iter_distinct(2, one_hot=True))
    idx = np.concatenate([i for i, _ in batches])
    np.testing.assert_array_equal(idx, np.arange(g.n_distinct))
    oh = np.concatenate([x for _, x in batches])
    assert oh.dtype == np.float32 and oh.shape == (g.n_distinct, L, 4)
    np.testing.assert_array_equal(oh, one_hot(g.distinct_tokens(idx)))
    tok = next(g.iter_distinct(100))[1]
    assert tok.dtype == np.uint8 and tok.shape == (g.n_distinct, L)
    alt = g.reference_with_alt(np.arange(g.n_variants))
    diff = alt != g.reference
    assert (diff.sum(axis=1) == 1).all()
    rows, cols = np.nonzero(diff)
    np.testing.assert_array_equal(cols, g.variants["window_index"])
    np.testing.assert_array_equal(alt[rows, cols], encode("".join(g.variants["alt"])))
    per_sample = g.to_samples(np.arange(g.n_distinct) * 10.0)
    assert per_sample.shape == (len(CHOSEN), 2)
    np.testing.assert_array_equal(per_sample, g.hap_index * 10.0)
    with pytest.raises(ValueError):
        g.to_samples(np.zeros(g.n_distinct + 1))


def test_npz_loads_without_pickle(data: dict) -> None:
    path = data["dir"] / "hap" / "G1.1.haplotypes.npz"
    with np.load(path, allow_pickle=False) as z:
        assert all(z[k].dtype != object for k in z.files)
        assert z["reference"].dtype == np.uint8 and z["hap_index"].dtype == np.int32
    g = data["genes"]["G1.1"]
    again = data["dir"] / "copy.npz"
    g.save(again)
    h = GeneHaplotypes.load(again)
    pd.testing.assert_frame_equal(h.variants, g.variants)
    np.testing.assert_array_equal(h.distinct, g.distinct)
    np.testing.assert_array_equal(h.haplotypes, g.haplotypes)
    np.testing.assert_array_equal(h.dosage, g.dosage)
    assert h.dosage.dtype == np.int8 and h.haplotypes.dtype == bool and h.distinct.dtype == bool
    assert h.counts == g.counts and h.gene_name == "GENE1" and h.strand == "+"


def test_gene_without_variants(data: dict, tmp_path: Path) -> None:
    """A window with no records: one distinct haplotype, the reference."""
    row = pd.read_csv(data["batches"][0], sep="\t").iloc[0].to_dict()
    ref = np.array([0, 1, 2, 3] * (L // 4), dtype=np.uint8)
    empty = WindowVariants(np.zeros(0, np.int64), np.zeros(0, "<U1"), np.zeros(0, "<U1"),
                           np.zeros((0, 3, 2), bool), {"records_in_window": 0})
    g = build_gene(row, empty, ref, ["a", "b", "c"], ["x", "y", "z"])
    g.save(tmp_path / "e.npz")
    h = GeneHaplotypes.load(tmp_path / "e.npz")
    assert h.n_variants == 0 and h.n_distinct == 1 and h.n_samples == 3
    np.testing.assert_array_equal(h.distinct_tokens([0])[0], ref)
    assert (h.hap_index == 0).all() and h.dosage.shape == (0, 3)


def test_distinct_count_hand_made(tmp_path: Path) -> None:
    """Four samples sharing three haplotypes (101, 000, 011) over three SNVs."""
    fasta, seqs = write_fasta(tmp_path, {"chr1": 4000})
    s = seqs["chr1"]
    haps = {"a": ("101", "101"), "b": ("101", "000"), "c": ("000", "011"), "d": ("011", "101")}
    recs = []
    for j, p in enumerate((1990, 2000, 2010)):
        gts = [f"{h0[j]}|{h1[j]}" for h0, h1 in haps.values()]
        recs.append(("chr1", p, s[p - 1], "A" if s[p - 1] != "A" else "C", "GT", gts))
    vcf = write_vcf(tmp_path / "v.vcf", list(haps), recs, {"chr1": 4000})
    gtf = write_gtf(tmp_path / "g.gtf", [("H1", "H1", "chr1", 2000, 2100, "+")])
    samples = write_samples(tmp_path / "samples.tsv", list(haps))
    assert main(["genes", "--annotation", str(gtf), "--window-length", "256", "--out",
                 str(tmp_path / "g")]) == 0
    assert main(["personalize", "--batch", str(tmp_path / "g" / "batches" / "chr1_1.tsv"), "--fasta",
                 str(fasta), "--vcf", str(vcf), "--samples", str(samples), "--out", str(tmp_path / "h")]) == 0
    g = GeneHaplotypes.load(tmp_path / "h" / "H1.haplotypes.npz")
    assert g.n_distinct == 3 and g.n_variants == 3
    labels = {"".join("1" if x else "0" for x in g.distinct[i]): i for i in range(3)}
    assert set(labels) == {"101", "000", "011"}
    for si, (h0, h1) in enumerate(haps.values()):
        assert g.hap_index[si].tolist() == [labels[h0], labels[h1]]
    np.testing.assert_array_equal(g.dosage, [[2, 1, 0, 1], [0, 0, 1, 1], [2, 1, 1, 2]])


def test_deduplicate_matches_python_sets() -> None:
    rng = np.random.default_rng(3)
    founders = rng.random((7, 45)) < 0.5
    haps = founders[rng.integers(0, 7, (30, 2))].transpose(2, 0, 1)  # (V, S, 2)
    idx, distinct = deduplicate(haps)
    want = {tuple(haps[:, s, h]) for s in range(30) for h in (0, 1)}
    assert len(distinct) == len(want) and {tuple(r) for r in distinct} == want
    np.testing.assert_array_equal(distinct[idx], haps.transpose(1, 2, 0))
    assert idx[0, 0] == 0  # numbered by first appearance
    idx0, d0 = deduplicate(np.zeros((0, 4, 2), bool))
    assert d0.shape == (1, 0) and (idx0 == 0).all()


def test_bcf_same_as_vcf(data: dict, tmp_path: Path) -> None:
    bcf = tmp_path / "cohort.bcf"
    with pysam.VariantFile(str(data["vcf"])) as src, \
            pysam.VariantFile(str(bcf), "wb", header=src.header) as dst:
        for rec in src:
            dst.write(rec)
    pysam.bcftools.index(str(bcf))
    assert main(["personalize", "--batch", str(data["batches"][0]), "--fasta", str(data["fasta"]),
                 "--vcf", str(bcf), "--samples", str(data["samples"]), "--out", str(tmp_path / "h")]) == 0
    gid = pd.read_csv(data["batches"][0], sep="\t")["gene_id"][0]
    a, b = data["genes"][gid], GeneHaplotypes.load(tmp_path / "h" / f"{gid}.haplotypes.npz")
    np.testing.assert_array_equal(a.haplotypes, b.haplotypes)
    pd.testing.assert_frame_equal(a.variants, b.variants)
    assert a.counts == b.counts


def test_csi_index_same_as_tbi(data: dict, tmp_path: Path) -> None:
    text = tmp_path / "csi.vcf"
    with pysam.BGZFile(str(data["vcf"]), "rb") as fh:
        text.write_bytes(fh.read())
    vcf = pysam.tabix_index(str(text), preset="vcf", force=True, csi=True)
    assert Path(vcf + ".csi").is_file() and not Path(vcf + ".tbi").exists()
    assert main(["personalize", "--batch", str(data["batches"][0]), "--fasta", str(data["fasta"]),
                 "--vcf", vcf, "--samples", str(data["samples"]), "--out", str(tmp_path / "h")]) == 0
    gid = pd.read_csv(data["batches"][0], sep="\t")["gene_id"][0]
    b = GeneHaplotypes.load(tmp_path / "h" / f"{gid}.haplotypes.npz")
    np.testing.assert_array_equal(data["genes"][gid].haplotypes, b.haplotypes)


def test_unphased_random_is_seeded(tmp_path: Path) -> None:
    fasta, seqs = write_fasta(tmp_path, LEN)
    records = make_records(seqs, np.random.default_rng(7), unphased=True)
    vcf = write_vcf(tmp_path / "u.vcf", VCF_SAMPLES, records, LEN)
    samples = write_samples(tmp_path / "samples.tsv", CHOSEN)
    gtf = write_gtf(tmp_path / "g.gtf", GENES[:1])
    assert main(["genes", "--annotation", str(gtf), "--window-length", str(L), "--out",
                 str(tmp_path / "g")]) == 0
    batch = str(tmp_path / "g" / "batches" / "chr1_1.tsv")
    runs = {}
    for name, seed in (("a", "5"), ("b", "5")):
        assert main(["personalize", "--batch", batch, "--fasta", str(fasta), "--vcf", str(vcf), "--samples",
                     str(samples), "--unphased", "random", "--phase-seed", seed, "--out",
                     str(tmp_path / name)]) == 0
        runs[name] = GeneHaplotypes.load(tmp_path / name / "G1.1.haplotypes.npz")
    a, b = runs["a"], runs["b"]
    np.testing.assert_array_equal(a.haplotypes, b.haplotypes)
    assert a.counts["unphased_randomly_phased"] == 2  # s1 '0/1' and s3 '1/0'; '0/0' and '1/1' are fine
    row = a.variants["pos"].to_numpy() == 3590
    np.testing.assert_array_equal(a.dosage[row][0], [1, 0, 0, 1, 0])  # order s3, s0, s5, s1, s4
    assert a.haplotypes[row][0].sum(axis=1).tolist() == [1, 0, 0, 1, 0]
    unph_hom = a.variants["pos"].to_numpy() == 3551
    np.testing.assert_array_equal(a.dosage[unph_hom][0], [0, 0, 0, 2, 2])  # s1 1/1, s4 1|1


def test_parse_gt_fast_path_equals_slow_path() -> None:
    """The vectorised byte parser agrees with the plain parser on every GT form it accepts."""
    forms = ["0|1", "1/0", "./.", ".|1", "1", ".", "0|0:12", "1|1:3:x", "0/1:5"]
    rng = np.random.default_rng(0)
    lines = []
    for r in range(40):
        gts = rng.choice(forms, 7)
        fmt = "GT:DP" if r % 3 else "GT"
        lines.append(f"chr1\t{100 + r}\t.\tA\tC\t.\tPASS\t.\t{fmt}\t" + "\t".join(gts))
    lines.append("chr1\t200\t.\tA\tC\t.\tPASS\t.\tDP:GT\t3:0|1\t4:1/1\t5:.|.\t1:0\t2:1|0\t3:0|0\t1:0|1")
    lines.append("chr1\t201\t.\tA\tC\t.\tPASS\t.\tGT\t12|1\t0|0\t0/11\t1\t2|0\t3|0\t0|1")
    cols = np.array([6, 0, 3, 2, 5])
    fast = parse_gt(lines, cols, 7)
    for r, line in enumerate(lines):
        a = np.empty((5, 2), np.int16)
        ph, hp = np.empty(5, bool), np.empty(5, bool)
        _parse_gt_slow(line, cols, 7, a, ph, hp, "x")
        np.testing.assert_array_equal(fast[0][r], a)
        np.testing.assert_array_equal(fast[1][r], ph)
        np.testing.assert_array_equal(fast[2][r], hp)
    assert fast[0][-1].tolist() == [[0, 1], [12, 1], [1, 1], [0, 11], [3, 0]]
    with pytest.raises(Exception, match="polyploid"):
        parse_gt(["chr1\t5\t.\tA\tC\t.\t.\t.\tGT\t0|1|1"], np.array([0]), 1)


def test_policy_values_checked() -> None:
    with pytest.raises(Exception, match="unphased"):
        Policy(unphased="maybe")


def test_vcf_reader_rejects_unknown_sample(data: dict) -> None:
    with pytest.raises(Exception, match="not in VCF"):
        VcfReader(data["vcf"], ["s0", "nobody"])


# ------------------------------------------------------------------------------ bad input, one line
def _cli_error(capsys: pytest.CaptureFixture, argv: list[str], *fragments: str) -> None:
    capsys.readouterr()
    line = one_line_error(capsys, main(argv), *fragments)
    assert line.startswith("seqgx personalize: error:")


def _argv(data: dict, **kw: str) -> list[str]:
    args = {"batch": str(data["batches"][0]), "fasta": str(data["fasta"]), "vcf": str(data["vcf"]),
            "samples": str(data["samples"]), "out": str(data["dir"] / "bad_out")}
    extra = kw.pop("extra", [])
    args.update(kw)
    return ["personalize", *[x for k, v in args.items() for x in (f"--{k}", v)], *extra]


def test_error_vcf_without_index(data: dict, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    plain = tmp_path / "noindex.vcf.gz"
    plain.write_bytes(Path(data["vcf"]).read_bytes())
    _cli_error(capsys, _argv(data, vcf=str(plain)), "noindex.vcf.gz", "no index", "tabix")


def test_error_contig_missing_from_fasta(data: dict, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    fasta, _ = write_fasta(tmp_path, {"chr2": 8000})
    batch = [b for b in data["batches"] if b.name.startswith("chr1")][0]
    _cli_error(capsys, _argv(data, fasta=str(fasta), batch=str(batch)), "contig 'chr1'", "not in FASTA",
               batch.name)


def test_error_ref_mismatch_and_skip(data: dict, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    vcf = write_vcf(tmp_path / "bad.vcf", VCF_SAMPLES,
                    make_records(data["seqs"], np.random.default_rng(7), mismatch=True), LEN)
    batch = str(data["dir"] / "genes" / "batches" / "chr1_1.tsv")
    _cli_error(capsys, _argv(data, vcf=str(vcf), batch=batch), "bad.vcf.gz", "chr1:3590", "REF",
               "--ref-mismatch skip")
    out = tmp_path / "skip"
    assert main(_argv(data, vcf=str(vcf), batch=batch, out=str(out), extra=["--ref-mismatch", "skip"])) == 0
    g = GeneHaplotypes.load(out / "G1.1.haplotypes.npz")
    assert g.counts["ref_mismatch_skipped"] == 1 and 3590 not in set(g.variants["pos"])
    pd.testing.assert_frame_equal(g.variants, data["genes"]["G1.1"].variants)


def test_error_unphased_default(data: dict, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    vcf = write_vcf(tmp_path / "unph.vcf", VCF_SAMPLES,
                    make_records(data["seqs"], np.random.default_rng(7), unphased=True), LEN)
    batch = str(data["dir"] / "genes" / "batches" / "chr1_1.tsv")
    _cli_error(capsys, _argv(data, vcf=str(vcf), batch=batch), "2 unphased heterozygous calls in 1 records",
               "2 samples", "chr1:3590", "--unphased random")


def test_error_missing_policy(data: dict, capsys: pytest.CaptureFixture) -> None:
    batch = str(data["dir"] / "genes" / "batches" / "chr1_1.tsv")
    _cli_error(capsys, _argv(data, batch=batch, extra=["--missing", "error"]), "2 missing genotype calls",
               "chr1:3100", "--missing reference")


def test_error_empty_batch(data: dict, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    empty = tmp_path / "chr9_1.tsv"
    empty.write_text(Path(data["batches"][0]).read_text().splitlines()[0] + "\n")
    _cli_error(capsys, _argv(data, batch=str(empty)), "chr9_1.tsv", "no genes")


def test_error_sample_twice(data: dict, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    samples = write_samples(tmp_path / "dup.tsv", ["s0", "s1", "s0"])
    _cli_error(capsys, _argv(data, samples=str(samples)), "dup.tsv", "'s0' twice")


def test_error_sample_not_in_vcf(data: dict, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    samples = write_samples(tmp_path / "other.tsv", ["s0", "zz"])
    _cli_error(capsys, _argv(data, samples=str(samples)), "other.tsv", "'zz'", "not in VCF")


# ---------------------------------------------------------------------- the simulated cohort, full size
@pytest.fixture(scope="module")
def sim(cohort: dict, tmp_path_factory: pytest.TempPathFactory) -> dict:
    d = tmp_path_factory.mktemp("sim_personalize")
    with pysam.VariantFile(str(cohort["vcf"])) as vf:
        vcf_samples = list(vf.header.samples)
    chosen = vcf_samples[::-3]  # a reordered subset
    samples = write_samples(d / "samples.tsv", chosen)
    assert main(["genes", "--annotation", str(cohort["gtf"]), "--expression", str(cohort["expression"]),
                 "--genes-per-batch", "100", "--out", str(d / "genes")]) == 0
    return {"dir": d, "chosen": chosen, "samples": samples,
            "batches": sorted((d / "genes" / "batches").glob("*.tsv"))}


def test_simulated_cohort_full_windows(cohort: dict, sim: dict) -> None:
    """Two genes (one per strand) at 196,608 bp, every sample-haplotype against the simple version."""
    genes = pd.concat([pd.read_csv(b, sep="\t") for b in sim["batches"]])
    picks = [genes[genes["strand"] == "+"].iloc[0], genes[genes["strand"] == "-"].iloc[0]]
    batch = sim["dir"] / "two.tsv"
    pd.DataFrame(picks).to_csv(batch, sep="\t", index=False)
    assert main(["personalize", "--batch", str(batch), "--fasta", str(cohort["fasta"]), "--vcf",
                 str(cohort["vcf"]), "--samples", str(sim["samples"]), "--out", str(sim["dir"] / "hap")]) == 0
    for row in picks:
        g = GeneHaplotypes.load(sim["dir"] / "hap" / f"{row['gene_id']}.haplotypes.npz")
        assert g.window_length == 196608 and g.tss_index == 98304
        base = simple_window(cohort["fasta"], g.chrom, g.window_start, g.window_length)
        fa = pysam.FastaFile(str(cohort["fasta"]))
        assert base[g.tss_index] == fa.fetch(g.chrom, g.tss - 1, g.tss).upper()
        snvs = simple_snvs(cohort["vcf"], g.chrom, g.window_start, g.window_length, sim["chosen"])
        assert g.n_variants == len(snvs) > 50
        assert g.counts["indels_skipped"] > 0
        truth = json.loads(Path(cohort["truth"]).read_text())["awkward"]
        multi = [m for m in truth["multiallelic"] if m["gene_id"] == row["gene_id"]]
        for m in multi:
            at = g.variants[g.variants["pos"] == m["pos"]]
            assert sorted(at["alt"]) == sorted(m["alts"])
        tokens = g.distinct_tokens(np.arange(g.n_distinct))
        for si, s in enumerate(sim["chosen"]):
            for h in (0, 1):
                seq = bytearray(base.encode())
                for pos, _, alt, carry in snvs:
                    if carry[(s, h)]:
                        seq[pos - 1 - g.window_start] = ord(alt)
                assert decode(tokens[g.hap_index[si, h]]) == seq.decode(), (row["gene_id"], s, h)


def test_simulated_bad_and_unphased_vcfs(cohort: dict, sim: dict, capsys: pytest.CaptureFixture) -> None:
    """The planted bad REF and unphased call stop exactly the batch holding their gene, naming them."""
    truth = json.loads(Path(cohort["truth"]).read_text())["awkward"]
    with pysam.VariantFile(str(cohort["vcf"])) as vf:
        all_samples = write_samples(sim["dir"] / "all_samples.tsv", list(vf.header.samples))
    for key, t, frag in (("bad_vcf", truth["ref_mismatch"], "--ref-mismatch skip"),
                         ("unphased_vcf", truth["unphased"], "--unphased random")):
        failed = []
        for b in sim["batches"]:
            capsys.readouterr()
            rc = main(["personalize", "--batch", str(b), "--fasta", str(cohort["fasta"]), "--vcf",
                       str(cohort[key]), "--samples", str(all_samples), "--out", str(sim["dir"] / key)])
            if rc != 0:
                err = [ln for ln in capsys.readouterr().err.splitlines()
                       if " INFO: " not in ln and ln.strip()]
                assert len(err) == 1 and frag in err[0] and Path(cohort[key]).name in err[0], err
                assert f"{t['chrom']}:{t['pos']}" in err[0], err
                failed.append(set(pd.read_csv(b, sep="\t")["gene_id"]))
        assert len(failed) == 1 and t["gene_id"] in failed[0], key


@pytest.mark.parametrize("line, message", [
    ("chr1\t300\t.\tA\tC\t.\tPASS\t.\tGT\t0|1\t1|1", "2 sample columns but the header names 3 samples"),
    ("chr1\t300\t.\tA\tC\t.\tPASS\t.\tDP\t3\t4\t5", "has no GT"),
    ("chr1\t300\t.\tA\tC\t.\tPASS\t.\tGT\t0|\t1|1\t0|0", "GT '0|' is malformed"),
])
def test_malformed_records_are_one_line_errors(line: str, message: str) -> None:
    """A record that does not fit its header is bad input, never read as missing genotypes."""
    with pytest.raises(SeqgxError, match=re.escape(message)):
        parse_gt([line], np.arange(3), 3, "cohort.vcf.gz")
