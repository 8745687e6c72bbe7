"""Two-phase runs: attribution only where it answers a question (issue 12), and the cost accounting.

Expected selections are worked by hand from small tables; the end-to-end checks compare a default
('significant') run with an 'all' run of the same simulated cohort and the oracle model."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from cli_helpers import assert_one_line_error, run_cli, seqgx_run

from seqgx.analysis.assess import ATTRIBUTION_COLUMNS
from seqgx.analysis.selection import phase2_batches, select_genes
from seqgx.errors import SeqgxError
from seqgx.model.attribution import attribution_cost

# --- selection, worked by hand ---------------------------------------------------------------------

SCREEN = pd.DataFrame({
    "gene_id": ["G1.1", "G1.1", "G2.3", "G3.1", "G4.2", "G4.2", "G5.1"],
    "gene_name": ["A", "A", "B", "C", "D", "D", "E"],
    "chrom": ["chr1", "chr1", "chr1", "chr2", "chr2", "chr2", "chr2"],
    "tss": [100, 100, 200, 300, 400, 400, 500],
    "readout": ["x", "y", "x", "x", "x", "y", "x"],
    "r": [0.5, 0.1, 0.1, 0.6, 0.05, -0.3, np.nan],
    "fdr": [0.01, 0.5, 0.01, 0.2, 0.9, 0.04, np.nan],
    "status": ["ok", "ok", "ok", "ok", "ok", "ok", "too_few_samples"],
})


def _chosen(sel: pd.DataFrame) -> set[str]:
    return set(sel.loc[sel["selected"], "gene_id"])


def test_significant_means_fdr_below_alpha_and_abs_r_above_min_on_any_readout() -> None:
    sel = select_genes(SCREEN, "significant", fdr_alpha=0.05, min_abs_r=0.2)
    # G1: x FDR .01 |R| .5 -> yes; G2: FDR .01 but |R| .1 -> no; G3: |R| .6 but FDR .2 -> no;
    # G4: y FDR .04 |R| .3 (negative R counts) -> yes; G5: no statistics -> no.
    assert _chosen(sel) == {"G1.1", "G4.2"}
    reasons = dict(zip(sel["gene_id"], sel["reason"], strict=True))
    assert reasons["G4.2"].startswith("significant on y: FDR 0.04 < 0.05, |R| 0.300 > 0.2")
    assert reasons["G2.3"].startswith("not significant with |R| > 0.2 (best FDR 0.01")
    assert reasons["G5.1"] == "no statistics (status too_few_samples)"
    assert list(sel["gene_id"]) == ["G1.1", "G2.3", "G3.1", "G4.2", "G5.1"]  # one row per gene, in order
    # A lower |R| bar lets G2 in; report_genes (by name, or id without version) always get in.
    assert _chosen(select_genes(SCREEN, "significant", 0.05, 0.05)) == {"G1.1", "G2.3", "G4.2"}
    sel = select_genes(SCREEN, "significant", 0.05, 0.2, report_genes=["C", "G5", "nope"])
    assert _chosen(sel) == {"G1.1", "G3.1", "G4.2", "G5.1"}
    assert dict(zip(sel["gene_id"], sel["reason"], strict=True))["G3.1"] == "named in report_genes"


def test_all_and_a_gene_list_override_the_significance_rule(tmp_path: Path) -> None:
    assert _chosen(select_genes(SCREEN, "all")) == {"G1.1", "G2.3", "G3.1", "G4.2", "G5.1"}
    listed = tmp_path / "genes.txt"
    listed.write_text("# genes to explain\nB\nG3.7\n")  # a name, and an id with another version
    sel = select_genes(SCREEN, str(listed))
    assert _chosen(sel) == {"G2.3", "G3.1"}
    assert set(sel.loc[~sel["selected"], "reason"]) == {"not in the list"}
    with pytest.raises(SeqgxError, match="attribution gene list"):
        select_genes(SCREEN, str(tmp_path / "missing.txt"))


def test_phase2_batches_regroup_the_selected_genes_per_chromosome() -> None:
    windows = pd.DataFrame({"gene_id": [f"G{i}" for i in range(1, 8)],
                            "chrom": ["chr1"] * 4 + ["chr2"] * 3, "tss": range(7)})
    sel = pd.DataFrame({"gene_id": windows["gene_id"],
                        "selected": [True, False, True, True, False, True, True]})
    batches = phase2_batches(sel, windows, genes_per_batch=2)
    assert {k: list(v["gene_id"]) for k, v in batches.items()} == {
        "attribution_chr1_1": ["G1", "G3"], "attribution_chr1_2": ["G4"], "attribution_chr2_1": ["G6", "G7"]}
    assert phase2_batches(sel.assign(selected=False), windows, 2) == {}


# --- cost accounting, closed forms -----------------------------------------------------------------

def test_attribution_cost_closed_forms() -> None:
    # fast: reference forward + 10 SNVs and 30 saturation substitutions at 0.25 of a forward each;
    # calls: 1 reference + ceil(10/4) + ceil(30/4) = 1 + 3 + 8.
    fast = attribution_cost("fast", [10, 30], 4, fast_share=0.25)
    assert fast == {"model_calls": 12, "sequences": 1, "substitutions": 40, "fast_share": 0.25,
                    "forward_equivalents": 1 + 40 * 0.25}
    # full with a 2-member ensemble: each pass runs its substitutions plus the reference, 2 rows each.
    full = attribution_cost("full", [10, 30], 4, ensemble=2, gradients=True)
    assert full["sequences"] == (11 + 31) * 2 and full["forward_equivalents"] == 84 + 3
    assert full["model_calls"] == math.ceil(11 / 2) + math.ceil(31 / 2) + 1


# --- end to end: 'significant' (default) vs 'all' ---------------------------------------------------

@pytest.fixture(scope="module")
def runs(cohort: dict, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    common = {"tracks": "oracle:TATA", "tss_window": 30, "null_draws": 100, "genes_per_batch": 3,
              "report_top_genes": 0}  # no gene pages: not what these tests read
    return {mode: seqgx_run(cohort, tmp_path_factory.mktemp(mode), attribution_genes=mode, **common)
            for mode in ("significant", "all")}


def _table(run: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(run / "assessment" / name, sep="\t")


def test_phase_two_runs_exactly_for_the_significant_genes(runs: dict[str, Path]) -> None:
    genes = _table(runs["significant"], "genes.tsv")
    sig = set(genes.loc[genes["significant"] & (genes["r"].abs() > 0.2), "gene_id"])
    assert sig and len(sig) < genes["gene_id"].nunique()  # the cohort has genes to skip
    ism_genes = {p.name.removesuffix(".ism.tsv") for p in (runs["significant"] / "ism").glob("*.ism.tsv")}
    assert ism_genes == sig
    assert len(list((runs["all"] / "ism").glob("*.ism.tsv"))) == genes["gene_id"].nunique()
    selection = _table(runs["significant"], "attribution_genes.tsv")
    assert set(selection.loc[selection["selected"], "gene_id"]) == sig
    assert (selection.loc[selection["selected"], "batch"].str.startswith("attribution_chr")).all()
    # Genes not selected: NaN attribution columns with their status, never a silent gap.
    rest = genes[~genes["gene_id"].isin(sig)]
    assert (rest["attribution_status"] == "not_selected_for_attribution").all()
    assert rest[list(ATTRIBUTION_COLUMNS)].isna().all().all()
    assert (genes.loc[genes["gene_id"].isin(sig), "attribution_status"] == "computed").all()


def test_selected_genes_equal_the_all_run(runs: dict[str, Path]) -> None:
    sig_genes, all_genes = _table(runs["significant"], "genes.tsv"), _table(runs["all"], "genes.tsv")
    shared = [c for c in all_genes.columns if c not in (*ATTRIBUTION_COLUMNS, "attribution_status")]
    pd.testing.assert_frame_equal(sig_genes[shared], all_genes[shared])  # phase 1 is the same for all
    chosen = sig_genes["attribution_status"] == "computed"
    pd.testing.assert_frame_equal(sig_genes.loc[chosen, list(ATTRIBUTION_COLUMNS)],
                                  all_genes.loc[chosen, list(ATTRIBUTION_COLUMNS)],
                                  check_dtype=False)  # n_drivers: float where other rows are NaN
    drivers_sig = _table(runs["significant"], "drivers.tsv")
    drivers_all = _table(runs["all"], "drivers.tsv")
    kept = drivers_all[drivers_all["gene_id"].isin(set(sig_genes.loc[chosen, "gene_id"]))]
    pd.testing.assert_frame_equal(drivers_sig.reset_index(drop=True), kept.reset_index(drop=True))


def test_cost_in_summary_and_pipeline_info(runs: dict[str, Path]) -> None:
    cost = {m: json.loads((r / "assessment" / "summary.json").read_text())["cost"] for m, r in runs.items()}
    assert cost["significant"]["predict"] == cost["all"]["predict"]
    assert cost["significant"]["ism"]["genes"] < cost["all"]["ism"]["genes"]
    assert cost["significant"]["ism"]["forward_equivalents"] < cost["all"]["ism"]["forward_equivalents"]
    # predict: every gene's sequences (reference + distinct haplotypes) once, one forward each
    refs = [json.loads(p.read_text()) for p in (runs["all"] / "predictions").glob("*.reference.json")]
    assert cost["all"]["predict"]["sequences"] == sum(r["n_sequences_predicted"] for r in refs)
    total = sum(cost["all"][s]["forward_equivalents"] for s in ("predict", "ism", "motifs"))
    assert cost["all"]["total_forward_equivalents"] == pytest.approx(total)
    steps = {s["step"]: s for s in json.loads((runs["all"] / "pipeline_info" / "steps.json").read_text())}
    assert steps["ism"]["cost"]["forward_equivalents"] == pytest.approx(
        cost["all"]["ism"]["forward_equivalents"])


def test_empty_selection_ends_with_a_complete_genes_table(cohort: dict, tmp_path: Path) -> None:
    run = seqgx_run(cohort, tmp_path, "--json", tracks="oracle:TATA", tss_window=0, null_draws=50,
                    min_abs_r=0.999, report_top_genes=0)
    genes = _table(run, "genes.tsv")
    assert len(genes) == genes["gene_id"].nunique() and genes["status"].notna().all()
    assert (genes["attribution_status"] == "not_selected_for_attribution").all()
    assert not list((run / "ism").glob("*.ism.tsv")) and _table(run, "drivers.tsv").empty
    steps = json.loads((tmp_path / "stdout.txt").read_text())["steps"]
    assert {s["step"]: s["tasks"] for s in steps}["ism"] == 0


def test_merge_refuses_phases_that_do_not_fit(runs: dict[str, Path], tmp_path: Path) -> None:
    run = runs["significant"]
    attribution = sorted((run / "attribution" / "stats").glob("*.genes.tsv"))
    args = ["merge", "--genes", *map(str, sorted((run / "stats").glob("*.genes.tsv"))),
            "--selection", str(run / "attribution" / "attribution_genes.tsv"), "--out", str(tmp_path / "m")]
    # A selected gene without attribution statistics names the gene and its batch.
    proc = run_cli(*args, "--attribution", *map(str, attribution[1:]))
    assert_one_line_error(proc, "is selected in", "has no attribution statistics")
    # Phase-2 statistics that differ from phase 1's: the inputs changed between the phases.
    changed = tmp_path / "changed"
    changed.mkdir()
    for f in attribution:
        t = pd.read_csv(f, sep="\t", keep_default_na=False, dtype=str)
        if f == attribution[0]:
            t.loc[0, "r"] = "0.123"
        t.to_csv(changed / f.name, sep="\t", index=False)
        shutil.copyfile(f.with_name(f.name.replace(".genes.tsv", ".drivers.tsv")),
                        changed / f.name.replace(".genes.tsv", ".drivers.tsv"))
    proc = run_cli(*args, "--attribution", *map(str, sorted(changed.glob("*.genes.tsv"))))
    assert_one_line_error(proc, "r differs between phase 1 and the attribution phase")
    assert not (tmp_path / "m" / "genes.tsv").exists()
