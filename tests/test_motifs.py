"""Motifs around driver SNVs (`seqgx motifs`): the published driver-context statistics on hand-worked
profiles, seqlets on planted and pure-noise tracks, TOMTOM against JASPAR, the exact fast neighbourhood
ISM against full forwards, and the whole step on the simulated cohort with the oracle model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from cli_helpers import one_line_error, seqgx_run
from seqgx.motifs import (
    annotate_matrices,
    call_seqlets,
    driver_context,
    driver_neighbourhood_ism,
    gene_scale,
    jaspar_motifs,
    neighbourhood,
    pair_scores,
    per_base_attribution,
    seqlet_pvalues,
    window_score,
)
from test_attribution import _randomize

from seqgx.cli import main
from seqgx.errors import SeqgxError
from seqgx.genome.personalize import GeneHaplotypes, deduplicate
from seqgx.genome.reference import decode, encode
from seqgx.model.attribution import FastISM, ReadoutSet
from seqgx.model.models import load_model
from seqgx.model.readouts import TrackReadout


def is_true(x: object) -> bool:
    """A boolean cell as read back by pandas (a bool or the word)."""
    return str(x).strip().lower() == "true"


def block(values: list[float], scale: float = 1.0) -> np.ndarray:
    """A (W, 4) saturation block whose attribution over ``scale`` is ``values``: the own base (A) 0 and
    each of the three substitutions -value * scale (the mean loss of replacing the base)."""
    m = np.zeros((len(values), 4))
    m[:, 1:] = -np.asarray(values, float)[:, None] * scale
    return m


# ---------------------------------------------------------------------------------------------------
# Attribution and the driver-context statistics


def test_per_base_attribution_of_a_tiny_matrix() -> None:
    ism = np.array([[0.0, -1.0, -2.0, 0.5],  # own base A; mean loss of the three: (1 + 2 - 0.5) / 3
                    [0.3, 0.0, 0.3, 0.3]])  # own base C; every substitution gains 0.3
    assert per_base_attribution(ism).tolist() == pytest.approx([2.5 / 3, -0.3])
    assert gene_scale(np.array([0.5, -2.0, 1.0]), "max") == 2.0
    assert gene_scale(np.array([1.0, -1.0, 1.0, -1.0]), "sd") == 1.0  # population SD
    assert np.isnan(gene_scale(np.zeros(5), "max"))


def test_centre_above_threshold_runs_stop_at_opposite_sign_and_four_thresholds() -> None:
    # scaled values by position -5..5; centre 0.6
    v = [0.1, -0.3, 0.4, 0.5, 0.45, 0.6, 0.35, 0.45, -0.2, 0.5, 0.05]
    ctx = driver_context(block(v, scale=2.0), 2.0, thresholds=(0.2, 0.4, 0.5, 0.7))
    assert ctx["score"] == pytest.approx(0.6)
    # t=0.2: right 0.35, 0.45 then -0.2 stops (the 0.5 beyond it does not count): 2; left 0.45, 0.5,
    # 0.4 then -0.3 stops: 3 -> 1 + 2 + 3 = 6. t=0.4: right 0.35 < 0.4: 0; left 0.45, 0.5, 0.4 (>=): 3
    # -> 4. t=0.5: right 0, left 0.45 < 0.5: 0 -> 1. t=0.7: |0.6| < 0.7 -> 0, and no value reaches 0.7:
    # distance W // 2 = 5, where the ends are 0.05 (right) and 0.1 (left): 0.1.
    assert ctx["motif_size"].tolist() == [6, 4, 1, 0]
    assert ctx["distance"].tolist() == [0, 0, 0, 5]
    assert ctx["distance_score"].tolist() == pytest.approx([0.6, 0.6, 0.6, 0.1])


def test_negative_centre_counts_same_sign_neighbours() -> None:
    v = [-0.3, -0.5, 0.2, -0.6, -0.35, -0.1, 0.0]  # centre -0.6
    ctx = driver_context(block(v), 1.0, thresholds=(0.3,))
    # right -0.35 counts (sign * v = 0.35), -0.1 stops; left 0.2 is the wrong sign: 1 + 1 + 0
    assert ctx["motif_size"].tolist() == [2] and ctx["distance_score"].tolist() == [-0.6]


def test_centre_below_threshold_first_hit_at_distance_three_on_the_left() -> None:
    v = [0.05, 0.5, -0.1, 0.2, 0.1, 0.15, -0.25, 0.0, 0.6]  # centre 0.1 at index 4
    ctx = driver_context(block(v), 1.0, thresholds=(0.3, 0.2))
    # t=0.3: d=1 (0.15, 0.2), d=2 (-0.25, -0.1) miss; d=3: right 0.0, left 0.5 -> d=3, value 0.5
    # (the 0.6 at d=4 on the right is further). t=0.2: d=1 left 0.2 >= 0.2; right 0.15 < 0.2 -> 0.2.
    assert ctx["motif_size"].tolist() == [0, 0]
    assert ctx["distance"].tolist() == [3, 1]
    assert ctx["distance_score"].tolist() == pytest.approx([0.5, 0.2])


def test_tie_between_left_and_right_takes_the_right() -> None:
    v = [0.0, -0.4, 0.0, 0.05, 0.0, 0.4, 0.0]
    ctx = driver_context(block(v), 1.0, thresholds=(0.3,))
    assert ctx["distance"].tolist() == [2] and ctx["distance_score"].tolist() == pytest.approx([0.4])
    ctx = driver_context(block([0.0, 0.4, 0.0, 0.05, 0.0, -0.4, 0.0]), 1.0, thresholds=(0.3,))
    assert ctx["distance_score"].tolist() == pytest.approx([-0.4])


def test_no_hit_at_all_gives_half_the_window() -> None:
    v = [0.02, 0.01, -0.03, 0.04, 0.0, 0.01, -0.01, 0.0, 0.03]
    ctx = driver_context(block(v), 1.0, thresholds=(0.5, 0.1))
    assert ctx["distance"].tolist() == [4, 4] and ctx["motif_size"].tolist() == [0, 0]
    assert ctx["distance_score"].tolist() == pytest.approx([0.03, 0.03])  # ends: 0.03 right, 0.02 left


def test_nan_block_and_bad_scale_give_nan_rows_bad_shapes_one_line_errors() -> None:
    m = block([0.1, 0.5, 0.2])
    m[0, 2] = np.nan
    for ism, scale in ((m, 1.0), (block([0.1, 0.5, 0.2]), 0.0), (block([0.1, 0.5, 0.2]), np.nan)):
        ctx = driver_context(ism, scale)
        assert np.isnan(ctx["score"]) and np.isnan(ctx["motif_size"]).all()
        assert np.isnan(ctx["distance"]).all() and np.isnan(ctx["distance_score"]).all()
    with pytest.raises(SeqgxError, match="W odd"):
        driver_context(np.zeros((4, 4)), 1.0)
    with pytest.raises(SeqgxError, match="positive"):
        driver_context(np.zeros((5, 4)), 1.0, thresholds=(0.0,))
    with pytest.raises(SeqgxError, match="within 20 bp of the end"):
        neighbourhood(15, 20, 1000)


# ---------------------------------------------------------------------------------------------------
# Seqlets


def test_seqlet_calling_recovers_a_planted_motif_and_nan_breaks_runs() -> None:
    rng = np.random.default_rng(1)
    a = rng.normal(0, 0.1, 2001)
    a[1000:1008] = 1.0  # an 8-bp motif, 10 noise SDs
    v = a / gene_scale(a, "max")
    calls = call_seqlets(v, 0.4, 4)
    assert calls == [(1000, 1007, 1)]
    p = seqlet_pvalues(v, calls, 0.4, 4, 100, np.random.default_rng(0))
    assert p.tolist() == [1 / 101]
    z = a / gene_scale(a, "sd")
    assert call_seqlets(z, 1.5, 4) == [(1000, 1007, 1)]
    w = np.array([1.0, 1.0, np.nan, 1.0, 1.0, 1.0, 1.0, -1.0, -1.0, -1.0, -1.0])
    assert call_seqlets(w, 0.5, 4) == [(3, 6, 1), (7, 10, -1)]


def test_seqlets_on_pure_noise_are_rare_and_not_significant() -> None:
    """Gaussian noise tracks of 2,001 bp: calls per track with the default rules (max 0.4 / sd 1.5,
    >= 4 bp) and tracks with a call at p < 0.05; docs/motifs.md quotes the 1,000-track rates (0.155 and
    0.088 calls per track; 3.9% and 5.9% of tracks with p < 0.05)."""
    rng = np.random.default_rng(7)
    tracks = rng.standard_normal((200, 2001))
    for kind, t in (("max", 0.4), ("sd", 1.5)):
        n_calls, n_sig = 0, 0
        for a in tracks:
            v = a / gene_scale(a, kind)
            calls = call_seqlets(v, t, 4)
            n_calls += len(calls)
            if calls:
                n_sig += bool((seqlet_pvalues(v, calls, t, 4, 100, rng) < 0.05).any())
        assert n_calls / len(tracks) < 0.3, kind
        assert n_sig / len(tracks) <= 0.08, kind  # a max-statistic p: ~5% of noise tracks by design


# ---------------------------------------------------------------------------------------------------
# TOMTOM against JASPAR 2024 CORE vertebrates non-redundant


def test_tomtom_maps_tbp_back_and_a_random_pwm_to_nothing() -> None:
    db = jaspar_motifs()
    assert len(db.ids) == 879  # JASPAR 2024 CORE vertebrates, non-redundant
    tbp = next(i for i, m in enumerate(db.ids) if m.startswith("MA0108"))
    rand = np.random.default_rng(3).dirichlet(np.ones(4), 10).T
    ann = annotate_matrices([db.ppms[tbp], rand], db)
    assert ann.loc[0, "tf_name"] == "TBP" and ann.loc[0, "tf_matrix_id"].startswith("MA0108")
    assert ann.loc[0, "tf_q"] < 1e-10 and ann.loc[0, "tf_significant"]
    assert not ann.loc[1, "tf_significant"]


# ---------------------------------------------------------------------------------------------------
# De novo alignment score


def test_window_score_by_hand_and_the_fast_kernel_agrees() -> None:
    x = "CCGTATACGGAAA"  # centre (index 6) is the A of TATA
    # identical: one stretch of all 13 bases
    assert window_score(x, x) == 13
    # y carries the same CGTATACG two bases to the right. Shift 2 (x[i] with y[i + 2]): x[0..8] =
    # CCGTATACG matches y[2..10] (9 bases; x's centre 6 and y's centre, x index 4, inside), then x[9] G vs
    # y[11] T is the one mismatch allowed and x[10] A vs y[12] T a second: 9 matches. The reverse
    # complement of y aligned at shift 1 also gives 9 (x[1..9] = CGTATACGG).
    y = "AACCGTATACGTT"
    assert window_score(x, y) == 9
    # no five-base stretch with <= 1 mismatch anywhere: 0
    assert window_score("AAAAAAAAAAAAA", "CCCCCCCCCCCCC") == 0
    # forward, CTATAG + G are shared at shift 0 (x[4..9]: 6 matches, one more G/C mismatch adds none);
    # but y's reverse complement GGGCTATAGGGGG is x shifted by one: x[1..12] = all 12 bases match
    assert window_score("GGGGCTATAGGGG", "CCCCCTATAGCCC") == 12
    # the reverse complement counts: x against its own reverse complement aligns fully on the - strand
    assert window_score(x, "TTTCCGTATACGG") == 13
    rng = np.random.default_rng(0)
    ref = ["".join(rng.choice(list("ACGT"), 13)) for _ in range(12)]
    alt = [r[:6] + "ACGT"[("ACGT".index(r[6]) + 1) % 4] + r[7:] for r in ref]
    s = pair_scores(ref, alt)
    for i in range(12):
        for j in range(i + 1, 12):
            exp = max(window_score(a, b) for a in (ref[i], alt[i]) for b in (ref[j], alt[j]))
            assert s[i, j] == exp == s[j, i]


# ---------------------------------------------------------------------------------------------------
# Neighbourhood ISM: fast path = full forward of every mutated sequence




def test_driver_neighbourhood_ism_fast_equals_full_forward() -> None:
    narrow = {"dim": 24, "depth": 1, "heads": 1, "num_downsamples": 7, "dim_divisible_by": 4,
              "output_heads": {"human": 4}, "target_length": 16}
    L = 128 * 24
    model = load_model("random", L, narrow, seed=5)
    _randomize(model.module.enformer, 6)
    module = model.module.select(None, [0, 2])
    rset = ReadoutSet([TrackReadout(0, list(range(16))), TrackReadout(2, [7, 8])], list(range(16)), [0, 2])
    rng = np.random.default_rng(2)
    ref = rng.integers(0, 4, L).astype(np.uint8)
    wis = [1536, 1663, 30]  # mid-token, a token's last base, 30 bp from the start (clamped slices)
    alts = [(int(ref[w]) + 1) % 4 for w in wis]
    res = driver_neighbourhood_ism(ref, wis, alts, rset, engine=FastISM(module, batch_size=16), flank=20)

    def readout(rows: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            out = module(torch.from_numpy(np.eye(4, dtype=np.float32)[rows])).numpy()
        return rset.compute(out)

    for w, a, r in zip(wis, alts, res, strict=True):
        assert r.window_index.tolist() == list(range(w - 20, w + 21))
        for bg_tokens, matrix in ((ref, r.ref_matrix), (None, r.alt_matrix)):
            bg = ref.copy() if bg_tokens is not None else ref.copy()
            if bg_tokens is None:
                bg[w] = a
            rows, where = [bg], []
            for k, p in enumerate(r.window_index):
                for b in range(4):
                    if b != bg[p]:
                        m = bg.copy()
                        m[p] = b
                        rows.append(m)
                        where.append((k, b))
            vals = np.concatenate([readout(np.stack(rows[i:i + 64])) for i in range(0, len(rows), 64)])
            slow = np.zeros_like(matrix)
            for (k, b), v in zip(where, vals[1:], strict=True):
                slow[:, k, b] = v - vals[0]
            np.testing.assert_allclose(matrix, slow, atol=1e-4, rtol=0)
            if w == 1536:
                assert np.abs(slow).max() > 1e-2  # real effects, not 0 == 0
        assert r.alt_tokens[20] == a and r.ref_tokens[20] == ref[w]


# ---------------------------------------------------------------------------------------------------
# Command line on small oracle genes: outputs and bad input


ORACLE_LEN = 128 * 48  # centre bins 13-15 = window indices 2944..3327; TSS index 3072


def make_gene(reference: np.ndarray, window_index: list[int], alts: list[str],
              gene_id: str = "G1") -> GeneHaplotypes:
    L, ws = len(reference), 10_000
    tss = ws + L // 2 + 1
    wi = np.asarray(window_index, dtype=np.int64)
    rng = np.random.default_rng(0)
    haps = rng.random((len(wi), 6, 2)) < 0.4
    dosage = haps.sum(axis=2).astype(np.int8)
    pos = ws + wi + 1
    ref = [decode(reference[[i]]) for i in wi]
    variants = pd.DataFrame({
        "variant_id": [f"chr1:{p}:{r}:{a}" for p, r, a in zip(pos, ref, alts, strict=True)], "pos": pos,
        "ref": ref, "alt": alts, "window_index": wi, "allele_count": dosage.sum(1).astype(np.int64),
        "allele_frequency": dosage.sum(1) / 12, "n_carriers": (dosage > 0).sum(1).astype(np.int64),
        "distance_to_tss": pos - tss})
    hap_index, distinct = deduplicate(haps)
    samples = np.array([f"s{i}" for i in range(6)])
    return GeneHaplotypes(gene_id=gene_id, gene_name=gene_id, chrom="chr1", tss=int(tss), strand="+",
                          window_start=ws, window_length=L, tss_index=L // 2, reference=reference,
                          variants=variants, samples=samples, expression_samples=samples, dosage=dosage,
                          haplotypes=haps, hap_index=hap_index, distinct=distinct)


def _drivers_file(path: Path, gene: GeneHaplotypes, rows: list[tuple[int, bool]]) -> Path:
    v = gene.variants.set_index("window_index")
    recs = [{"gene_id": gene.gene_id, "readout": "track:1", "readout_name": "oracle:TATA",
             "variant_id": v.at[w, "variant_id"], "pos": v.at[w, "pos"], "ref": v.at[w, "ref"],
             "alt": v.at[w, "alt"], "distance_to_tss": v.at[w, "distance_to_tss"], "ism": -1.0,
             "is_main": "true" if main else "false", "supported": "true"} for w, main in rows]
    pd.DataFrame(recs).to_csv(path, sep="\t", index=False)
    return path


@pytest.fixture(scope="module")
def oracle_gene(tmp_path_factory: pytest.TempPathFactory) -> tuple[GeneHaplotypes, Path]:
    tmp = tmp_path_factory.mktemp("oracle_gene")
    rng = np.random.default_rng(0)
    ref = rng.choice(np.array([0, 1], dtype=np.uint8), ORACLE_LEN)  # A/C only: no TATA anywhere
    ref[3000:3006] = encode("CTATAG")  # a TATA in the readout, 71 bp before the TSS; T>G at 3001 breaks it
    gene = make_gene(ref, [5, 3001, 3040], ["G", "G", "G"])
    path = gene.save(tmp / "G1.haplotypes.npz")
    for name, window in (("ism", "80"), ("ism0", "0")):
        assert main(["ism", "-q", "--haplotypes", str(path), "--model", "oracle", "--tracks", "1",
                     "--tss-window", window, "--out", str(tmp / name)]) == 0
    return gene, path


def test_cli_oracle_gene_outputs(oracle_gene: tuple[GeneHaplotypes, Path], tmp_path: Path) -> None:
    gene, path = oracle_gene
    drivers = _drivers_file(tmp_path / "drivers.tsv", gene, [(3001, True), (5, False), (3040, False)])
    out = tmp_path / "motifs"
    rc = main(["motifs", "-q", "--haplotypes", str(path), "--model", "oracle", "--tracks", "1",
               "--ism", str(path.parent / "ism"), "--drivers", str(drivers), "--all-drivers",
               "--motif-window", "80", "--batch-name", "b", "--out", str(out)])
    assert rc == 0
    dm = pd.read_csv(out / "b.driver_motifs.tsv", sep="\t", keep_default_na=False, na_values=["NA"])
    by = dm.set_index("pos")
    ws = gene.window_start
    # the driver 5 bp from the window start: a NaN row saying why, never a crash
    assert by.at[ws + 6, "status"] == "near_window_end" and np.isnan(by.at[ws + 6, "score_ref"])
    # the TATA-breaking driver: the reference's 4-base motif (a = 1 each; scale 1), broken on the alt
    row = by.loc[ws + 3002]
    assert row["status"] == "ok" and row["score_ref"] == 1.0
    assert [row[f"motif_size_ref_{t}"] for t in ("0.05", "0.1", "0.2", "0.5")] == [4, 4, 4, 4]
    assert is_true(row["in_seqlet"]) and not is_true(by.at[ws + 3041, "in_seqlet"])
    assert by.at[ws + 3041, "score_ref"] == 0.0  # no motif within its 20 bp
    z = np.load(out / "G1.driver_ism.npz")
    assert z["ref_matrix"].shape == (2, 1, 41, 4)
    assert list(z["variant_id"]) == [by.at[ws + 3002, "variant_id"], by.at[ws + 3041, "variant_id"]]
    seq = pd.read_csv(out / "b.seqlets.tsv", sep="\t")
    assert seq[["start", "end", "sequence"]].values.tolist() == [[ws + 3002, ws + 3005, "TATA"]]


def test_cli_gene_without_saturation_is_one_line_error(oracle_gene: tuple[GeneHaplotypes, Path],
                                                       tmp_path: Path, capsys) -> None:
    gene, path = oracle_gene
    drivers = _drivers_file(tmp_path / "drivers.tsv", gene, [(3001, True)])
    rc = main(["motifs", "--haplotypes", str(path), "--model", "oracle", "--tracks", "1",
               "--ism", str(path.parent / "ism0" / "G1.ism.tsv"), "--drivers", str(drivers),
               "--out", str(tmp_path / "m")])
    one_line_error(capsys, rc, "gene G1 has no saturation ISM", "--tss-window")
    rc = main(["motifs", "--enrichment", "--out", str(tmp_path / "m")])
    one_line_error(capsys, rc, "--enrichment needs --driver-motifs")


# ---------------------------------------------------------------------------------------------------
# End to end on the simulated cohort with the oracle model


@pytest.fixture(scope="module")
def cohort_motifs(cohort: dict, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    work = tmp_path_factory.mktemp("motif_run")
    # The motif step runs below, by hand in two batches; the run's own and its gene pages are not needed.
    res = seqgx_run(cohort, work, tracks="oracle:TATA", null_draws=50, genes_per_batch=5, motifs=False,
                    report_top_genes=0)
    out = work / "motifs"
    # The genes attribution ran on (those with a saturation ISM), in two batches.
    ids = sorted(p.name.removesuffix(".saturation.npz") for p in (res / "ism").glob("*.saturation.npz"))
    assert len(ids) >= 8
    for k, batch in enumerate((ids[: len(ids) // 2], ids[len(ids) // 2:])):
        haps = [str(res / "haplotypes" / f"{g}.haplotypes.npz") for g in batch]
        assert main(["motifs", "-q", "--haplotypes", *haps, "--model", "oracle", "--tracks", "oracle:TATA",
                     "--ism", str(res / "ism"), "--drivers", str(res / "assessment" / "drivers.tsv"),
                     "--genes", str(res / "assessment" / "genes.tsv"), "--batch-name", f"b{k}",
                     "--out", str(out)]) == 0
    assert main(["motifs", "-q", "--enrichment", "--driver-motifs", str(out), "--out", str(out / "all")]) == 0
    return res, out / "all"


def test_planted_tata_sites_are_seqlets_and_drivers_sit_in_them(cohort: dict, cohort_motifs) -> None:
    """Each causal SNV makes or breaks a TATA (docs/formats.md, simulated cohort). Breaking: the reference
    holds the 4-base motif, called as a seqlet exactly over it and matched to a TATA-containing JASPAR
    matrix; the driver is in it. Making: the alt background holds it."""
    _, out = cohort_motifs
    truth = json.loads(Path(cohort["truth"]).read_text())
    dm = pd.read_csv(out / "driver_motifs.tsv", sep="\t")
    seq = pd.read_csv(out / "seqlets.tsv", sep="\t")
    db = jaspar_motifs()
    tata_matrices = {db.ids[i] for i in range(len(db.ids)) if "TATA" in db.consensus(i)}
    n_break = n_make = 0
    for g in truth["genes"]:
        for c in g["causal"]:
            row = dm[(dm.gene_id == g["gene_id"]) & (dm.variant_id == c["variant_id"])]
            assert len(row) == 1
            row = row.iloc[0]
            if c["oracle_delta"] < 0:  # breaks the reference's TATA
                n_break += 1
                s = seq[(seq.gene_id == g["gene_id"]) & (seq.start == c["motif_start"])]
                assert len(s) == 1 and s.iloc[0]["end"] == c["motif_start"] + 3
                assert s.iloc[0]["sequence"] == "TATA" and s.iloc[0]["p_value"] < 0.05
                assert s.iloc[0]["tf_matrix_id"] in tata_matrices
                assert is_true(row["in_seqlet"]) and row["seqlet_tf_matrix_id"] in tata_matrices
                if is_true(row["is_main"]):
                    assert row["score_ref"] > 0 and row["motif_size_ref_0.5"] == 4
            else:  # makes a TATA: nothing in the reference, the motif on the alt background
                n_make += 1
                assert not is_true(row["in_seqlet"])
                if is_true(row["is_main"]):
                    assert row["score_ref"] < 0 and row["score_alt"] > 0 and row["motif_size_alt_0.5"] == 4
    assert n_break >= 2 and n_make >= 2


def test_enrichment_finds_tata_around_drivers(cohort_motifs) -> None:
    from memelite.io import read_meme

    _, out = cohort_motifs
    enr = pd.read_csv(out / "motif_enrichment.tsv", sep="\t")
    dm = pd.read_csv(out / "driver_motifs.tsv", sep="\t")
    den = enr[enr.analysis == "de_novo"].sort_values("n_members", ascending=False)
    top = den.iloc[0]
    assert "TATA" in top["consensus"] and top["n_members"] >= 0.8 * len(dm)
    counts = json.loads(top["counts"])
    c = top["consensus"].index("TATA")
    for k, base in enumerate("TATA"):  # every member carries the motif at those columns
        assert counts[base][c + k] == top["n_members"]
    memes = read_meme(str(out / "motif_clusters.meme"))
    assert any(k.startswith("track:1/cluster_") for k in memes)
    kn = enr[enr.analysis == "known"]
    assert (kn.cases_with + kn.cases_without == len(dm)).all()
    summary = json.loads((out / "motif_summary.json").read_text())["readouts"]["track:1"]
    assert summary["fraction_main_drivers_in_seqlet"] > summary["fraction_snvs_in_seqlet"]
