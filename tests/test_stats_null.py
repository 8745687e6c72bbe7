"""Fidelity to the published gene-specific null (issue "Reliability", item 7).

The reference study's null script draws 50 random SNV-weight models per gene and takes numpy's default
``std`` (the POPULATION SD, ddof 0) of their |R|; its t statistic is (|R| - mean) / sqrt(SD / draws).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from cli_helpers import seqgx_run
from scipy import stats as sps

from seqgx.analysis import stats
from seqgx.cli import main
from seqgx.errors import SeqgxError
from seqgx.params import PARAMS_BY_NAME, validate_params
from seqgx.pipeline import _stats

# ---------------------------------------------------------------------------------------------------
# Population SD and the published t, worked by hand
# ---------------------------------------------------------------------------------------------------

NULL = [0.1, 0.2, 0.3, 0.4]
# mean = 1.0 / 4 = 0.25; squared deviations 0.0225, 0.0025, 0.0025, 0.0225, sum 0.05
# population SD (ddof 0) = sqrt(0.05 / 4) = sqrt(0.0125) = 0.11180339887...
# sample SD (ddof 1, NOT the published one) = sqrt(0.05 / 3) = sqrt(0.016666...) = 0.12909944487...
POP_SD = math.sqrt(0.0125)
SAMPLE_SD = math.sqrt(0.05 / 3)


def test_null_sd_is_the_population_sd() -> None:
    assert stats.null_sd(np.array(NULL)) == pytest.approx(0.11180339887498948, rel=1e-12)
    assert stats.null_sd(np.array(NULL)) == pytest.approx(np.std(NULL))  # numpy's default, ddof 0
    assert stats.null_sd(np.array(NULL)) != pytest.approx(SAMPLE_SD, rel=1e-6)
    # NaN draws are left out; one finite draw has no SD
    assert stats.null_sd(np.array([*NULL, np.nan])) == pytest.approx(POP_SD, rel=1e-12)
    assert math.isnan(stats.null_sd(np.array([0.3, np.nan])))


def test_published_t_and_p_by_hand() -> None:
    # |R| = 0.5, 4 draws: t = (0.5 - 0.25) / sqrt(0.1118034 / 4) = 0.25 / sqrt(0.02795085)
    #   = 0.25 / 0.16718508 = 1.49534878...; p = upper tail of Student's t with 4 - 1 = 3 df.
    t_hand = 0.25 / math.sqrt(math.sqrt(0.0125) / 4)
    assert t_hand == pytest.approx(1.4953487812212205, rel=1e-12)
    t, p = stats.null_tstat(0.5, 0.25, stats.null_sd(np.array(NULL)), 4)
    assert t == pytest.approx(t_hand, rel=1e-12)
    assert p == pytest.approx(sps.t.sf(t_hand, 3), rel=1e-12)
    # the ddof-1 SD would give a smaller t: 0.25 / sqrt(0.1290994 / 4) = 1.39158...
    t_ddof1 = 0.25 / math.sqrt(SAMPLE_SD / 4)
    assert t != pytest.approx(t_ddof1, rel=1e-6)
    # a negative R counts by its size; |R| below the null mean: t < 0 and p = 1
    assert stats.null_tstat(-0.5, 0.25, POP_SD, 4)[0] == pytest.approx(t_hand, rel=1e-12)
    t_low, p_low = stats.null_tstat(0.1, 0.25, POP_SD, 4)
    assert t_low < 0 and p_low == 1.0


def test_gene_statistics_records_the_population_sd_of_its_draws() -> None:
    rng = np.random.default_rng(7)
    d = rng.integers(0, 3, size=(12, 60)).astype(float)
    pred = d[0] - d[3] + rng.normal(scale=0.2, size=60)
    obs = pred + rng.normal(size=60)
    res = stats.gene_statistics(pred, obs, d, null_test="paper", rng=3)
    draws = stats.null_abs_r(d, obs, 50, 3)  # the same draws: same seed, same data
    assert res["null_draws"] == 50 and np.isfinite(draws).all()
    assert res["null_sd"] == pytest.approx(draws.std(ddof=0), rel=1e-12)
    assert res["null_sd"] != pytest.approx(draws.std(ddof=1), rel=1e-6)
    assert res["null_mean"] == pytest.approx(draws.mean(), rel=1e-12)
    t = (abs(res["r"]) - draws.mean()) / math.sqrt(draws.std(ddof=0) / 50)
    assert res["null_t"] == pytest.approx(t, rel=1e-9)
    assert res["null_p"] == pytest.approx(sps.t.sf(t, 49) if t >= 0 else 1.0, rel=1e-9)


# ---------------------------------------------------------------------------------------------------
# Default number of draws: one place decides
# ---------------------------------------------------------------------------------------------------

def test_default_null_draws() -> None:
    assert stats.default_null_draws("paper") == 50
    assert stats.default_null_draws("empirical") == 1000
    with pytest.raises(SeqgxError):
        stats.default_null_draws("bootstrap")
    assert stats.gene_statistics(np.arange(30.0), np.arange(30.0) % 7, np.eye(30)[:3],
                                 null_test="paper", rng=0)["null_draws"] == 50


def test_null_draws_param_is_unset_by_default() -> None:
    p = PARAMS_BY_NAME["null_draws"]
    assert p.default is None and p.minimum == 2
    assert "50 for the 'paper' test" in p.help
    base = {"fasta": "f.fa", "vcf": "c.vcf.gz", "annotation": "a.gtf", "expression": "e.tsv"}
    assert validate_params(base)["null_draws"] is None
    assert validate_params({**base, "null_draws": None})["null_draws"] is None
    assert validate_params({**base, "null_draws": 200})["null_draws"] == 200
    with pytest.raises(SeqgxError, match=">= 2"):
        validate_params({**base, "null_draws": 1})


def test_run_passes_null_draws_only_when_set(tmp_path: Path) -> None:
    base = {"fasta": "f.fa", "vcf": "c.vcf.gz", "annotation": "a.gtf", "expression": "e.tsv"}
    (tmp_path / "genes" / "batches").mkdir(parents=True)
    (tmp_path / "haplotypes").mkdir()
    (tmp_path / "genes" / "batches" / "chr1_1.tsv").write_text("gene_id\nG1\n")
    (tmp_path / "haplotypes" / "G1.haplotypes.npz").write_bytes(b"")
    unset = _stats(validate_params({**base, "null_test": "paper"}), tmp_path)
    assert unset and all("--null-draws" not in argv for argv in unset)
    set_ = _stats(validate_params({**base, "null_draws": 7}), tmp_path)
    assert all(argv[argv.index("--null-draws") + 1] == "7" for argv in set_)


def test_nextflow_passes_null_draws_only_when_set() -> None:
    """STATS gets --null-draws from its generated ext.args only when the parameter is set (null by
    default, so seqgx stats picks the null test's own default)."""
    repo = Path(__file__).resolve().parents[1]
    config = (repo / "conf" / "modules.config").read_text()
    block = config.split("withName: 'STATS|ATTRIBUTION_STATS' {", 1)[1].split("\n    }", 1)[0]
    passed = "params.null_draws != null && params.null_draws != '' ? '--null-draws ' + params.null_draws : ''"
    assert passed in block
    assert "null_draws" not in (repo / "modules" / "local" / "stats" / "main.nf").read_text()
    config = (repo / "nextflow.config").read_text()
    assert any(line.split() == ["null_draws", "=", "null"] for line in config.splitlines())


# ---------------------------------------------------------------------------------------------------
# End to end: `seqgx run` under the paper test, then `seqgx stats` without --null-draws
# ---------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def paper_run(cohort: dict, tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("paper_run")
    return seqgx_run(cohort, work, tracks="oracle:TATA", tss_window=0, null_test="paper",
                     window_length=128 * 96, genes_per_batch=50, report_top_genes=0)


def test_run_paper_test_draws_50_by_default(paper_run: Path) -> None:
    genes = pd.read_csv(paper_run / "assessment" / "genes.tsv", sep="\t")
    ok = genes[genes["status"] == "ok"]
    assert len(ok) >= 1
    assert (ok["null_draws"] == 50).all()


@pytest.mark.parametrize(("test", "draws"), [("paper", 50), ("empirical", 1000)])
def test_stats_without_null_draws_uses_the_tests_default(paper_run: Path, cohort: dict, tmp_path: Path,
                                                          test: str, draws: int) -> None:
    assert main(["stats", "--haplotypes", str(paper_run / "haplotypes"), "--predictions",
                 str(paper_run / "predictions"), "--expression", str(cohort["expression"]),
                 "--null-test", test, "--batch-name", "b", "--out", str(tmp_path)]) == 0
    genes = pd.read_csv(tmp_path / "b.genes.tsv", sep="\t")
    ok = genes[genes["status"] == "ok"]
    assert len(ok) >= 1 and (ok["null_draws"] == draws).all()
