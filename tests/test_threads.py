"""`--threads` and seqgx.threads: available cores from affinity and cgroup quotas, one setting for torch,
BLAS/OpenMP and ONNX Runtime, and the flag on every compute subcommand."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pandas as pd
import pytest
import torch
from cli_helpers import one_line_error
from test_predict import L, make_gene
from threadpoolctl import threadpool_info

from seqgx import threads
from seqgx.analysis import stats
from seqgx.cli import build_parser, main

# Each compute subcommand with just its required arguments (values need not exist to parse).
COMMANDS = {
    "personalize": ["--batch", "b.tsv", "--fasta", "f.fa", "--vcf", "v.vcf.gz", "--samples", "s.tsv",
                    "--out", "o"],
    "predict": ["--haplotypes", "h.npz", "--model", "oracle", "--out", "o"],
    "ism": ["--haplotypes", "h.npz", "--model", "oracle", "--out", "o"],
    "stats": ["--haplotypes", "h", "--predictions", "p", "--expression", "e.tsv", "--out", "o"],
    "finetune": ["--reference-tracks", "r", "--expression", "e.tsv", "--genes", "g.tsv", "--out", "w.csv"],
    "export-onnx": ["--model", "oracle", "--out", "m.onnx"],
}


@pytest.fixture(autouse=True)
def restore_threads(monkeypatch: pytest.MonkeyPatch):
    """Undo set_threads after each test so the rest of the session keeps its thread settings."""
    env = {v: os.environ.get(v) for v in threads.THREAD_ENV_VARS}
    torch_threads = torch.get_num_threads()
    monkeypatch.setattr(threads, "_configured", threads._configured)
    monkeypatch.setattr(threads, "_limiter", threads._limiter)
    yield
    if threads._limiter is not None:
        threads._limiter.restore_original_limits()
    torch.set_num_threads(torch_threads)
    for var, value in env.items():
        if value is None:
            os.environ.pop(var, None)
        else:
            os.environ[var] = value


@pytest.fixture
def eight_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(8)), raising=False)


# ---------------------------------------------------------------------------------------------------
# available_cpus


@pytest.mark.parametrize(("cpu_max", "expected"), [("200000 100000", 2), ("150000 100000", 2),
                                                   ("max 100000", 8), ("50000 100000", 1)])
def test_cgroup_v2_quota(tmp_path: Path, eight_cores, cpu_max: str, expected: int) -> None:
    (tmp_path / "cpu.max").write_text(cpu_max + "\n")
    assert threads.available_cpus(tmp_path) == expected


@pytest.mark.parametrize("mount", ["cpu", "cpu,cpuacct", "."])
@pytest.mark.parametrize(("quota", "expected"), [("300000", 3), ("250000", 3), ("-1", 8)])
def test_cgroup_v1_quota(tmp_path: Path, eight_cores, mount: str, quota: str, expected: int) -> None:
    d = tmp_path / mount
    d.mkdir(exist_ok=True)
    (d / "cpu.cfs_quota_us").write_text(quota + "\n")
    (d / "cpu.cfs_period_us").write_text("100000\n")
    assert threads.available_cpus(tmp_path) == expected


def test_affinity_caps_quota_and_no_cgroup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {3}, raising=False)
    (tmp_path / "cpu.max").write_text("400000 100000\n")
    assert threads.available_cpus(tmp_path) == 1
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(6)), raising=False)
    assert threads.available_cpus(tmp_path / "missing") == 6
    (tmp_path / "cpu.max").write_text("garbage\n")
    assert threads.available_cpus(tmp_path) == 6


# ---------------------------------------------------------------------------------------------------
# set_threads


def test_set_threads_one_reaches_torch_blas_and_env() -> None:
    assert threads.set_threads(1) == 1
    assert torch.get_num_threads() == 1
    blas = [i for i in threadpool_info() if i["user_api"] == "blas"]
    assert blas and all(i["num_threads"] == 1 for i in blas)
    assert all(os.environ[v] == "1" for v in threads.THREAD_ENV_VARS)
    assert threads.configured_threads() == 1


def test_stats_pool_follows_threads() -> None:
    threads.set_threads(1)
    assert stats._pool_workers() == 1
    one = stats.draw_null_weights(np.random.default_rng(3), 1000, 400)
    threads.set_threads(2)
    assert stats._pool_workers() == 2
    np.testing.assert_array_equal(stats.draw_null_weights(np.random.default_rng(3), 1000, 400), one)


def test_set_threads_default_is_available_cpus() -> None:
    assert threads.set_threads(None) == threads.available_cpus()
    assert threads.set_threads(0) == threads.available_cpus()
    with pytest.raises(ValueError, match=">= 0"):
        threads.set_threads(-1)


def test_set_threads_makes_openmp_wait_passively_unless_the_user_chose(monkeypatch) -> None:
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    threads.set_threads(1)
    assert os.environ["OMP_WAIT_POLICY"] == "PASSIVE"
    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")
    threads.set_threads(1)
    assert os.environ["OMP_WAIT_POLICY"] == "ACTIVE"


# ---------------------------------------------------------------------------------------------------
# free_cpus: the cores other processes leave idle (seqgx run's default)

def _stat(rows: dict[int, tuple[int, int]]) -> str:
    """A /proc/stat text with per-CPU lines whose idle (+ iowait) and total jiffies are ``rows``."""
    lines = ["cpu  1 2 3 4 5 6 7 8 0 0"]
    for cpu, (idle, total) in rows.items():
        iowait = 2
        user = total - idle  # user + idle + iowait... = total with iowait counted in idle
        lines.append(f"cpu{cpu} {user} 0 0 {idle - iowait} {iowait} 0 0 0 0 0")
    return "\n".join(lines + ["intr 1 2 3", "ctxt 5"]) + "\n"


@pytest.mark.parametrize(("after", "idle", "free"), [
    # cpu0 idle the whole 100 jiffies, cpu1 busy the whole time (a job spinning on it): 1 core free
    ({0: (200, 300), 1: (50, 200)}, 1.0, 1),
    # both idle: 2 free; both busy: still 1 (a run always gets a thread)
    ({0: (200, 300), 1: (150, 200)}, 2.0, 2),
    ({0: (100, 300), 1: (50, 200)}, 0.0, 1),
    # 70% + 80% idle = 1.5 cores: rounds to 2
    ({0: (170, 300), 1: (130, 200)}, 1.5, 2),
])
def test_free_cpus_counts_idle_cores_of_the_affinity(tmp_path: Path, monkeypatch, after, idle, free) -> None:
    stat = tmp_path / "stat"
    before = {0: (100, 200), 1: (50, 100), 5: (0, 10)}  # cpu5 is outside the affinity: ignored
    stat.write_text(_stat(before))
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    monkeypatch.setattr(threads, "available_cpus", lambda: 2)
    import time

    monkeypatch.setattr(time, "sleep", lambda s: stat.write_text(_stat({**after, 5: (0, 20)})))
    assert threads.idle_cpus(0.1, str(stat)) == pytest.approx(idle)
    monkeypatch.setattr(threads, "idle_cpus", lambda s=0.3: idle)
    assert threads.free_cpus() == free


def test_free_cpus_without_proc_stat_is_available_cpus(tmp_path: Path, monkeypatch) -> None:
    assert threads.idle_cpus(0.0, str(tmp_path / "missing")) is None
    monkeypatch.setattr(threads, "idle_cpus", lambda s=0.3: None)
    assert threads.free_cpus() == threads.available_cpus()


def test_seqgx_run_passes_threads_to_exactly_the_steps_that_take_them() -> None:
    from seqgx.pipeline import STEPS, THREADED_COMMANDS

    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    with_flag = {name for name, p in sub.choices.items()
                 if any("--threads" in a.option_strings for a in p._actions)}
    assert THREADED_COMMANDS == with_flag & {s.name for s in STEPS}
    assert with_flag - THREADED_COMMANDS <= {"finetune", "run"}  # not steps of seqgx run


# ---------------------------------------------------------------------------------------------------
# The flag on every compute subcommand


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_compute_subcommand_accepts_threads(command: str) -> None:
    parser = build_parser()
    assert parser.parse_args([command, *COMMANDS[command], "--threads", "3"]).threads == 3
    assert parser.parse_args([command, *COMMANDS[command]]).threads is None


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize(("value", "fragment"), [("-1", ">= 0"), ("x", "whole number")])
def test_bad_threads_one_line_exit_2(command: str, value: str, fragment: str, capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        main([command, *COMMANDS[command], "--threads", value])
    assert exc.value.code == 2
    one_line_error(capsys, exc.value.code, "--threads", fragment, f"seqgx {command}")


def test_predict_threads_reach_torch_and_onnx_sessions(tmp_path: Path, monkeypatch) -> None:
    gh, _ = make_gene(n_samples=4)
    haps = gh.save(tmp_path / f"{gh.gene_id}.haplotypes.npz")
    assert main(["predict", "--haplotypes", str(haps), "--model", "oracle", "--out", str(tmp_path / "t"),
                 "--threads", "1"]) == 0
    assert torch.get_num_threads() == 1
    torch_table = pd.read_csv(tmp_path / "t" / f"{gh.gene_id}.predictions.tsv", sep="\t")

    sessions: list[ort.InferenceSession] = []

    class Recording(ort.InferenceSession):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            sessions.append(self)

    monkeypatch.setattr(ort, "InferenceSession", Recording)
    onnx = tmp_path / "oracle.onnx"
    assert main(["export-onnx", "--model", "oracle", "--window-length", str(L), "--out", str(onnx),
                 "--threads", "2"]) == 0
    assert main(["predict", "--haplotypes", str(haps), "--model", str(onnx), "--out", str(tmp_path / "o"),
                 "--threads", "2"]) == 0
    # The export's parity check, then the predict backend.
    assert [s.get_session_options().intra_op_num_threads for s in sessions] == [2, 2]
    onnx_table = pd.read_csv(tmp_path / "o" / f"{gh.gene_id}.predictions.tsv", sep="\t")
    pd.testing.assert_frame_equal(onnx_table, torch_table)
