"""The pipeline under the real Nextflow runtime (local executor, no containers, seqgx from this venv).

Nextflow is assembled from Maven Central by ``tools/nextflow/install`` (``make nextflow``); CI installs
the oldest supported release (24.10.0, which runs the pipeline) and 25.04.0 (``nextflow lint``). Without
them these tests skip on a developer's machine and fail under CI=true, so CI can never pass without
having run them. Offline there is no plugin registry: every run sets SEQGX_NO_PLUGINS=true and the
parameters are checked by main.nf's own schema validation.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from cli_helpers import run_cli

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "data" / "cohort"
RUN_VERSION = "24.10.0"
LINT_VERSION = "25.04.0"


def _nextflow(version: str) -> Path | None:
    wrapper = REPO / ".nextflow-runtime" / version / "bin" / "nextflow"
    return wrapper if wrapper.is_file() else None


def _require(version: str) -> Path:
    found = _nextflow(version)
    if found is None:
        message = f"Nextflow {version} not installed; run 'make nextflow'"
        if os.environ.get("CI"):
            pytest.fail(message + " (CI must run these tests)")
        pytest.skip(message)
    return found


def nextflow(*args: str, cwd: Path, version: str = RUN_VERSION, timeout: int = 600
             ) -> subprocess.CompletedProcess:
    """Run Nextflow with this venv's `seqgx` first on PATH, offline, in ``cwd``."""
    launcher = _require(version)
    environ = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
               "SEQGX_NO_PLUGINS": "true", "NXF_OFFLINE": "true", "NXF_ANSI_LOG": "false"}
    return subprocess.run([str(launcher), *args], cwd=cwd, env=environ, capture_output=True, text=True,
                          timeout=timeout)


