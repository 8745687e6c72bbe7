"""A cohort VCF given as several files (one per chromosome): globs, samplesheets, lists; contig -> file.

Expected values come from the files themselves read record by record with pysam (not from the index
that seqgx reads), from literal file lists, or from the run on the single cohort VCF.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import shutil
from pathlib import Path

import pandas as pd
import pysam
import pytest
from cli_helpers import one_line_error, run_cli

from seqgx.checks import check_inputs
from seqgx.cli import main as cli_main
from seqgx.errors import SeqgxError
from seqgx.genome.variants import resolve_vcfs, vcf_contig_files
from seqgx.params import load_params
from seqgx.pipeline import _personalize, _stats
from seqgx.simulate import FILES, simulate_cohort

SMALL = {"n_genes": 6, "n_contigs": 2, "contig_length": 150_000, "window_length": 16_384, "n_samples": 120}


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return simulate_cohort(tmp_path_factory.mktemp("vcfsets") / "sim", seed=0, vcf_per_contig=True, **SMALL)


def _records_by_contig(vcf: Path) -> dict[str, list[str]]:
    """Record lines of a bgzipped VCF by CHROM, read as text (independent of any index)."""
    out: dict[str, list[str]] = {}
    with gzip.open(vcf, "rt") as fh:
        for line in fh:
            if not line.startswith("#"):
                out.setdefault(line.split("\t", 1)[0], []).append(line)
    return out


def _rewrite_vcf(src: Path, dst: Path, edit) -> Path:
    """Copy a VCF through ``edit(fields) -> fields`` on the #CHROM line and every record; bgzip, index."""
    plain = dst.with_suffix("")  # drop .gz: tabix_index bgzips plain -> dst
    with gzip.open(src, "rt") as fh, open(plain, "w") as out:
        for line in fh:
            if line.startswith("##"):
                out.write(line)
            else:
                out.write("\t".join(edit(line.rstrip("\n").split("\t"))) + "\n")
    pysam.tabix_index(str(plain), preset="vcf", force=True)
    return dst


def _contig_file(sim: dict, contig: str) -> Path:
    return sim["vcf"].parent / f"cohort.{contig}.vcf.gz"


def _check_args(sim: dict, out: Path, *vcf: object) -> list[str]:
    return ["check-inputs", "--fasta", str(sim["fasta"]), "--annotation", str(sim["gtf"]),
            "--expression", str(sim["expression"]), "--out", str(out), "--vcf", *map(str, vcf)]


# --- seqgx simulate --vcf-per-contig --------------------------------------------------------------


def test_simulate_vcf_per_contig_splits_the_main_vcf(sim: dict, tmp_path: Path) -> None:
    by_contig = _records_by_contig(sim["vcf"])
    assert sorted(by_contig) == ["chr1", "chr2"]
    sheet = pd.read_csv(sim["vcf_sheet"])
    assert sheet.to_dict("list") == {"contig": ["chr1", "chr2"],
                                     "vcf": ["cohort.chr1.vcf.gz", "cohort.chr2.vcf.gz"]}
    main_samples = list(pysam.VariantFile(str(sim["vcf"])).header.samples)
    for contig, lines in by_contig.items():
        part = _contig_file(sim, contig)
        assert Path(str(part) + ".tbi").is_file()
        assert _records_by_contig(part) == {contig: lines}
        assert list(pysam.VariantFile(str(part)).header.samples) == main_samples
    # Off (the default): no extra files, and every other file is byte-identical.
    plain = simulate_cohort(tmp_path / "plain", seed=0, **SMALL)
    assert "vcf_sheet" not in plain and set(plain) == set(FILES)
    written = [p.relative_to(tmp_path / "plain") for p in (tmp_path / "plain").rglob("*") if p.is_file()]
    assert sorted(map(str, written)) == sorted(FILES.values())
    for key, path in plain.items():
        if key in ("params", "params_tissues"):  # absolute paths: equal up to the folder
            assert path.read_text().replace(str(path.parent), "D") == sim[key].read_text().replace(
                str(sim[key].parent), "D")
            continue
        assert path.read_bytes() == sim[key].read_bytes(), key


def test_simulate_cli_flag(tmp_path: Path) -> None:
    rc = cli_main(["simulate", "-q", "--out", str(tmp_path / "s"), "--vcf-per-contig",
                   *[f"--{k.replace('_', '-')}={v}" for k, v in SMALL.items()]])
    assert rc == 0
    assert (tmp_path / "s" / "vcfs.csv").read_text() == ("contig,vcf\nchr1,cohort.chr1.vcf.gz\n"
                                                          "chr2,cohort.chr2.vcf.gz\n")


