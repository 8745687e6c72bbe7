"""Property-based fuzzing of the inputs (issue "Reliability", item 6).

Each test corrupts one input of the committed small cohort (tests/data/cohort) at random and runs the
command line in-process. Whatever the corruption, a command either exits 0 with correct results, or
exits 2 with ONE stderr line ``seqgx <cmd>: error: ...``: never a traceback, never exit 1 or 3, never a
``.tmp-*`` leftover, and after exit 2 its output target does not exist or is unchanged.
"""

from __future__ import annotations

import gzip
import json
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pysam
import pytest
from cli_helpers import _error_lines
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from seqgx.cli import main
from seqgx.params import PARAMS

COHORT = Path(__file__).parent / "data" / "cohort"
FASTA, VCF, GTF, EXPRESSION = (COHORT / n for n in ("reference.fa", "cohort.vcf.gz", "genes.gtf",
                                                    "expression.tsv"))
CONTIG_LENGTH = 150_000


class _Quiet(tuple):
    """Fixture data with a short repr, so hypothesis reports stay readable."""

    def __repr__(self) -> str:
        return f"<{len(self)} items>"


class _QuietDict(dict):
    def __repr__(self) -> str:
        return f"<{len(self)} items>"


def fuzz_settings(n: int):
    return settings(max_examples=n, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                           HealthCheck.filter_too_much])


# ---------------------------------------------------------------------------------------------------------
# Running a command and checking the contract


def _snapshot(path: Path) -> dict[str, bytes] | None:
    """Every file under ``path`` (or the file itself) with its bytes; None when it does not exist."""
    if not path.exists():
        return None
    if path.is_file():
        return {"": path.read_bytes()}
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


def cli(capsys: pytest.CaptureFixture, work: Path, argv: list[str], out: Path) -> tuple[int, str, str]:
    """Run ``seqgx ARGV`` in-process; check the contract (exit code, stderr, ``out``); rc, stdout, stderr."""
    before = _snapshot(out)
    capsys.readouterr()
    try:
        rc = main(argv)
    except SystemExit as exc:  # argparse in a nested call: still must be one line and exit 2
        rc = exc.code if isinstance(exc.code, int) else 1
    stdout, stderr = capsys.readouterr()
    cmd = argv[0]
    assert "Traceback" not in stderr, stderr
    assert rc in (0, 2), (argv, rc, stderr)
    leftovers = [p for p in work.rglob("*") if p.name.startswith(".tmp-")]
    assert not leftovers, leftovers
    if rc == 2:
        lines = _error_lines(stderr)
        assert len(lines) == 1, stderr
        assert lines[0].startswith(f"seqgx {cmd}: error: "), lines[0]
        assert _snapshot(out) == before, f"{cmd} exited 2 but changed {out}"
    return rc, stdout, stderr


def _workdir(tmp_path: Path) -> Path:
    return Path(tempfile.mkdtemp(dir=tmp_path))


def check_inputs_argv(out: Path, vcf: Path = VCF, annotation: Path = GTF,
                      expression: Path = EXPRESSION) -> list[str]:
    return ["check-inputs", "--fasta", str(FASTA), "--vcf", str(vcf), "--annotation", str(annotation),
            "--expression", str(expression), "--min-samples", "20", "--out", str(out / "check"), "-q"]


def genes_argv(out: Path, annotation: Path = GTF, expression: Path = EXPRESSION) -> list[str]:
    return ["genes", "--annotation", str(annotation), "--expression", str(expression), "--chromosomes",
            "autosomes", "--window-length", "16384", "--genes-per-batch", "50", "--contigs",
            str(out / "check" / "contigs.tsv"), "--out", str(out / "genes"), "-q"]


def personalize_argv(out: Path, batch: Path, vcf: Path) -> list[str]:
    return ["personalize", "--batch", str(batch), "--fasta", str(FASTA), "--vcf", str(vcf), "--samples",
            str(out / "check" / "samples.tsv"), "--ref-mismatch", "error", "--unphased", "error",
            "--missing", "reference", "--phase-seed", "0", "--out", str(out / "haplotypes"), "-q"]


