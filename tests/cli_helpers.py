"""Helpers for tests that run the command line as a user or Nextflow would."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run `python -m seqgx ARGS` in a subprocess, as a user or Nextflow would."""
    return subprocess.run([sys.executable, "-m", "seqgx", *map(str, args)], capture_output=True,
                          text=True, cwd=cwd)


def _error_lines(stderr: str) -> list[str]:
    """stderr without log lines (INFO/WARNING) and ONNX Runtime's own warnings."""
    return [ln for ln in stderr.splitlines() if ln.strip() and " WARNING: " not in ln
            and " INFO: " not in ln and not re.search(r"\[W:onnxruntime", ln)]


def _check_one_line(stderr: str, fragments: tuple[str, ...]) -> str:
    lines = _error_lines(stderr)
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    for frag in fragments:
        assert frag in lines[0], lines[0]
    return lines[0]


def assert_one_line_error(proc: subprocess.CompletedProcess, *fragments: str) -> str:
    """Non-zero exit, exactly one stderr line (no traceback) that contains every fragment."""
    assert proc.returncode != 0, proc.stdout
    return _check_one_line(proc.stderr, fragments)


def one_line_error(capsys: pytest.CaptureFixture, rc: int, *fragments: str) -> str:
    """The same for an in-process `seqgx.cli.main(...)` call that returned ``rc``."""
    assert rc != 0
    return _check_one_line(capsys.readouterr().err, fragments)


def seqgx_run(cohort: dict, work: Path, *cli_args: str, **params: object) -> Path:
    """`seqgx run` of a simulated cohort (``seqgx.simulate`` paths) with the oracle model into
    ``work/results``, with ``params`` on top and ``cli_args`` after the params file; returns the results
    folder (its stdout is kept in ``work/stdout.txt``)."""
    import json

    full = {"fasta": str(cohort["fasta"]), "vcf": str(cohort["vcf"]), "annotation": str(cohort["gtf"]),
            "expression": str(cohort["expression"]), "outdir": str(work / "results"), "model": "oracle",
            **params}
    (work / "params.json").write_text(json.dumps(full))
    proc = run_cli("run", str(work / "params.json"), "-q", *cli_args)
    assert proc.returncode == 0, proc.stderr
    (work / "stdout.txt").write_text(proc.stdout)
    return work / "results"