# --- resolve_vcfs ---------------------------------------------------------------------------------


def _touch(*paths: Path) -> None:
    for p in paths:
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text("")


def test_resolve_glob_sorted_without_index_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    d = tmp_path / "vcfs"
    _touch(d / "chr2.vcf.gz", d / "chr10.vcf.gz", d / "chr1.vcf.gz", d / "chr1.vcf.gz.tbi",
           d / "chr2.vcf.gz.csi", d / "other.bcf")
    assert resolve_vcfs([str(d / "chr*.vcf.gz")]) == [d / "chr1.vcf.gz", d / "chr10.vcf.gz",
                                                      d / "chr2.vcf.gz"]
    assert resolve_vcfs(str(d / "chr?.vcf.gz")) == [d / "chr1.vcf.gz", d / "chr2.vcf.gz"]
    assert resolve_vcfs(str(d / "*")) == [d / "chr1.vcf.gz", d / "chr10.vcf.gz", d / "chr2.vcf.gz",
                                          d / "other.bcf"]
    monkeypatch.chdir(tmp_path)  # a relative glob is relative to the working directory; results absolute
    assert resolve_vcfs(["vcfs/chr[12].vcf.gz"]) == [d / "chr1.vcf.gz", d / "chr2.vcf.gz"]


@pytest.mark.parametrize("sep,suffix", [(",", ".csv"), ("\t", ".tsv")])
def test_resolve_sheet_relative_to_its_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sep: str,
                                              suffix: str) -> None:
    _touch(tmp_path / "data" / "b.vcf.gz", tmp_path / "data" / "a.vcf.gz", tmp_path / "abs" / "c.bcf")
    sheet = tmp_path / "sheets" / f"vcfs{suffix}"
    sheet.parent.mkdir()
    sheet.write_text(f"vcf{sep}note\n../data/b.vcf.gz{sep}x\n../data/a.vcf.gz{sep}y\n"
                     f"{tmp_path / 'abs' / 'c.bcf'}{sep}z\n")
    monkeypatch.chdir(tmp_path / "data")  # not the sheet's folder
    assert resolve_vcfs([str(sheet)]) == [tmp_path / "data" / "b.vcf.gz", tmp_path / "data" / "a.vcf.gz",
                                          tmp_path / "abs" / "c.bcf"]


def test_resolve_list_keeps_order_and_drops_duplicates(tmp_path: Path) -> None:
    _touch(tmp_path / "x.vcf.gz", tmp_path / "y.vcf.gz", tmp_path / "z.vcf.gz")
    (tmp_path / "sub").mkdir()
    (tmp_path / "s.csv").write_text("contig,vcf\n,z.vcf.gz\n,./x.vcf.gz\n")
    got = resolve_vcfs([tmp_path / "z.vcf.gz", str(tmp_path / "*.vcf.gz"), str(tmp_path / "s.csv"),
                        str(tmp_path / "sub" / ".." / "y.vcf.gz")])
    assert got == [tmp_path / "z.vcf.gz", tmp_path / "x.vcf.gz", tmp_path / "y.vcf.gz"]


def test_resolve_errors_name_the_file_the_row_and_the_fix(tmp_path: Path) -> None:
    def error(spec: object) -> str:
        with pytest.raises(SeqgxError) as exc:
            resolve_vcfs([spec])
        msg = str(exc.value)
        assert "\n" not in msg
        return msg

    msg = error(str(tmp_path / "nothing" / "chr*.vcf.gz"))
    assert "chr*.vcf.gz" in msg and "matches no file" in msg and "fix" in msg
    assert "nope.vcf.gz" in error(tmp_path / "nope.vcf.gz") and "does not exist" in error("nope.vcf.gz")
    sheet = tmp_path / "s.csv"
    sheet.write_text("")
    assert "s.csv" in error(sheet) and "'vcf' column" in error(sheet)
    sheet.write_text("contig,path\nchr1,a.vcf.gz\n")
    msg = error(sheet)
    assert "s.csv" in msg and "line 1" in msg and "found contig, path" in msg and "header" in msg
    sheet.write_text("contig,vcf\n")
    assert "has no rows" in error(sheet)
    _touch(tmp_path / "a.vcf.gz")
    sheet.write_text("contig,vcf\n,a.vcf.gz\n,missing.vcf.gz\n")
    msg = error(sheet)
    assert "s.csv" in msg and "line 3" in msg and "missing.vcf.gz" in msg and "relative to the sheet" in msg
    sheet.write_text("contig,vcf\n,a.vcf.gz\nchr2,\n")
    assert "line 3" in error(sheet) and "vcf column is empty" in error(sheet)
    assert "no VCF given" in str(pytest.raises(SeqgxError, resolve_vcfs, []).value)


