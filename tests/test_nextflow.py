"""The Nextflow layer, checked the ways this machine allows (no Nextflow, no Docker here).

- every .nf and config file parses with a real Nextflow-grammar parser (reftrace);
- every process follows the house conventions (label with resources, stub, versions.yml);
- every process's actual script command, rendered from its module file, runs on the simulated cohort
  and writes the outputs its `output:` block declares; so does its stub;
- the Dockerfiles install exactly the package, extras and torch pin the pipeline needs.
"""

from __future__ import annotations

import glob
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import reftrace
from nextflow_script import process_blocks, render_script

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


@pytest.mark.parametrize("config", ["nextflow.config", "conf/base.config", "conf/test.config",
                                    "conf/modules.config"])
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


def _expand_braces(pattern: str) -> list[str]:
    m = re.search(r"\{([^{}]*)\}", pattern)
    if not m:
        return [pattern]
    return [alt for choice in m.group(1).split(",")
            for alt in _expand_braces(pattern[:m.start()] + choice + pattern[m.end():])]


def _declared_outputs(module: Path, env: dict) -> list[str]:
    """Output globs a task must produce (those marked `optional: true` may be absent)."""
    lines = [ln for ln in process_blocks(module)["output"].splitlines() if "optional: true" not in ln]
    globs = re.findall(r"""path\(?\s*['"]([^'"]+)['"]""", "\n".join(lines))
    return [re.sub(r"\$\{(\w+)\}", lambda m: str(env[m.group(1)]), g) for g in globs]


# Pipeline parameters for the runs below: defaults, with the closed-form oracle as the model.
TEST_PARAMS = defaults() | {"model": "oracle", "tracks": "oracle:TATA,oracle:CACGTG"}


def _stage(value: Path, workdir: Path) -> str:
    link = workdir / value.name
    if not link.exists():
        link.symlink_to(value)
    return value.name


def _run_process(module: Path, env: dict, workdir: Path, section: str = "script") -> Path:
    """Stage inputs (symlinks, as Nextflow does), run the rendered script, check declared outputs."""
    workdir.mkdir(parents=True)
    staged: dict[str, object] = {}
    for name, value in env.items():
        if isinstance(value, Path):
            staged[name] = _stage(value, workdir)
        elif isinstance(value, list):
            staged[name] = [_stage(v, workdir) for v in value]
        else:
            staged[name] = value
    script = render_script(module, staged, TEST_PARAMS, module.parent.name.upper(), section)
    bin_dir = Path(sys.executable).parent  # the `seqgx` entry point of this environment
    env_vars = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    proc = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=workdir, env=env_vars,
                          capture_output=True, text=True)
    assert proc.returncode == 0, f"{module.parent.name} {section} failed:\n{script}\n{proc.stderr}"
    for pattern in _declared_outputs(module, staged):
        for alternative in _expand_braces(pattern):  # Nextflow globs know {a,b}; Python's do not
            assert glob.glob(str(workdir / alternative)), f"{module.parent.name}: no output {alternative}"
    return workdir


def test_process_scripts_run_on_cohort(cohort: dict, tmp_path: Path) -> None:
    """CHECK_INPUTS -> GENES -> PERSONALIZE -> PREDICT -> ISM -> STATS -> MERGE, each from its module's
    own script block, on the first batch's first two genes."""
    mods = {m.parent.name: m for m in MODULES}
    fasta, vcf = Path(cohort["fasta"]), Path(cohort["vcf"])
    common = {"fasta": fasta, "fai": Path(str(fasta) + ".fai"), "vcf": vcf,
              "vcf_index": Path(str(vcf) + ".tbi")}
    check = _run_process(mods["check_inputs"], {
        **common, "annotation": Path(cohort["gtf"]), "expression": Path(cohort["expression"]),
        "sample_map": None, "gene_list": None}, tmp_path / "check")
    genes = _run_process(mods["genes"], {
        "annotation": Path(cohort["gtf"]), "expression": Path(cohort["expression"]), "gene_list": None,
        "contigs": check / "check" / "contigs.tsv"}, tmp_path / "genes")
    batches = sorted((genes / "genes" / "batches").glob("*.tsv"))
    assert batches
    hap = _run_process(mods["personalize"], {**common, "batch": batches[0],
                                             "samples": check / "check" / "samples.tsv"}, tmp_path / "pers")
    hap_files = sorted((hap / "haplotypes").glob("*.haplotypes.npz"))[:2]
    assert hap_files
    pred = _run_process(mods["predict"], {"batch_id": "b1", "haplotypes": hap_files, "model_file": None,
                                          "finetuned_weights": None, "track_names": None}, tmp_path / "pred")
    predictions = sorted((pred / "predictions").glob("*.predictions.tsv"))
    assert len(predictions) == len(hap_files)
    predictions += sorted((pred / "predictions").glob("*.reference.json"))
    ism = _run_process(mods["ism"], {"batch_id": "b1", "haplotypes": hap_files, "model_file": None,
                                     "finetuned_weights": None, "track_names": None}, tmp_path / "ism")
    isms = sorted((ism / "ism").glob("*.ism.tsv"))
    stats = _run_process(mods["stats"], {"batch_id": "b1", "haplotypes": hap_files,
                                         "predictions": predictions, "ism": isms,
                                         "expression": Path(cohort["expression"]),
                                         "vcf": vcf, "vcf_index": common["vcf_index"], "predictdb": None},
                         tmp_path / "stats")
    merged = _run_process(mods["merge"], {"genes_tables": [stats / "stats" / "b1.genes.tsv"],
                                          "drivers_tables": [stats / "stats" / "b1.drivers.tsv"],
                                          "genes": genes / "genes" / "genes.tsv"}, tmp_path / "merge")
    import pandas as pd

    table = pd.read_csv(merged / "assessment" / "genes.tsv", sep="\t")
    assert len(table) == len(hap_files) * 2  # two readouts: oracle TATA and CACGTG
    assert set(table["model"]) == {"oracle"}  # the model identity reached the final table


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.parent.name)
def test_process_stubs_run(module: Path, tmp_path: Path) -> None:
    inputs = re.findall(r"path\(?\s*(\w+)\)?", process_blocks(module)["input"])
    env: dict[str, object] = {}
    for name in inputs:
        f = tmp_path / "inputs" / f"{name}.txt"
        f.parent.mkdir(exist_ok=True)
        f.write_text("stub\n")
        env[name] = f
    for name in re.findall(r"val\(?\s*(\w+)\)?", process_blocks(module)["input"]):
        env[name] = "stub"
    _run_process(module, env, tmp_path / "work", section="stub")


