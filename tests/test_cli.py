"""The command line: help, version, unknown subcommands, params files, check-inputs errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pysam
import pytest
from cli_helpers import assert_one_line_error, run_cli

from seqgx.cli import COMMAND_MODULES, main
from seqgx.errors import SeqgxError
from seqgx.params import load_params, modules_config_block, nextflow_params_block, readme_params_table, schema

REPO = Path(__file__).resolve().parents[1]


def test_help_lists_every_subcommand() -> None:
    proc = run_cli("--help")
    assert proc.returncode == 0
    for module in COMMAND_MODULES:
        name = module.rsplit(".", 1)[1].replace("_", "-")
        assert name in proc.stdout, f"{name} missing from seqgx --help"


def test_every_subcommand_has_help() -> None:
    for module in COMMAND_MODULES:
        name = module.rsplit(".", 1)[1].replace("_", "-")
        with pytest.raises(SystemExit) as exc:
            main([name, "--help"])
        assert exc.value.code == 0


def test_version() -> None:
    proc = run_cli("--version")
    assert proc.returncode == 0 and proc.stdout.startswith("seqgx ")


def test_unknown_subcommand_is_one_line() -> None:
    assert_one_line_error(run_cli("frobnicate"), "invalid choice", "frobnicate")


def test_params_file_errors(tmp_path: Path) -> None:
    assert_one_line_error(run_cli("run", tmp_path / "none.yaml"), "none.yaml", "does not exist")
    bad = tmp_path / "bad.yaml"
    bad.write_text("fasta: [unclosed\n")
    assert_one_line_error(run_cli("run", bad), "bad.yaml", "not valid YAML")
    unknown = tmp_path / "unknown.json"
    unknown.write_text(json.dumps({"fasta": "a.fa", "vcf": "b", "annotation": "c", "expression": "d",
                                   "windowlength": 5}))
    assert_one_line_error(run_cli("run", unknown), "unknown parameter", "windowlength")
    wrong_type = tmp_path / "wrong.yaml"
    wrong_type.write_text("fasta: a.fa\nvcf: b\nannotation: c\nexpression: d\nwindow_length: big\n")
    assert_one_line_error(run_cli("run", wrong_type), "window_length", "integer")
    missing = tmp_path / "missing.yaml"
    missing.write_text("fasta: a.fa\n")
    assert_one_line_error(run_cli("run", missing), "required", "vcf")


def test_params_relative_paths_resolve_against_launch_folder(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """As nextflow run -params-file does: the same file names the same inputs under both."""
    (tmp_path / "data").mkdir()
    f = tmp_path / "data" / "p.yaml"
    f.write_text("fasta: data/ref.fa\nvcf: /abs/c.vcf.gz\nannotation: a.gtf\nexpression: e.tsv\n")
    monkeypatch.chdir(tmp_path)
    p = load_params(f)
    assert p["fasta"] == str(tmp_path.resolve() / "data" / "ref.fa")
    assert p["annotation"] == str(tmp_path.resolve() / "a.gtf")
    assert p["vcf"] == "/abs/c.vcf.gz"
    assert p["window_length"] == 196608


def test_params_path_beside_the_file_but_not_in_launch_folder_names_the_fix(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "data").mkdir()
    for name in ("ref.fa", "c.vcf.gz", "a.gtf", "e.tsv"):
        (tmp_path / "data" / name).write_text("")
    f = tmp_path / "data" / "p.yaml"
    f.write_text("fasta: ref.fa\nvcf: c.vcf.gz\nannotation: a.gtf\nexpression: e.tsv\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SeqgxError) as exc:
        load_params(f, check_files=True)
    message = str(exc.value)
    assert "'fasta'" in message and "relative to the folder you run from" in message
    assert f"run from '{(tmp_path / 'data').resolve()}'" in message
    monkeypatch.chdir(tmp_path / "data")  # from the params file's folder it works
    assert load_params(f, check_files=True)["fasta"] == str((tmp_path / "data" / "ref.fa").resolve())


def test_generated_parameter_files_match_params() -> None:
    """nextflow_schema.json, nextflow.config's params, README's table and conf/modules.config's ext.args all
    come from PARAMS."""
    regenerate = "regenerate with: python -m seqgx.params"
    assert json.loads((REPO / "nextflow_schema.json").read_text()) == schema(), regenerate
    assert nextflow_params_block() in (REPO / "nextflow.config").read_text(), regenerate
    assert readme_params_table() in (REPO / "README.md").read_text(), regenerate
    assert modules_config_block() in (REPO / "conf" / "modules.config").read_text(), regenerate


# --- check-inputs -----------------------------------------------------------------------------


def _check_args(cohort: dict, out: Path, **override: object) -> list[str]:
    files = {"fasta": cohort["fasta"], "vcf": cohort["vcf"], "annotation": cohort["gtf"],
             "expression": cohort["expression"], **override}
    args = ["check-inputs", "--out", str(out)]
    for k, v in files.items():
        args += [f"--{k.replace('_', '-')}", str(v)]
    return args


def test_check_inputs_on_simulated_cohort(cohort: dict, tmp_path: Path) -> None:
    import pandas as pd

    proc = run_cli(*_check_args(cohort, tmp_path / "check"))
    assert proc.returncode == 0, proc.stderr
    summary = json.loads((tmp_path / "check" / "check_summary.json").read_text())
    truth = json.loads(Path(cohort["truth"]).read_text())
    samples = pd.read_csv(tmp_path / "check" / "samples.tsv", sep="\t")
    expr_samples = pd.read_csv(cohort["expression"], sep="\t", index_col=0, nrows=0).columns
    vcf_samples = list(pysam.VariantFile(str(cohort["vcf"])).header.samples)
    both = set(expr_samples) & set(vcf_samples)
    assert set(samples["vcf_sample"]) == both
    assert summary["matched_samples"] == len(both)
    assert summary["expression_samples_without_genotypes"] == len(set(expr_samples) - both) > 0
    assert summary["vcf_samples_without_expression"] == len(set(vcf_samples) - both) > 0
    assert "samples:" in proc.stdout and "genes:" in proc.stdout
    assert truth  # the cohort's truth is readable
    # --json: the same summary as one JSON object, nothing else on stdout
    proc = run_cli(*_check_args(cohort, tmp_path / "check2"), "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == summary


def test_check_inputs_maps_chr_prefix(cohort: dict, tmp_path: Path) -> None:
    """An annotation that says '1' while FASTA and VCF say 'chr1' is mapped, and the map is written."""
    import pandas as pd

    tsv = pd.read_csv(cohort["annotation_tsv"], sep="\t")
    tsv["chrom"] = tsv["chrom"].str.replace("chr", "", regex=False)
    renamed = tmp_path / "genes_nochr.tsv"
    tsv.to_csv(renamed, sep="\t", index=False)
    proc = run_cli(*_check_args(cohort, tmp_path / "check", annotation=renamed))
    assert proc.returncode == 0, proc.stderr
    contigs = pd.read_csv(tmp_path / "check" / "contigs.tsv", sep="\t", dtype=str)
    row = contigs.set_index("annotation_contig").loc["1"]
    assert row["fasta_contig"] == "chr1" and row["vcf_contig"] == "chr1"
    assert "1->chr1" in proc.stderr


def test_check_inputs_bad_inputs(cohort: dict, tmp_path: Path) -> None:
    # missing file
    assert_one_line_error(run_cli(*_check_args(cohort, tmp_path / "o", fasta=tmp_path / "nope.fa")),
                          "nope.fa", "does not exist")
    # unindexed VCF
    unindexed = tmp_path / "unindexed.vcf.gz"
    shutil.copy(cohort["vcf"], unindexed)
    assert_one_line_error(run_cli(*_check_args(cohort, tmp_path / "o", vcf=unindexed)),
                          "unindexed.vcf.gz", "no index", "index")
    # unindexed FASTA
    fa = tmp_path / "ref.fa"
    shutil.copy(cohort["fasta"], fa)
    assert_one_line_error(run_cli(*_check_args(cohort, tmp_path / "o", fasta=fa)), "ref.fa", "faidx")
    # contigs that do not match at all
    import pandas as pd

    tsv = pd.read_csv(cohort["annotation_tsv"], sep="\t")
    tsv["chrom"] = "scaffold_" + tsv["chrom"].astype(str)
    odd = tmp_path / "odd.tsv"
    tsv.to_csv(odd, sep="\t", index=False)
    assert_one_line_error(run_cli(*_check_args(cohort, tmp_path / "o", annotation=odd)),
                          "odd.tsv", "FASTA")
    # no overlapping samples
    expr = pd.read_csv(cohort["expression"], sep="\t", index_col=0)
    expr.columns = [f"X{c}" for c in expr.columns]
    other = tmp_path / "other_expr.tsv"
    expr.to_csv(other, sep="\t")
    assert_one_line_error(run_cli(*_check_args(cohort, tmp_path / "o", expression=other)),
                          "only 0 samples", "sample map")
    # a sample named twice in the expression header
    twice = tmp_path / "twice.tsv"
    lines = Path(cohort["expression"]).read_text().splitlines()
    cols = lines[0].split("\t")
    cols[2] = cols[1]
    twice.write_text("\n".join(["\t".join(cols), *lines[1:]]) + "\n")
    assert_one_line_error(run_cli(*_check_args(cohort, tmp_path / "o", expression=twice)),
                          "twice.tsv", f"'{cols[1]}' more than once")
    # ...and a sample map fixes it
    smap = tmp_path / "map.tsv"
    pd.DataFrame({"expression_sample": expr.columns, "vcf_sample": [c[1:] for c in expr.columns]}).to_csv(
        smap, sep="\t", index=False)
    proc = run_cli(*_check_args(cohort, tmp_path / "o", expression=other, sample_map=smap))
    assert proc.returncode == 0, proc.stderr
    assert not (tmp_path / "o" / ".tmp").exists()
