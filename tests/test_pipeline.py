"""`seqgx run` end to end on the simulated cohort, from a subprocess, with the closed-form oracle."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from cli_helpers import run_cli, seqgx_run


@pytest.fixture(scope="module")
def run_outputs(cohort: dict, tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("run")
    return seqgx_run(cohort, work, "--json", "--threads", "1", tracks="oracle:TATA", tss_window=50,
                     null_draws=200, genes_per_batch=4, report_top_genes=2)


def test_run_json_is_one_object_with_every_step(run_outputs: Path) -> None:
    """--json: stdout is one JSON object (the steps' own summaries are not mixed in)."""
    report = json.loads((run_outputs.parent / "stdout.txt").read_text())
    assert report["outdir"] == str(run_outputs.resolve())
    steps = {s["step"]: s for s in report["steps"]}
    assert list(steps) == ["check-inputs", "genes", "personalize", "export-onnx", "predict", "stats",
                           "attribution-genes", "ism", "attribution-stats", "motifs", "merge", "report"]
    assert steps["personalize"]["tasks"] == steps["stats"]["tasks"] >= 2  # 4 genes per batch
    # --threads 1 reached every step that computes; steps without threads say None.
    assert {name for name, s in steps.items() if s["threads"] == 1} == {
        "personalize", "predict", "stats", "ism", "attribution-stats", "motifs", "report"}
    assert steps["predict"]["cost"]["forward_equivalents"] > 0 and steps["genes"]["cost"] is None
    assert steps["genes"]["threads"] is None and steps["export-onnx"]["tasks"] == 0
    summary = json.loads((run_outputs / "assessment" / "summary.json").read_text())
    assert report["summary"] == summary


def test_run_writes_every_step(run_outputs: Path, cohort: dict) -> None:
    truth = json.loads(Path(cohort["truth"]).read_text())
    n_genes = len(truth["genes"])
    # Attribution runs on the genes phase 1 found significant (every planted gene; docs/methods.md).
    selection = pd.read_csv(run_outputs / "attribution" / "attribution_genes.tsv", sep="\t")
    n_selected = int(selection["selected"].sum())
    planted = {g["gene_id"] for g in truth["genes"] if g["kind"] != "none"}
    assert set(selection.loc[selection["selected"], "gene_id"]) == planted
    for sub, pattern, count in [("haplotypes", "*.haplotypes.npz", n_genes),
                                ("predictions", "*.predictions.tsv", n_genes),
                                ("ism", "*.ism.tsv", n_selected), ("genes/batches", "*.tsv", None)]:
        found = list((run_outputs / sub).glob(pattern))
        assert found and (count is None or len(found) == count), (sub, len(found))
    genes = pd.read_csv(run_outputs / "assessment" / "genes.tsv", sep="\t")
    assert len(genes) == n_genes  # one readout, every gene kept (NaN statistics carry a status)
    assert set(genes["readout"]) == {"track:1"}
    assert genes["status"].notna().all()
    assert set(genes["model"]) == {"oracle"} and genes["model_sha256"].str.len().eq(64).all()
    ism_info = json.loads(next((run_outputs / "ism").glob("*.ism.json")).read_text())
    assert ism_info["model"]["source"] == "oracle" and ism_info["method"] == "fast"
    summary = json.loads((run_outputs / "assessment" / "summary.json").read_text())
    assert summary["n_genes"] == n_genes
    assert len(summary["models"]) == 1 and summary["models"][0].startswith("oracle (sha256 ")
    # Motifs of the selected genes' main drivers, merged and summarised (docs/motifs.md)
    drivers = pd.read_csv(run_outputs / "assessment" / "drivers.tsv", sep="\t")
    motifs = pd.read_csv(run_outputs / "assessment" / "driver_motifs.tsv", sep="\t")
    main_drivers = drivers[drivers["is_main"]]
    assert sorted(motifs["variant_id"]) == sorted(drivers["variant_id"])  # one row per driver
    # The neighbourhood ISM: main drivers only by default ('no_scale': a gene whose TSS track is flat)
    computed = motifs[motifs["status"].isin(["ok", "no_scale"])]
    assert sorted(computed["variant_id"]) == sorted(main_drivers["variant_id"])
    assert summary["motifs"]["track:1"]["n_main_drivers"] == len(main_drivers)
    assert (run_outputs / "assessment" / "motif_enrichment.tsv").is_file()
    assert summary["cost"]["motifs"]["genes"] == n_selected
    leftovers = [p for p in run_outputs.rglob("*") if p.name.startswith(".tmp-")]
    assert not leftovers, leftovers


def test_planted_genes_significant_with_the_oracles_sign(run_outputs: Path, cohort: dict) -> None:
    """The study's headline on the simulated cohort: genes whose planted SNVs make or break a TATA motif
    near the TSS are significant; where the expression effect runs against the oracle's direction, R is
    negative and the drivers are the causal SNVs, unsupported by the observed eQTL."""
    truth = json.loads(Path(cohort["truth"]).read_text())
    genes = pd.read_csv(run_outputs / "assessment" / "genes.tsv", sep="\t").set_index("gene_id")
    drivers = pd.read_csv(run_outputs / "assessment" / "drivers.tsv", sep="\t")
    n_negative = 0
    for tg in truth["genes"]:
        row = genes.loc[tg["gene_id"]]
        if tg["kind"] == "none":
            assert row["status"] == "constant_prediction" and not row["significant"]
            continue
        expected = tg["expected_sign_oracle_tata"]
        assert row["significant"], tg["gene_id"]
        assert np.sign(row["r"]) == expected
        if len(tg["causal"]) == 1:  # one causal SNV: the oracle is the planted effect up to scale and sign
            assert row["r"] == pytest.approx(expected * tg["perfect_r"], abs=1e-4)
        n_negative += expected < 0
        dr = drivers[drivers.gene_id == tg["gene_id"]]
        causal = {c["variant_id"]: c for c in tg["causal"]}
        assert set(dr["variant_id"]) == set(causal)
        for _, d in dr.iterrows():
            c = causal[d["variant_id"]]
            assert d["ism"] == pytest.approx(c["oracle_delta"])  # ISM: one TATA made or broken
            assert d["supported"] == float(c["oracle_supported"])
    assert n_negative == 2
    summary = json.loads((run_outputs / "assessment" / "summary.json").read_text())["readouts"]["track:1"]
    assert summary["supported_fraction_positive_genes"] == 1.0
    assert summary["supported_fraction_negative_genes"] == 0.0


def test_run_until_stops_after_the_step(cohort: dict, tmp_path: Path) -> None:
    params = tmp_path / "p.yaml"
    params.write_text(f"fasta: {cohort['fasta']}\nvcf: {cohort['vcf']}\nannotation: {cohort['gtf']}\n"
                      f"expression: {cohort['expression']}\noutdir: {tmp_path / 'out'}\n")
    proc = run_cli("run", params, "--until", "genes", "-q")
    assert proc.returncode == 0, proc.stderr
    # Human lines only: one per step that ran, then where the results are.
    lines = proc.stdout.splitlines()
    assert [line.split()[0] for line in lines[:2]] == ["check-inputs", "genes"]
    assert lines[0].startswith("check-inputs      1 task(s) in ") and "thread" not in lines[1]
    assert lines[2] == f"results in {(tmp_path / 'out').resolve()}" and len(lines) == 3
    assert (tmp_path / "out" / "genes" / "genes.tsv").is_file()
    assert not (tmp_path / "out" / "haplotypes").exists()
