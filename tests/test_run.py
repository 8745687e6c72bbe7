"""`seqgx run` end to end on the simulated cohort, from a subprocess, with the closed-form oracle."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from cli_helpers import run_cli


@pytest.fixture(scope="module")
def run_outputs(cohort: dict, tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("run")
    params = {
        "fasta": str(cohort["fasta"]), "vcf": str(cohort["vcf"]), "annotation": str(cohort["gtf"]),
        "expression": str(cohort["expression"]), "outdir": str(work / "results"),
        "model": "oracle", "tracks": "oracle:TATA", "tss_window": 50, "null_draws": 200,
        "genes_per_batch": 4,
    }
    (work / "params.json").write_text(json.dumps(params))
    proc = run_cli("run", work / "params.json", "-q")
    assert proc.returncode == 0, proc.stderr
    return work / "results"


def test_run_writes_every_step(run_outputs: Path, cohort: dict) -> None:
    truth = json.loads(Path(cohort["truth"]).read_text())
    n_genes = len(truth["genes"])
    for sub, pattern, count in [("haplotypes", "*.haplotypes.npz", n_genes),
                                ("predictions", "*.predictions.tsv", n_genes),
                                ("ism", "*.ism.tsv", n_genes), ("genes/batches", "*.tsv", None)]:
        found = list((run_outputs / sub).glob(pattern))
        assert found and (count is None or len(found) == count), (sub, len(found))
    genes = pd.read_csv(run_outputs / "assessment" / "genes.tsv", sep="\t")
    assert len(genes) == n_genes  # one readout, every gene kept (NaN statistics carry a status)
    assert set(genes["readout"]) == {"track:1"}
    assert genes["status"].notna().all()
    summary = json.loads((run_outputs / "assessment" / "summary.json").read_text())
    assert summary["n_genes"] == n_genes
    leftovers = [p for p in run_outputs.rglob("*") if p.name.startswith(".tmp-")]
    assert not leftovers, leftovers


def test_run_until_stops_after_the_step(cohort: dict, tmp_path: Path) -> None:
    params = tmp_path / "p.yaml"
    params.write_text(f"fasta: {cohort['fasta']}\nvcf: {cohort['vcf']}\nannotation: {cohort['gtf']}\n"
                      f"expression: {cohort['expression']}\noutdir: {tmp_path / 'out'}\n")
    proc = run_cli("run", params, "--until", "genes", "-q")
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "out" / "genes" / "genes.tsv").is_file()
    assert not (tmp_path / "out" / "haplotypes").exists()
