"""`seqgx stats`, `seqgx merge` and `seqgx finetune` on the simulated cohort with planted effects.

The oracle model does not know the planted SNVs, so significance is checked with a "perfect" model:
its predictions and ISM are written from truth.json (beta x alt allele per haplotype) in the same file
formats `seqgx predict` and `seqgx ism` write; a second readout is the same model with the sign flipped.
"""

from __future__ import annotations

import json
import math
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pysam
import pytest
from cli_helpers import one_line_error

from seqgx.analysis.assess import (
    BATCH_GENE_COLUMNS,
    DRIVER_COLUMNS,
    MERGED_GENE_COLUMNS,
    StatsOptions,
    gene_tables,
    signed_distance,
)
from seqgx.analysis.stats import bh_fdr
from seqgx.cli import main
from seqgx.genome.personalize import VARIANT_COLUMNS, GeneHaplotypes
from seqgx.model.readouts import FineTunedReadout, read_finetuned_weights

WINDOW = 128 * 96  # 12,288 bp: holds every planted SNV (within 100 bp of the TSS), keeps the oracle fast
DRAWS = "500"


def _write_perfect_model(hap_dir: Path, truth: dict, out_pred: Path, out_ism: Path) -> None:
    """Predictions and ISM of a model whose haplotype output is sum(beta x carried alt allele): readout
    'perfect', and 'flipped' = minus that. Files in the formats of `seqgx predict` / `seqgx ism`."""
    out_pred.mkdir(parents=True, exist_ok=True)
    out_ism.mkdir(parents=True, exist_ok=True)
    betas = {c["variant_id"]: c["beta"] for g in truth["genes"] for c in g["causal"]}
    for path in sorted(hap_dir.glob("*.haplotypes.npz")):
        gh = GeneHaplotypes.load(path)
        beta = gh.variants["variant_id"].map(betas).fillna(0.0).to_numpy(float)
        hap = np.einsum("v,vsh->sh", beta, gh.haplotypes.astype(float))  # (S, 2)
        rows = []
        for readout, sign in (("perfect", 1.0), ("flipped", -1.0)):
            for s in range(gh.n_samples):
                h1, h2 = sign * hap[s, 0], sign * hap[s, 1]
                rows.append((gh.gene_id, gh.samples[s], gh.expression_samples[s], readout, h1, h2, h1 + h2))
        pd.DataFrame(rows, columns=["gene_id", "sample", "expression_sample", "readout", "hap1", "hap2",
                                    "person"]).to_csv(out_pred / f"{gh.gene_id}.predictions.tsv", sep="\t",
                                                      index=False, float_format="%.9g")
        v = gh.variants
        ism = v[["variant_id", "pos", "ref", "alt", "distance_to_tss", "allele_frequency"]].assign(
            ism_perfect=beta, ism_flipped=-beta)
        ism.to_csv(out_ism / f"{gh.gene_id}.ism.tsv", sep="\t", index=False, float_format="%.9g")


@pytest.fixture(scope="module")
def run(cohort, tmp_path_factory) -> dict:
    """check-inputs -> genes -> personalize -> predict (oracle) -> ism (oracle), plus the perfect model."""
    d = tmp_path_factory.mktemp("assess")
    c = {k: str(v) for k, v in cohort.items()}
    assert main(["check-inputs", "--fasta", c["fasta"], "--vcf", c["vcf"], "--annotation", c["gtf"],
                 "--expression", c["expression"], "--out", str(d / "check")]) == 0
    assert main(["genes", "--annotation", c["gtf"], "--expression", c["expression"], "--window-length",
                 str(WINDOW), "--genes-per-batch", "5", "--contigs", str(d / "check" / "contigs.tsv"),
                 "--out", str(d / "genes")]) == 0
    batches = sorted((d / "genes" / "batches").glob("*.tsv"))
    assert len(batches) == 2
    for b in batches:
        assert main(["personalize", "--batch", str(b), "--fasta", c["fasta"], "--vcf", c["vcf"], "--samples",
                     str(d / "check" / "samples.tsv"), "--out", str(d / "hap")]) == 0
    hap = sorted((d / "hap").glob("*.haplotypes.npz"))
    assert main(["predict", "--haplotypes", *map(str, hap), "--model", "oracle", "--reference-tracks",
                 "--out", str(d / "pred")]) == 0
    assert main(["ism", "--haplotypes", *map(str, hap), "--model", "oracle", "--tss-window", "0",
                 "--out", str(d / "ism")]) == 0
    truth = json.loads(Path(cohort["truth"]).read_text())
    _write_perfect_model(d / "hap", truth, d / "perfect_pred", d / "perfect_ism")
    return {"dir": d, "hap": hap, "truth": truth, "expression": c["expression"], "cohort": c,
            "batches": batches}


