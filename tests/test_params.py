"""The parameter registry (seqgx.params) is the only place a step's parameters come from.

A flag of a subcommand, a Nextflow module or a `seqgx run` step that reads a parameter the registry
does not give that step fails here.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from seqgx.cli import build_parser
from seqgx.params import PARAMS, PARAMS_BY_NAME, STEP_PROCESSES, defaults, params_of_step, step_flags
from seqgx.plan import PLAN_READS, make_plan

REPO = Path(__file__).resolve().parents[1]
STEPS = list(STEP_PROCESSES)
# What only Nextflow knows and a module may read: none (publishing and resources are config's).
NEXTFLOW_ONLY = {"outdir"}   # publishing: STATS publishes from its module (meta.publish_dir)
INPUTS = {"fasta": "f", "vcf": "v", "annotation": "a", "expression": "e"}


def _subparser(step: str) -> argparse.ArgumentParser:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    return sub.choices[step]


def _dests(step: str) -> set[str]:
    return {a.dest for a in _subparser(step)._actions}


@pytest.mark.parametrize("step", STEPS)
def test_each_flag_that_names_a_parameter_is_the_registrys(step: str) -> None:
    """The subcommand's flags whose dest is a parameter are exactly the parameters the registry gives
    the step (input files a step names in its own way aside: they are staged, never ext.args)."""
    options = {p.name for p in PARAMS if not p.is_path}
    given = {p.name for p in params_of_step(step) if not p.is_path}
    assert _dests(step) & options == given
    assert {p.name for p in params_of_step(step) if p.is_path} <= _dests(step)


@pytest.mark.parametrize("step", STEPS)
def test_flag_defaults_and_choices_are_the_registrys(step: str) -> None:
    for action in _subparser(step)._actions:
        p = PARAMS_BY_NAME.get(action.dest)
        if p is None or step not in p.steps or p.name in ("model", "hparams", "tracks", "finetuned_weights"):
            continue
        if step == "export-onnx" and p.name == "precision":
            continue  # the export's own: fp32 or fp16 (seqgx.plan.export_precision)
        assert action.default == (False if p.type is bool else p.default), p.name
        assert tuple(action.choices or ()) == p.choices, p.name


def test_step_flags_parse_back_to_the_values() -> None:
    """What seqgx run passes (and ext.args, generated alike) is read back by the step as the value."""
    values = defaults() | {"null_draws": 123, "seqlet_threshold": 0.25, "report_genes": "A,B C",
                           "reverse_complement": True, "gene_types": "all", "min_abs_r": 0.5}
    for step in STEPS:
        parser = _subparser(step)
        required = {a.dest: a for a in parser._actions if a.required}
        argv = step_flags(values, step)
        for action in required.values():  # the step's inputs: any value parses
            argv += [action.option_strings[0], "x"]
        args = parser.parse_args(argv)
        for p in params_of_step(step):
            if p.passed_as_is(step):
                assert getattr(args, p.name) == values[p.name], (step, p.name)


def test_modules_read_no_parameter() -> None:
    """Modules take their flags from ext.args (conf/modules.config, generated) and their inputs."""
    for module in sorted((REPO / "modules" / "local").glob("*/main.nf")):
        used = set(re.findall(r"\bparams\.(\w+)", module.read_text()))
        assert used <= NEXTFLOW_ONLY, (module.parent.name, used)


def test_ext_args_give_each_process_its_steps_parameters() -> None:
    config = (REPO / "conf" / "modules.config").read_text()
    for step, processes in STEP_PROCESSES.items():
        passed = {p.name for p in params_of_step(step) if p.passed_as_is(step)}
        m = re.search(rf"withName: '{re.escape('|'.join(processes))}' \{{(.*?)\n    \}}", config, re.S)
        found = set(re.findall(r"params\.(\w+)", m.group(1))) if m else set()
        assert found == passed, step


class _RecordingParams(dict):
    """Params that remember which keys were read."""

    def __init__(self, *args: object) -> None:
        super().__init__(*args)
        self.read: set[str] = set()

    def __getitem__(self, key: str) -> object:
        self.read.add(key)
        return super().__getitem__(key)


def test_the_plan_reads_what_it_declares(tmp_path: Path) -> None:
    for backend, model in (("auto", "oracle"), ("onnx", "m.onnx")):
        params = _RecordingParams(defaults() | INPUTS | {"backend": backend, "model": model})
        make_plan(params)
        assert params.read <= PLAN_READS
    assert PLAN_READS <= set(PARAMS_BY_NAME)


def _folders(tmp_path: Path) -> None:
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


def test_each_seqgx_run_step_reads_only_its_registry_parameters(tmp_path: Path) -> None:
    """A `seqgx run` step reads the parameters the registry gives its subcommand, the plan's, the input
    files and outdir; and it passes every parameter the registry gives the step as it is."""
    from seqgx.pipeline import STEPS as RUN_STEPS

    _folders(tmp_path)
    files = {p.name for p in PARAMS if p.is_path}
    command_of = {"attribution-stats": "stats"}
    for step in RUN_STEPS:
        backend = "onnx" if step.name == "export-onnx" else "auto"
        params = _RecordingParams(defaults() | INPUTS | {"backend": backend})
        step.commands(params, tmp_path)
        command = command_of.get(step.name, step.name)
        registry = {p.name for p in params_of_step(command)}
        assert params.read <= registry | PLAN_READS | files | {"outdir"}, step.name
        assert {p.name for p in params_of_step(command) if p.passed_as_is(command)} <= params.read, step.name
