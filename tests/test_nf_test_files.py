"""The nf-test files (nf-test.config, tests/*.nf.test, modules/local/*/tests/main.nf.test, their .snap).

nf-test cannot be installed here, so these tests check what it would trip over without running it:
Groovy interpolation in the code nf-test hands to Nextflow, plugin functions without the plugin, paths
and process names that do not exist, snapshots missing for a test. The last test regenerates every
snapshot with the real Nextflow runtime (tests/nf_test_snapshots.py --check) and compares.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from nf_test_snapshots import (
    NEXTFLOW,
    NEXTFLOW_VERSION,
    REPO,
    NfTestFile,
    matching,
    module_plan,
    nf_test_files,
    parse,
)

from seqgx.params import defaults

NF_TEST_PATHS = nf_test_files()
MODULES = sorted(p.parent for p in (REPO / "modules" / "local").glob("*/main.nf"))
CONFIG = (REPO / "nf-test.config").read_text()

# Functions and Path methods that come from nf-test plugins, not nf-test itself (nf-test has .json,
# .yaml, .md5, .linesGzip, .readLines(), .text; nft-csv adds .csv, nft-vcf .vcf, ...).
PLUGIN_CALLS = {
    r"\.csv\b": "nft-csv",
    r"\.vcf\b": "nft-vcf",
    r"\.bam\(": "nft-bam",
    r"\.fastq\b": "nft-fastq",
    r"\b(getAllFilesFromDir|removeNextflowVersion|removeFromYamlMap|sanitizeOutput|listToMD5)\(": "nft-utils",
}


def _id(path: Path) -> str:
    return str(path.relative_to(REPO))


@pytest.fixture(scope="module", params=NF_TEST_PATHS, ids=_id)
def nf_test(request: pytest.FixtureRequest) -> NfTestFile:
    return parse(request.param)


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
    assert not (REPO / "tests" / "nextflow").exists(), "old nf-test folder: tests live beside their module"


def test_braces_balance(nf_test: NfTestFile) -> None:
    text = nf_test.path.read_text()
    assert text.count("{") == text.count("}")
    assert text.count("(") == text.count(")")
    first = text.index("{")
    assert matching(text, first) == len(text.rstrip()) - 1, "one top-level block, closed at the end"


def test_scripts_and_processes_exist(nf_test: NfTestFile) -> None:
    assert nf_test.script.is_file(), nf_test.script
    scripts = [(nf_test.process, nf_test.script)] if nf_test.process else []
    scripts += [(run.name, run.script) for test in nf_test.tests for run in test.setup]
    for process, script in scripts:
        assert script.is_file(), f"{process}: no {script}"
        defined = re.search(rf"^process {process} \{{", script.read_text(), re.M)
        assert defined, f"no process {process} in {script}"
    if nf_test.kind == "nextflow_process":
        # A module's test sits in <module>/tests/ and tests that module's process.
        assert nf_test.path.parent.parent == nf_test.script.parent
        assert nf_test.process == nf_test.script.parent.name.upper()
    else:
        assert nf_test.kind == "nextflow_pipeline" and nf_test.script == REPO / "main.nf"


def test_test_names_are_unique(nf_test: NfTestFile) -> None:
    names = [t.name for t in nf_test.tests]
    assert names and len(names) == len(set(names)), names


def test_no_groovy_interpolation_in_nextflow_code(nf_test: NfTestFile) -> None:
    """nf-test evaluates the triple-quoted `process { }` / `workflow { }` strings as Groovy GStrings
    before it hands them to Nextflow, and `params { }` as Groovy: a `${...}` (or a `$name` in code)
    is resolved by nf-test, where `projectDir`, `task` and most names do not exist."""
    assert nf_test.nextflow_code, "no process/workflow/params block found"
    for code in nf_test.nextflow_code:
        assert "${" not in code, code
    for test in nf_test.tests:
        for code in filter(None, [test.mapping, *(run.mapping for run in test.setup)]):
            assert not re.search(r"(?<!\\)\$", code), f"{test.name}: nf-test interpolates '$' in:\n{code}"


def test_no_exit_status(nf_test: NfTestFile) -> None:
    """nf-test's process.exitStatus is Nextflow's exit code, not the task's: assert on success/failed."""
    assert "exitStatus" not in nf_test.path.read_text()


