"""No traceback for anything a user can cause (issue "Reliability", item 3).

Output paths that cannot be written, plain-gzip inputs, stale or foreign indexes, and the last line of
defence: an unexpected exception is one line naming a traceback file (exit 3), Ctrl-C is exit 130, and
neither leaves partial output.
"""

from __future__ import annotations

import errno
import gzip
import os
import shutil
from pathlib import Path

import pandas as pd
import pytest
from cli_helpers import assert_one_line_error, one_line_error, run_cli
from test_personalize import write_fasta, write_vcf

from seqgx.checks import check_inputs
from seqgx.cli import main
from seqgx.errors import SeqgxError
from seqgx.genome.variants import VcfReader
from seqgx.io import atomic_output

LENGTHS = {"chr1": 4000}
SAMPLES = ["a", "b"]


def _annotation(d: Path) -> Path:
    annot = d / "annot.tsv"
    annot.write_text("gene_id\tgene_name\tchrom\ttss\tstrand\nG1\tONE\tchr1\t1000\t+\n")
    return annot


def _genes(d: Path, out: Path) -> list[str]:
    return ["genes", "--annotation", str(_annotation(d)), "--chromosomes", "all", "--window-length", "2048",
            "--out", str(out)]


@pytest.fixture
def inputs(tmp_path: Path) -> dict:
    fasta, seqs = write_fasta(tmp_path, LENGTHS)
    recs = [("chr1", p, seqs["chr1"][p - 1], "A" if seqs["chr1"][p - 1] != "A" else "C", "GT", ["0|1", "1|0"])
            for p in (100, 900, 1500)]
    vcf = write_vcf(tmp_path / "c.vcf", SAMPLES, recs, LENGTHS)
    expr = tmp_path / "expr.tsv"
    expr.write_text("gene_id\ta\tb\nG1\t1\t2\n")
    return {"fasta": fasta, "vcf": vcf, "annotation": _annotation(tmp_path), "expression": expr,
            "dir": tmp_path}


def _check(inp: dict, **kw) -> None:
    args = {k: inp[k] for k in ("fasta", "vcf", "annotation", "expression")} | kw
    check_inputs(**args, min_samples=1)