@pytest.fixture(scope="module")
def perfect(run) -> dict:
    """stats on the perfect model in two batches (one per chromosome), then merge."""
    d = run["dir"]
    for b in run["batches"]:
        ids = pd.read_csv(b, sep="\t")["gene_id"]
        assert main(["stats", "--haplotypes", *[str(d / "hap" / f"{g}.haplotypes.npz") for g in ids],
                     "--predictions", str(d / "perfect_pred"), "--ism", str(d / "perfect_ism"),
                     "--expression", run["expression"], "--null-draws", DRAWS, "--batch-name", b.stem,
                     "--out", str(d / "perfect_stats")]) == 0
    assert main(["merge", "--genes", str(d / "perfect_stats"), "--out", str(d / "perfect_merged")]) == 0
    m = d / "perfect_merged"
    return {"genes": pd.read_csv(m / "genes.tsv", sep="\t"),
            "drivers": pd.read_csv(m / "drivers.tsv", sep="\t"),
            "summary": json.loads((m / "summary.json").read_text()), "stats_dir": d / "perfect_stats"}


def test_planted_genes_significant_with_right_sign_and_supported_drivers(run, perfect) -> None:
    genes, drivers = perfect["genes"], perfect["drivers"]
    assert list(genes.columns[:len(MERGED_GENE_COLUMNS)]) == list(MERGED_GENE_COLUMNS)
    assert list(drivers.columns) == list(DRIVER_COLUMNS)
    assert len(genes) == 2 * len(run["truth"]["genes"])  # every gene and readout kept
    for tg in run["truth"]["genes"]:
        rows = genes[genes.gene_id == tg["gene_id"]].set_index("readout")
        if tg["kind"] == "none":
            # The perfect model predicts a constant: kept, NaN statistics, a status.
            assert set(rows.status) == {"constant_prediction"} and rows.r.isna().all()
            assert not rows.significant.any()
            continue
        p, f = rows.loc["perfect"], rows.loc["flipped"]
        assert p.status == "ok" and f.status == "ok"
        # R of a perfect predictor is truth's perfect_r (same samples); the flipped model gives -R.
        assert p.r == pytest.approx(tg["perfect_r"], abs=1e-4)
        assert f.r == pytest.approx(-tg["perfect_r"], abs=1e-4)
        # The null is on |R|, so both readouts share significance. Whether a planted gene is significant
        # in these short 12-kb windows depends on LD (random weights over SNVs in LD with the causal one
        # reach high |R|); test_pipeline.py checks the planted genes at full window length.
        assert p.significant == f.significant == (p.fdr < 0.05)
        # Same gene, same seeded null draws, same |R|: identical null statistics for both readouts.
        assert (p.null_p, p.null_mean, p.null_sd) == (f.null_p, f.null_mean, f.null_sd)
        assert p.null_draws == int(DRAWS) and p.null_t > 0
        assert p.approx_r == pytest.approx(1.0) and p.approx_obs_r == pytest.approx(p.r, abs=1e-6)
        causal = {c["variant_id"]: c for c in tg["causal"]}
        for readout, supported in (("perfect", 1.0), ("flipped", 0.0)):
            dr = drivers[(drivers.gene_id == tg["gene_id"]) & (drivers.readout == readout)]
            assert set(dr.variant_id) == set(causal), (tg["gene_id"], readout)
            assert rows.loc[readout, "n_drivers"] == len(causal)
            assert (dr.supported == supported).all()
            assert dr.is_main.sum() == 1
            for _, x in dr.iterrows():
                c = causal[x.variant_id]
                sign = -1 if tg["strand"] == "-" else 1
                assert x.distance_to_tss == sign * c["distance_to_tss"]
                assert np.sign(x.eqtl_slope) == np.sign(c["beta"])
                assert x.ism == pytest.approx(c["beta"] * (1 if readout == "perfect" else -1), abs=1e-8)


