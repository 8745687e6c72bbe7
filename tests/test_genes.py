"""`seqgx genes`: annotation formats, filters, windows and batch files."""

from __future__ import annotations

import gzip
from pathlib import Path

import pandas as pd
import pytest
from cli_helpers import one_line_error

from seqgx.cli import main
from seqgx.genome.genes import GENE_COLUMNS, read_annotation, read_batch

# gene_id, gene_name, chrom, start, end, strand
GENES = [
    ("ENSG01.3", "ALPHA", "chr1", 5000, 9000, "+"),
    ("ENSG02.1", "BETA", "chr1", 20000, 26000, "-"),
    ("ENSG03.7", "GAMMA", "chr1", 400, 700, "+"),
    ("ENSG04.2", "DELTA", "chr2", 15000, 16000, "-"),
    ("ENSG05.1", "EPS", "chrX", 3000, 4000, "+"),
    ("ENSG06.1", "ZETA", "chr2", 1000, 1500, "+"),
]


def write_gtf(path: Path, genes=GENES, gz: bool = False) -> Path:
    lines = ["##description: test", "#!genome-build test"]
    for gid, name, chrom, start, end, strand in genes:
        attrs = f'gene_id "{gid}"; gene_type "protein_coding"; gene_name "{name}"; level 2;'
        lines.append(f"{chrom}\ttest\tgene\t{start}\t{end}\t.\t{strand}\t.\t{attrs}")
        # transcript/exon records must not be taken as genes
        lines.append(f"{chrom}\ttest\ttranscript\t{start + 10}\t{end - 10}\t.\t{strand}\t.\t{attrs}")
        lines.append(f"{chrom}\ttest\texon\t{start + 10}\t{start + 50}\t.\t{strand}\t.\t{attrs}")
    text = "\n".join(lines) + "\n"
    if gz:
        with gzip.open(path, "wt") as fh:
            fh.write(text)
    else:
        path.write_text(text)
    return path


def write_tsv(path: Path, genes=GENES) -> Path:
    rows = [(gid, name, chrom, start if strand == "+" else end, strand)
            for gid, name, chrom, start, end, strand in genes]
    pd.DataFrame(rows, columns=["gene_id", "gene_name", "chrom", "tss", "strand"]).to_csv(
        path, sep="\t", index=False)
    return path


def run_genes(tmp: Path, annotation: Path, *extra: str, out: str = "out") -> pd.DataFrame:
    assert main(["genes", "--annotation", str(annotation), "--window-length", "2048", "--out",
                 str(tmp / out), *extra]) == 0
    return pd.read_csv(tmp / out / "genes.tsv", sep="\t",
                       dtype={c: str for c in ("gene_id", "chrom", "fasta_contig", "vcf_contig")})


def test_gtf_and_tsv_give_the_same_windows(tmp_path: Path) -> None:
    a = run_genes(tmp_path, write_gtf(tmp_path / "a.gtf"), "--chromosomes", "all", out="gtf")
    b = run_genes(tmp_path, write_tsv(tmp_path / "a.tsv"), "--chromosomes", "all", out="tsv")
    c = run_genes(tmp_path, write_gtf(tmp_path / "a.gtf.gz", gz=True), "--chromosomes", "all", out="gz")
    pd.testing.assert_frame_equal(a, b)
    pd.testing.assert_frame_equal(a, c)
    assert list(a.columns) == GENE_COLUMNS and len(a) == len(GENES)


def test_tss_and_window_arithmetic(tmp_path: Path) -> None:
    t = run_genes(tmp_path, write_gtf(tmp_path / "a.gtf"), "--chromosomes", "all").set_index("gene_id")
    for gid, _, chrom, start, end, strand in GENES:
        tss = start if strand == "+" else end  # minus-strand TSS is the gene end
        assert t.loc[gid, "tss"] == tss and t.loc[gid, "strand"] == strand
        assert t.loc[gid, "window_start"] == tss - 1 - 1024
        assert t.loc[gid, "tss_index"] == 1024 and t.loc[gid, "window_length"] == 2048
        assert t.loc[gid, "fasta_contig"] == chrom == t.loc[gid, "vcf_contig"]
    # TSS base lies at index L//2: 0-based offset of tss within the window
    assert ((t["tss"] - 1 - t["window_start"]) == t["tss_index"]).all()
    # window of a gene near the contig start begins before it (padded with N later)
    assert t.loc["ENSG03.7", "window_start"] < 0


def test_default_chromosomes_are_autosomes_and_order(tmp_path: Path) -> None:
    t = run_genes(tmp_path, write_gtf(tmp_path / "a.gtf"))
    assert "ENSG05.1" not in set(t["gene_id"])  # chrX
    assert list(t["gene_id"]) == ["ENSG03.7", "ENSG01.3", "ENSG02.1", "ENSG06.1", "ENSG04.2"]
    only2 = run_genes(tmp_path, write_gtf(tmp_path / "a.gtf"), "--chromosomes", "2,X", out="c2")
    assert set(only2["chrom"]) == {"chr2", "chrX"}


