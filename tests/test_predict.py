"""Readouts, backends and `seqgx predict`, checked against hand-worked values and the oracle's closed form."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from cli_helpers import one_line_error

from seqgx.cli import main
from seqgx.errors import SeqgxError
from seqgx.genome.personalize import GeneHaplotypes
from seqgx.genome.reference import decode, encode
from seqgx.model.models import OracleModel, human_track_names, load_model
from seqgx.model.predict import Predictor, TorchBackend, predict_gene_arrays, shift_tokens
from seqgx.model.readouts import (
    FineTunedReadout,
    TrackReadout,
    combine_person,
    load_finetuned_readout,
    parse_bins,
    resolve_tracks,
)

L = 128 * 48  # oracle: 48 bins of 128 bp, 10 cropped each side -> 28 bins; centre bins 13, 14, 15
BIN, TRIM = 128, 10
CENTRE = (13, 14, 15)
MOTIFS = ("TATA", "CACGTG")


# ---------------------------------------------------------------------------------------------------
# Readout arithmetic


def _weights_csv(path: Path, names: list[str], weights: list[float], offset: float) -> Path:
    lines = ["tracks,weights", *(f"{n},{w}" for n, w in zip(names, weights, strict=True)), f"offset,{offset}"]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_readouts_hand_worked(tmp_path: Path) -> None:
    # One sequence, 4 bins x 3 tracks; readout bins 1 and 2.
    out = np.array([[[9, 9, 9], [0, 1, 3], [1, 2, 4], [9, 9, 9]]], dtype=np.float32)
    pos = {i: i for i in range(4)}
    tpos = {i: i for i in range(3)}
    assert TrackReadout(2, [1, 2]).compute(out, pos, tpos)[0] == 7.0
    assert TrackReadout(0, [1, 2]).compute(out, pos, tpos)[0] == 1.0
    # bin sums per track: 1, 3, 7 -> log2(+1) = 1, 2, 3; 0.5*1 + 0*2 - 1.5*3 + 0.25 = -3.75
    csv = _weights_csv(tmp_path / "w.csv", ["a", "b", "c"], [0.5, 0, -1.5], 0.25)
    ft = load_finetuned_readout(csv, ["a", "b", "c"], [1, 2], pseudocount=1.0)
    assert ft.nonzero == [0, 2]
    assert ft.compute(out, pos, tpos)[0] == pytest.approx(-3.75, abs=1e-12)
    # pseudocount 3: log2(4), log2(10) -> 0.5*2 - 1.5*log2(10) + 0.25
    ft3 = FineTunedReadout(ft.weights, ft.offset, [1, 2], pseudocount=3.0)
    assert ft3.compute(out, pos, tpos)[0] == pytest.approx(1.25 - 1.5 * np.log2(10), abs=1e-12)
    haps = np.array([[[1.0], [2.0]], [[3.0], [5.0]]])
    assert combine_person(haps, "sum")[:, 0].tolist() == [3.0, 8.0]
    assert combine_person(haps, "mean")[:, 0].tolist() == [1.5, 4.0]


def test_weights_csv_must_match_model_tracks(tmp_path: Path) -> None:
    names = ["a", "b", "c"]
    with pytest.raises(SeqgxError, match="lists 2 tracks but the model has 3"):
        load_finetuned_readout(_weights_csv(tmp_path / "short.csv", ["a", "b"], [1, 1], 0), names, [0])
    with pytest.raises(SeqgxError, match="line 3 names track 'x' but model track 1 is 'b'"):
        load_finetuned_readout(_weights_csv(tmp_path / "x.csv", ["a", "x", "c"], [1, 1, 1], 0), names, [0])
    (tmp_path / "nooff.csv").write_text("tracks,weights\na,1\nb,1\nc,1\n")
    with pytest.raises(SeqgxError, match="offset"):
        load_finetuned_readout(tmp_path / "nooff.csv", names, [0])
    with pytest.raises(SeqgxError, match="does not exist"):
        load_finetuned_readout(tmp_path / "missing.csv", names, [0])


def test_track_and_bin_selection() -> None:
    names = human_track_names()
    assert len(names) == 5313 and names[4980] == "CAGE:brain; adult;"
    assert resolve_tracks(["CAGE:brain; adult;", "12"], names) == [4980, 12]
    assert resolve_tracks(["4980,13"], names) == [4980, 13]
    with pytest.raises(SeqgxError, match="unknown track 'CAGE:nowhere'"):
        resolve_tracks(["CAGE:nowhere"], names)
    with pytest.raises(SeqgxError, match="out of range"):
        resolve_tracks(["5313"], names)
    assert parse_bins(None, 896) == [447, 448, 449]
    assert parse_bins("446-449", 896) == [446, 447, 448, 449]
    with pytest.raises(SeqgxError, match="896 bins"):
        parse_bins("900", 896)


def test_shift_tokens() -> None:
    t = encode("ACGTAC")
    assert decode(shift_tokens(t, 2)) == "NNACGT"
    assert decode(shift_tokens(t, -1)) == "CGTACN"


# ---------------------------------------------------------------------------------------------------
# A synthetic gene and the oracle's closed form


def _closed_form(seq: str) -> np.ndarray:
    """Oracle output for one sequence, computed from the string: (28 bins, 3 tracks)."""
    out = np.zeros((L // BIN - 2 * TRIM, 3))
    for j in range(out.shape[0]):
        lo = (TRIM + j) * BIN
        chunk = seq[lo:lo + BIN]
        out[j, 0] = chunk.count("C") + chunk.count("G")
        for t, m in enumerate(MOTIFS, start=1):
            out[j, t] = sum(1 for p in range(lo, lo + BIN) if seq.startswith(m, p))
    return out


def make_gene(seed: int = 1, n_samples: int = 12) -> tuple[GeneHaplotypes, list[list[str]]]:
    """A gene whose SNVs create/destroy TATA and CACGTG and change GC in the centre bins.

    Returns the GeneHaplotypes and each sample's two sequences built by editing strings.
    """
    rng = np.random.default_rng(seed)
    ref = list(rng.choice(list("ACGT"), size=L, p=[0.3, 0.2, 0.2, 0.3]))
    centre = (TRIM + 14) * BIN  # first base of centre bin 14 = the TSS
    plant = {centre - 100: "TATA", centre + 10: "CACGTG", centre + 200: "TAGA", centre - 40: "CACTTG"}
    for p, m in plant.items():
        ref[p:p + len(m)] = list(m)
    ref_s = "".join(ref)
    # SNVs: destroy TATA, destroy CACGTG, create TATA (TAGA->TATA), create CACGTG, plus GC changes.
    snvs = [(centre - 98, "A"), (centre + 12, "T"), (centre + 202, "T"), (centre - 37, "G"),
            (centre + 60, "C" if ref_s[centre + 60] != "C" else "A"),
            (centre - 300, "G" if ref_s[centre - 300] != "G" else "T"),
            (100, "C" if ref_s[100] != "C" else "A")]
    snvs.sort()
    V, S = len(snvs), n_samples
    haps = rng.random((V, S, 2)) < 0.35
    rows = haps.transpose(1, 2, 0).reshape(S * 2, V)
    distinct, inverse = np.unique(rows, axis=0, return_inverse=True)
    hap_index = inverse.reshape(S, 2).astype(np.int32)
    tss = 1_000_000
    ws = tss - 1 - L // 2
    variants = pd.DataFrame({
        "variant_id": [f"chr1:{ws + wi + 1}:{ref_s[wi]}:{a}" for wi, a in snvs],
        "pos": [ws + wi + 1 for wi, _ in snvs], "ref": [ref_s[wi] for wi, _ in snvs],
        "alt": [a for _, a in snvs], "window_index": [wi for wi, _ in snvs],
        "allele_count": haps.sum(axis=(1, 2)), "allele_frequency": haps.mean(axis=(1, 2)),
        "n_carriers": haps.any(axis=2).sum(axis=1), "distance_to_tss": [ws + wi + 1 - tss for wi, _ in snvs],
    })
    gh = GeneHaplotypes(
        gene_id="ENSG_TEST", gene_name="TEST", chrom="chr1", tss=tss, strand="+", window_start=ws,
        window_length=L, tss_index=L // 2, reference=encode(ref_s), variants=variants,
        samples=np.array([f"s{i}" for i in range(S)]),
        expression_samples=np.array([f"e{i}" for i in range(S)]),
        dosage=haps.sum(axis=2).astype(np.int8), haplotypes=haps, hap_index=hap_index, distinct=distinct)
    seqs = []
    for s in range(S):
        pair = []
        for h in range(2):
            chars = list(ref_s)
            for v, (wi, alt) in enumerate(snvs):
                if haps[v, s, h]:
                    chars[wi] = alt
            pair.append("".join(chars))
        seqs.append(pair)
    return gh, seqs


@pytest.fixture(scope="module")
def gene(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, GeneHaplotypes, list[list[str]]]:
    gh, seqs = make_gene()
    path = gh.save(tmp_path_factory.mktemp("gene") / f"{gh.gene_id}.haplotypes.npz")
    return path, gh, seqs


@pytest.fixture(scope="module")
def oracle_onnx(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("onnx") / "oracle.onnx"
    assert main(["export-onnx", "--model", "oracle", "--window-length", str(L), "--out", str(out)]) == 0
    return out


def _expected(seqs: list[list[str]]) -> dict[str, np.ndarray]:
    """Per readout, (S, 2) haplotype values from the closed form (tracks 0..2 summed over centre bins)."""
    vals = np.array([[_closed_form(q)[list(CENTRE)].sum(axis=0) for q in pair] for pair in seqs])
    return {f"track:{t}": vals[:, :, t] for t in range(3)}


@pytest.mark.parametrize("backend", ["onnx", "torch"])
def test_predict_cli_equals_closed_form(gene, oracle_onnx, tmp_path: Path, backend: str) -> None:
    path, gh, seqs = gene
    model = str(oracle_onnx) if backend == "onnx" else "oracle"
    out = tmp_path / "pred"
    assert main(["predict", "--haplotypes", str(path), "--model", model, "--out", str(out),
                 "--batch-size", "3"]) == 0
    table = pd.read_csv(out / f"{gh.gene_id}.predictions.tsv", sep="\t")
    assert list(table.columns) == ["gene_id", "sample", "expression_sample", "readout", "hap1", "hap2",
                                   "person"]
    expected = _expected(seqs)
    assert sorted(table.readout.unique()) == sorted(expected)
    for name, exp in expected.items():
        sub = table[table.readout == name].set_index("sample").loc[gh.samples]
        np.testing.assert_array_equal(sub.hap1.to_numpy(), exp[:, 0])
        np.testing.assert_array_equal(sub.hap2.to_numpy(), exp[:, 1])
        np.testing.assert_array_equal(sub.person.to_numpy(), exp.sum(axis=1))
        assert list(sub.expression_sample) == list(gh.expression_samples)
    # The planted SNVs must actually change the motif tracks between people.
    assert expected["track:1"].std() > 0 and expected["track:2"].std() > 0
    ref = json.loads((out / f"{gh.gene_id}.reference.json").read_text())
    ref_exp = _closed_form(decode(gh.reference))[list(CENTRE)].sum(axis=0)
    assert [ref["reference"][f"track:{t}"] for t in range(3)] == ref_exp.tolist()
    assert ref["dedup_ratio"] == pytest.approx(2 * gh.n_samples / gh.n_distinct)
    assert len(ref["model"]["sha256"]) == 64
    assert ref["model"]["kind"] == ("onnx" if backend == "onnx" else "oracle")


def test_dedup_on_off_identical_and_mean(gene, tmp_path: Path) -> None:
    path, gh, seqs = gene
    for flag in ([], ["--no-dedup"]):
        assert main(["predict", "--haplotypes", str(path), "--model", "oracle", "--person-combine", "mean",
                     "--out", str(tmp_path / ("off" if flag else "on")), *flag]) == 0
    on = pd.read_csv(tmp_path / "on" / f"{gh.gene_id}.predictions.tsv", sep="\t")
    off = pd.read_csv(tmp_path / "off" / f"{gh.gene_id}.predictions.tsv", sep="\t")
    pd.testing.assert_frame_equal(on, off)
    exp = _expected(seqs)["track:0"]
    np.testing.assert_array_equal(on[on.readout == "track:0"].person.to_numpy(), exp.mean(axis=1))
    ref_off = json.loads((tmp_path / "off" / f"{gh.gene_id}.reference.json").read_text())
    assert ref_off["n_sequences_predicted"] == 2 * gh.n_samples + 1


def test_core_on_token_arrays_finetuned_and_reference_tracks(gene, tmp_path: Path) -> None:
    """The array-level core with a fine-tuned readout over the oracle's 3 tracks, closed form."""
    _, gh, seqs = gene
    model = load_model("oracle", L)
    backend = TorchBackend(model)
    csv = _weights_csv(tmp_path / "w.csv", OracleModel.TRACK_NAMES, [0.25, -1.0, 2.0], 1.5)
    bins = list(CENTRE)
    ft = load_finetuned_readout(csv, model.track_names, bins, pseudocount=0.5)
    pred = Predictor(backend, [ft], batch_size=2)
    ref_tracks = Predictor(backend, [], bins=bins, tracks=range(3))
    distinct = gh.distinct_tokens(np.arange(gh.n_distinct))
    res = predict_gene_arrays(pred, gh.reference, lambda idx: distinct[idx], gh.n_distinct, gh.hap_index,
                              reference_tracks=ref_tracks)
    sums = np.array([[_closed_form(q)[bins].sum(axis=0) for q in pair] for pair in seqs])  # (S, 2, 3)
    exp = np.log2(sums + 0.5) @ np.array([0.25, -1.0, 2.0]) + 1.5
    np.testing.assert_allclose(res.haplotypes[:, :, 0], exp, rtol=0, atol=1e-12)
    np.testing.assert_allclose(res.person[:, 0], exp.sum(axis=1), rtol=0, atol=1e-12)
    np.testing.assert_array_equal(res.reference_tracks, _closed_form(decode(gh.reference))[bins])