def test_summary_matches_hand_computation(perfect) -> None:
    genes, drivers, summary = perfect["genes"], perfect["drivers"], perfect["summary"]
    assert summary["fdr_alpha"] == 0.05 and summary["n_batches"] == 2
    for readout in ("perfect", "flipped"):
        g = genes[genes.readout == readout]
        s = summary["readouts"][readout]
        tested = g[g.r.notna()]
        sig = g[g.fdr < 0.05]
        assert s["n_genes_tested"] == len(tested) == 9
        assert s["n_significant"] == len(sig)
        assert s["n_significant_negative"] == int((sig.r < 0).sum())
        assert s["n_significant_abs_r_gt_0_2"] == int((sig.r.abs() > 0.2).sum())
        assert s["mean_r"] == pytest.approx(tested.r.mean())
        dr = drivers[drivers.readout == readout]
        per_gene = dr.groupby("gene_id").size()
        assert s["n_genes_with_drivers"] == len(per_gene) == 9
        assert s["fraction_single_driver"] == pytest.approx((per_gene == 1).mean())  # 8 of 9
        assert s["fraction_at_most_5_drivers"] == 1.0
        assert s["n_genes_with_predixcan"] == 0 and s["mean_r_predixcan"] is None
        if readout == "perfect":
            assert s["fraction_significant_negative"] == 0.0
            assert s["supported_fraction_positive_genes"] == 1.0
            assert s["supported_fraction_negative_genes"] is None
        else:
            assert s["fraction_significant_negative"] == 1.0
            assert s["supported_fraction_negative_genes"] == 0.0
            assert s["supported_fraction_positive_genes"] is None
    assert summary["status_counts"]["perfect"] == {"constant_prediction": 1, "ok": 9}


def test_merge_fdr_is_bh_over_batch_pvalues(perfect, run) -> None:
    batch = pd.concat([pd.read_csv(perfect["stats_dir"] / f"{b.stem}.genes.tsv", sep="\t")
                       for b in run["batches"]], ignore_index=True)
    merged = perfect["genes"]
    for readout in ("perfect", "flipped"):
        b = batch[batch.readout == readout]
        m = merged[merged.readout == readout].set_index("gene_id").loc[b.gene_id]
        np.testing.assert_allclose(m.fdr.to_numpy(), bh_fdr(b.null_p.to_numpy()), rtol=1e-8)  # 9 digits
        np.testing.assert_array_equal(m.significant.to_numpy(), (m.fdr < 0.05).to_numpy())


def _batch_tables(d: Path, name: str, genes: list[tuple], drivers: list[tuple]) -> None:
    g = pd.DataFrame([dict.fromkeys(BATCH_GENE_COLUMNS, np.nan)
                      | {"gene_id": gid, "readout": ro, "r": r, "null_p": p, "predixcan_r": pr,
                         "status": "ok"}
                      for gid, ro, r, p, pr in genes])[list(BATCH_GENE_COLUMNS)]
    g.to_csv(d / f"{name}.genes.tsv", sep="\t", index=False, na_rep="NA")
    dr = pd.DataFrame([dict.fromkeys(DRIVER_COLUMNS, 0) | {"gene_id": gid, "readout": ro, "variant_id": v,
                                                           "supported": sup, "is_main": main_}
                       for gid, ro, v, sup, main_ in drivers], columns=list(DRIVER_COLUMNS))
    dr.to_csv(d / f"{name}.drivers.tsv", sep="\t", index=False, na_rep="NA")


