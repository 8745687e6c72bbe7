"""Params files: syntax errors with the 1-based line, column and the parser's reason; empty and null
values; input files that must exist (the schema's ``exists``), all checked up front by `seqgx run`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_helpers import assert_one_line_error, run_cli

from seqgx.errors import SeqgxError
from seqgx.params import PARAMS_BY_NAME, load_params

REQUIRED = "fasta: ref.fa\nvcf: c.vcf.gz\nannotation: a.gtf\nexpression: e.tsv\n"


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder with the four required inputs (empty files: only their existence is checked here); the
    tests run from it, as relative paths in a params file are relative to the launch folder."""
    for name in ("ref.fa", "c.vcf.gz", "a.gtf", "e.tsv"):
        (tmp_path / name).write_text("")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _error(path: Path, check_files: bool = True) -> str:
    with pytest.raises(SeqgxError) as exc:
        load_params(path, check_files=check_files)
    return str(exc.value)


def _write(folder: Path, text: str, name: str = "p.yaml") -> Path:
    (folder / name).write_text(text)
    return folder / name


# --- syntax -----------------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "where"), [
    # line 2 'vcf: b: c': the second ':' (column 7) starts a mapping inside a plain value
    ("fasta: a.fa\nvcf: b: c\n", "line 2, column 7: mapping values are not allowed here"),
    # an indented key after a plain value: the ':' of line 2 (column 6)
    ("fasta: a.fa\n  vcf: b\n", "line 2, column 6: mapping values are not allowed here"),
    # the unclosed '[' of line 1 (column 8) is only noticed at line 2's ':' (column 4)
    ("fasta: [unclosed\nvcf: b\n", "line 2, column 4: expected ',' or ']', but got ':', while parsing a "
                                   "flow sequence at line 1, column 8"),
    # an unclosed quote (line 1, column 8) runs to the end of the file: line 3, column 1
    ('fasta: "a.fa\nvcf: b\n', "line 3, column 1: found unexpected end of stream, while scanning a quoted "
                               "scalar at line 1, column 8"),
])
def test_yaml_syntax_error_names_line_column_and_reason(tmp_path: Path, text: str, where: str) -> None:
    f = _write(tmp_path, text)
    assert _error(f) == f"params file '{f}' is not valid YAML ({where}); fix its syntax"


def test_json_syntax_error_names_line_column_and_reason(tmp_path: Path) -> None:
    f = _write(tmp_path, '{"fasta": "a.fa",\n "vcf": "b",\n}\n', "p.json")  # trailing comma of line 2
    assert _error(f) == (f"params file '{f}' is not valid JSON (line 3, column 1: Expecting property name "
                         f"enclosed in double quotes); fix its syntax")


def test_syntax_error_from_seqgx_run_is_one_line_exit_2(tmp_path: Path) -> None:
    f = _write(tmp_path, "fasta: a.fa\nvcf: b: c\n")
    proc = run_cli("run", f)
    assert proc.returncode == 2
    assert_one_line_error(proc, "not valid YAML (line 2, column 7: mapping values are not allowed here)")


# --- empty and null values --------------------------------------------------------------------------

@pytest.mark.parametrize("value", ["", '""', "''", "[]", "null", "~"])
def test_required_param_empty_or_null(folder: Path, value: str) -> None:
    f = _write(folder, REQUIRED.replace("fasta: ref.fa", f"fasta: {value}"))
    assert _error(f, check_files=False) == (f"{f}: parameter 'fasta' is required and empty: give the path "
                                            f"of the reference genome FASTA (indexed: .fai beside it)")


def test_required_vcf_empty(folder: Path) -> None:
    f = _write(folder, REQUIRED.replace("vcf: c.vcf.gz", 'vcf: ""'))
    assert _error(f) == (f"{f}: parameter 'vcf' is required and empty: give the path of the phased cohort "
                         f"VCF/BCF (bgzipped and indexed), a glob of them or a samplesheet (contig,vcf)")


def test_required_empty_from_seqgx_run_is_one_line_exit_2(folder: Path) -> None:
    f = _write(folder, REQUIRED.replace("annotation: a.gtf", "annotation:"))
    proc = run_cli("run", f)
    assert proc.returncode == 2
    assert_one_line_error(proc, f"{f}: parameter 'annotation' is required and empty: give the path of the "
                                f"gene annotation (GTF or TSV)")
    # expression is one of two ways to give the cohort's expression (the other: tissues).
    f = _write(folder, REQUIRED.replace("expression: e.tsv", "expression:"))
    proc = run_cli("run", f)
    assert proc.returncode == 2
    assert_one_line_error(proc, f"{f}: give exactly one of 'expression' (one tissue) and 'tissues'",
                          "neither")


def test_null_means_the_default(folder: Path) -> None:
    f = _write(folder, REQUIRED + "window_length:\nnull_draws: null\nreverse_complement: ~\nref_mismatch:\n"
                                  "model:\noutdir:\npseudocount:\n")
    p = load_params(f, check_files=True)
    for name in ("window_length", "null_draws", "reverse_complement", "ref_mismatch", "model", "outdir",
                 "pseudocount"):
        assert p[name] == PARAMS_BY_NAME[name].default, name
    assert p["null_draws"] is None and p["window_length"] == 196608 and p["reverse_complement"] is False


def test_empty_optional_file_or_text_is_unset(folder: Path) -> None:
    f = _write(folder, REQUIRED + 'sample_map: ""\ngene_list:\nhparams: ""\ntracks: " "\npredictdb: ""\n')
    p = load_params(f, check_files=True)
    assert [p[k] for k in ("sample_map", "gene_list", "hparams", "tracks", "predictdb")] == [None] * 5


