"""Cohorts as they come (issue 15) end to end: `seqgx run` of the simulated cohort as two tissues in
tensorQTL layout with covariates, one prediction pass for both, statistics per tissue; checked against
the planted truth and against single-tissue runs of the same inputs."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from cli_helpers import assert_one_line_error, run_cli, seqgx_run
from conftest import TEST_DATA, TISSUES_RUN_PARAMS

RUN = {k: v for k, v in TISSUES_RUN_PARAMS.items() if k not in ("model", "report_top_genes")}


@pytest.fixture(scope="module")
def small() -> dict[str, Path]:
    """The committed test cohort's files by simulate's keys (seqgx.simulate.FILES)."""
    from seqgx.simulate import FILES

    return {key: TEST_DATA / name for key, name in FILES.items()}


@pytest.fixture(scope="module")
def tissues_run(tissues_seqgx_run: Path) -> Path:
    """Both tissues from the samplesheet, with the fine-mapping table; up to merge (no report)."""
    return tissues_seqgx_run


def _truth(small: dict) -> dict:
    return json.loads(Path(small["truth"]).read_text())


def _genes(folder: Path) -> pd.DataFrame:
    return pd.read_csv(folder / "genes.tsv", sep="\t", dtype={"gene_id": str})


def test_one_prediction_pass_serves_both_tissues(tissues_run: Path, small: dict) -> None:
    """PREDICT runs once per gene batch for the union of the tissues' readouts (brain: oracle:TATA;
    liver: oracle:TATA and track 0): one predictions file per gene, each with both readouts."""
    steps = {s["step"]: s for s in json.loads((tissues_run / "pipeline_info" / "steps.json").read_text())}
    n_genes = len(_truth(small)["genes"])
    assert steps["personalize"]["tasks"] == steps["predict"]["tasks"] == 2  # one batch per chromosome
    assert steps["stats"]["tasks"] == 2 * steps["predict"]["tasks"]  # per tissue
    refs = sorted((tissues_run / "predictions").glob("*.reference.json"))
    assert len(refs) == len(list((tissues_run / "predictions").glob("*.predictions.tsv"))) == n_genes
    for ref in refs:
        info = json.loads(ref.read_text())
        assert sorted(r["name"] for r in info["readouts"]) == ["track:0", "track:1"]
        # One model call set per gene: as many sequences as one tissue's run would compute.
        assert info["cost"]["model_calls"] >= 1
    brain, liver = _genes(tissues_run / "assessment" / "brain"), _genes(tissues_run / "assessment" / "liver")
    assert set(brain["readout"]) == {"track:1"} and set(liver["readout"]) == {"track:0", "track:1"}
    assert set(brain["tissue"]) == {"brain"} and set(liver["tissue"]) == {"liver"}
    assert (brain["n_covariates"] == 5).all()
    drivers = pd.read_csv(tissues_run / "assessment" / "liver" / "drivers.tsv", sep="\t")
    assert set(drivers["tissue"]) == {"liver"}


def test_each_tissue_equals_its_own_single_tissue_run(tissues_run: Path, small: dict,
                                                     tmp_path: Path) -> None:
    """The brain's results equal a run with brain's BED and covariates as 'expression' and 'covariates'
    and its readout as 'tracks': the tissue loop changes nothing but the layout."""
    single = seqgx_run(small, tmp_path, "--until", "merge", "--threads", "1",
                       expression=str(small["brain_expression"]), covariates=str(small["brain_covariates"]),
                       tracks="oracle:TATA", **RUN)
    a = _genes(tissues_run / "assessment" / "brain").set_index("gene_id")
    b = _genes(single / "assessment").set_index("gene_id").loc[a.index]
    assert (b["tissue"] == "default").all()
    for col in ("r", "r_pvalue", "null_p", "fdr", "n_samples"):
        np.testing.assert_allclose(a[col].to_numpy(float), b[col].to_numpy(float), rtol=1e-9, equal_nan=True)
    # Attribution: a gene significant in either tissue (the liver too) has it in the tissues run.
    both = b["approx_r"].notna().to_numpy()
    assert both.any() and a["approx_r"].notna().to_numpy()[both].all()
    np.testing.assert_allclose(a["approx_r"].to_numpy(float)[both], b["approx_r"].to_numpy(float)[both],
                               rtol=1e-9)


def test_covariates_recover_the_planted_genes_and_the_silent_tissue(tissues_run: Path, small: dict,
                                                                    tmp_path: Path) -> None:
    """With the covariates that explain the planted batch effect the planted genes are significant in
    the brain; the same statistics without covariates lose them; in the liver, the silent gene is not."""
    truth = _truth(small)
    planted = {g["gene_id"] for g in truth["genes"] if g["kind"] != "none"}
    brain = _genes(tissues_run / "assessment" / "brain").set_index("gene_id")
    assert brain.loc[sorted(planted), "significant"].astype(str).str.lower().eq("true").mean() >= 0.75
    out = tmp_path / "no_covariates"
    proc = run_cli("stats", "--haplotypes", tissues_run / "haplotypes", "--predictions",
                   tissues_run / "predictions", "--expression", small["brain_expression"], "--tissue",
                   "brain", "--readouts", "oracle:TATA", "--null-draws", "200", "--batch-name", "all",
                   "--out", out)
    assert proc.returncode == 0, proc.stderr
    proc = run_cli("merge", "--genes", out, "--out", tmp_path / "merged")
    assert proc.returncode == 0, proc.stderr
    plain = _genes(tmp_path / "merged").set_index("gene_id")
    assert (plain["n_covariates"] == 0).all()
    assert not plain.loc[sorted(planted), "significant"].astype(str).str.lower().eq("true").any()
    assert (plain.loc[sorted(planted), "r"].abs() < brain.loc[sorted(planted), "r"].abs()).all()
    silent = truth["tissues"]["silent_gene"]
    liver = _genes(tissues_run / "assessment" / "liver")
    assert not liver.loc[liver["gene_id"] == silent, "significant"].astype(str).str.lower().eq("true").any()
    assert brain.loc[silent, "significant"] in (True, "true")


def test_bed_and_equivalent_tsv_give_identical_statistics(tissues_run: Path, small: dict,
                                                         tmp_path: Path) -> None:
    """The tensorQTL BED and the same values as a genes x samples TSV: identical tables."""
    with gzip.open(small["brain_expression"], "rt") as fh:
        bed = pd.read_csv(fh, sep="\t")
    tsv = tmp_path / "brain.tsv"
    bed.drop(columns=["#chr", "start", "end"]).rename(columns={"phenotype_id": "gene_id"}).to_csv(
        tsv, sep="\t", index=False)
    tables = []
    for name, expression in (("bed", small["brain_expression"]), ("tsv", tsv)):
        proc = run_cli("stats", "--haplotypes", tissues_run / "haplotypes", "--predictions",
                       tissues_run / "predictions", "--expression", expression, "--covariates",
                       small["brain_covariates"], "--readouts", "oracle:TATA", "--null-draws", "50",
                       "--batch-name", "all", "--out", tmp_path / name)
        assert proc.returncode == 0, proc.stderr
        tables.append((tmp_path / name / "all.genes.tsv").read_text())
    assert tables[0] == tables[1]


def test_finemapped_main_drivers_are_the_causal_variants(tissues_run: Path, small: dict) -> None:
    """With the oracle, each planted gene's main driver is its planted causal SNV: reported as the
    credible-set variant, and counted in summary.json."""
    truth = _truth(small)
    drivers = pd.read_csv(tissues_run / "assessment" / "brain" / "drivers.tsv", sep="\t",
                          dtype={"finemap_match": str})
    main = drivers[drivers["is_main"].astype(str).str.lower() == "true"]
    assert len(main) and (main["finemap_match"] == "causal").all()
    causal = {(g["gene_id"], v["pos"]) for g in truth["genes"] for v in g.get("causal", [])}
    assert {(g, int(p)) for g, p in zip(main["gene_id"], main["pos"], strict=True)} <= causal
    summary = json.loads((tissues_run / "assessment" / "brain" / "summary.json").read_text())
    assert summary["tissues"] == ["brain"]
    assert summary["finemapping"]["track:1"]["fraction_main_driver_causal"] == 1.0


def test_bad_tissue_sheet_is_one_line_and_writes_nothing(small: dict, tmp_path: Path) -> None:
    sheet = tmp_path / "tissues.csv"
    rows = Path(small["tissues"]).read_text().splitlines()
    folder = Path(small["tissues"]).parent
    fixed = [rows[0]] + [",".join(str(folder / c) if c.startswith("tissues/") else c for c in r.split(","))
                         for r in rows[1:]]
    sheet.write_text("\n".join([*fixed, fixed[1]]) + "\n")  # brain twice
    params = {"fasta": str(small["fasta"]), "vcf": str(small["vcf"]), "annotation": str(small["gtf"]),
              "tissues": str(sheet), "model": "oracle", "outdir": str(tmp_path / "out"),
              "window_length": 16384}
    (tmp_path / "params.json").write_text(json.dumps(params))
    proc = run_cli("run", tmp_path / "params.json", "-q")
    assert_one_line_error(proc, str(sheet), "line 4", "brain", "listed twice")
    assert not (tmp_path / "out" / "assessment").exists()


def test_a_tissue_whose_samples_match_no_vcf_sample_is_refused(small: dict, tmp_path: Path) -> None:
    """Each tissue on its own needs genotyped samples, even when another tissue has them."""
    with gzip.open(small["liver_expression"], "rt") as fh:
        bed = pd.read_csv(fh, sep="\t")
    renamed = bed.rename(columns={c: f"X{c}" for c in bed.columns[4:]})
    stranger = tmp_path / "stranger.bed"
    renamed.to_csv(stranger, sep="\t", index=False)
    proc = run_cli("check-inputs", "--fasta", small["fasta"], "--vcf", small["vcf"], "--annotation",
                   small["gtf"], "--tissue", "brain", small["brain_expression"], "--tissue", "liver",
                   stranger,
                   "--out", tmp_path / "check")
    assert_one_line_error(proc, f"only 0 samples of expression matrix '{stranger}' have genotypes")
    assert not (tmp_path / "check").exists()