def test_merge_hand_worked(tmp_path: Path) -> None:
    """Two batches, two readouts; BH within each readout and every summary figure worked by hand."""
    _batch_tables(tmp_path, "b1", [("g1", "A", 0.5, 0.01, 0.4), ("g2", "A", -0.3, 0.04, 0.2),
                                   ("g1", "B", 0.05, 0.2, 0.4), ("g2", "B", 0.25, 0.01, 0.2)],
                  [("g1", "A", "v1", 1.0, True), ("g1", "A", "v2", 0.0, False), ("g2", "A", "v3", 0.0, True)])
    _batch_tables(tmp_path, "b2", [("g3", "A", 0.1, 0.03, 0.3), ("g3", "B", np.nan, np.nan, 0.3)], [])
    assert main(["merge", "--genes", str(tmp_path), "--out", str(tmp_path / "m")]) == 0
    g = pd.read_csv(tmp_path / "m" / "genes.tsv", sep="\t").set_index(["readout", "gene_id"])
    # A: p 0.01, 0.04, 0.03 (m = 3): p m / k = 0.03, 0.045 (k=3 -> 0.04), 0.045 (k=2) -> min 0.04
    np.testing.assert_allclose(g.loc["A"].loc[["g1", "g2", "g3"], "fdr"], [0.03, 0.04, 0.04], rtol=1e-12)
    # B: p 0.2, 0.01, NaN (m = 2): 0.01 * 2 / 1 = 0.02; 0.2 * 2 / 2 = 0.2
    np.testing.assert_allclose(g.loc["B"].loc[["g1", "g2"], "fdr"], [0.2, 0.02], rtol=1e-12)
    assert np.isnan(g.loc[("B", "g3"), "fdr"]) and not g.loc[("B", "g3"), "significant"]
    assert g.loc["A"].significant.all() and g.loc["B"].significant.tolist() == [False, True, False]
    s = json.loads((tmp_path / "m" / "summary.json").read_text())["readouts"]
    a, b = s["A"], s["B"]
    assert (a["n_genes_tested"], a["n_significant"], a["n_significant_negative"]) == (3, 3, 1)
    assert a["fraction_significant_negative"] == pytest.approx(1 / 3)
    assert a["n_significant_abs_r_gt_0_2"] == 2 and a["mean_r"] == pytest.approx(0.1)
    assert a["n_genes_with_predixcan"] == 3 and a["mean_r_predixcan"] == pytest.approx(0.3)
    assert a["mean_r_model_on_predixcan_genes"] == pytest.approx(0.1)
    # |r| = .5 .3 .1 vs .4 .2 .3: deviations (.2, 0, -.2), (.1, -.1, 0): .02 / sqrt(.08 * .02) = 0.5
    assert a["corr_abs_r_model_vs_predixcan"] == pytest.approx(0.5)
    assert a["n_genes_with_drivers"] == 2 and a["fraction_single_driver"] == 0.5
    assert a["fraction_at_most_5_drivers"] == 1.0
    assert a["supported_fraction_positive_genes"] == 0.5 and a["supported_fraction_negative_genes"] == 0.0
    assert (b["n_genes_tested"], b["n_significant"], b["n_significant_negative"]) == (2, 1, 0)
    assert b["fraction_significant_negative"] == 0.0 and b["mean_r"] == pytest.approx(0.15)
    assert b["n_genes_with_predixcan"] == 3 and b["mean_r_predixcan"] == pytest.approx(0.3)
    assert b["n_genes_with_drivers"] == 0 and b["fraction_single_driver"] is None


