"""Model loading, the fixed-length Enformer wrapper, the oracle, and verified ONNX export."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch

from seqgx.cli import main
from seqgx.errors import SeqgxError
from seqgx.model.models import (
    OracleModel,
    centre_bins,
    export_onnx,
    load_model,
    onnx_metadata,
    sha256_file,
)

TINY = {"dim": 48, "depth": 2, "heads": 2, "num_downsamples": 3, "target_length": 48,
        "dim_divisible_by": 8, "output_heads": {"human": 12}}
TINY_LEN = 1024  # 128 positions after 3 pools; 48 bins kept
NARROW = {"dim": 48, "depth": 1, "heads": 1, "num_downsamples": 7, "dim_divisible_by": 8,
          "output_heads": {"human": 16}}
FULL_LEN = 196_608


def _onehot(n: int, length: int, seed: int = 0) -> np.ndarray:
    return np.eye(4, dtype=np.float32)[np.random.default_rng(seed).integers(0, 4, (n, length))]


def _ort(path: Path, x: np.ndarray) -> np.ndarray:
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    return sess.run(None, {sess.get_inputs()[0].name: x})[0]


@pytest.fixture(scope="module")
def tiny():
    return load_model("random", TINY_LEN, TINY, seed=3)


def test_fixed_wrapper_equals_enformer_and_selection_is_exact(tiny) -> None:
    x = torch.from_numpy(_onehot(3, TINY_LEN))
    with torch.no_grad():
        ours = tiny.module(x)
        theirs = tiny.module.enformer(x, head="human")  # rel-pos features computed on the fly
        sub = tiny.select([3, 20, 21], [0, 11])(x)
    assert ours.shape == (3, 48, 12)
    torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(sub, ours[:, [3, 20, 21]][:, :, [0, 11]], rtol=0, atol=1e-6)
    assert len(tiny.identity["sha256"]) == 64


def test_onnx_export_fp32_fp16_agree_with_torch(tiny, tmp_path: Path) -> None:
    x = _onehot(3, TINY_LEN, seed=7)  # batch 3 != export batch 1: the batch axis is dynamic
    with torch.no_grad():
        ref = tiny.module(torch.from_numpy(x)).numpy()
    r32 = export_onnx(tiny, tmp_path / "m32.onnx")
    np.testing.assert_allclose(_ort(tmp_path / "m32.onnx", x), ref, rtol=1e-4, atol=1e-5)
    assert r32.max_abs_diff <= 1e-4 and r32.sha256 == sha256_file(tmp_path / "m32.onnx")
    export_onnx(tiny, tmp_path / "m16.onnx", precision="fp16")
    got16 = _ort(tmp_path / "m16.onnx", x)
    assert got16.dtype == np.float32
    np.testing.assert_allclose(got16, ref, rtol=2e-2, atol=2e-2)
    meta = onnx_metadata(tmp_path / "m16.onnx")
    assert meta["precision"] == "fp16" and meta["seq_len"] == TINY_LEN
    assert meta["source_sha256"] == tiny.identity["sha256"]


def test_export_refuses_beyond_tolerance(tiny, tmp_path: Path) -> None:
    out = tmp_path / "strict.onnx"
    with pytest.raises(SeqgxError, match="disagrees with PyTorch"):
        # fp16 graph vs fp16 torch never agree bit for bit (different kernels)
        export_onnx(tiny, out, precision="fp16", atol=0.0, rtol=0.0)
    assert not out.exists() and not list(tmp_path.iterdir())


def test_full_length_narrow_model_and_centre_bins(tmp_path: Path) -> None:
    """196,608 bp in, 896 bins out; the centre-bins-only export equals the full export there."""
    model = load_model("random", FULL_LEN, NARROW, seed=1)
    assert model.n_bins == 896
    full = export_onnx(model, tmp_path / "full.onnx")
    bins = centre_bins(896)
    assert bins == [447, 448, 449]
    export_onnx(model, tmp_path / "centre.onnx", bins=bins, tracks=[2, 9])
    x = _onehot(2, FULL_LEN, seed=11)
    a = _ort(tmp_path / "full.onnx", x)
    b = _ort(tmp_path / "centre.onnx", x)
    assert a.shape == (2, 896, 16) and b.shape == (2, 3, 2) and full.output_shape == (2, 896, 16)
    np.testing.assert_allclose(b, a[:, bins][:, :, [2, 9]], rtol=1e-5, atol=1e-6)
    with torch.no_grad():
        ref = model.module.enformer(torch.from_numpy(x), head="human").numpy()
    np.testing.assert_allclose(a, ref, rtol=1e-3, atol=1e-4)


def test_oracle_closed_form_and_gradients() -> None:
    length = 128 * 12  # 12 bins, 2 cropped each side -> 8
    seq = np.full(length, 0, dtype=np.uint8)  # all A
    seq[2 * 128 + 5: 2 * 128 + 9] = [3, 0, 3, 0]  # TATA starting in bin 0 (full bin 2)
    seq[5 * 128 - 2: 5 * 128 + 4] = [1, 0, 1, 2, 3, 2]  # CACGTG starting at the end of kept bin 2
    seq[7 * 128 + 1] = 2  # one G
    m = OracleModel(length)
    assert m.n_bins == 8
    x = torch.from_numpy(np.eye(4, dtype=np.float32)[seq][None]).requires_grad_(True)
    y = m(x)
    exp = np.zeros((8, 3))
    exp[0, 1] = 1
    exp[2, 2] = 1
    exp[2, 0], exp[3, 0] = 1, 3  # CACGTG split across the bin edge: 'CA' | 'CGTG'
    exp[5, 0] += 1
    np.testing.assert_array_equal(y[0].detach().numpy(), exp)
    y[0, :, 0].sum().backward()
    assert x.grad is not None and x.grad[0, 7 * 128 + 1, 2] == 1.0


def test_state_dict_and_hf_directory_loading(tiny, tmp_path: Path) -> None:
    enf = tiny.module.enformer
    pt = tmp_path / "w.pt"
    torch.save(enf.state_dict(), pt)
    from safetensors.torch import save_model

    st = tmp_path / "w.safetensors"
    save_model(enf, str(st))  # keeps one name per shared tensor
    hf = tmp_path / "hf"
    enf.save_pretrained(str(hf), safe_serialization=False)  # as the hub repo: pytorch_model.bin
    x = torch.from_numpy(_onehot(1, TINY_LEN, seed=5))
    with torch.no_grad():
        ref = tiny.module(x)
        for src in (pt, st):
            m = load_model(str(src), TINY_LEN, TINY)
            assert m.identity["sha256"] == sha256_file(src)
            torch.testing.assert_close(m.module(x), ref, rtol=0, atol=0)
        m = load_model(str(hf), TINY_LEN)
        torch.testing.assert_close(m.module(x), ref, rtol=0, atol=0)
        assert len(m.identity["sha256"]) == 64
    with pytest.raises(SeqgxError, match="does not fit Enformer"):
        load_model(str(pt), TINY_LEN, {**TINY, "dim": 64})
    with pytest.raises(SeqgxError, match="does not exist"):
        load_model(str(tmp_path / "missing.safetensors"), TINY_LEN, TINY)


def test_hub_offline_is_one_line_error(tmp_path: Path) -> None:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")}
    proc = subprocess.run([sys.executable, "-m", "seqgx", "export-onnx", "--model",
                           "EleutherAI/enformer-official-rough", "--out", str(tmp_path / "x.onnx")],
                          capture_output=True, text=True, env=env)
    err = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert proc.returncode == 2 and len(err) == 1, proc.stderr
    assert "could not download model 'EleutherAI/enformer-official-rough'" in err[0]


def test_export_cli(tmp_path: Path, capsys) -> None:
    out = tmp_path / "t.onnx"
    hp = '{"dim": 48, "depth": 1, "heads": 2, "num_downsamples": 3, "target_length": 48, ' \
         '"dim_divisible_by": 8, "output_heads": {"human": 5313}}'
    assert main(["export-onnx", "--model", "random", "--hparams", hp, "--window-length", str(TINY_LEN),
                 "--bins", "centre:3", "--tracks", "CAGE:brain; adult;", "--out", str(out)]) == 0
    meta = onnx_metadata(out)
    assert meta["bins"] == [23, 24, 25] and meta["tracks"] == [4980]
    assert meta["track_names"][4980] == "CAGE:brain; adult;"
    assert _ort(out, _onehot(2, TINY_LEN)).shape == (2, 3, 1)
    capsys.readouterr()
    assert main(["export-onnx", "--model", str(tmp_path / "none.pt"), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "does not exist" in err[0]