# --- containers --------------------------------------------------------------------------------


def _pyproject() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text())


def test_dockerfiles_install_the_package_and_pins() -> None:
    deps = _pyproject()["project"]["dependencies"]
    torch_pin = next(d for d in deps if d.startswith("torch"))
    assert torch_pin == "torch==2.13.0"
    cpu = (REPO / "containers" / "Dockerfile").read_text()
    gpu = (REPO / "containers" / "Dockerfile.gpu").read_text()
    for text in (cpu, gpu):
        assert "torch==2.13.0" in text  # same release as the package pin, from the matching index
        assert "COPY src /src/src" in text and "COPY pyproject.toml" in text
        assert "seqgx --version" in text  # the image proves its entry point works at build time
    assert re.search(r"pip install --no-cache-dir /src\b", cpu) and "[gpu]" not in cpu
    assert '"/src[gpu]"' in gpu
    assert _pyproject()["project"]["optional-dependencies"]["gpu"] == ["onnxruntime-gpu>=1.18"]
    # The images need nothing from the test extra.
    assert "[test]" not in cpu and "[test]" not in gpu


def test_config_containers_match_dockerfile_tags() -> None:
    config = (REPO / "nextflow.config").read_text()
    assert "container = 'seqgx:0.1.0'" in config
    assert "'seqgx-gpu:0.1.0'" in config
    assert "seqgx:0.1.0" in (REPO / "containers" / "Dockerfile").read_text()
    assert "seqgx-gpu:0.1.0" in (REPO / "containers" / "Dockerfile.gpu").read_text()
    version = _pyproject()["project"]["version"]
    assert f"version         = '{version}'" in config


# --- nf-test files (nf-test cannot run here; check they point at what exists) -------------------

NF_TESTS = sorted(REPO.rglob("*.nf.test"))
assert REPO / "tests" / "nextflow" / "main.nf.test" in NF_TESTS and (REPO / "nf-test.config").is_file()


@pytest.mark.parametrize("test_file", NF_TESTS, ids=lambda p: str(p.relative_to(REPO)))
def test_nf_test_files_reference_existing_scripts_and_processes(test_file: Path) -> None:
    text = test_file.read_text()
    scripts = re.findall(r'script\s+"([^"]+)"', text)
    assert scripts
    for script in scripts:
        assert (test_file.parent / script).resolve().is_file(), script
    processes = {m.parent.name.upper() for m in MODULES}
    for name in re.findall(r'process\s+"(\w+)"|run\("(\w+)"\)', text):
        assert set(filter(None, name)) <= processes, name
    for param in re.findall(r"^\s+(\w+)\s+=", text, re.M):
        assert param in defaults() or param == "outdir", f"{test_file.name}: unknown param {param}"
    assert text.count("{") == text.count("}")



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
    staged_as_inputs = {p.name for p in PARAMS if p.is_path} | {"outdir"}
    for step in STEPS:
        params = _RecordingParams(defaults() | {"fasta": "f", "vcf": "v", "annotation": "a",
                                                "expression": "e"})
        step.commands(params, tmp_path)
        module = REPO / "modules" / "local" / step.name.replace("-", "_") / "main.nf"
        in_module = set(re.findall(r"params\.(\w+)", module.read_text()))
        assert params.read - staged_as_inputs == in_module - staged_as_inputs, step.name