def test_plugin_calls_have_their_plugin(nf_test: NfTestFile) -> None:
    """In the then blocks (nf-test's Groovy), string literals aside."""
    text = re.sub(r"'[^'\n]*'|\"[^\"\n]*\"", "''", "\n".join(t.then for t in nf_test.tests))
    loaded = set(re.findall(r'^\s*load\s+"([\w-]+)@[\w.]+"', CONFIG, re.M))
    for pattern, plugin in PLUGIN_CALLS.items():
        if re.search(pattern, text):
            assert plugin in loaded, f"{pattern} needs the {plugin} plugin in nf-test.config"


def test_params_exist(nf_test: NfTestFile) -> None:
    """Every params.X the tests read is set by tests/nextflow.config or is a pipeline parameter."""
    test_config = (REPO / "tests" / "nextflow.config").read_text()
    block = test_config[test_config.index("params {"):]
    declared = set(re.findall(r"^\s+(\w+)\s*=", block[:matching(block, block.index("{"))], re.M))
    known = declared | set(defaults())
    for name in re.findall(r"\bparams\.(\w+)", nf_test.path.read_text()):
        assert name in known, f"params.{name} is not set in tests/nextflow.config nor a pipeline parameter"
    for test in nf_test.tests:
        for name in re.findall(r"^\s*(\w+)\s*=", test.params or "", re.M):
            assert name in known, f"{test.name}: unknown param {name}"


def test_snapshot_beside_each_test_file(nf_test: NfTestFile) -> None:
    """nf-test writes <file>.snap on the first run; CI (nf-test --ci) fails a test without one."""
    assert nf_test.snap.is_file(), f"no {_id(nf_test.snap)}: run python tests/nf_test_snapshots.py"
    snapshots = json.loads(nf_test.snap.read_text())
    assert set(snapshots) == {t.name for t in nf_test.tests}
    for name, snapshot in snapshots.items():
        assert set(snapshot) == {"content", "meta", "timestamp"}, name
        assert isinstance(snapshot["content"], list) and snapshot["content"], name
        assert {"nf-test", "nextflow"} <= set(snapshot["meta"]), name
    # nf-test's layout (Groovy's JsonOutput.prettyPrint): four spaces, no newline at the end.
    text = nf_test.snap.read_text()
    assert text.startswith('{\n    "') and not text.endswith("\n")
    # Paths are rendered as name:md5 or names: an absolute path would be one machine's work folder.
    assert not re.search(r'"/', text), "an absolute path in a snapshot"


def test_setups_run_processes_as_their_own_tests_do() -> None:
    """Each `setup { run("X") }` feeds X the inputs X's own test gives it, so the chain the later module
    tests share is tested itself, and tests/nf_test_snapshots.py runs it once for all of them."""
    files = [parse(p) for p in NF_TEST_PATHS]
    plan = module_plan([f for f in files if f.kind == "nextflow_process"])
    assert set().union(*plan.runs) == {m.name.upper() for m in MODULES}
    setup_only = {key for keys in plan.keys for key in keys.values()} - plan.tested
    assert not setup_only, f"set up with inputs no test of their own uses: {sorted(k[0] for k in setup_only)}"
    # As few Nextflow runs as possible keeps test_snapshots_match_fresh_runs short: runs of the same
    # options (-stub: FETCH_MODEL's) are apart only because a process runs on other inputs in each
    # (STATS in phase 1 and with ISM: a workflow can call a process once).
    for i, (opt_a, run_a) in enumerate(zip(plan.options, plan.runs, strict=True)):
        for opt_b, run_b in list(zip(plan.options, plan.runs, strict=True))[i + 1:]:
            if opt_a == opt_b:
                assert any(run_a[n] != run_b[n] for n in set(run_a) & set(run_b)), (list(run_a), list(run_b))


def test_snapshots_match_fresh_runs() -> None:
    """Every snapshot again from fresh runs of the real Nextflow runtime (module tests in one run per
    set of options, each pipeline test in its own, in parallel): what `nf-test test` would compare."""
    if not NEXTFLOW.is_file():
        message = f"Nextflow {NEXTFLOW_VERSION} not installed; run 'make nextflow'"
        if os.environ.get("CI"):
            pytest.fail(message + " (CI must run this test)")
        pytest.skip(message)
    proc = subprocess.run([sys.executable, str(REPO / "tests" / "nf_test_snapshots.py"), "--check"],
                          capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, (
        f"{proc.stdout}\n{proc.stderr}\nIf the change is intended: python tests/nf_test_snapshots.py")