def test_oracle_end_to_end_and_degenerate_genes(run, tmp_path: Path) -> None:
    """Stats on the oracle's predictions and ISM; a gene with too few expression values and a gene
    missing from the expression matrix are kept with NaN statistics and a status."""
    expr = pd.read_csv(run["expression"], sep="\t", index_col=0)
    ids = [p.name.removesuffix(".haplotypes.npz") for p in run["hap"]]
    few, gone = ids[1], ids[2]
    expr.loc[few, expr.columns[10:]] = np.nan  # 10 values left < --min-samples 20
    expr = expr.drop(index=gone)
    expr.index = [i.split(".")[0] if i == ids[0] else i for i in expr.index]  # id without version suffix
    path = tmp_path / "expr.tsv"
    expr.to_csv(path, sep="\t", na_rep="NA")
    d = run["dir"]
    assert main(["stats", "--haplotypes", str(d / "hap"), "--predictions", str(d / "pred"), "--ism",
                 str(d / "ism"), "--expression", str(path), "--null-draws", "100", "--out",
                 str(tmp_path / "st")]) == 0
    out = list((tmp_path / "st").glob("*.genes.tsv"))
    assert len(out) == 1
    genes = pd.read_csv(out[0], sep="\t")
    assert len(genes) == 3 * len(ids)  # 3 oracle tracks per gene
    assert set(genes.readout) == {"track:0", "track:1", "track:2"}
    g_few = genes[genes.gene_id == few]
    assert set(g_few.status) == {"too_few_samples"} and g_few.r.isna().all() and g_few.null_p.isna().all()
    assert (g_few.n_samples == 10).all()
    g_gone = genes[genes.gene_id == gone]
    assert set(g_gone.status) == {"no_expression"} and g_gone.r.isna().all()
    assert not genes[genes.gene_id == ids[0]].obs_mean.isna().any()  # matched without version
    ok = genes[genes.status == "ok"]
    assert len(ok) >= 1 and ok.null_p.between(0, 1).all() and (ok.null_draws == 100).all()
    # Constant oracle tracks (no SNV touches a motif) are reported, not dropped.
    assert (genes.status == "constant_prediction").any()
    assert main(["merge", "--genes", str(tmp_path / "st"), "--annotation", run["cohort"]["annotation_tsv"],
                 "--out", str(tmp_path / "m")]) == 0
    summary = json.loads((tmp_path / "m" / "summary.json").read_text())
    assert set(summary["readouts"]) == {"track:0", "track:1", "track:2"}
    merged = pd.read_csv(tmp_path / "m" / "genes.tsv", sep="\t")
    for readout, m in merged.groupby("readout"):  # BH within each readout, not across readouts
        b = genes[genes.readout == readout]
        np.testing.assert_allclose(m.fdr.to_numpy(), bh_fdr(b.null_p.to_numpy()), rtol=1e-8)
    ann = pd.read_csv(run["cohort"]["annotation_tsv"], sep="\t").set_index("gene_id")
    assert (merged.tss.to_numpy() == ann.loc[merged.gene_id, "tss"].to_numpy()).all()
    assert summary["status_counts"]["track:0"]["no_expression"] == 1


def test_predixcan_baseline_with_vcf_sites(run, tmp_path: Path) -> None:
    """A PredictDB model with the planted betas (one entered with alleles swapped) predicts like the
    perfect model; a weight outside the window is used only when --vcf is given."""
    tg = next(g for g in run["truth"]["genes"] if g["kind"] == "opposite")
    c1, c2 = tg["causal"]
    gh = GeneHaplotypes.load(run["dir"] / "hap" / f"{tg['gene_id']}.haplotypes.npz")
    with pysam.VariantFile(run["cohort"]["vcf"]) as vf:
        far = next(r for r in vf.fetch(tg["chrom"], gh.window_start + WINDOW + 1000, gh.window_start + 10**6)
                   if len(r.ref) == 1 and len(r.alts) == 1 and len(r.alts[0]) == 1)
    rows = [(tg["gene_id"].split(".")[0], "rs1", f"{c1['chrom']}_{c1['pos']}_{c1['ref']}_{c1['alt']}_b38",
             c1["ref"], c1["alt"], c1["beta"]),
            # swapped: effect allele = REF, so -beta on REF dosage = beta on ALT dosage + constant
            (tg["gene_id"].split(".")[0], "rs2", f"{c2['chrom']}_{c2['pos']}_{c2['alt']}_{c2['ref']}_b38",
             c2["alt"], c2["ref"], -c2["beta"]),
            (tg["gene_id"].split(".")[0], "rs3", f"{far.chrom}_{far.pos}_{far.ref}_{far.alts[0]}_b38",
             far.ref, far.alts[0], 1e-6)]
    db = tmp_path / "model.db"
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE weights (gene TEXT, rsid TEXT, varID TEXT, ref_allele TEXT, eff_allele TEXT, "
                "weight REAL)")
    con.executemany("INSERT INTO weights VALUES (?, ?, ?, ?, ?, ?)", rows)
    con.commit()
    con.close()
    d = run["dir"]
    base = ["stats", "--haplotypes", str(d / "hap" / f"{tg['gene_id']}.haplotypes.npz"), "--predictions",
            str(d / "perfect_pred"), "--expression", run["expression"], "--null-draws", "50",
            "--predictdb", str(db)]
    assert main([*base, "--out", str(tmp_path / "a"), "--batch-name", "a"]) == 0
    assert main([*base, "--vcf", run["cohort"]["vcf"], "--out", str(tmp_path / "b"),
                 "--batch-name", "b"]) == 0
    a = pd.read_csv(tmp_path / "a" / "a.genes.tsv", sep="\t").set_index("readout")
    b = pd.read_csv(tmp_path / "b" / "b.genes.tsv", sep="\t").set_index("readout")
    assert (a.predixcan_n_used == 2).all() and (b.predixcan_n_used == 3).all()
    assert a.loc["perfect", "predixcan_r"] == pytest.approx(a.loc["perfect", "r"], abs=1e-6)
    assert b.loc["perfect", "predixcan_r"] == pytest.approx(a.loc["perfect", "r"], abs=1e-3)
    assert (a.predixcan_source == "predictdb").all()
    assert a.approx_r.isna().all() and (a.status == "ok").all()  # no --ism: no ISM statistics


