"""The committed test cohort (tests/data/cohort) is what its recorded command writes today."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

from cli_helpers import run_cli

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "tests" / "data" / "cohort"


def _recorded_command() -> list[str]:
    makefile = (REPO / "Makefile").read_text().replace("\\\n", " ")
    command = re.search(r"^TEST_DATA_COMMAND := (.+)$", makefile, re.M).group(1).split()
    assert command[0] == "simulate" and "tests/data/cohort" in command
    return command


def _content(path: Path) -> bytes:
    """File content, decompressed for bgzipped files (compression bytes may differ across zlib builds)."""
    data = path.read_bytes()
    return gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data


def test_recorded_command_writes_the_committed_cohort(tmp_path: Path) -> None:
    # Run as `make test-data` does, from a folder standing for the repository root: params.yaml holds
    # paths relative to the folder simulate runs in.
    proc = run_cli(*_recorded_command(), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    written = tmp_path / "tests" / "data" / "cohort"
    fresh = sorted(str(p.relative_to(written)) for p in written.rglob("*") if p.is_file())
    assert sorted(str(p.relative_to(DATA)) for p in DATA.rglob("*")
                  if p.is_file() and p.name != ".gitattributes") == fresh
    for name in fresh:
        assert _content(written / name) == _content(DATA / name), name


def test_test_data_stays_small() -> None:
    assert sum(p.stat().st_size for p in DATA.rglob("*") if p.is_file()) < 5 * 2**20
