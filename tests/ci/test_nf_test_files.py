"""What nf-test itself does not check about the repository's nf-test files.

The tests run under the real nf-test (`make nf-test`; .ci/run runs every *.nf.test, and the numeric
ones again under a second BLAS kernel), which checks the tests and their snapshots. These check the
layout around them: nf-test.config's settings, a test beside every module, snapshots that exist for
every test and carry no machine's paths, params the tests read that exist, .nf-test/ out of git.
"""

from __future__ import annotations

import fnmatch
import json
import re
from pathlib import Path

import pytest

from seqgx.params import defaults

REPO = Path(__file__).resolve().parents[2]
NF_TEST_PATHS = sorted([*REPO.glob("tests/*.nf.test"), *REPO.glob("modules/local/*/tests/main.nf.test")])
MODULES = sorted(p.parent for p in (REPO / "modules" / "local").glob("*/main.nf"))
CONFIG = (REPO / "nf-test.config").read_text()


def _id(path: Path) -> str:
    return str(path.relative_to(REPO))


def _test_names(text: str) -> list[str]:
    return re.findall(r'^\s*test\("([^"]+)"\)', text, re.M)


def _snapshot_test_names(text: str) -> list[str]:
    """The tests that take a snapshot (a test of a refusal asserts the failure and has none)."""
    parts = re.split(r'^\s*test\("([^"]+)"\)', text, flags=re.M)
    return [name for name, body in zip(parts[1::2], parts[2::2], strict=True) if "snapshot(" in body]


def test_nf_test_config() -> None:
    assert re.search(r'^\s*testsDir\s+"\."\s*$', CONFIG, re.M), "testsDir must be '.' to find module tests"
    assert re.search(r'^\s*workDir\s+System\.getenv\("NFT_WORKDIR"\)\s*\?:\s*"\.nf-test"\s*$', CONFIG, re.M)
    config_file = re.search(r'^\s*configFile\s+"([^"]+)"', CONFIG, re.M)
    assert config_file and (REPO / config_file.group(1)).is_file()
    profile = re.search(r'^\s*profile\s+"(\w+)"', CONFIG, re.M)
    profiles = (REPO / "nextflow.config").read_text()
    assert profile and re.search(rf"^    {profile.group(1)} \{{", profiles, re.M)
    # nf-test's workDir (.nf-test/) is ignored: `.nf-test/`, or `.nf-test*` with its .nf-test.log
    ignored = [line.strip().strip("/") for line in (REPO / ".gitignore").read_text().splitlines()]
    assert any(fnmatch.fnmatchcase(".nf-test", pattern) for pattern in ignored if pattern)


def test_every_module_has_an_nf_test() -> None:
    missing = [_id(m) for m in MODULES if not (m / "tests" / "main.nf.test").is_file()]
    assert not missing
    assert len(NF_TEST_PATHS) >= len(MODULES) + 1, "the pipeline test (tests/default.nf.test) too"


@pytest.mark.parametrize("path", NF_TEST_PATHS, ids=_id)
def test_snapshot_beside_each_test_file(path: Path) -> None:
    """nf-test --ci (as CI runs it) fails a test without a snapshot instead of writing one: every test
    has its snapshot, and no snapshot is left of a test that is gone."""
    snap = path.with_name(path.name + ".snap")
    assert snap.is_file(), f"no {_id(snap)}: run make nf-test NF_TEST_ARGS=--update-snapshot"
    names = _test_names(path.read_text())
    assert names and len(names) == len(set(names)), names
    assert set(json.loads(snap.read_text())) == set(_snapshot_test_names(path.read_text()))
    # Paths are rendered as name:md5 or names: an absolute path would be one machine's work folder.
    assert not re.search(r'"/', snap.read_text()), "an absolute path in a snapshot"


@pytest.mark.parametrize("path", NF_TEST_PATHS, ids=_id)
def test_params_exist(path: Path) -> None:
    """Every params.X the tests read is set by tests/nextflow.config or is a pipeline parameter (Nextflow
    only warns of an unknown one)."""
    test_config = (REPO / "tests" / "nextflow.config").read_text()
    declared = set(re.findall(r"^\s+(\w+)\s*=", test_config[test_config.index("params {"):], re.M))
    known = declared | set(defaults())
    text = path.read_text()
    for name in re.findall(r"\bparams\.(\w+)", text):
        assert name in known, f"params.{name} is not set in tests/nextflow.config nor a pipeline parameter"
    for block in re.findall(r"^\s*params \{(.*?)^\s*\}", text, re.M | re.S):
        for name in re.findall(r"^\s*(\w+)\s*=", block, re.M):
            assert name in known, f"unknown param {name}"
