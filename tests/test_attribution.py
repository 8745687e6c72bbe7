"""ISM, gradients and saturation ISM (`seqgx ism`), checked against closed forms (oracle model), the
full forward (fast path) and an empirical receptive field."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from seqgx.cli import main
from seqgx.genome.personalize import GeneHaplotypes, deduplicate
from seqgx.genome.reference import decode, encode
from seqgx.model.attribution import (
    Conv,
    FastISM,
    Pool,
    ReadoutSet,
    Residual,
    attribute_gene,
    derive_receptive_field,
    flop_counts,
    split_model,
    trunk_layers,
)
from seqgx.model.models import OracleModel, export_onnx, load_model
from seqgx.model.readouts import FineTunedReadout, TrackReadout

ORACLE_LEN = 128 * 48  # 48 bins of 128 bp, 10 cropped each side -> 28 bins; centre bins 13, 14, 15
CENTRE = [13, 14, 15]
TRIM = 10
NARROW = {"dim": 24, "depth": 1, "heads": 1, "num_downsamples": 7, "dim_divisible_by": 4,
          "output_heads": {"human": 4}}
FULL_LEN = 196_608


# ---------------------------------------------------------------------------------------------------
# Helpers


def make_gene(reference: np.ndarray, window_index: list[int], alts: list[str], gene_id: str = "G1",
              n_samples: int = 5, seed: int = 0, refs: list[str] | None = None) -> GeneHaplotypes:
    """A GeneHaplotypes around ``reference`` with the given SNVs and random phased genotypes."""
    L = len(reference)
    ws = 10_000
    tss = ws + L // 2 + 1
    wi = np.asarray(window_index, dtype=np.int64)
    order = np.argsort(wi, kind="stable")
    wi = wi[order]
    alts = [alts[i] for i in order]
    ref = [decode(reference[[i]]) for i in wi] if refs is None else [refs[i] for i in order]
    rng = np.random.default_rng(seed)
    haps = rng.random((len(wi), n_samples, 2)) < 0.3
    dosage = haps.sum(axis=2).astype(np.int8)
    pos = ws + wi + 1
    variants = pd.DataFrame({
        "variant_id": [f"chr1:{p}:{r}:{a}" for p, r, a in zip(pos, ref, alts, strict=True)],
        "pos": pos, "ref": ref, "alt": alts, "window_index": wi,
        "allele_count": dosage.sum(1).astype(np.int64), "allele_frequency": dosage.sum(1) / (2 * n_samples),
        "n_carriers": (dosage > 0).sum(1).astype(np.int64), "distance_to_tss": pos - tss})
    hap_index, distinct = deduplicate(haps)
    samples = np.array([f"s{i}" for i in range(n_samples)])
    return GeneHaplotypes(gene_id=gene_id, gene_name=gene_id, chrom="chr1", tss=int(tss), strand="+",
                          window_start=ws, window_length=L, tss_index=L // 2, reference=reference,
                          variants=variants, samples=samples, expression_samples=samples, dosage=dosage,
                          haplotypes=haps, hap_index=hap_index, distinct=distinct)


def count_in_bins(tokens: np.ndarray, track: int, bins: list[int], bin_size: int = 128,
                  trim: int = TRIM) -> int:
    """The oracle's closed form by string scanning: GC bases / motif starts inside the given bins."""
    s = decode(tokens)
    total = 0
    for b in bins:
        lo, hi = (b + trim) * bin_size, (b + trim + 1) * bin_size
        if track == 0:
            total += sum(c in "CG" for c in s[lo:hi])
        else:
            motif = OracleModel.MOTIFS[track - 1]
            total += sum(s.startswith(motif, i) for i in range(lo, hi))
    return total


def oracle_reference(seed: int = 0) -> np.ndarray:
    """Random sequence of A/C only (no TATA or CACGTG can occur) with planted sites near the TSS."""
    rng = np.random.default_rng(seed)
    ref = rng.choice(np.array([0, 1], dtype=np.uint8), ORACLE_LEN)
    ref[3000:3004] = encode("TATA")  # existing motif: a T>G at 3000 breaks it
    ref[3100:3104] = encode("TAGA")  # one base from TATA: G>T at 3102 creates it
    ref[3200:3206] = encode("CACGTA")  # one base from CACGTG: A>G at 3205 creates it
    return ref