def _ok(proc: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    return proc


def _task_dirs(work: Path, process: str) -> list[Path]:
    """Work directories of the tasks of one process (named in the header of each task's .command.run)."""
    header = re.compile(rf"^### name: '(\w+:)*{process}( \(|')", re.M)  # SEQGX:ATTRIBUTION:ISM (...)
    return sorted(p.parent for p in work.glob("*/*/.command.run") if header.search(p.read_text()))


def _trace(outdir: Path) -> pd.DataFrame:
    return pd.read_csv(outdir / "pipeline_info" / "trace.txt", sep="\t")


def _process_names(trace: pd.DataFrame) -> pd.Series:
    """Each task's process, without its workflow path (SEQGX:ATTRIBUTION:ISM (chr1_1) -> ISM)."""
    return trace["name"].str.split(" ").str[0].str.split(":").str[-1]


PROCESSES = {"PLAN", "CHECK_INPUTS", "GENES", "PERSONALIZE", "PREDICT", "STATS", "ATTRIBUTION_GENES", "ISM",
             "ATTRIBUTION_STATS", "MOTIFS", "MERGE", "REPORT"}


@pytest.mark.parametrize("version", [RUN_VERSION, LINT_VERSION])
def test_stub_run_wires_every_process(version: str, tmp_path: Path) -> None:
    """A hub model with the onnx backend: fetched once, exported once, the ONNX file to PREDICT and the
    torch weights to ISM; hparams given as a file is staged with them."""
    hparams = tmp_path / "hparams.json"
    hparams.write_text('{"dim": 48, "depth": 1}')
    _ok(nextflow("run", str(REPO), "-profile", "test", "-stub", "--outdir", "results",
                 "--model", "EleutherAI/enformer-official-rough", "--backend", "onnx",
                 "--hparams", str(hparams), cwd=tmp_path, version=version))
    trace = _trace(tmp_path / "results")
    names = _process_names(trace)
    assert set(names) == PROCESSES | {"FETCH_MODEL", "EXPORT_ONNX"}
    # the layout: the model in PREPARE_MODEL, phase 2 in ATTRIBUTION, the rest in SEQGX
    paths = trace["name"].str.split(" ").str[0].str.rsplit(":", n=1).str[0]
    workflows = dict(zip(names, paths, strict=True))
    phase2 = {"ATTRIBUTION_GENES", "ISM", "ATTRIBUTION_STATS", "MOTIFS"}
    assert workflows["FETCH_MODEL"] == workflows["EXPORT_ONNX"] == "SEQGX:PREPARE_MODEL"
    assert {workflows[n] for n in phase2} == {"SEQGX:ATTRIBUTION"}
    assert {workflows[n] for n in PROCESSES - phase2} == {"SEQGX"}
    assert (names == "FETCH_MODEL").sum() == 1 and (names == "EXPORT_ONNX").sum() == 1
    assert (trace["status"] == "COMPLETED").all()
    for name in ("genes.tsv", "drivers.tsv", "summary.json"):
        assert (tmp_path / "results" / "assessment" / name).is_file()
    assert (tmp_path / "results" / "pipeline_info" / "versions.yml").is_file()
    work = tmp_path / "work"
    (export,) = _task_dirs(work, "EXPORT_ONNX")
    assert (export / "enformer-official-rough").is_symlink() and (export / "hparams.json").is_symlink()
    for task in _task_dirs(work, "PREDICT"):
        assert (task / "model.onnx").is_symlink() and (task / "hparams.json").is_symlink()
    for task in _task_dirs(work, "ISM"):
        assert (task / "enformer-official-rough").is_symlink() and (task / "hparams.json").is_symlink()
    # Without predictdb, STATS stages no VCF.
    (stats,) = _task_dirs(work, "STATS")
    assert not list(stats.glob("*.vcf.gz"))


#: The test profile's parameters (conf/test.config) as a user's params file, the cohort given as
#: per-chromosome VCFs (a glob).
PIPELINE_PARAMS = {"fasta": str(DATA / "reference.fa"), "vcf": str(DATA / "cohort.chr*.vcf.gz"),
                   "annotation": str(DATA / "genes.gtf"), "expression": str(DATA / "expression.tsv"),
                   "window_length": 16384, "genes_per_batch": 4, "model": "oracle", "null_draws": 200,
                   "report_top_genes": 2}


def _pipeline(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """The test cohort as a user runs it: no profile (the local executor and base.config's requests:
    PREDICT asks 4 CPUs), its parameters in a params file, a boolean on the command line as 'false'."""
    (cwd / "params.json").write_text(json.dumps(PIPELINE_PARAMS))
    return _ok(nextflow("run", str(REPO), "-params-file", "params.json", "--reverse_complement", "false",
                        *args, cwd=cwd))


@pytest.fixture(scope="module")
def pipeline_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The test cohort end to end without -profile test (tests/nextflow.config and conf/test.config
    cap resources; a user's run does not have them)."""
    work = tmp_path_factory.mktemp("nextflow")
    proc = _pipeline("--outdir", "results", cwd=work)
    (work / "launch.log").write_text(proc.stdout)
    return work


def test_local_run_fits_the_machine(pipeline_run: Path) -> None:
    """The local executor caps each request at this machine's CPUs and memory (conf/base.config) and
    says so in one line; PREDICT's 4 CPUs run on a 2-CPU machine."""
    cpus = os.cpu_count() or 1
    log = (pipeline_run / "launch.log").read_text()
    lines = [line for line in log.splitlines() if "requests capped" in line]
    if cpus < 4:
        assert len(lines) == 1, log
        assert f"process_gpu 4 -> {cpus} CPUs" in lines[0] and f"capped to {cpus} CPUs" in lines[0]
    trace = _trace(pipeline_run / "results")
    assert (trace["status"] == "COMPLETED").all()
    for task in _task_dirs(pipeline_run / "work", "PREDICT"):
        threads = int(re.search(r"--threads (\d+)", (task / ".command.sh").read_text()).group(1))
        assert threads == min(4, cpus)


def test_max_cpus_wins_over_the_machine(tmp_path: Path) -> None:
    proc = _ok(nextflow("run", str(REPO), "-profile", "test", "-stub", "--outdir", "results",
                        "--max_cpus", "1", "--max_memory", "3.GB", cwd=tmp_path))
    assert "requests capped to 1 CPUs and 3 GB" in proc.stdout
    assert "process_gpu 4 -> 1 CPUs, 16 GB -> 3 GB" in proc.stdout


def test_full_run_equals_seqgx_run(pipeline_run: Path, tmp_path: Path) -> None:
    """Nextflow's results are those of `seqgx run` on the same parameters (conf/test.config), which
    reads the single whole-cohort VCF: a second implementation of the wiring."""
    params = {"fasta": str(DATA / "reference.fa"), "vcf": str(DATA / "cohort.vcf.gz"),
              "annotation": str(DATA / "genes.gtf"), "expression": str(DATA / "expression.tsv"),
              "outdir": str(tmp_path / "results"), "window_length": 16384, "genes_per_batch": 4,
              "model": "oracle", "null_draws": 200}
    (tmp_path / "params.json").write_text(json.dumps(params))
    proc = run_cli("run", str(tmp_path / "params.json"), "-q", "--until", "merge")  # the tables only
    assert proc.returncode == 0, proc.stderr
    ours = pd.read_csv(pipeline_run / "results" / "assessment" / "genes.tsv", sep="\t")
    theirs = pd.read_csv(tmp_path / "results" / "assessment" / "genes.tsv", sep="\t")
    assert len(ours) == len(theirs) > 0
    key = ["gene_id", "readout"]
    pd.testing.assert_frame_equal(ours.sort_values(key).reset_index(drop=True),
                                  theirs.sort_values(key).reset_index(drop=True))
    for sub, pattern in [("haplotypes", "*.haplotypes.npz"), ("predictions", "*.predictions.tsv"),
                         ("ism", "*.ism.tsv"), ("stats", "*.genes.tsv"), ("check", "vcfs.tsv")]:
        assert sorted(p.name for p in (pipeline_run / "results" / sub).glob(pattern)) == sorted(
            p.name for p in (tmp_path / "results" / sub).glob(pattern)), sub


def test_each_personalize_task_stages_only_its_chromosomes_vcf(pipeline_run: Path) -> None:
    tasks = _task_dirs(pipeline_run / "work", "PERSONALIZE")
    assert len(tasks) == 2  # one batch per chromosome in the fixture
    for task in tasks:
        batch = next(task.glob("chr*_*.tsv"))
        contig = pd.read_csv(batch, sep="\t")["vcf_contig"].iloc[0]
        assert sorted(p.name for p in task.glob("*.vcf.gz")) == [f"cohort.{contig}.vcf.gz"]


def test_cli_false_is_a_boolean(pipeline_run: Path) -> None:
    tasks = _task_dirs(pipeline_run / "work", "PREDICT")
    assert tasks
    for task in tasks:
        assert "--reverse-complement" not in (task / ".command.sh").read_text()


def test_threads_follow_task_cpus(pipeline_run: Path) -> None:
    """Every compute step gets the task's CPUs (capped by resourceLimits at the machine's)."""
    for process in ("PERSONALIZE", "PREDICT", "ISM", "STATS"):
        tasks = _task_dirs(pipeline_run / "work", process)
        assert tasks, process
        for task in tasks:
            script = (task / ".command.sh").read_text()
            cpus = int(re.search(r"--threads (\d+)", script).group(1))
            assert 1 <= cpus <= min(4, os.cpu_count() or 1), (process, cpus)


def test_resume_reuses_every_task(pipeline_run: Path) -> None:
    """MERGE collects its inputs sorted, so a resumed run finds them in the same order and caches it."""
    _pipeline("--outdir", "results", "-resume", cwd=pipeline_run)
    trace = _trace(pipeline_run / "results")
    assert set(trace["status"]) == {"CACHED"}, trace[["name", "status"]]
    assert "SEQGX:MERGE (default)" in set(trace["name"])  # the one tissue of --expression


def test_resume_with_a_new_selection_reruns_only_what_changed(pipeline_run: Path) -> None:
    """Phase 1 is reused; of phase 2 only the batch whose genes changed runs again: the test profile
    selects SIMG2, SIMG3 (chr1) and SIMG5, SIMG6 (chr2); a list adding SIMG4 (chr2) changes chr2's
    phase-2 batch only."""
    chosen = pd.read_csv(pipeline_run / "results" / "attribution" / "attribution_genes.tsv", sep="\t")
    assert sorted(chosen.loc[chosen["selected"], "gene_name"]) == ["SIMG2", "SIMG3", "SIMG5", "SIMG6"]
    (pipeline_run / "genes.txt").write_text("SIMG2\nSIMG3\nSIMG4\nSIMG5\nSIMG6\n")
    _pipeline("--outdir", "results_list", "-resume", "--attribution_genes", "genes.txt", cwd=pipeline_run)
    trace = _trace(pipeline_run / "results_list")
    status = dict(zip(trace["name"], trace["status"], strict=True))
    for name, state in status.items():
        process = name.split(" ")[0].split(":")[-1]
        if process in ("CHECK_INPUTS", "GENES", "PERSONALIZE", "PREDICT", "STATS"):
            assert state == "CACHED", name
    assert status["SEQGX:ATTRIBUTION:ISM (attribution_chr1_1)"] == "CACHED"
    assert status["SEQGX:ATTRIBUTION:ISM (attribution_chr2_1)"] == "COMPLETED"
    assert status["SEQGX:ATTRIBUTION:ATTRIBUTION_GENES"] == "COMPLETED"
    genes = pd.read_csv(pipeline_run / "results_list" / "assessment" / "genes.tsv", sep="\t")
    assert (genes.loc[genes["gene_name"] == "SIMG4", "attribution_status"] == "computed").all()


def test_bad_parameters_stop_before_any_task(tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text("ref_mismatch: ''\n")  # empty: the schema's minLength, as seqgx run
    proc = nextflow("run", str(REPO), "-profile", "test", "-stub", "--outdir", "results",
                    "-params-file", "p.yaml",
                    "--backend", "tensorflow", "--null_draws", "many", "--predictdb", "/no/such.db",
                    cwd=tmp_path)
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    assert "--ref_mismatch is empty: give a value or leave it out for the default" in out
    assert "--backend must be one of auto, onnx, torch, got 'tensorflow'" in out
    assert "--null_draws must be of type integer, got 'many'" in out
    assert "--predictdb: no file at '/no/such.db'" in out
    assert not (tmp_path / "work").exists() or not list((tmp_path / "work").glob("*/*/.command.sh"))


@pytest.mark.parametrize("case", ["covariates_with_tissues", "bad_tissue_name", "both_expressions"])
def test_both_runners_refuse_the_same_params_file_with_the_same_line(case: str, tmp_path: Path) -> None:
    """Rules across parameters and the tissues samplesheet are checked once, in Python (seqgx.plan):
    `seqgx run` and `nextflow run` give the same one-line error for the same params file."""
    sheet = tmp_path / "tissues.csv"
    sheet.write_text("tissue,expression\nbrain,brain.tsv\n" if case != "bad_tissue_name"
                     else "tissue,expression\nbrain/cortex,brain.tsv\n")
    (tmp_path / "brain.tsv").write_text((DATA / "expression.tsv").read_text())
    params = {k: v for k, v in PIPELINE_PARAMS.items() if k != "expression"} | {"tissues": str(sheet)}
    if case == "covariates_with_tissues":
        params["covariates"] = str(DATA / "tissues" / "brain.covariates.txt")
    if case == "both_expressions":
        params["expression"] = str(DATA / "expression.tsv")
    (tmp_path / "params.json").write_text(json.dumps(params))
    seqgx = subprocess.run([str(Path(sys.executable).parent / "seqgx"), "run", "params.json", "--outdir",
                            "seqgx_results"], cwd=tmp_path, capture_output=True, text=True)
    assert seqgx.returncode == 2
    (line,) = [x for x in seqgx.stderr.splitlines() if "error:" in x]
    reason = line.split(": ", 3)[-1]  # after 'seqgx run: error: <source>: '
    proc = nextflow("run", str(REPO), "-params-file", "params.json", "--outdir", "results", cwd=tmp_path)
    assert proc.returncode != 0
    assert reason in proc.stdout + proc.stderr, (reason, proc.stdout[-3000:])
    assert not (tmp_path / "results" / "check").exists()  # nothing after the plan ran


def test_tissue_names_with_dots_are_published_under_their_folders(tmp_path: Path) -> None:
    """The tissue and batch of every table come from the task's meta map: a '.' in a tissue name is
    fine (stub run: the wiring and publishing, not the numbers)."""
    sheet = tmp_path / "tissues.csv"
    sheet.write_text(f"tissue,expression\nbrain.cortex,{DATA / 'expression.tsv'}\nliver,"
                     f"{DATA / 'tissues' / 'liver.expression.bed.gz'}\n")
    # the test profile's expression is unset by a params file (`--expression ''` reads as true)
    (tmp_path / "params.json").write_text(json.dumps({"expression": None, "tissues": str(sheet)}))
    _ok(nextflow("run", str(REPO), "-profile", "test", "-stub", "--outdir", "results", "-params-file",
                 "params.json", cwd=tmp_path))
    for tissue in ("brain.cortex", "liver"):
        published = sorted(p.name for p in (tmp_path / "results" / "stats" / tissue).iterdir())
        # <batch>.<table>: the tissue is the folder, not a prefix of the name
        assert published and not any(n.startswith(tissue) for n in published), published
        assert {n.split(".", 1)[1] for n in published} == {"genes.tsv", "drivers.tsv", "genedata.npz"}
        assert (tmp_path / "results" / "assessment" / tissue / "genes.tsv").is_file()
        assert (tmp_path / "results" / "report" / tissue / "index.html").is_file()


def test_missing_required_parameter(tmp_path: Path) -> None:
    proc = nextflow("run", str(REPO), "-stub", "--outdir", "results", cwd=tmp_path)
    assert proc.returncode != 0
    assert "--fasta is required" in proc.stdout + proc.stderr


def _profiles() -> list[str]:
    config = (REPO / "nextflow.config").read_text()
    block = config[config.index("profiles {"):]
    return re.findall(r"^    (\w+) \{", block, re.M)


@pytest.mark.parametrize("profile", _profiles())
def test_config_resolves_for_every_profile(profile: str, tmp_path: Path) -> None:
    proc = _ok(nextflow("config", str(REPO), "-profile", profile, "-flat", cwd=tmp_path))
    flat = proc.stdout
    assert "process.resourceLimits" in flat
    assert "params.max_memory" in flat


def test_lint_is_clean(tmp_path: Path) -> None:
    """`nextflow lint` (Nextflow's strict syntax) on every script and config of the pipeline."""
    files = ["main.nf", "modules", "subworkflows", "nextflow.config", "conf"]
    proc = nextflow("lint", *files, cwd=REPO, version=LINT_VERSION)
    _ok(proc)
    assert re.search(r"\d+ files? had no errors", proc.stdout + proc.stderr)
    assert "had 1 error" not in proc.stdout and "errors" not in proc.stdout.split("complete!")[-1].replace(
        "no errors", "")


def test_nextflow_installer_refuses_an_unknown_version(tmp_path: Path) -> None:
    if shutil.which("mvn") is None and not os.environ.get("CI"):
        pytest.skip("Maven not installed")
    proc = subprocess.run(["bash", str(REPO / "tools" / "nextflow" / "install"), "1.0", str(tmp_path)],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert "no pom for Nextflow 1.0" in proc.stderr and "24.10.0" in proc.stderr


def test_awsbatch_profile_stops_before_any_task_without_s3_and_queues(tmp_path: Path) -> None:
    proc = nextflow("run", str(REPO), "-profile", "test,awsbatch", "-stub", "--outdir", "results",
                    cwd=tmp_path)
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    for fragment in ("is not on S3: run with -work-dir s3://BUCKET/work", "--aws_queue is not set",
                     "--aws_region is not set", "set --aws_cli_path"):
        assert fragment in out
    assert not list((tmp_path / "work").glob("*/*/.command.sh"))


def test_profiles_address_registry_images_and_fail_fast_without_a_gpu(tmp_path: Path) -> None:
    version = re.search(r"version\s*=\s*'([^']+)'", (REPO / "nextflow.config").read_text()).group(1)
    flat = _ok(nextflow("config", str(REPO), "-profile", "gpu,awsbatch", "-flat", cwd=tmp_path)).stdout
    assert f"process.container = 'ghcr.io/seqgx/seqgx:{version}'" in flat
    assert f"'ghcr.io/seqgx/seqgx-gpu:{version}'" in flat
    assert "params.device = 'cuda'" in flat and "params.providers = 'cuda'" in flat
    assert "process.executor = 'awsbatch'" in flat and "cliPath" not in flat.split("aws.batch")[0]


def test_tissues_with_the_onnx_backend(tissues_seqgx_run: Path, tmp_path: Path) -> None:
    """Two tissues (--tissues) with backend 'onnx', in one run to keep the suite short.

    Tissues: PERSONALIZE and PREDICT once per batch for both tissues' readouts, STATS per batch and
    tissue, MERGE and REPORT per tissue, tables published per tissue. ONNX: EXPORT_ONNX once
    (parity-checked by seqgx export-onnx), PREDICT runs the ONNX file, ISM the torch model. Every table
    equals `seqgx run`'s with torch (the oracle is exact in both), the model's identity aside."""
    from conftest import TISSUES_RUN_PARAMS

    params = {**TISSUES_RUN_PARAMS, "expression": None, "tissues": str(DATA / "tissues.csv"),
              "finemapped": str(DATA / "finemapped.tsv"), "backend": "onnx"}
    (tmp_path / "params.json").write_text(json.dumps(params))
    _ok(nextflow("run", str(REPO), "-profile", "test", "--outdir", "results", "-params-file", "params.json",
                 cwd=tmp_path))
    trace = _trace(tmp_path / "results")
    count = _process_names(trace).value_counts()
    assert count["EXPORT_ONNX"] == 1
    assert count["PERSONALIZE"] == count["PREDICT"] == 2 and count["STATS"] == 4
    assert count["MERGE"] == count["REPORT"] == 2
    for task in _task_dirs(tmp_path / "work", "PREDICT"):
        script = (task / ".command.sh").read_text()
        assert "--model model.onnx" in script and "--tracks oracle:TATA 0" in script
    for tissue in ("brain", "liver"):
        assert (tmp_path / "results" / "report" / tissue / "index.html").is_file()
        published = (tmp_path / "results" / "stats" / tissue).glob("*.genes.tsv")
        assert sorted(p.name for p in published) == sorted(
            p.name for p in (tissues_seqgx_run / "stats" / tissue).glob("*.genes.tsv"))
        for table, key in (("genes.tsv", ["gene_id", "readout"]),
                           ("drivers.tsv", ["gene_id", "readout", "variant_id"])):
            onnx = pd.read_csv(tmp_path / "results" / "assessment" / tissue / table, sep="\t")
            torch = pd.read_csv(tissues_seqgx_run / "assessment" / tissue / table, sep="\t")
            assert len(onnx) == len(torch) > 0 and set(onnx["tissue"]) == {tissue}
            onnx, torch = (t.sort_values(key).reset_index(drop=True) for t in (onnx, torch))
            if table == "genes.tsv":
                assert set(onnx["model"]) == {"model.onnx"} and set(torch["model"]) == {"oracle"}
                onnx, torch = (t.drop(columns=["model", "model_sha256"]) for t in (onnx, torch))
            numeric = [c for c in torch.columns if pd.api.types.is_float_dtype(torch[c])]
            pd.testing.assert_frame_equal(onnx.drop(columns=numeric), torch.drop(columns=numeric))
            pd.testing.assert_frame_equal(onnx[numeric], torch[numeric], rtol=1e-6, atol=1e-9)


def test_a_model_path_that_does_not_exist_is_not_taken_for_a_hub_id(tmp_path: Path) -> None:
    proc = nextflow("run", str(REPO), "-profile", "test", "-stub", "--outdir", "results",
                    "--model", "models/enformer.pt", cwd=tmp_path)
    assert proc.returncode != 0
    assert "--model 'models/enformer.pt': no such file or folder" in proc.stdout + proc.stderr
    assert not list((tmp_path / "work").glob("*/*/.command.sh"))
