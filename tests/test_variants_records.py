"""Every VCF record and gene is used correctly, refused with one line, or counted visibly.

Small hand-made VCFs and FASTAs (issue "Reliability", item 2): allele indexes beyond the record's
alleles, polyploid calls, sites-only VCFs, TSS outside its contig, ALT '.' with alt genotypes and
non-ACGT REF bases.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_helpers import one_line_error
from test_personalize import write_fasta, write_vcf

from seqgx.checks import check_inputs
from seqgx.cli import main
from seqgx.errors import SeqgxError
from seqgx.genome.reference import Reference
from seqgx.genome.variants import VcfReader

SAMPLES = ["a", "b"]
LENGTHS = {"chr1": 4000}
WS, WL = 0, 2048


@pytest.fixture
def fasta(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    return write_fasta(tmp_path, LENGTHS)


def _read(tmp_path: Path, fasta: tuple[Path, dict[str, str]], records: list[tuple], name: str = "t.vcf"):
    path, _ = fasta
    vcf = write_vcf(tmp_path / name, SAMPLES, records, LENGTHS)
    with Reference(path) as ref, VcfReader(vcf, SAMPLES) as reader:
        return reader.read_window("chr1", WS, WS + WL, ref.fetch("chr1", WS, WS + WL), fasta=ref)


def _alt(base: str) -> str:
    return "C" if base != "C" else "G"


# a. allele index beyond the record's alleles ------------------------------------------------------
@pytest.mark.parametrize("gt", ["0|3", "0|12", "2/2"])
def test_allele_index_beyond_alleles_is_an_error(tmp_path: Path, fasta, gt: str) -> None:
    seq = fasta[1]["chr1"]
    rec = ("chr1", 100, seq[99], _alt(seq[99]), "GT", ["0|1", gt])
    with pytest.raises(SeqgxError) as err:
        _read(tmp_path, fasta, [rec])
    msg = str(err.value)
    assert "t.vcf.gz" in msg and "chr1:100" in msg and "sample b" in msg and "allele" in msg
    assert "\n" not in msg


def test_allele_index_within_multiallelic_is_fine(tmp_path: Path, fasta) -> None:
    seq = fasta[1]["chr1"]
    alts = [b for b in "ACGT" if b != seq[99]]
    w = _read(tmp_path, fasta, [("chr1", 100, seq[99], ",".join(alts[:2]), "GT", ["0|2", "1|2"])])
    assert w.haplotypes.shape == (2, 2, 2)


# b. ploidy above 2 ------------------------------------------------------------------------------
def test_polyploid_call_is_an_error(tmp_path: Path, fasta) -> None:
    seq = fasta[1]["chr1"]
    rec = ("chr1", 100, seq[99], _alt(seq[99]), "GT", ["0|1|1", "0|0"])
    with pytest.raises(SeqgxError, match=r"t\.vcf\.gz.*chr1:100.*polyploid"):
        _read(tmp_path, fasta, [rec])


# c. sites-only VCF --------------------------------------------------------------------------------
def _sites_only(tmp_path: Path) -> Path:
    import pysam
    path = tmp_path / "sites.vcf"
    path.write_text("##fileformat=VCFv4.2\n##contig=<ID=chr1,length=4000>\n"
                    "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\nchr1\t100\t.\tA\tC\t.\tPASS\t.\n")
    return Path(pysam.tabix_index(str(path), preset="vcf", force=True))


def test_sites_only_vcf_refused_at_check_inputs(tmp_path: Path, fasta) -> None:
    vcf = _sites_only(tmp_path)
    annot, expr = tmp_path / "annot.tsv", tmp_path / "expr.tsv"
    annot.write_text("gene_id\tgene_name\tchrom\ttss\tstrand\nG1\tG1\tchr1\t1000\t+\n")
    expr.write_text("gene_id\ta\tb\nG1\t1\t2\n")
    with pytest.raises(SeqgxError, match=r"sites\.vcf\.gz.*has no samples \(sites-only VCF\)"):
        check_inputs(fasta[0], vcf, annot, expr, min_samples=1)
    with pytest.raises(SeqgxError, match=r"has no samples \(sites-only VCF\)"):
        VcfReader(vcf)


# d. TSS outside its contig ------------------------------------------------------------------------
@pytest.mark.parametrize("tss", [4001, 9000])
def test_tss_outside_contig_refused_at_genes(tmp_path: Path, capsys: pytest.CaptureFixture, tss: int) -> None:
    annot = tmp_path / "annot.tsv"
    annot.write_text(f"gene_id\tgene_name\tchrom\ttss\tstrand\nG1\tONE\tchr1\t1000\t+\nG2\tTWO\tchr1\t{tss}\t-\n")
    contigs = tmp_path / "contigs.tsv"
    contigs.write_text("annotation_contig\tfasta_contig\tvcf_contig\tfasta_length\nchr1\tchr1\tchr1\t4000\n")
    out = tmp_path / "out"
    capsys.readouterr()
    rc = main(["genes", "--annotation", str(annot), "--chromosomes", "all", "--window-length", "2048",
               "--contigs", str(contigs), "--out", str(out)])
    assert rc == 2
    one_line_error(capsys, rc, "seqgx genes: error:", "'G2'", "TSS", str(tss), "'chr1'", "4000")
    assert not (out / "genes.tsv").exists()


def test_check_inputs_writes_contig_lengths(tmp_path: Path, fasta) -> None:
    rec = ("chr1", 100, fasta[1]["chr1"][99], "A", "GT", ["0|0", "0|0"])
    vcf = write_vcf(tmp_path / "t.vcf", SAMPLES, [rec], LENGTHS)
    annot, expr = tmp_path / "annot.tsv", tmp_path / "expr.tsv"
    annot.write_text("gene_id\tgene_name\tchrom\ttss\tstrand\nG1\tG1\tchr1\t1000\t+\n")
    expr.write_text("gene_id\ta\tb\nG1\t1\t2\n")
    result = check_inputs(fasta[0], vcf, annot, expr, min_samples=1)
    assert result.contigs["fasta_length"].tolist() == [4000]


# e. ALT '.' with alt genotypes --------------------------------------------------------------------
def test_alt_dot_with_alt_genotype_is_an_error(tmp_path: Path, fasta) -> None:
    seq = fasta[1]["chr1"]
    with pytest.raises(SeqgxError, match=r"t\.vcf\.gz.*chr1:200.*ALT '\.'"):
        _read(tmp_path, fasta, [("chr1", 200, seq[199], ".", "GT", ["0|0", "0|1"])])


def test_alt_dot_reference_calls_are_fine(tmp_path: Path, fasta) -> None:
    seq = fasta[1]["chr1"]
    w = _read(tmp_path, fasta, [("chr1", 200, seq[199], ".", "GT", ["0|0", "./."])])
    assert len(w.pos) == 0 and w.counts["records_in_window"] == 1


# f. non-ACGT REF ----------------------------------------------------------------------------------
@pytest.mark.parametrize("ref", ["N", "R", "NA"])
def test_ref_n_skipped_and_counted(tmp_path: Path, fasta, ref: str) -> None:
    seq = fasta[1]["chr1"]
    recs = [("chr1", 300, ref, "G" if len(ref) == 1 else "NG", "GT", ["0|1", "1|1"]),
            ("chr1", 400, seq[399], _alt(seq[399]), "GT", ["0|1", "0|0"])]
    w = _read(tmp_path, fasta, recs)
    assert w.counts["ref_n_skipped"] == 1 and w.pos.tolist() == [400]


def test_tss_outside_contig_refused_at_personalize(tmp_path: Path, fasta,
                                                   capsys: pytest.CaptureFixture) -> None:
    seq = fasta[1]["chr1"]
    rec = ("chr1", 100, seq[99], _alt(seq[99]), "GT", ["0|1", "0|0"])
    vcf = write_vcf(tmp_path / "t.vcf", SAMPLES, [rec], LENGTHS)
    batch = tmp_path / "chr1_1.tsv"
    batch.write_text("gene_id\tgene_name\tchrom\tfasta_contig\tvcf_contig\ttss\tstrand\twindow_start\t"
                     "window_length\ttss_index\nG9\tNINE\tchr1\tchr1\tchr1\t5000\t+\t3975\t2048\t1024\n")
    samples = tmp_path / "samples.tsv"
    samples.write_text("expression_sample\tvcf_sample\na\ta\nb\tb\n")
    out = tmp_path / "out"
    capsys.readouterr()
    rc = main(["personalize", "--batch", str(batch), "--fasta", str(fasta[0]), "--vcf", str(vcf),
               "--samples", str(samples), "--out", str(out)])
    one_line_error(capsys, rc, "seqgx personalize: error:", "'G9'", "5000", "'chr1'", "4000")
    assert not out.exists()