def _randomize(enformer: torch.nn.Module, seed: int) -> None:
    """Random non-zero weights everywhere (enformer-pytorch zero-initialises attention outputs),
    and non-trivial BatchNorm statistics, so every path of the model carries signal."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in enformer.parameters():
            p.add_(torch.randn(p.shape, generator=g) * 0.2)
        for m in enformer.modules():
            if isinstance(m, torch.nn.BatchNorm1d):
                m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=g) * 0.3)
                m.running_var.copy_(torch.rand(m.running_var.shape, generator=g) + 0.5)


def _save(gene: GeneHaplotypes, tmp_path: Path) -> Path:
    return gene.save(tmp_path / f"{gene.gene_id}.haplotypes.npz")


# ---------------------------------------------------------------------------------------------------
# Receptive field


@pytest.fixture(scope="module")
def full_size_meta():
    """The full-size Enformer (dim 1536, depth 11, 7 downsamplings) on the meta device: no memory."""
    from enformer_pytorch import Enformer

    with torch.device("meta"):
        enf = Enformer.from_hparams()
    return enf.eval()


def test_derived_receptive_field_of_full_size_enformer(full_size_meta) -> None:
    """Walking the full-size architecture gives the hand derivation of docs/models.md."""
    enf = full_size_meta
    layers = trunk_layers(enf.stem) + trunk_layers(enf.conv_tower)
    assert layers[0] == Conv(15, 7, 7) and isinstance(layers[1], Residual) and layers[2] == Pool(2)
    rf = derive_receptive_field(layers)
    # Hand derivation: 7 bp from the width-15 stem conv, then a width-5 conv (2 positions each side)
    # at resolutions 2, 4, ..., 64 bp: R = 7 + 2 * (2 + 4 + 8 + 16 + 32 + 64) = 259 bp each side.
    assert rf.resolution == 128
    assert rf.context_left == rf.context_right == 7 + 2 * (2 + 4 + 8 + 16 + 32 + 64) == 259
    # A base changes tokens whose context reaches it: ceil(259 / 128) = 3 tokens each side at most.
    assert (rf.affect_lo, rf.affect_hi) == (-3, 3)
    # Those 7 tokens need 259 bp more each side: 3 more tokens each side -> a 13-token (1,664 bp) slice.
    assert (rf.slice_lo, rf.slice_hi, rf.slice_bp) == (-6, 6, 13 * 128)


def test_receptive_field_empirically() -> None:
    """Perturb one base of a random input: only tokens inside the derived set change, every token
    of the set changes for some base offset (the set is tight), and the slice recomputes them exactly."""
    model = load_model("random", 128 * 40, {**NARROW, "target_length": 24}, seed=5)
    _randomize(model.module.enformer, 6)
    split = split_model(model.module)
    rf = derive_receptive_field(split.layers)
    assert (rf.affect_lo, rf.affect_hi) == (-3, 3)
    engine = FastISM(model.module, batch_size=16)
    rng = np.random.default_rng(0)
    ref = rng.integers(0, 4, 128 * 40).astype(np.uint8)
    x = torch.from_numpy(np.eye(4, dtype=np.float32)[ref])[None]
    with torch.no_grad():
        base = split.trunk(x)[0]
    seen_offsets: set[int] = set()
    # Positions at token starts/ends, token middles and both sequence ends.
    positions = [0, 1, 127, 128, 129, 640, 700, 767, 2560 + 64, 2560 + 127, 128 * 40 - 1, 128 * 40 - 128]
    for i in positions:
        alt = (ref[i] + 1) % 4
        xm = x.clone()
        xm[0, i] = 0
        xm[0, i, alt] = 1
        with torch.no_grad():
            changed = np.flatnonzero((split.trunk(xm)[0] - base).abs().amax(-1).numpy() > 0)
        t = i // 128
        assert changed.size, i
        assert changed.min() >= t + rf.affect_lo and changed.max() <= t + rf.affect_hi, (i, changed)
        seen_offsets |= set((changed - t).tolist())
    assert seen_offsets == set(range(rf.affect_lo, rf.affect_hi + 1))
    # The fast engine's spliced tokens equal the full trunk's, at the ends and in the middle.
    engine.set_reference(ref)
    wi = np.array(positions)
    alts = (ref[wi] + 1) % 4
    fast = engine.outputs(wi, alts)
    mutated = np.repeat(ref[None], len(wi), axis=0)
    mutated[np.arange(len(wi)), wi] = alts
    with torch.no_grad():
        full = model.module(torch.from_numpy(np.eye(4, dtype=np.float32)[mutated])).numpy()
    np.testing.assert_allclose(fast, full, atol=1e-4, rtol=0)


# ---------------------------------------------------------------------------------------------------
# Fast ISM = full-forward ISM on a full-length Enformer


@pytest.fixture(scope="module")
def narrow():
    model = load_model("random", FULL_LEN, NARROW, seed=1)
    _randomize(model.module.enformer, 2)
    return model


def test_fast_equals_full_forward_full_length(narrow) -> None:
    rng = np.random.default_rng(3)
    ref = rng.integers(0, 4, FULL_LEN).astype(np.uint8)
    c = FULL_LEN // 2
    # Both window ends, the centre, and the first/last base of 128-bp tokens.
    wi = [0, 3, 127, 128, 40_959, 40_960, c - 129, c - 1, c, c + 127, c + 128, c + 700,
          FULL_LEN - 129, FULL_LEN - 128, FULL_LEN - 1]
    alts = ["ACGT"[(ref[i] + 1 + k % 3) % 4] for k, i in enumerate(wi)]
    gene = make_gene(ref, wi, alts)
    # Readouts: a track over all 896 bins (every variant in the kept region moves it directly) and
    # the centre bins (distant variants act only through attention).
    module = narrow.module.select(None, [0, 3])
    readouts = ReadoutSet([TrackReadout(0, list(range(896))), TrackReadout(3, [447, 448, 449])],
                          list(range(896)), [0, 3])
    fast = attribute_gene(gene, readouts, method="fast", module=module, tss_window=0, batch_size=8)
    full = attribute_gene(gene, readouts, method="full", module=module, tss_window=0, batch_size=4)
    cols = ["ism_track:0", "ism_track:3"]
    a, b = fast.table[cols].to_numpy(), full.table[cols].to_numpy()
    np.testing.assert_allclose(a, b, atol=1e-4, rtol=0)
    assert (np.abs(b) > 1e-3).sum() >= len(wi)  # effects are real, not a vacuous 0 == 0
    assert fast.table["variant_id"].tolist() == gene.variants["variant_id"].tolist()


def test_flop_ratio_of_full_size_architecture(full_size_meta) -> None:
    from seqgx.model.models import EnformerFixed

    module = EnformerFixed(full_size_meta, FULL_LEN).select([447, 448, 449], [4980]).to("meta").eval()
    f = flop_counts(module)
    assert f["full"] == pytest.approx(f["trunk"] + f["tail"], rel=1e-6)
    assert 3.0e12 < f["full"] < 3.5e12 and 0.74 < f["trunk_share"] < 0.82
    assert f["ratio"] > 4.0  # ceiling 1 / (1 - trunk share) minus the slice's own cost


# ---------------------------------------------------------------------------------------------------
# Oracle: closed forms


def test_oracle_ism_equals_closed_form_fast_and_full() -> None:
    ref = oracle_reference()
    wi = [3000, 3001, 3102, 3205, 3050, 5, ORACLE_LEN - 1, 2944, 3327, 3328]
    alts = ["G", "C", "T", "G", "G", "C", "G", "G", "G", "G"]
    gene = make_gene(ref, wi, alts)
    bins = CENTRE
    readouts = [TrackReadout(t, bins) for t in range(3)]
    weights = np.array([0.5, -2.0, 1.5])
    readouts.append(FineTunedReadout(weights, 0.25, bins, pseudocount=1.0))
    rset = ReadoutSet(readouts)
    module = OracleModel(ORACLE_LEN).select(rset.bins, rset.tracks)
    res = {m: attribute_gene(gene, rset, method=m, module=module, tss_window=0) for m in ("fast", "full")}
    mutated = gene.reference_with_alt(np.arange(gene.n_variants))
    for v in range(gene.n_variants):
        alt_seq, ref_seq = mutated[v], gene.reference
        counts = [(count_in_bins(alt_seq, t, bins), count_in_bins(ref_seq, t, bins)) for t in range(3)]
        expected = [a - r for a, r in counts]
        ft = sum(w * (np.log2(a + 1) - np.log2(r + 1)) for w, (a, r) in zip(weights, counts, strict=True))
        for m in ("fast", "full"):
            row = res[m].table.iloc[v]
            got = [row[f"ism_track:{t}"] for t in range(3)]
            assert got == pytest.approx(expected, abs=1e-6), (m, row["variant_id"])
            assert row["ism_finetuned"] == pytest.approx(ft, abs=1e-6)
    by_id = res["fast"].table.set_index("pos")
    ws = gene.window_start
    assert by_id.loc[ws + 3001, "ism_track:1"] == -1  # T>G breaks TATA
    assert by_id.loc[ws + 3103, "ism_track:1"] == 1  # G>T creates TATA
    assert by_id.loc[ws + 3206, "ism_track:2"] == 1  # A>G creates CACGTG
    assert by_id.loc[ws + 6, "ism_track:0"] == 0  # outside the readout bins


def test_oracle_gradients_have_the_sign_of_ism() -> None:
    ref = oracle_reference()
    wi = [3000, 3001, 3002, 3102, 3003]
    alts = ["G", "C", "C", "T", "G"]
    gene = make_gene(ref, wi, alts)
    rset = ReadoutSet([TrackReadout(t, CENTRE) for t in range(3)])
    module = OracleModel(ORACLE_LEN).select(rset.bins, rset.tracks)
    res = attribute_gene(gene, rset, method="fast", module=module, gradients=True, tss_window=0)
    t = res.table
    ism = t[[f"ism_track:{k}" for k in range(3)]].to_numpy()
    grad = t[[f"grad_track:{k}" for k in range(3)]].to_numpy()
    # Breaking the planted TATA (each of its 4 bases) and G>T (GC track) have non-zero gradients.
    tata = t["pos"].isin(gene.window_start + 1 + np.array([3000, 3001, 3002, 3003]))
    assert np.all(ism[tata, 1] == -1) and np.all(grad[tata, 1] < 0)
    gt = (t["ref"] == "G") & (t["alt"] == "T")
    assert ism[gt, 0][0] == -1 and grad[gt, 0][0] < 0
    # Everywhere the gradient is non-zero it has the sign of the ISM (ReLU kinks give 0 gradients).
    nz = grad != 0
    assert nz.sum() >= 5 and np.all(np.sign(grad[nz]) == np.sign(ism[nz]))
    # The gradient x input track is (L,) per readout and marks the TATA bases.
    assert res.grad_x_input.shape == (3, ORACLE_LEN)
    assert np.all(res.grad_x_input[1, 3000:3004] == 1) and res.grad_x_input[1].sum() == 4


def test_oracle_saturation_matrix_equals_brute_force() -> None:
    ref = oracle_reference()
    gene = make_gene(ref, [], [])
    rset = ReadoutSet([TrackReadout(t, CENTRE) for t in range(3)])
    module = OracleModel(ORACLE_LEN).select(rset.bins, rset.tracks)
    half = 80  # covers the TATA / TAGA planted at 3000 and 3100 (TSS index 3072)
    res = attribute_gene(gene, rset, method="fast", module=module, tss_window=half, batch_size=64)
    pos = res.saturation_positions
    assert pos.tolist() == list(range(3072 - half, 3072 + half + 1))
    m = res.saturation
    assert m.shape == (3, len(pos), 4)
    for k, p in enumerate(pos):
        for b in range(4):
            if b == ref[p]:
                assert np.all(m[:, k, b] == 0)
                continue
            mut = ref.copy()
            mut[p] = b
            exp = [count_in_bins(mut, t, CENTRE) - count_in_bins(ref, t, CENTRE) for t in range(3)]
            assert m[:, k, b].tolist() == exp, (p, b)
    assert res.table.empty and list(res.table.columns)[:6] == ["variant_id", "pos", "ref", "alt",
                                                                 "distance_to_tss", "allele_frequency"]


# ---------------------------------------------------------------------------------------------------
# Command line


def _oracle_gene(tmp_path: Path) -> tuple[GeneHaplotypes, Path]:
    gene = make_gene(oracle_reference(), [3000, 3102, 3205, 3050, 5], ["G", "T", "G", "G", "C"])
    return gene, _save(gene, tmp_path)


def test_cli_oracle_outputs(tmp_path: Path, capsys) -> None:
    gene, path = _oracle_gene(tmp_path)
    out = tmp_path / "ism"
    rc = main(["ism", "--haplotypes", str(path), "--model", "oracle", "--tracks", "0", "1",
               "--gradients", "--tss-window", "40", "--out", str(out)])
    assert rc == 0
    table = pd.read_csv(out / "G1.ism.tsv", sep="\t")
    assert list(table.columns) == ["variant_id", "pos", "ref", "alt", "distance_to_tss", "allele_frequency",
                                   "ism_track:0", "ism_track:1", "grad_track:0", "grad_track:1"]
    assert table["variant_id"].tolist() == gene.variants["variant_id"].tolist()
    np.testing.assert_allclose(table["allele_frequency"], gene.variants["allele_frequency"])
    assert table.loc[table["pos"] == gene.window_start + 3001, "ism_track:1"].item() == -1
    sat = np.load(out / "G1.saturation.npz")
    assert sat["matrix"].shape == (2, 81, 4) and sat["readouts"].tolist() == ["track:0", "track:1"]
    assert sat["positions"][40] == gene.tss and sat["window_index"][40] == gene.tss_index
    assert np.all(sat["matrix"][:, np.arange(81), sat["ref"]] == 0)
    grads = np.load(out / "G1.gradients.npz")
    assert grads["grad_x_input"].shape == (2, ORACLE_LEN) and grads["grad_x_input"].dtype == np.float32
    assert not list(out.glob(".tmp-*"))
    # Without --gradients the grad_ columns are NA; --tss-window 0 writes no saturation file.
    rc = main(["ism", "--haplotypes", str(path), "--model", "oracle", "--tracks", "1", "--tss-window", "0",
               "--out", str(tmp_path / "plain")])
    assert rc == 0
    plain = pd.read_csv(tmp_path / "plain" / "G1.ism.tsv", sep="\t")
    assert plain["grad_track:1"].isna().all()
    assert sorted(p.name for p in (tmp_path / "plain").iterdir()) == ["G1.ism.json", "G1.ism.tsv"]


def test_cli_empty_variant_table(tmp_path: Path, caplog) -> None:
    gene = make_gene(oracle_reference(), [], [], gene_id="EMPTY")
    path = _save(gene, tmp_path)
    rc = main(["ism", "--haplotypes", str(path), "--model", "oracle", "--tracks", "1", "--tss-window", "3",
               "--out", str(tmp_path / "o")])
    assert rc == 0
    text = (tmp_path / "o" / "EMPTY.ism.tsv").read_text()
    assert text == "variant_id\tpos\tref\talt\tdistance_to_tss\tallele_frequency\tism_track:1\tgrad_track:1\n"
    assert np.load(tmp_path / "o" / "EMPTY.saturation.npz")["matrix"].shape == (1, 7, 4)


def test_cli_ref_mismatch_is_one_line_error(tmp_path: Path, capsys) -> None:
    ref = oracle_reference()
    gene = make_gene(ref, [3000, 3050], ["G", "G"], refs=["T", "G"])  # the reference has C at 3050
    path = _save(gene, tmp_path)
    rc = main(["ism", "--haplotypes", str(path), "--model", "oracle", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "Traceback" not in err[0]
    assert re.search(r"variant chr1:13051:G:G has REF G but the reference window has C", err[0]), err[0]
    assert not (tmp_path / "o" / "G1.ism.tsv").exists()


def test_cli_onnx_fast_refused_unless_full_forward_allowed(tmp_path: Path, capsys) -> None:
    gene, path = _oracle_gene(tmp_path)
    onnx_path = tmp_path / "oracle.onnx"
    export_onnx(load_model("oracle", ORACLE_LEN), onnx_path)
    capsys.readouterr()  # drop export log lines (a handler may still point at an earlier test's stderr)
    base = ["ism", "--haplotypes", str(path), "--model", str(onnx_path), "--tracks", "0", "1", "2",
            "--tss-window", "5"]
    rc = main([*base, "--out", str(tmp_path / "a")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "fast ISM is not possible" in err[0]
    assert "--allow-full-forward" in err[0]
    rc = main([*base, "--gradients", "--method", "full", "--out", str(tmp_path / "b")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "--gradients needs the torch backend" in err[0]
    # Allowed: full-forward ISM through ONNX Runtime equals fast ISM through torch.
    assert main([*base, "--allow-full-forward", "--out", str(tmp_path / "onnx")]) == 0
    assert main(["ism", "--haplotypes", str(path), "--model", "oracle", "--tracks", "0", "1", "2",
                 "--tss-window", "5", "--out", str(tmp_path / "torch")]) == 0
    a = pd.read_csv(tmp_path / "onnx" / "G1.ism.tsv", sep="\t")
    b = pd.read_csv(tmp_path / "torch" / "G1.ism.tsv", sep="\t")
    pd.testing.assert_frame_equal(a, b, atol=1e-5, rtol=0)
    sa = np.load(tmp_path / "onnx" / "G1.saturation.npz")
    sb = np.load(tmp_path / "torch" / "G1.saturation.npz")
    np.testing.assert_allclose(sa["matrix"], sb["matrix"], atol=1e-5)


def test_cli_in_subprocess_bad_window(tmp_path: Path) -> None:
    """As Nextflow runs it: a window the model cannot take is a one-line error, no traceback."""
    from cli_helpers import assert_one_line_error, run_cli

    gene = make_gene(np.zeros(1000, dtype=np.uint8), [10], ["C"])
    path = _save(gene, tmp_path)
    proc = run_cli("ism", "--haplotypes", path, "--model", "oracle", "--out", tmp_path / "o")
    assert_one_line_error(proc, "window length divisible by 128")