def test_reverse_complement_ensemble_mirrors_bins(gene) -> None:
    """GC per bin is strand-symmetric, so the RC ensemble must give the forward values exactly."""
    _, gh, _ = gene
    backend = TorchBackend(load_model("oracle", L))
    gc = TrackReadout(0, [12, 13, 14, 15])
    plain = Predictor(backend, [gc])
    both = Predictor(backend, [gc], reverse_complement=True, shifts=[0])
    assert 12 in both.bins and 15 in both.bins and len(both.bins) == 4  # mirror of 12..15 in 28 bins
    distinct = gh.distinct_tokens(np.arange(gh.n_distinct))
    a = plain.predict(gh.n_distinct, lambda i: distinct[i])
    b = both.predict(gh.n_distinct, lambda i: distinct[i])
    np.testing.assert_array_equal(a, b)
    # A motif track is not symmetric per bin: the ensemble averages the two strands' bins.
    with torch.no_grad():
        fwd = backend.module(torch.from_numpy(np.eye(4, dtype=np.float32)[distinct[:1]]))[0].numpy()
    assert fwd.shape == (28, 3)


def test_oom_halves_batch(gene) -> None:
    """A GPU out-of-memory error halves the batch and retries (OOM raised above 2 rows)."""
    _, gh, _ = gene

    class SmallMemory(TorchBackend):
        def run(self, x: np.ndarray) -> np.ndarray:
            if len(x) > 2:
                raise torch.OutOfMemoryError("CUDA out of memory (simulated)")
            return super().run(x)

        def select(self, bins, tracks):  # keep the subclass after selection
            return SmallMemory(self.model, self.device, self.precision,
                               _module=self.model.select(bins, tracks))

    pred = Predictor(SmallMemory(load_model("oracle", L)), [TrackReadout(0, list(CENTRE))], batch_size=8)
    distinct = gh.distinct_tokens(np.arange(gh.n_distinct))
    got = pred.predict(gh.n_distinct, lambda i: distinct[i])
    ref = Predictor(TorchBackend(load_model("oracle", L)), [TrackReadout(0, list(CENTRE))], batch_size=1)
    np.testing.assert_array_equal(got, ref.predict(gh.n_distinct, lambda i: distinct[i]))
    assert pred.batch_size == 2