# g. output paths ------------------------------------------------------------------------------------
def test_out_exists_as_file(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.write_text("not a folder")
    proc = run_cli(*_genes(tmp_path, out))
    assert proc.returncode == 2
    assert_one_line_error(proc, "seqgx genes: error:", str(out), "is a file")


def test_out_parent_is_file(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    parent = tmp_path / "file"
    parent.write_text("x")
    capsys.readouterr()
    rc = main(_genes(tmp_path, parent / "sub"))
    assert rc == 2
    one_line_error(capsys, rc, "seqgx genes: error:", str(parent), "is a file")


def test_check_inputs_out_is_file(inputs: dict, capsys: pytest.CaptureFixture) -> None:
    out = inputs["dir"] / "check"
    out.write_text("x")
    capsys.readouterr()
    rc = main(["check-inputs", "--fasta", str(inputs["fasta"]), "--vcf", str(inputs["vcf"]), "--annotation",
               str(inputs["annotation"]), "--expression", str(inputs["expression"]), "--min-samples", "1",
               "--out", str(out)])
    one_line_error(capsys, rc, "seqgx check-inputs: error:", str(out), "is a file")


def test_disk_full_is_one_line_and_leaves_nothing(tmp_path: Path, capsys: pytest.CaptureFixture,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    def full(self, path, *a, **k):
        Path(path).write_text("half")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(pd.DataFrame, "to_csv", full)
    out = tmp_path / "out"
    capsys.readouterr()
    rc = main(_genes(tmp_path, out))
    assert rc == 2
    one_line_error(capsys, rc, "seqgx genes: error:", str(out / "genes.tsv"), "No space left on device")
    assert not out.exists() or not any(out.iterdir())


# h. plain gzip ---------------------------------------------------------------------------------------
def test_plain_gzip_vcf_with_index(inputs: dict, tmp_path: Path) -> None:
    plain = tmp_path / "plain.vcf.gz"
    with gzip.open(inputs["vcf"], "rb") as fh:
        plain.write_bytes(gzip.compress(fh.read()))
    shutil.copy(str(inputs["vcf"]) + ".tbi", str(plain) + ".tbi")
    with pytest.raises(SeqgxError, match=r"plain\.vcf\.gz' is plain gzip, not bgzip: recompress with bgzip"):
        _check(inputs, vcf=plain)
    with pytest.raises(SeqgxError, match="plain gzip, not bgzip: recompress with bgzip"):
        VcfReader(plain)


def test_plain_gzip_fasta(inputs: dict, tmp_path: Path) -> None:
    plain = tmp_path / "plain.fa.gz"
    plain.write_bytes(gzip.compress(Path(inputs["fasta"]).read_bytes()))
    shutil.copy(str(inputs["fasta"]) + ".fai", str(plain) + ".fai")
    with pytest.raises(SeqgxError, match=r"plain\.fa\.gz' is plain gzip, not bgzip: recompress with bgzip"):
        _check(inputs, fasta=plain)


# i. stale or foreign indexes -------------------------------------------------------------------------
def _age(path: Path, seconds: float = 3600) -> None:
    st = os.stat(path)
    os.utime(path, (st.st_atime - seconds, st.st_mtime - seconds))


def test_vcf_index_older_than_vcf(inputs: dict) -> None:
    _age(Path(str(inputs["vcf"]) + ".tbi"))
    with pytest.raises(SeqgxError, match=r"index '.*c\.vcf\.gz\.tbi' is older than VCF .*re-index with"):
        _check(inputs)
    with pytest.raises(SeqgxError, match="is older than"):
        VcfReader(inputs["vcf"])


def test_fai_older_than_fasta(inputs: dict) -> None:
    _age(Path(str(inputs["fasta"]) + ".fai"))
    with pytest.raises(SeqgxError, match=r"ref\.fa\.fai' is older than FASTA .*samtools faidx"):
        _check(inputs)


def test_fai_of_another_fasta(inputs: dict) -> None:
    fai = Path(str(inputs["fasta"]) + ".fai")
    name, length, *rest = fai.read_text().split("\t")
    fai.write_text("\t".join([name, str(int(length) * 10), *rest]))
    with pytest.raises(SeqgxError, match=r"ref\.fa\.fai' does not match FASTA .*re-index with 'samtools"):
        _check(inputs)


def test_vcf_index_of_another_vcf(inputs: dict, tmp_path: Path) -> None:
    other_dir = tmp_path / "other"
    other_dir.mkdir()
    recs = [("chr1", 50 + 7 * i, "A", "C", "GT", ["0|1", "1|0"]) for i in range(400)]
    other = write_vcf(other_dir / "o.vcf", SAMPLES, recs, {"chrX": 4000, "chr1": 4000})
    shutil.copy(str(other) + ".tbi", str(inputs["vcf"]) + ".tbi")
    with pytest.raises(SeqgxError, match="does not match|re-index"):
        _check(inputs)


# j. unexpected exceptions and Ctrl-C ----------------------------------------------------------------
def test_internal_error_is_one_line_with_traceback_file(tmp_path: Path, capsys: pytest.CaptureFixture,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(args):
        raise RuntimeError("boom at step 3")

    monkeypatch.setattr("seqgx.cli.genes.run", boom)
    capsys.readouterr()
    rc = main(_genes(tmp_path, tmp_path / "out"))
    assert rc == 3
    line = one_line_error(capsys, rc, "seqgx genes: internal error (a bug): RuntimeError: boom at step 3",
                          "the full traceback is in ")
    path = Path(line.rsplit("the full traceback is in ", 1)[1].strip())
    try:
        text = path.read_text()
        assert path.name.startswith("seqgx-traceback-") and "Traceback" in text and "boom at step 3" in text
    finally:
        path.unlink()


def test_ctrl_c_is_130(tmp_path: Path, capsys: pytest.CaptureFixture,
                       monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr("seqgx.cli.genes.run", interrupted)
    assert main(_genes(tmp_path, tmp_path / "out")) == 130
    assert "interrupted" in capsys.readouterr().err


@pytest.mark.parametrize("directory", [False, True])
def test_interrupt_inside_atomic_output_leaves_nothing(tmp_path: Path, directory: bool) -> None:
    final = tmp_path / "out" / "result.tsv"
    with pytest.raises(KeyboardInterrupt), atomic_output(final, directory=directory) as tmp:
        (tmp / "part.tsv" if directory else tmp).write_text("partial")
        raise KeyboardInterrupt
    assert not final.exists() and list((tmp_path / "out").iterdir()) == []
