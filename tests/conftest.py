"""Shared fixtures: one simulated cohort per test session (deterministic, seed 0)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def cohort(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from seqgx.simulate import simulate_cohort

    return simulate_cohort(tmp_path_factory.mktemp("cohort") / "cohort", seed=0)


#: The committed test cohort (tests/data/README.md): the test profile's, with its two-tissue files.
TEST_DATA = Path(__file__).parent / "data" / "cohort"
#: The parameters of the two-tissue runs (`seqgx run` here, Nextflow in ci/test_nextflow_runtime.py):
#: the test profile's (conf/test.config), no motifs, TSS saturation or gene pages (quick).
TISSUES_RUN_PARAMS = {"window_length": 16384, "genes_per_batch": 4, "model": "oracle", "null_draws": 200,
                      "motifs": False, "tss_window": 0, "report_top_genes": 0}


@pytest.fixture(scope="session")
def tissues_seqgx_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`seqgx run` of the committed cohort as two tissues (tissues.csv) with the fine-mapping table,
    up to merge; returns the results folder."""
    import json
    import subprocess
    import sys

    work = tmp_path_factory.mktemp("tissues_seqgx_run")
    params = {"fasta": str(TEST_DATA / "reference.fa"), "vcf": str(TEST_DATA / "cohort.vcf.gz"),
              "annotation": str(TEST_DATA / "genes.gtf"), "tissues": str(TEST_DATA / "tissues.csv"),
              "finemapped": str(TEST_DATA / "finemapped.tsv"), "outdir": str(work / "results"),
              **TISSUES_RUN_PARAMS}
    (work / "params.json").write_text(json.dumps(params))
    proc = subprocess.run([sys.executable, "-m", "seqgx", "run", str(work / "params.json"), "-q", "--until",
                           "merge", "--threads", "1"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return work / "results"