def test_empty_string_where_it_means_something(folder: Path) -> None:
    f = _write(folder, REQUIRED + "container_registry: ''\n")  # '' = locally built images, as documented
    assert load_params(f)["container_registry"] == ""


@pytest.mark.parametrize(("line", "message"), [
    ('null_draws: ""', "parameter 'null_draws' must be an integer, got ''"),
    ('window_length: ""', "parameter 'window_length' must be an integer, got ''"),
    ('pseudocount: ""', "parameter 'pseudocount' must be a number, got ''"),
    ('reverse_complement: ""', "parameter 'reverse_complement' must be true or false, got ''"),
    ('ref_mismatch: ""', "parameter 'ref_mismatch' is empty: give one of error, skip; leave it out for "
                         "the default 'error'"),
    ('model: ""', "parameter 'model' is empty: give a value; leave it out for the default "
                  "'EleutherAI/enformer-official-rough'"),
    ('max_time: ""', "parameter 'max_time' is empty: give a value; leave it out for the default "
                     "'240.h'"),
    ("null_draws: 1", "parameter 'null_draws' must be >= 2, got 1"),
    ("precision: fp8", "parameter 'precision' must be one of fp32, bf16, fp16, got 'fp8'"),
])
def test_empty_or_wrong_typed_values_are_one_line_errors(folder: Path, line: str, message: str) -> None:
    f = _write(folder, REQUIRED + line + "\n")
    assert _error(f) == f"{f}: {message}"


def test_json_null_and_empty(folder: Path) -> None:
    base = {"fasta": "ref.fa", "vcf": "c.vcf.gz", "annotation": "a.gtf", "expression": "e.tsv"}
    f = _write(folder, json.dumps({**base, "null_draws": None, "sample_map": ""}), "p.json")
    p = load_params(f, check_files=True)
    assert p["null_draws"] is None and p["sample_map"] is None
    f = _write(folder, json.dumps({**base, "annotation": None}), "p.json")
    assert _error(f) == (f"{f}: parameter 'annotation' is required and empty: give the path of the gene "
                         f"annotation (GTF or TSV)")


# --- input files exist (the schema's `exists`) ------------------------------------------------------

def test_missing_required_file(folder: Path) -> None:
    f = _write(folder, REQUIRED.replace("ref.fa", "nope.fa"))
    assert _error(f) == (f"{f}: parameter 'fasta': file '{folder / 'nope.fa'}' does not exist; give the "
                         f"path of an existing file (relative to the folder you run from)")
    assert load_params(f)["fasta"] == str(folder / "nope.fa")  # not checked unless asked (seqgx run asks)


def test_missing_optional_file(folder: Path) -> None:
    f = _write(folder, REQUIRED + "sample_map: map.tsv\n")
    assert _error(f) == (f"{f}: parameter 'sample_map': file '{folder / 'map.tsv'}' does not exist; give "
                         f"the path of an existing file (relative to the folder you run from)")


def test_folder_for_a_file(folder: Path) -> None:
    (folder / "sub").mkdir()
    f = _write(folder, REQUIRED.replace("a.gtf", "sub"))
    assert _error(f) == f"{f}: parameter 'annotation' is a folder, not a file: '{folder / 'sub'}'"
    (folder / "hf").mkdir()  # ism_model may be a Hugging Face folder
    assert load_params(_write(folder, REQUIRED + "ism_model: hf\n"), check_files=True)["ism_model"] == str(
        folder / "hf")


def test_vcf_glob_list_and_samplesheet(folder: Path) -> None:
    f = _write(folder, REQUIRED.replace("c.vcf.gz", "'*.bcf'"))
    assert _error(f) == (f"{f}: parameter 'vcf': the pattern '{folder / '*.bcf'}' matches no file; fix the "
                         f"folder or pattern (relative to the folder you run from)")
    assert load_params(_write(folder, REQUIRED.replace("c.vcf.gz", "'c*.vcf.gz'")), check_files=True)
    f = _write(folder, REQUIRED.replace("c.vcf.gz", "[c.vcf.gz, d.vcf.gz]"))
    assert _error(f) == (f"{f}: parameter 'vcf': file '{folder / 'd.vcf.gz'}' does not exist; give the path "
                         f"of an existing file (relative to the folder you run from)")
    f = _write(folder, REQUIRED.replace("c.vcf.gz", "vcfs.csv"))
    assert _error(f) == (f"{f}: parameter 'vcf': file '{folder / 'vcfs.csv'}' does not exist; give the path "
                         f"of an existing file (relative to the folder you run from)")
    (folder / "vcfs.csv").write_text("contig,vcf\n")
    assert load_params(f, check_files=True)["vcf"] == str(folder / "vcfs.csv")


def test_remote_inputs_are_not_checked(folder: Path) -> None:
    f = _write(folder, REQUIRED.replace("ref.fa", "s3://bucket/ref.fa"))
    assert load_params(f, check_files=True)["fasta"] == "s3://bucket/ref.fa"


def test_missing_file_from_seqgx_run_is_one_line_exit_2(folder: Path) -> None:
    f = _write(folder, REQUIRED.replace("e.tsv", "expr.tsv"))
    proc = run_cli("run", f)
    assert proc.returncode == 2
    assert_one_line_error(proc, f"parameter 'expression': file '{folder / 'expr.tsv'}' does not exist")
