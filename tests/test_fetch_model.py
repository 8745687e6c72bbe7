"""seqgx fetch-model: a hub model into a folder, once; offline a one-line error.

The hub is replaced by its own local cache: a snapshot laid out as huggingface_hub stores downloads
(models--OWNER--NAME/snapshots/<revision>/ with refs/main), read with HF_HUB_OFFLINE=1, so the real
snapshot_download resolves it without a network.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from seqgx.model.models import load_model

TINY = {"dim": 48, "depth": 1, "heads": 2, "num_downsamples": 3, "target_length": 48,
        "dim_divisible_by": 8, "output_heads": {"human": 12}}
REVISION = "0123456789abcdef0123456789abcdef01234567"


def _fetch(tmp_path: Path, model: str, out: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(tmp_path / "hub")}
    return subprocess.run([sys.executable, "-m", "seqgx", "fetch-model", "--model", model, "--out", str(out)],
                          capture_output=True, text=True, env=env)


def test_fetch_copies_the_snapshot_and_it_loads_as_the_same_model(tmp_path: Path) -> None:
    enformer = load_model("random", 1024, TINY, seed=4).module.enformer
    repo = tmp_path / "hub" / "models--test-owner--tiny-enformer"
    snapshot = repo / "snapshots" / REVISION
    enformer.save_pretrained(str(snapshot), safe_serialization=False)  # the hub's pytorch_model.bin
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(REVISION)

    out = tmp_path / "staged" / "tiny-enformer"
    proc = _fetch(tmp_path, "test-owner/tiny-enformer", out)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in snapshot.iterdir())
    assert all(not p.is_symlink() for p in out.iterdir())  # real files: the cache may be gone later
    original = load_model(str(snapshot), 1024).identity["sha256"]
    assert load_model(str(out), 1024).identity["sha256"] == report["sha256"] == original
    assert not list(out.parent.glob(".tmp-*"))


def test_offline_without_a_cached_copy_is_one_line_and_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "enformer-official-rough"
    proc = _fetch(tmp_path, "EleutherAI/enformer-official-rough", out)
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr
    assert "could not download model 'EleutherAI/enformer-official-rough'" in lines[0]
    assert not out.exists() and not list(tmp_path.glob(".tmp-*"))


def test_a_local_path_needs_no_fetching(tmp_path: Path) -> None:
    local = tmp_path / "owner" / "model"
    local.mkdir(parents=True)
    proc = _fetch(tmp_path, str(local), tmp_path / "out")
    assert proc.returncode == 2 and "is not a hub id" in proc.stderr