def test_sheet_contig_must_have_records_in_its_file(sim: dict, tmp_path: Path) -> None:
    sheet = tmp_path / "s.tsv"
    chr1, chr2 = _contig_file(sim, "chr1"), _contig_file(sim, "chr2")
    sheet.write_text(f"contig\tvcf\n1\t{chr1}\nchr2\t{chr2}\n")  # '1' matches chr1 as contigs.tsv does
    assert resolve_vcfs(str(sheet)) == [chr1, chr2]
    sheet.write_text(f"contig\tvcf\nchr1\t{chr1}\nchr1\t{chr2}\n")
    with pytest.raises(SeqgxError, match=r"s\.tsv' line 3: VCF '.*cohort\.chr2\.vcf\.gz' has no records on "
                                         r"contig 'chr1' \(it has chr2\)"):
        resolve_vcfs(str(sheet))


# --- contig -> file -------------------------------------------------------------------------------


def test_vcf_contig_files_maps_each_contig_with_records(sim: dict) -> None:
    files = resolve_vcfs(str(sim["vcf_sheet"]))
    expected = {contig: f for f in files for contig in _records_by_contig(f)}
    assert vcf_contig_files(files) == expected == {"chr1": files[0], "chr2": files[1]}
    assert vcf_contig_files([sim["vcf"]]) == {c: sim["vcf"] for c in _records_by_contig(sim["vcf"])}


def test_contig_in_two_files_is_an_error(sim: dict, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SeqgxError, match=r"contig 'chr1' has records in VCF '.*cohort\.vcf\.gz' and in VCF "
                                         r"'.*cohort\.chr1\.vcf\.gz'"):
        vcf_contig_files([sim["vcf"], _contig_file(sim, "chr1")])
    rc = cli_main(_check_args(sim, tmp_path / "o", sim["vcf"], _contig_file(sim, "chr1")))
    assert rc == 2
    one_line_error(capsys, rc, "contig 'chr1'", "cohort.vcf.gz", "cohort.chr1.vcf.gz", "one file only")