def _npz(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def run_vcf_steps(capsys, work: Path, vcf: Path) -> dict[str, dict[str, np.ndarray]] | None:
    """check-inputs, genes, personalize (every batch); the haplotype files by gene, None on exit 2."""
    rc, _, _ = cli(capsys, work, check_inputs_argv(work, vcf=vcf), work / "check")
    if rc:
        return None
    rc, _, _ = cli(capsys, work, genes_argv(work), work / "genes")
    assert rc == 0  # the VCF plays no part in 'genes'
    haps: dict[str, dict[str, np.ndarray]] = {}
    for batch in sorted((work / "genes" / "batches").glob("*.tsv")):
        genes = pd.read_csv(batch, sep="\t", dtype=str)
        rc, _, _ = cli(capsys, work, personalize_argv(work, batch, vcf), work / "haplotypes")
        if rc:
            return None
        for gid in genes["gene_id"]:
            haps[gid] = _npz(work / "haplotypes" / f"{gid}.haplotypes.npz")
    return haps


# ---------------------------------------------------------------------------------------------------------
# 1. VCF records

GT_ALPHABET = ["0|1", "1|0", "0/1", ".", "2|0", "0|1|1", "x", "", "1|1", "0|0", ".|.", "1"]
ALLELES = ["A", "C", "G", "T", ".", "N", "<DEL>", "AT", "a"]


@pytest.fixture(scope="module")
def vcf_lines() -> tuple[list[str], list[str]]:
    """The cohort VCF as text: header lines, data lines (decompressed once)."""
    with gzip.open(VCF, "rt") as fh:
        lines = fh.read().splitlines()
    header = [ln for ln in lines if ln.startswith("#")]
    return _Quiet((header, [ln for ln in lines if not ln.startswith("#")]))


def write_vcf(path: Path, header: list[str], data: list[str]) -> bool:
    """bgzip + tabix-index the text; False when the indexer refuses it (e.g. unsorted records)."""
    text = path.with_suffix("")
    text.write_text("\n".join(header + data) + "\n")
    try:
        pysam.tabix_compress(str(text), str(path), force=True)
        pysam.tabix_index(str(path), preset="vcf", force=True)
    except (OSError, ValueError):
        return False
    finally:
        text.unlink()
    return True


@pytest.fixture(scope="module")
def vcf_baseline(vcf_lines, tmp_path_factory) -> dict[str, dict[str, np.ndarray]]:
    """The haplotype files of the uncorrupted VCF (written the same way as the fuzzed ones)."""
    work = tmp_path_factory.mktemp("vcf-baseline")
    vcf = work / "cohort.vcf.gz"
    assert write_vcf(vcf, *vcf_lines)
    for argv in (check_inputs_argv(work, vcf=vcf), genes_argv(work)):
        assert main(argv) == 0
    haps = {}
    for batch in sorted((work / "genes" / "batches").glob("*.tsv")):
        assert main(personalize_argv(work, batch, vcf)) == 0
        for gid in pd.read_csv(batch, sep="\t", dtype=str)["gene_id"]:
            haps[gid] = _npz(work / "haplotypes" / f"{gid}.haplotypes.npz")
    assert len(haps) == 6
    return _QuietDict(haps)


vcf_mutation = st.one_of(
    st.tuples(st.just("gt"), st.integers(0, 10**6), st.integers(9, 128), st.sampled_from(GT_ALPHABET)),
    st.tuples(st.just("ref"), st.integers(0, 10**6), st.just(3), st.sampled_from(ALLELES)),
    st.tuples(st.just("alt"), st.integers(0, 10**6), st.just(4), st.sampled_from(ALLELES)),
    st.tuples(st.just("delcol"), st.integers(0, 10**6), st.integers(0, 128), st.just("")),
    st.tuples(st.just("dup"), st.integers(0, 10**6), st.just(0), st.just("")),
    st.tuples(st.just("move"), st.integers(0, 10**6), st.integers(0, 10**6), st.just("")),
)


def mutate_vcf(data: list[str], mutations) -> tuple[list[str], set[tuple[str, int]]]:
    """Apply the mutations; return the new data lines and the (chrom, pos) of every touched record."""
    data = list(data)
    touched: set[tuple[str, int]] = set()
    for kind, i, j, value in mutations:
        i %= len(data)
        fields = data[i].split("\t")
        touched.add((fields[0], int(fields[1])))
        if kind in ("gt", "ref", "alt"):
            fields[j % len(fields)] = value
            data[i] = "\t".join(fields)
        elif kind == "delcol":
            del fields[j % len(fields)]
            data[i] = "\t".join(fields)
        elif kind == "dup":
            data.insert(i, data[i])
        else:  # move: the records are no longer sorted (unless it lands where it was)
            line = data.pop(i)
            data.insert(j % (len(data) + 1), line)
    return data, touched


def _window(h: dict[str, np.ndarray]) -> tuple[str, int, int]:
    return str(h["chrom"]), int(h["window_start"]), int(h["window_start"] + h["window_length"])


@fuzz_settings(25)
@given(mutations=st.lists(vcf_mutation, min_size=1, max_size=4))
def test_fuzz_vcf_records(mutations, vcf_lines, vcf_baseline, tmp_path, capsys) -> None:
    header, data = vcf_lines
    work = _workdir(tmp_path)
    new, touched = mutate_vcf(data, mutations)
    vcf = work / "cohort.vcf.gz"
    assume(write_vcf(vcf, header, new))  # an unsorted file is the indexer's business, not seqgx's
    haps = run_vcf_steps(capsys, work, vcf)
    if haps is None:
        return
    assert set(haps) == set(vcf_baseline)
    margin = 100  # a touched indel's REF may reach into a window from just before it
    for gid, h in haps.items():
        base = vcf_baseline[gid]
        chrom, lo, hi = _window(base)
        assert set(h) == set(base)
        assert np.array_equal(h["samples"], base["samples"])
        assert h["hap_index"].shape == base["hap_index"].shape
        assert h["hap_index"].max() < len(h["distinct_packed"])
        if not any(c == chrom and lo - margin < p <= hi for c, p in touched):
            for k in base:  # an untouched window: exactly the uncorrupted result
                assert np.array_equal(h[k], base[k]), (gid, k)
        else:  # a corrupted record that was accepted is an SNV whose REF matches the FASTA
            with pysam.FastaFile(str(FASTA)) as fa:
                for pos, ref, alt in zip(h["variant_pos"], h["variant_ref"], h["variant_alt"], strict=True):
                    base_at = fa.fetch(chrom, int(pos) - 1, int(pos)).upper()
                    assert ref == base_at and alt in "ACGT", (gid, pos)


# ---------------------------------------------------------------------------------------------------------
# 2. Expression tables

NON_NUMERIC = ["abc", "x1", "1,5", "--", "one", "1.2.3"]


@pytest.fixture(scope="module")
def expression_rows() -> list[list[str]]:
    return _Quiet(ln.split("\t") for ln in EXPRESSION.read_text().splitlines())


expression_edit = st.tuples(st.sampled_from(["nonnumeric", "missing", "dropcell", "dupgene", "dupsample"]),
                            st.integers(1, 10**6), st.integers(1, 10**6), st.sampled_from(NON_NUMERIC))


def corrupt_expression(rows: list[list[str]], edits, whole: str | None) -> tuple[str, bool]:
    """The corrupted table's text, and whether it must be refused (exit 2)."""
    rows = [list(r) for r in rows]
    must_fail = False
    for kind, i, j, value in edits:
        i = 1 + i % (len(rows) - 1)  # a data row
        j = 1 + j % (len(rows[0]) - 1)  # a sample column
        if kind == "nonnumeric":
            rows[i][j] = value
            must_fail = True
        elif kind == "missing":
            rows[i][j] = ""
        elif kind == "dropcell":
            rows[i] = rows[i][:-1]
        elif kind == "dupgene":
            rows.append(list(rows[i]))
            must_fail = True
        else:  # dupsample: a second column named like another
            for r in rows:
                r.append(r[j])
            must_fail = True
    if whole == "empty":
        return "", True
    if whole == "header_only":
        return "\t".join(rows[0]) + "\n", True
    if whole == "transposed":
        width = max(len(r) for r in rows)
        rows = [[r[k] if k < len(r) else "" for r in rows] for k in range(width)]
        must_fail = True
    return "".join("\t".join(r) + "\n" for r in rows), must_fail


@fuzz_settings(25)
@given(edits=st.lists(expression_edit, max_size=4),
       whole=st.sampled_from([None, None, None, "empty", "header_only", "transposed"]))
def test_fuzz_expression(edits, whole, expression_rows, tmp_path, capsys) -> None:
    work = _workdir(tmp_path)
    text, must_fail = corrupt_expression(expression_rows, edits, whole)
    expression = work / "expression.tsv"
    expression.write_text(text)
    rc, _, _ = cli(capsys, work, check_inputs_argv(work, expression=expression), work / "check")
    if must_fail:
        assert rc == 2, text[:200]
        return
    assert rc == 0
    samples = pd.read_csv(work / "check" / "samples.tsv", sep="\t", dtype=str)
    header = text.split("\n", 1)[0].split("\t")[1:]
    assert samples["expression_sample"].is_unique and set(samples["expression_sample"]) <= set(header)
    assert len(samples) >= 20


# ---------------------------------------------------------------------------------------------------------
# 3. Annotations

GTF_LINES = GTF.read_text().splitlines()
GTF_DATA = [i for i, ln in enumerate(GTF_LINES) if not ln.startswith("#")]

gtf_edit = st.one_of(
    st.tuples(st.just("strand"), st.integers(0, 10**6), st.sampled_from([".", "?", "", "x", "+", "-", "++"])),
    st.tuples(st.just("start"), st.integers(0, 10**6),
              st.sampled_from(["abc", "1.5", "", "-5", "0", "1e3", " 12", "999999999"])),
    st.tuples(st.just("gene_id"), st.integers(0, 10**6), st.sampled_from(["", 'gene_id "";', "gene_id;"])),
    st.tuples(st.just("columns"), st.integers(0, 10**6), st.integers(1, 8).map(str)),
)


def corrupt_gtf(edits) -> tuple[str, set[int]]:
    lines = list(GTF_LINES)
    touched = set()
    for kind, i, value in edits:
        i = GTF_DATA[i % len(GTF_DATA)]
        f = lines[i].split("\t")
        touched.add(i)
        if kind != "columns" and len(f) < 9:  # already cut short by an earlier edit
            continue
        if kind == "strand":
            f[6] = value
        elif kind == "start":
            f[3 if f[6] == "+" else 4] = value
        elif kind == "gene_id":
            f[8] = " ".join(a for a in f[8].split("; ") if not a.startswith("gene_id")) + value
        else:
            f = f[:int(value)]
        lines[i] = "\t".join(f)
    return "\n".join(lines) + "\n", touched


@pytest.fixture(scope="module")
def genes_baseline(tmp_path_factory) -> pd.DataFrame:
    work = tmp_path_factory.mktemp("genes-baseline")
    assert main(check_inputs_argv(work)) == 0 and main(genes_argv(work)) == 0
    return pd.read_csv(work / "genes" / "genes.tsv", sep="\t", dtype=str).set_index("gene_id")


@fuzz_settings(25)
@given(edits=st.lists(gtf_edit, min_size=1, max_size=3))
def test_fuzz_annotation(edits, genes_baseline, tmp_path, capsys) -> None:
    work = _workdir(tmp_path)
    text, touched = corrupt_gtf(edits)
    gtf = work / "genes.gtf"
    gtf.write_text(text)
    rc, _, _ = cli(capsys, work, check_inputs_argv(work, annotation=gtf), work / "check")
    if rc:
        return
    rc, _, _ = cli(capsys, work, genes_argv(work, annotation=gtf), work / "genes")
    if rc:
        return
    genes = pd.read_csv(work / "genes" / "genes.tsv", sep="\t", dtype=str).set_index("gene_id")
    tss = genes["tss"].astype(int)
    assert ((tss >= 1) & (tss <= CONTIG_LENGTH)).all(), genes
    untouched_ids = {ln.split('gene_id "')[1].split('"')[0] for i, ln in enumerate(GTF_LINES)
                     if i not in touched and "\tgene\t" in ln}
    for gid in untouched_ids & set(genes.index):
        assert genes.loc[gid].equals(genes_baseline.loc[gid]), gid
    assert untouched_ids <= set(genes.index)


# ---------------------------------------------------------------------------------------------------------
# 4. Params files

WRONG = {int: ["abc", [1, 2], {"a": 1}, True, 1.5], float: ["abc", [1.0], {"a": 1}, True],
         bool: ["yes-please", 3, [True], {"a": 1}, "true"], str: [{"a": 1}, [{"b": 2}]]}

params_edit = st.one_of(
    st.tuples(st.just("wrong_type"), st.sampled_from(PARAMS), st.integers(0, 10)),
    st.tuples(st.just("null"), st.sampled_from(PARAMS), st.just(0)),
    st.tuples(st.just("empty"), st.sampled_from([p for p in PARAMS if p.required]), st.just(0)),
    st.tuples(st.just("unknown"), st.sampled_from(["fastaa", "vcfs", "outDir", "window-length", "x"]),
              st.just(0)),
    st.tuples(st.just("default"), st.sampled_from([p for p in PARAMS if p.default is not None]), st.just(0)),
)


def build_params(edits, outdir: Path) -> tuple[dict, bool | None]:
    """A params document and whether it is valid (True), invalid (False) or either (None)."""
    doc: dict = {"fasta": str(FASTA), "vcf": str(VCF), "annotation": str(GTF), "expression": str(EXPRESSION),
                 "outdir": str(outdir)}
    valid: bool | None = True
    for kind, p, k in edits:
        if kind == "wrong_type":
            if p.name == "outdir" or (p.type is str and p.name in doc):
                continue  # keep outdir in tmp
            choices = WRONG[p.type]
            doc[p.name] = choices[k % len(choices)]
            valid = False
        elif kind == "null":
            if p.name == "outdir":
                continue
            doc[p.name] = None
            if p.required:
                valid = False
            elif valid:
                valid = None  # null for an optional parameter: its default or a clear refusal
        elif kind == "empty":
            doc[p.name] = ""
            valid = False
        elif kind == "unknown":
            doc[p] = 1
            valid = False
        elif p.name != "outdir":
            doc[p.name] = p.default
    return doc, valid


@fuzz_settings(20)
@given(edits=st.lists(params_edit, max_size=3), fmt=st.sampled_from(["yaml", "json"]),
       broken=st.sampled_from([None, None, None, "unclosed", "tab", "list", "scalar", "truncate"]))
def test_fuzz_params(edits, fmt, broken, tmp_path, capsys) -> None:
    import yaml

    work = _workdir(tmp_path)
    outdir = work / "results"
    doc, valid = build_params(edits, outdir)
    text = json.dumps(doc) if fmt == "json" else yaml.safe_dump(doc)
    if broken == "unclosed":
        text = text.replace(":", ": [", 1) if fmt == "yaml" else text[:-1]
    elif broken == "tab":
        text = "\tfasta: x\n" + text if fmt == "yaml" else "{'fasta': 1}"
    elif broken == "list":
        text = "- a\n- b\n" if fmt == "yaml" else "[1, 2]"
    elif broken == "scalar":
        text = "just a string\n" if fmt == "yaml" else '"just a string"'
    elif broken == "truncate":
        text = text[: len(text) // 2]
    if broken:  # half a YAML document may still hold every required parameter
        valid = None if broken == "truncate" else False
    params = work / f"params.{fmt}"
    params.write_text(text)
    rc, _, _ = cli(capsys, work, ["run", str(params), "--until", "check-inputs", "-q"], outdir)
    if valid is False:
        assert rc == 2, text
    elif valid:
        assert rc == 0
    if rc == 0:
        assert valid is not False
        assert (outdir / "check" / "samples.tsv").is_file()
        shutil.rmtree(outdir)


# ---------------------------------------------------------------------------------------------------------
# Regressions the fuzzing found


def test_personalize_error_in_a_later_gene_leaves_no_partial_batch(vcf_lines, tmp_path, capsys) -> None:
    """A duplicated record in the chr1 batch's third gene window: personalize exits 2 and writes none of
    the batch's genes (it used to leave the first two genes' haplotype files behind)."""
    header, data = vcf_lines
    i = next(k for k, ln in enumerate(data) if ln.startswith("chr1\t100848\t"))
    vcf = tmp_path / "cohort.vcf.gz"
    assert write_vcf(vcf, header, data[:i + 1] + data[i:])
    assert main(check_inputs_argv(tmp_path, vcf=vcf)) == 0 and main(genes_argv(tmp_path)) == 0
    batch = tmp_path / "genes" / "batches" / "chr1_1.tsv"
    rc, _, err = cli(capsys, tmp_path, personalize_argv(tmp_path, batch, vcf), tmp_path / "haplotypes")
    assert rc == 2 and "chr1:100848" in err
    assert not list(tmp_path.glob("haplotypes/*.npz"))