def test_elastic_net_baseline_fills_predixcan_when_no_model(run, tmp_path: Path) -> None:
    tg = max(run["truth"]["genes"], key=lambda g: g["perfect_r"] or 0)
    d = run["dir"]
    assert main(["stats", "--haplotypes", str(d / "hap" / f"{tg['gene_id']}.haplotypes.npz"),
                 "--predictions", str(d / "perfect_pred"), "--expression", run["expression"],
                 "--null-draws", "50", "--elastic-net-baseline", "--out", str(tmp_path)]) == 0
    g = pd.read_csv(tmp_path / f"{tg['gene_id']}.genes.tsv", sep="\t")
    assert (g.elastic_net_r > 0.5).all() and (g.elastic_net_r < tg["perfect_r"] + 0.05).all()
    assert (g.predixcan_source == "elastic_net").all() and (g.predixcan_r == g.elastic_net_r).all()


def test_bad_inputs_one_line_errors(run, tmp_path: Path, capsys) -> None:
    d = run["dir"]
    hap = [str(p) for p in run["hap"][:2]]
    gid = run["hap"][1].name.removesuffix(".haplotypes.npz")
    only_first = d / "pred" / f"{run['hap'][0].name.removesuffix('.haplotypes.npz')}.predictions.tsv"
    base = ["stats", "--haplotypes", *hap, "--expression", run["expression"], "--out", str(tmp_path / "o")]
    one_line_error(capsys, main([*base, "--predictions", str(only_first)]), gid, f"{gid}.predictions.tsv",
                    "seqgx predict")
    # PredictDB with an unexpected schema
    db = tmp_path / "bad.db"
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE weights (gene TEXT, rsid TEXT, varID TEXT, ref_allele TEXT, weight REAL)")
    con.close()
    one_line_error(capsys, main([*base, "--predictions", str(d / "pred"), "--predictdb", str(db)]),
                    "table 'weights'", "eff_allele")
    # An ISM table missing a variant of the haplotypes file
    ism = pd.read_csv(d / "ism" / f"{gid}.ism.tsv", sep="\t")
    (tmp_path / "ism").mkdir()
    for p in run["hap"][:2]:
        g = p.name.removesuffix(".haplotypes.npz")
        t = pd.read_csv(d / "ism" / f"{g}.ism.tsv", sep="\t")
        (t.iloc[1:] if g == gid else t).to_csv(tmp_path / "ism" / f"{g}.ism.tsv", sep="\t", index=False)
    one_line_error(capsys, main([*base, "--predictions", str(d / "pred"), "--ism", str(tmp_path / "ism")]),
                    f"lacks variant '{ism.variant_id.iloc[0]}'", "seqgx ism")
    # merge: the same batch twice
    assert main([*base, "--predictions", str(d / "pred"), "--batch-name", "x", "--null-draws", "20"]) == 0
    capsys.readouterr()
    x = tmp_path / "o" / "x.genes.tsv"
    (tmp_path / "o2").mkdir()
    (tmp_path / "o2" / "y.genes.tsv").write_bytes(x.read_bytes())
    (tmp_path / "o2" / "y.drivers.tsv").write_bytes((tmp_path / "o" / "x.drivers.tsv").read_bytes())
    one_line_error(capsys, main(["merge", "--genes", str(x), str(tmp_path / "o2" / "y.genes.tsv"), "--out",
                                  str(tmp_path / "m")]), "is in both", "pass each batch once")
    rc = main(["merge", "--genes", str(tmp_path / "nothing"), "--out", str(tmp_path / "m")])
    one_line_error(capsys, rc, "does not exist")


