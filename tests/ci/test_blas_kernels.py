"""The same tables under every BLAS kernel this CPU can run (docs/methods.md, "Same tables on every CPU").

`seqgx run` on the committed cohort as two tissues with covariates (partial correlations: residuals,
the null on them, attribution, drivers, motifs, fine-mapping), once per OpenBLAS kernel
(OPENBLAS_CORETYPE=Haswell, SkylakeX, SandyBridge where the CPU runs them; tests/blas_kernels.py checks
with threadpoolctl that the kernel asked for is the one in use). Every table must be the same bytes.
The single-tissue, covariate-free path is checked the same way by the nf-test snapshots of STATS, MERGE
and the pipeline, which .ci/run runs under two kernels.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from blas_kernels import runnable

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "data" / "cohort"


def _digests(outdir: Path) -> dict[str, str]:
    return {str(p.relative_to(outdir)): hashlib.md5(p.read_bytes()).hexdigest()
            for p in sorted(outdir.rglob("*")) if p.suffix in (".tsv", ".csv")}


def test_every_table_is_the_same_under_every_blas_kernel(tmp_path: Path) -> None:
    kernels = runnable()[:3]
    if len(kernels) < 2:
        message = f"fewer than two OpenBLAS kernels run on this CPU ({kernels})"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    params = {"fasta": str(DATA / "reference.fa"), "vcf": str(DATA / "cohort.vcf.gz"),
              "annotation": str(DATA / "genes.gtf"), "tissues": str(DATA / "tissues.csv"),
              "finemapped": str(DATA / "finemapped.tsv"), "window_length": 16384, "genes_per_batch": 4,
              "model": "oracle", "null_draws": 200, "null_test": "paper"}
    (tmp_path / "params.json").write_text(json.dumps(params))

    def run(kernel: str) -> Path:
        out = tmp_path / kernel
        env = {**os.environ, "OPENBLAS_CORETYPE": kernel}
        proc = subprocess.run([sys.executable, "-m", "seqgx", "run", str(tmp_path / "params.json"), "-q",
                               "--threads", "1", "--outdir", str(out), "--until", "merge"],
                              env=env, capture_output=True, text=True, timeout=900)
        assert proc.returncode == 0, f"{kernel}: {proc.stderr[-3000:]}"
        return out

    with ThreadPoolExecutor(2) as pool:
        outdirs = dict(zip(kernels, pool.map(run, kernels), strict=True))
    digests = {k: _digests(out) for k, out in outdirs.items()}
    first, *others = kernels
    assert len(digests[first]) > 20 and any("drivers" in name for name in digests[first])
    for kernel in others:
        differ = sorted(n for n in digests[first] if digests[first][n] != digests[kernel].get(n))
        assert set(digests[kernel]) == set(digests[first])
        assert not differ, f"{first} and {kernel} wrote different tables: {differ}"
