"""Helpers for tests that run the command line as a user or Nextflow would."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run `python -m seqgx ARGS` in a subprocess, as a user or Nextflow would."""
    return subprocess.run([sys.executable, "-m", "seqgx", *map(str, args)], capture_output=True,
                          text=True, cwd=cwd)


def assert_one_line_error(proc: subprocess.CompletedProcess, *fragments: str) -> None:
    """Non-zero exit, exactly one stderr line (no traceback) that contains every fragment."""
    assert proc.returncode != 0, proc.stdout
    err_lines = [ln for ln in proc.stderr.splitlines() if ln.strip() and " WARNING: " not in ln
                 and " INFO: " not in ln]
    assert len(err_lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    for frag in fragments:
        assert frag in err_lines[0], err_lines[0]