# ---------------------------------------------------------------------------------------------------
# Fine-tuned readout


def _reference_tracks(path: Path, names: list[str], bin_sums: np.ndarray, bins: list[int]) -> None:
    t = pd.DataFrame({"track_index": range(len(names)), "track_name": names, "bin_sum": bin_sums})
    for b in bins:
        t[f"bin_{b}"] = bin_sums / len(bins)
    t.to_csv(path, sep="\t", index=False, float_format="%.9g")


def test_finetune_recovers_planted_readout(tmp_path: Path) -> None:
    """40 genes on 8 chromosomes, 6 tracks; mean expression = 0.8 log2(t0 + 1) - 0.5 log2(t3 + 1) + 2."""
    rng = np.random.default_rng(3)
    n, names, bins = 40, [f"T{i}" for i in range(6)], [447, 448, 449]
    sums = rng.gamma(2.0, 20.0, size=(n, 6))
    x = np.log2(sums + 1.0)
    mean = 0.8 * x[:, 0] - 0.5 * x[:, 3] + 2.0
    ids = [f"G{i:03d}.1" for i in range(n)]
    (tmp_path / "rt").mkdir()
    for i, g in enumerate(ids):
        _reference_tracks(tmp_path / "rt" / f"{g}.reference_tracks.tsv", names, sums[i], bins)
    samples = [f"S{j}" for j in range(30)]
    expr = mean[:, None] + rng.normal(0, 0.05, size=(n, 30))
    expr -= expr.mean(axis=1, keepdims=True) - mean[:, None]  # sample mean exactly the planted mean
    pd.DataFrame(expr, index=[g.split(".")[0] for g in ids], columns=samples).rename_axis("gene_id").to_csv(
        tmp_path / "expr.tsv", sep="\t")
    genes = pd.DataFrame({"gene_id": ids, "gene_name": ids, "chrom": [f"chr{1 + i % 8}" for i in range(n)],
                          "fasta_contig": "c", "vcf_contig": "c", "tss": 100_000, "strand": "+",
                          "window_length": 128, "tss_index": 64})
    genes["window_start"] = genes["tss"] - 1 - 64
    genes.to_csv(tmp_path / "genes.tsv", sep="\t", index=False)
    assert main(["finetune", "--reference-tracks", str(tmp_path / "rt"), "--expression",
                 str(tmp_path / "expr.tsv"), "--genes", str(tmp_path / "genes.tsv"), "--out",
                 str(tmp_path / "w.csv")]) == 0
    report = json.loads((tmp_path / "w.report.json").read_text())
    assert report["heldout_r"] > 0.95 and report["n_genes"] == n and report["n_chromosomes"] == 8
    assert report["bins"] == bins and report["pseudocount"] == 1.0 and report["n_folds"] == 5
    w, offset = read_finetuned_weights(tmp_path / "w.csv", names)
    assert w[0] == pytest.approx(0.8, abs=0.1) and w[3] == pytest.approx(-0.5, abs=0.1)
    assert np.abs(np.delete(w, [0, 3])).max() < 0.1
    held = pd.read_csv(tmp_path / "w.heldout.tsv", sep="\t")
    assert len(held) == n and set(held.fold) == set(range(5))
    # Each fold's genes come from chromosomes no other fold holds.
    assert held.groupby("chrom").fold.nunique().max() == 1


