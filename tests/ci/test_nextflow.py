"""The Nextflow layer's files, checked without running Nextflow (tests/ci/test_nextflow_runtime.py runs it).

- every .nf and config file parses with a Nextflow-grammar parser (reftrace);
- every process follows the house conventions (label with resources, stub, versions.yml);
- (tests/test_params.py: each step's parameters come from the registry, in both runners.)

The container images are checked in tests/ci/test_containers.py.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import reftrace
from nextflow_script import process_blocks

from seqgx.cli import build_parser

REPO = Path(__file__).resolve().parents[2]
MODULES = sorted((REPO / "modules" / "local").glob("*/main.nf"))


def test_nextflow_files_parse() -> None:
    result = reftrace.parse_modules(str(REPO))
    assert not result.errors, result.errors
    parsed = {Path(m.path).resolve() for m in result.results}
    assert (REPO / "main.nf").resolve() in parsed
    assert set(MODULES) <= parsed


@pytest.mark.parametrize("config", ["nextflow.config", *sorted(
    str(p.relative_to(REPO)) for p in (REPO / "conf").glob("*.config"))])
def test_configs_parse(config: str) -> None:
    result = reftrace.ConfigFile.from_file(str(REPO / config))
    assert getattr(result, "error", None) is None, result


def _labels_in_base_config() -> set[str]:
    return set(re.findall(r"withLabel:\s*'(\w+)'", (REPO / "conf" / "base.config").read_text()))


def _subcommands() -> set[str]:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    return set(sub.choices)


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.parent.name)
def test_process_conventions(module: Path) -> None:
    mod = reftrace.parse_modules(str(module.parent)).results[0]
    assert len(mod.processes) == 1
    proc = mod.processes[0]
    assert proc.name == module.parent.name.upper()
    labels = [lab.label for lab in proc.labels]
    assert labels and set(labels) <= _labels_in_base_config(), labels
    blocks = process_blocks(module)
    assert "stub" in blocks and "script" in blocks
    assert "versions.yml" in blocks["output"]
    used = re.findall(r"seqgx ([a-z][a-z-]+)", blocks["script"])
    assert used and set(used) <= _subcommands(), used
    # included by the pipeline (workflows/seqgx.nf) or one of its subworkflows
    workflows = "\n".join(p.read_text() for p in [REPO / "workflows" / "seqgx.nf",
                                                  *(REPO / "subworkflows" / "local").glob("*/main.nf")])
    assert re.search(rf"include\s*{{\s*{proc.name}\s*}}", workflows), f"no workflow includes {proc.name}"
