"""The Nextflow layer's files, checked without running Nextflow (tests/test_nextflow_runtime.py runs it).

- every .nf and config file parses with a Nextflow-grammar parser (reftrace);
- every process follows the house conventions (label with resources, stub, versions.yml);
- each `seqgx run` step and its Nextflow process read the same parameters.

The container images are checked in tests/test_containers.py.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import reftrace
from nextflow_script import process_blocks

from seqgx.cli import build_parser
from seqgx.params import defaults

REPO = Path(__file__).resolve().parents[1]
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
    main_nf = (REPO / "main.nf").read_text()
    assert f"include {{ {proc.name}" in main_nf.replace("  ", " ") or re.search(
        rf"include\s*{{\s*{proc.name}\s*}}", main_nf), f"{proc.name} not included in main.nf"


def _ext_args_params(process: str) -> set[str]:
    """Parameters read by the ext.args of the conf/modules.config block(s) that select ``process``."""
    config = (REPO / "conf" / "modules.config").read_text()
    found: set[str] = set()
    for m in re.finditer(r"withName:\s*'([^']+)'\s*\{", config):
        if process in m.group(1).split("|"):
            body = config[m.end():config.index("\n    }", m.end())]
            found |= set(re.findall(r"params\.(\w+)", body))
    return found


class _RecordingParams(dict):
    """Params that remember which keys a pipeline step read."""

    def __init__(self, *args: object) -> None:
        super().__init__(*args)
        self.read: set[str] = set()

    def __getitem__(self, key: str) -> object:
        self.read.add(key)
        return super().__getitem__(key)


def test_each_pipeline_step_and_its_module_read_the_same_parameters(tmp_path: Path) -> None:
    """`seqgx run` and Nextflow build each step's command from the same parameters (files excepted:
    Nextflow stages those as inputs)."""
    from seqgx.params import PARAMS
    from seqgx.pipeline import STEPS

    (tmp_path / "genes" / "batches").mkdir(parents=True)
    (tmp_path / "genes" / "batches" / "chr1_1.tsv").write_text("gene_id\nG1\n")
    (tmp_path / "haplotypes").mkdir()
    (tmp_path / "haplotypes" / "G1.haplotypes.npz").write_text("")
    (tmp_path / "stats").mkdir()
    (tmp_path / "stats" / "chr1_1.genes.tsv").write_text("")
    (tmp_path / "attribution" / "batches").mkdir(parents=True)
    (tmp_path / "attribution" / "batches" / "attribution_chr1_1.tsv").write_text("gene_id\nG1\n")
    (tmp_path / "attribution" / "stats").mkdir()
    (tmp_path / "attribution" / "stats" / "attribution_chr1_1.genes.tsv").write_text("")
    module_of = {"attribution-stats": "stats"}  # phase 2's stats: the same module as phase 1's
    staged_as_inputs = {p.name for p in PARAMS if p.is_path} | {"outdir"}
    # main.nf decides whether EXPORT_ONNX runs (backend 'onnx' with torch weights); `seqgx run` reads
    # the same parameter for the same decision.
    # The readouts (tracks, or with tissues the union of theirs) come into PREDICT, ISM and MOTIFS as
    # an input that main.nf makes.
    decided_in_main_nf = {"export-onnx": {"backend"}, "motifs": {"motifs", "tss_window", "tracks"},
                          "merge": {"motifs", "tss_window"}, "predict": {"tracks"}, "ism": {"tracks"}}
    for step in STEPS:
        params = _RecordingParams(defaults() | {"fasta": "f", "vcf": "v", "annotation": "a",
                                                "expression": "e", "backend": "onnx"})
        if step.name != "export-onnx":
            params["backend"] = defaults()["backend"]
        step.commands(params, tmp_path)
        params.read -= decided_in_main_nf.get(step.name, set())
        folder = module_of.get(step.name, step.name).replace("-", "_")
        module = REPO / "modules" / "local" / folder / "main.nf"
        in_module = set(re.findall(r"params\.(\w+)", module.read_text()))
        if "task.ext.args" in module.read_text():  # flags set per process in conf/modules.config
            in_module |= _ext_args_params(module.parent.name.upper())
        assert params.read - staged_as_inputs == in_module - staged_as_inputs, step.name