def test_batches_per_chromosome(tmp_path: Path) -> None:
    run_genes(tmp_path, write_gtf(tmp_path / "a.gtf"), "--genes-per-batch", "2")
    names = sorted(p.name for p in (tmp_path / "out" / "batches").glob("*.tsv"))
    assert names == ["chr1_1.tsv", "chr1_2.tsv", "chr2_1.tsv"]
    b = read_batch(tmp_path / "out" / "batches" / "chr1_2.tsv")
    assert list(b["gene_id"]) == ["ENSG02.1"] and list(b.columns) == GENE_COLUMNS
    all_ids = pd.concat([pd.read_csv(tmp_path / "out" / "batches" / n, sep="\t") for n in names])["gene_id"]
    assert sorted(all_ids) == sorted(pd.read_csv(tmp_path / "out" / "genes.tsv", sep="\t")["gene_id"])


def test_gene_list_ids_with_or_without_version_and_names(tmp_path: Path,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    gl = tmp_path / "list.txt"
    gl.write_text("ENSG01\nENSG02.1\nDELTA\n# comment\n\nENSG04.9\nNOPE1\nNOPE2\n")
    t = run_genes(tmp_path, write_gtf(tmp_path / "a.gtf"), "--gene-list", str(gl))
    assert sorted(t["gene_id"]) == ["ENSG01.3", "ENSG02.1", "ENSG04.2"]


def test_gene_list_unknown_warns_with_count(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    gl = tmp_path / "list.txt"
    gl.write_text("ALPHA\nNOPE1\nNOPE2\n")
    capsys.readouterr()
    run_genes(tmp_path, write_gtf(tmp_path / "a.gtf"), "--gene-list", str(gl))
    err = capsys.readouterr().err
    assert "WARNING" in err and "2 of 3 entries" in err and "NOPE1" in err


def test_expression_filter_ignores_versions(tmp_path: Path) -> None:
    expr = tmp_path / "expr.tsv"
    expr.write_text("gene_id\tS1\tS2\nENSG01.9\t1\t2\nENSG04\t3\t4\nENSG05.1\t1\t1\n")
    t = run_genes(tmp_path, write_gtf(tmp_path / "a.gtf"), "--expression", str(expr))
    assert sorted(t["gene_id"]) == ["ENSG01.3", "ENSG04.2"]


def test_contig_map(tmp_path: Path) -> None:
    contigs = tmp_path / "contigs.tsv"
    contigs.write_text("annotation_contig\tfasta_contig\tvcf_contig\nchr1\t1\tchr1\n")
    t = run_genes(tmp_path, write_gtf(tmp_path / "a.gtf"), "--contigs", str(contigs))
    assert set(t["chrom"]) == {"chr1"} and set(t["vcf_contig"]) == {"chr1"}
    assert set(t["fasta_contig"]) == {"1"}
    assert set(read_batch(tmp_path / "out" / "batches" / "chr1_1.tsv")["fasta_contig"]) == {"1"}


def test_read_annotation_tsv_without_gene_name(tmp_path: Path) -> None:
    p = tmp_path / "a.tsv"
    p.write_text("gene_id\tchrom\ttss\tstrand\nG1\tchr1\t100\t+\n")
    a = read_annotation(p)
    assert a.loc[0, "gene_name"] == "G1" and a.loc[0, "tss"] == 100


# ------------------------------------------------------------------------------ bad input, one line
def _cli_error(capsys: pytest.CaptureFixture, argv: list[str], *fragments: str) -> None:
    capsys.readouterr()
    line = one_line_error(capsys, main(argv), *fragments)
    assert line.startswith("seqgx genes: error:")


def test_error_window_not_multiple_of_128(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    gtf = str(write_gtf(tmp_path / "a.gtf"))
    out = str(tmp_path / "o")
    _cli_error(capsys, ["genes", "--annotation", gtf, "--window-length", "1000", "--out", out],
               "1000", "multiple of 128")
    assert not (tmp_path / "o" / "genes.tsv").exists()


def test_error_gene_list_none_known(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    gl = tmp_path / "list.txt"
    gl.write_text("NOPE1\nNOPE2\n")
    _cli_error(capsys, ["genes", "--annotation", str(write_gtf(tmp_path / "a.gtf")), "--gene-list", str(gl),
                        "--out", str(tmp_path / "o")], "list.txt", "none of the 2 entries", "NOPE1")


def test_error_bad_annotation(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    p = tmp_path / "bad.txt"
    p.write_text("this is not an annotation\n")
    _cli_error(capsys, ["genes", "--annotation", str(p), "--out", str(tmp_path / "o")], "bad.txt", "GTF")
    q = tmp_path / "badtss.tsv"
    q.write_text("gene_id\tgene_name\tchrom\ttss\tstrand\nG1\tA\tchr1\t-5\t+\n")
    _cli_error(capsys, ["genes", "--annotation", str(q), "--out", str(tmp_path / "o")], "badtss.tsv", "row 2",
               "G1")


def test_error_no_genes_on_chromosomes(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    _cli_error(capsys, ["genes", "--annotation", str(write_gtf(tmp_path / "a.gtf")), "--chromosomes", "chr9",
                        "--out", str(tmp_path / "o")], "chr9", "--chromosomes")


def test_simulated_cohort_gtf_and_tsv_agree(cohort: dict, tmp_path: Path) -> None:
    a = run_genes(tmp_path, cohort["gtf"], "--expression", str(cohort["expression"]), out="g")
    b = run_genes(tmp_path, cohort["annotation_tsv"], "--expression", str(cohort["expression"]), out="t")
    pd.testing.assert_frame_equal(a, b)
    assert len(a) > 0 and set(a["strand"]) == {"+", "-"}
