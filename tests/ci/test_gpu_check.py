"""benchmarks/gpu_check.sh --dry-run: every section of the GPU check runs on a CPU (tiny Enformer)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "benchmarks" / "gpu_check.sh"
SECTIONS = ("environment", "naive", "torch_bf16", "onnx_export", "onnx_cpu", "onnx_cuda", "ism", "oom",
            "onnx_tensorrt", "verdicts")
DRY = "dry-run: not a measurement"


@pytest.fixture(scope="module")
def dry_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("gpu_check")
    # The test's interpreter, so CI without the repository's .venv runs the same environment.
    env = {**os.environ, "PYTHON": sys.executable}
    proc = subprocess.run(["bash", str(SCRIPT), "--dry-run", "--out", str(out)], capture_output=True,
                          text=True, env=env, timeout=300)
    return {"proc": proc, "json": json.loads((out / "gpu_check.json").read_text())
            if (out / "gpu_check.json").is_file() else None}


def test_dry_run_exits_0_and_prints_every_section(dry_run: dict[str, Any]) -> None:
    proc = dry_run["proc"]
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    lines = proc.stdout.splitlines()
    for name in SECTIONS:
        hits = [ln for ln in lines if ln.startswith(f"[{name}] ")]
        assert len(hits) == 1, f"section {name} printed {len(hits)} times"
        assert " -> " in hits[0]
    verdicts = next(ln for ln in lines if ln.startswith("[verdicts] "))
    assert verdicts.count(DRY) == 3  # both targets and the section's own verdict
    for gpu_only in ("onnx_cuda", "onnx_tensorrt"):  # never a CPU stand-in for a GPU provider
        assert next(ln for ln in lines if ln.startswith(f"[{gpu_only}] ")).endswith("is not used on a CPU)")


def test_dry_run_json_on_stdout_and_in_out_dir(dry_run: dict[str, Any]) -> None:
    stdout = dry_run["proc"].stdout
    start, end = stdout.index("\n{\n") + 1, stdout.index("\n}\n") + 2
    printed, saved = json.loads(stdout[start:end]), dry_run["json"]
    assert saved is not None and printed == saved
    assert saved["dry_run"] is True and saved["failed"] == []
    for name in SECTIONS:
        assert "verdict" in saved[name] and "seconds" in saved[name], name
    assert saved["model"]["seq_len"] == 16_384 and saved["model"]["dim"] == 48
    assert saved["model"]["flops_per_sequence"]["centre_readout"] > 0
    assert saved["naive"]["seqs_per_s"] > 0
    assert saved["torch_bf16"]["seqs_per_s"] > 0 and saved["torch_bf16"]["mfu"] is None  # no peak on CPU
    assert saved["onnx_export"]["precision"] == "fp16"
    assert saved["onnx_cpu"]["providers"] == ["CPUExecutionProvider"]
    assert saved["onnx_cpu"]["agrees_with_torch"]  # the fp16 file against torch fp32, export tolerance
    assert saved["verdicts"]["best_backend"] in ("torch_bf16", "onnx_cpu")
    assert saved["verdicts"]["vs_naive"] > 0


def test_dry_run_oom_halving_settles_below_the_request_with_equal_results(dry_run: dict[str, Any]) -> None:
    oom = dry_run["json"]["oom"]
    assert oom["verdict"] == "PASS" and oom["simulated"]
    assert oom["settled_batch"] < oom["requested_batch"]
    assert oom["settled_batch"] <= dry_run["json"]["plan"]["oom_simulated_above"]
    assert oom["equal"] and oom["max_abs_diff"] == 0.0


def test_dry_run_fast_ism_matches_full(dry_run: dict[str, Any]) -> None:
    ism = dry_run["json"]["ism"]
    assert ism["max_abs_diff"] < 1e-4
    assert ism["max_change"] > 1e-3  # SNVs move the outputs, so the agreement means something
    assert ism["verdict"].startswith("PASS") and DRY in ism["verdict"]


def test_peak_table() -> None:
    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        from gpu_check import make_plan, peak_bf16_tflops, seqs_per_run
    finally:
        sys.path.remove(str(REPO / "benchmarks"))
    assert peak_bf16_tflops("NVIDIA H100 80GB HBM3") == 989.0
    assert peak_bf16_tflops("NVIDIA H100 PCIe") == 756.0
    assert peak_bf16_tflops("NVIDIA H200") == 989.0
    assert peak_bf16_tflops("NVIDIA A100-SXM4-80GB") == 312.0
    assert peak_bf16_tflops("Tesla T4") is None and peak_bf16_tflops(None) is None
    plan = make_plan(False, 460)
    assert all(seqs_per_run(b, plan) % b == 0 for b in (1, 3, 16, 128))  # whole batches for TensorRT