# ---------------------------------------------------------------------------------------------------
# Bring your own ONNX model, and bad input


def test_foreign_onnx_model_with_track_names(gene, tmp_path: Path) -> None:
    """A plain ONNX file (no seqgx metadata) meeting the contract, with names from a TSV."""
    path, gh, seqs = gene
    onnx_path = tmp_path / "own.onnx"
    x = torch.zeros(1, L, 4)
    torch.onnx.export(OracleModel(L).eval(), (x,), str(onnx_path), dynamo=False, opset_version=17,
                      input_names=["seq"], output_names=["y"], dynamic_axes={"seq": {0: "b"}, "y": {0: "b"}})
    names = tmp_path / "names.tsv"
    names.write_text("index\tname\n0\tgc\n1\ttata\n2\tebox\n")
    out = tmp_path / "pred"
    assert main(["predict", "--haplotypes", str(path), "--model", str(onnx_path), "--track-names", str(names),
                 "--tracks", "ebox", "--out", str(out)]) == 0
    table = pd.read_csv(out / f"{gh.gene_id}.predictions.tsv", sep="\t")
    assert set(table.readout) == {"track:2"}
    np.testing.assert_array_equal(table.hap1.to_numpy(), _expected(seqs)["track:2"][:, 0])


def test_bad_inputs_one_line_errors(gene, oracle_onnx, tmp_path: Path, capsys) -> None:
    path, gh, _ = gene
    out = str(tmp_path / "o")
    base = ["predict", "--haplotypes", str(path), "--out", out]
    # ONNX input length different from the window length
    short = tmp_path / "short.onnx"
    assert main(["export-onnx", "--model", "oracle", "--window-length", str(L // 2),
                 "--out", str(short)]) == 0
    capsys.readouterr()
    one_line_error(capsys, main([*base, "--model", str(short)]), f"takes {L // 2} bp", "--window-length")
    one_line_error(capsys, main([*base, "--model", str(oracle_onnx), "--tracks", "CAGE:nowhere"]),
                    "unknown track 'CAGE:nowhere'")
    one_line_error(capsys, main([*base, "--model", str(oracle_onnx), "--tracks", "7"]), "out of range")
    bad_w = _weights_csv(tmp_path / "w.csv", ["gc", "tata", "ebox"], [1, 1, 1], 0)
    one_line_error(capsys, main([*base, "--model", "oracle", "--finetuned-weights", str(bad_w)]),
                    "names track 'gc' but model track 0 is 'oracle:GC'")
    one_line_error(capsys, main([*base, "--model", str(tmp_path / "nope.onnx")]), "does not exist")
    one_line_error(capsys, main([*base, "--model", str(tmp_path / "nope.pt")]), "does not exist")
    one_line_error(capsys, main([*base, "--model", str(oracle_onnx), "--providers", "cuda"]),
                    "CUDAExecutionProvider is not available", "--allow-cpu-fallback")
    if not torch.cuda.is_available():
        one_line_error(capsys, main([*base, "--model", "oracle", "--device", "cuda"]), "no CUDA GPU",
                        "--allow-cpu-fallback")
        assert main([*base, "--model", "oracle", "--device", "cuda", "--allow-cpu-fallback"]) == 0
    assert main([*base, "--model", str(oracle_onnx), "--providers", "cuda", "--allow-cpu-fallback"]) == 0
    assert (Path(out) / f"{gh.gene_id}.predictions.tsv").is_file()