def test_finetune_weights_feed_predict_with_the_same_pseudocount(run, tmp_path: Path, capsys) -> None:
    """Weights fitted on the oracle's reference tracks, used by `seqgx predict --finetuned-weights`: the
    reference value predict reports equals weights x log2(bin_sum + 1) + offset of the tracks fitted on."""
    d = run["dir"]
    genes = pd.read_csv(d / "genes" / "genes.tsv", sep="\t")
    genes["chrom"] = [f"c{i % 5}" for i in range(len(genes))]  # 5 groups: the cohort has 2 contigs
    genes.to_csv(tmp_path / "genes.tsv", sep="\t", index=False)
    assert main(["finetune", "--reference-tracks", str(d / "pred"), "--expression", run["expression"],
                 "--genes", str(tmp_path / "genes.tsv"), "--samples", str(d / "check" / "samples.tsv"),
                 "--out", str(tmp_path / "w.csv")]) == 0
    report = json.loads((tmp_path / "w.report.json").read_text())
    assert report["n_genes"] == len(genes) and report["n_tracks"] == 3
    names = ["oracle:GC", "oracle:TATA", "oracle:CACGTG"]
    w, offset = read_finetuned_weights(tmp_path / "w.csv", names)
    hap = run["hap"][0]
    assert main(["predict", "--haplotypes", str(hap), "--model", "oracle", "--finetuned-weights",
                 str(tmp_path / "w.csv"), "--pseudocount", "1", "--out", str(tmp_path / "p")]) == 0
    gid = hap.name.removesuffix(".haplotypes.npz")
    ref = json.loads((tmp_path / "p" / f"{gid}.reference.json").read_text())["reference"]["finetuned"]
    rt = pd.read_csv(d / "pred" / f"{gid}.reference_tracks.tsv", sep="\t")
    assert ref == pytest.approx(float(np.log2(rt.bin_sum.to_numpy() + 1.0) @ w + offset), abs=1e-9)
    ft = FineTunedReadout(w, offset, [0], pseudocount=1.0)
    assert ft.pseudocount == report["pseudocount"]
    # Only two real contigs: whole-chromosome cross-validation is refused, in one line.
    capsys.readouterr()
    rc = main(["finetune", "--reference-tracks", str(d / "pred"), "--expression", run["expression"],
               "--genes", str(d / "genes" / "genes.tsv"), "--out", str(tmp_path / "x.csv")])
    one_line_error(capsys, rc, "at least 3 chromosomes", "got 2")
    assert not (tmp_path / "x.csv").exists()


def test_signed_distance() -> None:
    np.testing.assert_array_equal(signed_distance(np.array([90, 110]), 100, "+"), [-10, 10])
    np.testing.assert_array_equal(signed_distance(np.array([90, 110]), 100, "-"), [10, -10])
    assert math.isclose(float(signed_distance(np.array([100]), 100, "-")[0]), 0.0)


def test_gene_without_snvs_is_kept_with_status() -> None:
    """No SNV in the window: every person has the reference, so the prediction is constant; the row is
    kept with status no_snvs (the cause) and NaN statistics, never dropped."""
    s = 30
    variants = pd.DataFrame({c: pd.Series(dtype=object if c in ("variant_id", "ref", "alt") else np.int64)
                             for c in VARIANT_COLUMNS})
    ids = np.array([f"s{i}" for i in range(s)])
    gh = GeneHaplotypes(gene_id="G", gene_name="G", chrom="chr1", tss=1000, strand="-", window_start=935,
                        window_length=128, tss_index=64, reference=np.zeros(128, np.uint8), variants=variants,
                        samples=ids, expression_samples=ids, dosage=np.zeros((0, s), np.int8),
                        haplotypes=np.zeros((0, s, 2), bool), hap_index=np.zeros((s, 2), np.int32),
                        distinct=np.zeros((1, 0), bool))
    obs = np.random.default_rng(0).normal(size=s)
    rows, drivers = gene_tables(gh, ["a", "b"], np.full((s, 2), 3.0), obs, {"a": np.zeros(0)}, StatsOptions())
    assert [r["status"] for r in rows] == ["no_snvs", "no_snvs"]
    assert all(math.isnan(r["r"]) and math.isnan(r["null_p"]) for r in rows)
    assert rows[0]["n_snvs"] == 0 and rows[0]["n_samples"] == s and len(drivers) == 0
    assert rows[0]["n_drivers"] == 0 and math.isnan(rows[1]["n_drivers"])  # readout b has no ISM column