def test_files_must_share_samples_in_order(sim: dict, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    chr1, chr2 = _contig_file(sim, "chr1"), _contig_file(sim, "chr2")
    samples = list(pysam.VariantFile(str(chr2)).header.samples)

    def rename(f: list[str]) -> list[str]:
        return f[:9] + ["RENAMED" if s == samples[3] else s for s in f[9:]] if f[0] == "#CHROM" else f

    def swap(f: list[str]) -> list[str]:
        return f[:9] + [f[10], f[9]] + f[11:]

    cases = [(rename, f"lacks sample '{samples[3]}'"),
             (swap, f"sample column 1: '{samples[1]}', not '{samples[0]}'")]
    for edit, what in cases:
        other = _rewrite_vcf(chr2, tmp_path / f"{edit.__name__}.chr2.vcf.gz", edit)
        rc = cli_main(_check_args(sim, tmp_path / "o", chr1, other))
        assert rc == 2
        one_line_error(capsys, rc, f"VCF '{other}'", what, f"VCF '{chr1}'", "reheader/subset all VCFs to the "
                       "same samples")
    assert not (tmp_path / "o").exists()


def test_unindexed_file_of_a_set(sim: dict, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    bare = tmp_path / "cohort.chr2.vcf.gz"
    shutil.copy(_contig_file(sim, "chr2"), bare)
    rc = cli_main(_check_args(sim, tmp_path / "o", _contig_file(sim, "chr1"), bare))
    assert rc == 2
    one_line_error(capsys, rc, str(bare), "no index", "tabix")


def test_glob_without_match_cli(sim: dict, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    rc = cli_main(_check_args(sim, tmp_path / "o", tmp_path / "cohort.chr*.vcf.gz"))
    assert rc == 2
    one_line_error(capsys, rc, "cohort.chr*.vcf.gz", "matches no file")


# --- seqgx check-inputs ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def single_check(sim: dict, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """check-inputs on the single cohort VCF."""
    out = tmp_path_factory.mktemp("single_check")
    proc = run_cli(*_check_args(sim, out, sim["vcf"]))
    assert proc.returncode == 0, proc.stderr
    return out


@pytest.mark.parametrize("form", ["glob", "sheet", "files"])
def test_check_inputs_writes_vcfs_tsv(sim: dict, single_check: Path, tmp_path: Path, form: str) -> None:
    single = single_check
    parts = [_contig_file(sim, "chr1"), _contig_file(sim, "chr2")]
    vcf = {"glob": [sim["vcf"].parent / "cohort.chr*.vcf.gz"], "sheet": [sim["vcf_sheet"]],
           "files": parts[::-1]}[form]
    proc = run_cli(*_check_args(sim, tmp_path / "set", *vcf))
    assert proc.returncode == 0, proc.stderr
    vcfs = pd.read_csv(tmp_path / "set" / "vcfs.tsv", sep="\t", dtype=str)
    expected = [(contig, str(f)) for f in (parts[::-1] if form == "files" else parts)
                for contig in _records_by_contig(f)]
    assert list(vcfs.columns) == ["vcf_contig", "vcf"]
    assert list(vcfs.itertuples(index=False, name=None)) == expected
    for name in ("samples.tsv", "contigs.tsv"):  # unchanged by the split
        assert (tmp_path / "set" / name).read_text() == (single / name).read_text(), name
    summary = json.loads((tmp_path / "set" / "check_summary.json").read_text())
    assert summary["vcf_files"] == 2 and sorted(summary["vcf"]) == sorted(map(str, parts))
    assert json.loads((single / "check_summary.json").read_text())["vcf_files"] == 1
    single_vcfs = pd.read_csv(single / "vcfs.tsv", sep="\t", dtype=str)
    assert list(single_vcfs.itertuples(index=False, name=None)) == [("chr1", str(sim["vcf"])),
                                                                    ("chr2", str(sim["vcf"]))]


def test_check_inputs_api_takes_one_path_or_a_list(sim: dict) -> None:
    args = (sim["fasta"], sim["gtf"], sim["expression"])
    one = check_inputs(args[0], str(sim["vcf"]), *args[1:])
    assert one.vcfs.to_dict("list") == {"vcf_contig": ["chr1", "chr2"], "vcf": [str(sim["vcf"])] * 2}
    many = check_inputs(args[0], [_contig_file(sim, "chr2"), str(_contig_file(sim, "chr1"))], *args[1:])
    assert many.vcfs.to_dict("list") == {"vcf_contig": ["chr2", "chr1"],
                                         "vcf": [str(_contig_file(sim, c)) for c in ("chr2", "chr1")]}
    pd.testing.assert_frame_equal(one.samples, many.samples)
    pd.testing.assert_frame_equal(one.contigs, many.contigs)


# --- seqgx run ------------------------------------------------------------------------------------


def _write_params(folder: Path, vcf: str, outdir: Path, sim: dict) -> Path:
    """A params file in ``folder`` with paths relative to it (as users keep one beside their data)."""
    folder.mkdir(parents=True, exist_ok=True)
    rel = Path("..") / sim["vcf"].parent.name
    text = (f"fasta: {rel / 'reference.fa'}\nvcf: {vcf}\nannotation: {rel / 'genes.gtf'}\n"
            f"expression: {rel / 'expression.tsv'}\noutdir: {outdir}\nmodel: oracle\n"
            f"tracks: 'oracle:TATA'\ntss_window: 50\nnull_draws: 200\n"
            # Neither motifs nor gene pages: this is about VCF sets (and keeps the suite short).
            f"motifs: false\nreport_top_genes: 0\n"
            f"window_length: {SMALL['window_length']}\n")
    path = folder / f"{outdir.name}.yaml"
    path.write_text(text)
    return path


def _load(params_file: Path) -> dict:
    """The params as `seqgx run` reads them, launched from the params file's folder."""
    with contextlib.chdir(params_file.parent):
        return load_params(params_file)


@pytest.fixture(scope="module")
def runs(sim: dict, tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path]]:
    """(params file, outdir) of `seqgx run` with the single VCF, a relative glob and a relative sheet,
    launched from the params files' folder (relative paths are relative to the launch folder)."""
    root = sim["vcf"].parent.parent
    cwd = root / "params"
    rel = Path("..") / sim["vcf"].parent.name
    out = {}
    for name, vcf in [("single", rel / "cohort.vcf.gz"), ("glob", rel / "cohort.chr*.vcf.gz"),
                      ("sheet", rel / "vcfs.csv")]:
        params = _write_params(root / "params", str(vcf), root / "results" / name, sim)
        proc = run_cli("run", params, "-q", cwd=cwd)
        assert proc.returncode == 0, proc.stderr
        out[name] = (params, root / "results" / name)
    return out


@pytest.mark.parametrize("form", ["glob", "sheet"])
def test_run_with_per_contig_vcfs_equals_the_single_vcf(runs: dict, sim: dict, form: str) -> None:
    def genes(outdir: Path) -> pd.DataFrame:
        table = pd.read_csv(outdir / "assessment" / "genes.tsv", sep="\t")
        pathlike = [c for c in table if table[c].astype(str).str.contains("/").any()]
        return table.drop(columns=pathlike)

    expected = genes(runs["single"][1])
    assert len(expected) == SMALL["n_genes"] and expected["status"].notna().all()
    pd.testing.assert_frame_equal(genes(runs[form][1]), expected)
    vcfs = pd.read_csv(runs[form][1] / "check" / "vcfs.tsv", sep="\t")
    assert vcfs.to_dict("list") == {"vcf_contig": ["chr1", "chr2"],
                                    "vcf": [str(_contig_file(sim, c)) for c in ("chr1", "chr2")]}


def test_run_passes_each_task_its_chromosomes_vcf(runs: dict, sim: dict) -> None:
    params_file, outdir = runs["glob"]
    params = _load(params_file)
    batches = sorted((outdir / "genes" / "batches").glob("*.tsv"))
    want = [str(_contig_file(sim, pd.read_csv(b, sep="\t")["vcf_contig"].iloc[0])) for b in batches]
    assert [Path(w).name for w in want] == ["cohort.chr1.vcf.gz", "cohort.chr2.vcf.gz"]
    assert [argv[argv.index("--vcf") + 1] for argv in _personalize(params, outdir)] == want
    assert not any("--vcf" in argv for argv in _stats(params, outdir))  # only with predictdb
    with_db = _stats(params | {"predictdb": str(outdir / "model.db")}, outdir)
    assert [argv[argv.index("--vcf") + 1] for argv in with_db] == want
    # The single-VCF run passes the one file to every task.
    params_file, outdir = runs["single"]
    assert {argv[argv.index("--vcf") + 1] for argv in _personalize(_load(params_file), outdir)} == {
        str(sim["vcf"])}


def test_run_batch_contig_lookup(runs: dict, sim: dict, tmp_path: Path) -> None:
    """A batch without VCF records gets the first file; a contig missing from vcfs.tsv is an error."""
    params_file, outdir = runs["glob"]
    params = _load(params_file)
    out = tmp_path / "out"
    (out / "genes" / "batches").mkdir(parents=True)
    shutil.copytree(outdir / "check", out / "check")
    batch = out / "genes" / "batches" / "chr3_1.tsv"
    batch.write_text("gene_id\tchrom\tvcf_contig\nG1\tchr3\t\n")
    argv = _personalize(params, out)[0]
    assert argv[argv.index("--vcf") + 1] == str(_contig_file(sim, "chr1"))
    batch.write_text("gene_id\tchrom\tvcf_contig\nG1\tchr3\tchr3\n")
    with pytest.raises(SeqgxError, match=r"chr3_1\.tsv': VCF contig 'chr3' is not in .*vcfs\.tsv'; re-run"):
        _personalize(params, out)


def test_run_params_vcf_as_yaml_list(sim: dict, tmp_path: Path) -> None:
    parts = [_contig_file(sim, "chr1"), _contig_file(sim, "chr2")]
    params = tmp_path / "p.yaml"
    params.write_text(f"fasta: {sim['fasta']}\nvcf:\n  - {parts[1]}\n  - {parts[0]}\n"
                      f"annotation: {sim['gtf']}\nexpression: {sim['expression']}\n"
                      f"outdir: {tmp_path / 'o'}\n")
    proc = run_cli("run", params, "--until", "check-inputs", "-q")
    assert proc.returncode == 0, proc.stderr
    vcfs = pd.read_csv(tmp_path / "o" / "check" / "vcfs.tsv", sep="\t")
    assert vcfs.to_dict("list") == {"vcf_contig": ["chr2", "chr1"], "vcf": [str(parts[1]), str(parts[0])]}
