"""`seqgx run`: the pipeline's steps in one process on one machine.

Each step is run through the same subcommand a Nextflow process runs (``seqgx.cli.main``), with the
arguments derived from the params file; a test checks that each step here and its Nextflow module read
the same parameters. Outputs go under ``outdir``: ``check/``, ``genes/``, ``haplotypes/``, ``model/``
(the ONNX export, with backend 'onnx' and torch weights), ``predictions/``, ``ism/``, ``stats/``,
``assessment/``.
"""

from __future__ import annotations

import contextlib
import io
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from seqgx.errors import SeqgxError
from seqgx.log import get_logger
from seqgx.params import step_flags

log = get_logger(__name__)


def _opt(flag: str, value: Any) -> list[str]:
    """['--flag', 'value'] when value is set, else []."""
    return [] if value is None or value == "" else [flag, str(value)]


@dataclass
class Step:
    name: str
    commands: Callable[[dict, Path], list[list[str]]]  # params, outdir -> argv lists to run in order


def _vcf_specs(p: dict) -> list[str]:
    """The `vcf` param as specs (files, globs, samplesheets); a YAML list arrives comma-joined."""
    value = p["vcf"]
    items = value if isinstance(value, list) else str(value).split(",")
    return [s for s in (str(v).strip() for v in items) if s]


def _batch_vcf(p: dict, out: Path, batch: Path) -> str:
    """The VCF holding the batch's chromosome (check/vcfs.tsv), so a task reads only that file."""
    import pandas as pd

    table = out / "check" / "vcfs.tsv"
    if not table.is_file():  # only when commands are listed without check-inputs having run
        return p["vcf"]
    vcfs = pd.read_csv(table, sep="\t", dtype=str, keep_default_na=False)
    files = dict(zip(vcfs["vcf_contig"], vcfs["vcf"], strict=True))
    genes = pd.read_csv(batch, sep="\t", dtype=str, keep_default_na=False)
    contigs = sorted(set(genes.get("vcf_contig", pd.Series(dtype=str))) - {""})
    if len(contigs) > 1:
        raise SeqgxError(f"batch file '{batch}' has genes on VCF contigs {', '.join(contigs)}; a batch "
                         f"holds one chromosome: re-run 'seqgx genes'")
    if not contigs:  # a chromosome without VCF records: no file is better than another
        return next(iter(files.values()))
    if contigs[0] not in files:
        raise SeqgxError(f"batch file '{batch}': VCF contig '{contigs[0]}' is not in '{table}'; re-run "
                         f"'seqgx check-inputs' and 'seqgx genes' with the same inputs")
    return files[contigs[0]]


def _plan(p: dict) -> dict[str, Any]:
    """The run's decisions (seqgx.plan), the same that Nextflow's PLAN process writes."""
    from seqgx.plan import make_plan

    return make_plan(p)


def _tissues(p: dict) -> list[dict[str, Any]]:
    """The run's tissues as the plan has them: name, expression, covariates, readouts, stats_flags."""
    return _plan(p)["tissues"]


def _per_tissue(p: dict, folder: Path, tissue: Any) -> Path:
    """A tissue's folder under ``folder``: ``folder/<tissue>`` with a samplesheet, ``folder`` itself for
    the one tissue of ``expression`` (the layout of runs without tissues)."""
    return folder / tissue["name"] if p["tissues"] else folder


def _check_inputs(p: dict, out: Path) -> list[list[str]]:
    if p["tissues"]:
        expression = []
        for t in _tissues(p):
            covariates = [t["covariates"]] if t["covariates"] else []
            expression += ["--tissue", t["name"], t["expression"], *covariates]
    else:
        expression = ["--expression", p["expression"], *_opt("--covariates", p["covariates"])]
    return [["check-inputs", "--fasta", p["fasta"], "--vcf", *_vcf_specs(p), "--annotation", p["annotation"],
             *expression, *_opt("--sample-map", p["sample_map"]),
             *_opt("--gene-list", p["gene_list"]), *step_flags(p, "check-inputs"),
             "--out", str(out / "check")]]


def _genes(p: dict, out: Path) -> list[list[str]]:
    expression = [t["expression"] for t in _tissues(p)]
    return [["genes", "--annotation", p["annotation"], "--expression", *expression,
             *_opt("--gene-list", p["gene_list"]), *step_flags(p, "genes"),
             "--contigs", str(out / "check" / "contigs.tsv"), "--out", str(out / "genes")]]


def _batches(out: Path) -> list[Path]:
    batches = sorted((out / "genes" / "batches").glob("*.tsv"))
    if not batches:
        raise SeqgxError(f"no gene batches in '{out / 'genes' / 'batches'}'; "
                         f"check the gene list, chromosomes and expression genes")
    return batches


def _attribution_batches(out: Path) -> list[Path]:
    """Phase 2's batches (seqgx attribution-genes); none when no gene was selected."""
    return sorted((out / "attribution" / "batches").glob("*.tsv"))


def _personalize(p: dict, out: Path) -> list[list[str]]:
    return [["personalize", "--batch", str(b), "--fasta", p["fasta"], "--vcf", _batch_vcf(p, out, b),
             "--samples", str(out / "check" / "samples.tsv"), *step_flags(p, "personalize"),
             "--out", str(out / "haplotypes")] for b in _batches(out)]


def _export_onnx(p: dict, out: Path) -> list[list[str]]:
    plan = _plan(p)
    if not plan["export_onnx"]:
        return []
    # All bins and tracks, so every readout predict builds works on it.
    return [["export-onnx", "--model", p["model"], *plan["model_flags"]["export-onnx"],
             *_opt("--track-names", p["track_names"]), *step_flags(p, "export-onnx"),
             "--out", str(out / "model" / "model.onnx")]]


def _model_argv(p: dict, step: str, model: str) -> list[str]:
    """A model step's flags: the model (a file or folder; a named model is in the plan's flags), the
    plan's derived flags (backend, readouts, ISM method) and the parameters passed as they are."""
    from seqgx.plan import NAMED_MODELS

    return [*([] if model in NAMED_MODELS else ["--model", model]), *_plan(p)["model_flags"][step],
            *_opt("--track-names", p["track_names"]), *step_flags(p, step)]


def _haplotype_files(out: Path, batch: Path) -> list[str]:
    """The haplotype files personalize wrote for the genes of one batch."""
    import pandas as pd

    genes = pd.read_csv(batch, sep="\t", dtype=str)["gene_id"]
    files = [out / "haplotypes" / f"{g}.haplotypes.npz" for g in genes]
    missing = [f for f in files if not f.is_file()]
    if missing:
        raise SeqgxError(f"haplotypes file '{missing[0]}' is missing; re-run the personalize step")
    return [str(f) for f in files]


def _predict(p: dict, out: Path) -> list[list[str]]:
    model = str(out / "model" / "model.onnx") if _plan(p)["export_onnx"] else p["model"]
    return [["predict", "--haplotypes", *_haplotype_files(out, b), *_model_argv(p, "predict", model),
             "--out", str(out / "predictions")] for b in _batches(out)]


def _attribution_genes(p: dict, out: Path) -> list[list[str]]:
    tables = [t for tissue in _tissues(p)
              for t in _stats_tables(_per_tissue(p, out / "stats", tissue), _batches(out))]
    return [["attribution-genes", "--stats", *map(str, tables),
             "--windows", str(out / "genes" / "genes.tsv"), "--attribution-genes", p["attribution_genes"],
             *step_flags(p, "attribution-genes"), "--out", str(out / "attribution")]]


def _attribution_weights(p: dict) -> str:
    """The weights ISM and the motif step use (seqgx.plan.attribution_model); a warning when they are an
    ONNX model (the plan's ``ism_onnx``, decided by seqgx.model.build.ism_method_of)."""
    plan = _plan(p)
    if plan["ism_onnx"]:
        log.warning("ISM of the ONNX model '%s' recomputes the whole model for every SNV; give its torch "
                    "weights as ism_model for the fast exact path", p["model"])
    return p["ism_model"] if plan["ism_model"] == "ism_model" else p["model"]


def _ism(p: dict, out: Path) -> list[list[str]]:
    model = _attribution_weights(p)
    return [["ism", "--haplotypes", *_haplotype_files(out, b), *_model_argv(p, "ism", model),
             "--out", str(out / "ism")] for b in _attribution_batches(out)]


def _stats_argv(p: dict, out: Path, batch: Path, ism: bool, dest: Path, tissue: dict) -> list[str]:
    return ["stats", "--haplotypes", *_haplotype_files(out, batch), "--predictions", str(out / "predictions"),
            *(["--ism", str(out / "ism")] if ism else []), "--expression", tissue["expression"],
            *_opt("--covariates", tissue["covariates"]), *tissue["stats_flags"],
            *_opt("--finemapped", p["finemapped"]), *_opt("--predictdb", p["predictdb"]),
            *(["--vcf", _batch_vcf(p, out, batch)] if p["predictdb"] else []), *step_flags(p, "stats"),
            "--batch-name", batch.stem, "--out", str(dest)]


def _stats(p: dict, out: Path) -> list[list[str]]:
    """Phase 1: every gene's statistics that need no attribution, per tissue."""
    return [_stats_argv(p, out, b, False, _per_tissue(p, out / "stats", t), t)
            for t in _tissues(p) for b in _batches(out)]


def _attribution_stats(p: dict, out: Path) -> list[list[str]]:
    """Phase 2: the selected genes' statistics again, with their attribution (approximation, drivers)."""
    return [_stats_argv(p, out, b, True, _per_tissue(p, out / "attribution" / "stats", t), t)
            for t in _tissues(p) for b in _attribution_batches(out)]


def _motifs(p: dict, out: Path) -> list[list[str]]:
    """The selected genes' drivers: neighbourhood ISM, context statistics, seqlets (per phase-2 batch)."""
    if not _plan(p)["motifs"]:
        return []
    model = _attribution_weights(p)
    # Every tissue's drivers of the batch at once (a driver shared by tissues is analysed once).
    stats = [_per_tissue(p, out / "attribution" / "stats", t) for t in _tissues(p)]
    return [["motifs", "--haplotypes", *_haplotype_files(out, b), *_model_argv(p, "motifs", model),
             "--ism", str(out / "ism"), "--drivers", *[str(f / f"{b.stem}.drivers.tsv") for f in stats],
             "--genes", *[str(f / f"{b.stem}.genes.tsv") for f in stats],
             "--batch-name", b.stem, "--out", str(out / "motifs")] for b in _attribution_batches(out)]


def _stats_tables(folder: Path, batches: list[Path]) -> list[Path]:
    """Exactly these batches' tables, never whatever else lies in the folder; one missing is an error."""
    tables = [folder / f"{b.stem}.genes.tsv" for b in batches]
    missing = [t for t in tables if not t.is_file()]
    if missing:
        batch = missing[0].name.split(".")[0]
        raise SeqgxError(f"the stats table '{missing[0]}' of batch {batch} is missing; re-run the stats "
                         f"step (seqgx run --overwrite, or delete {folder.name}/)")
    return tables


def _merge(p: dict, out: Path) -> list[list[str]]:
    """Per tissue: its batches' tables joined, FDR per readout, its summary (``assessment/<tissue>/``)."""
    motifs = [out / "motifs" / f"{b.stem}.driver_motifs.tsv" for b in _attribution_batches(out)]
    motifs = motifs if _plan(p)["motifs"] and motifs else []
    argvs = []
    for t in _tissues(p):
        tables = _stats_tables(_per_tissue(p, out / "stats", t), _batches(out))
        attribution = _stats_tables(_per_tissue(p, out / "attribution" / "stats", t),
                                    _attribution_batches(out))
        costs = [str(out / d) for d in ("predictions", "ism", "motifs") if (out / d).is_dir()]
        argvs.append(["merge", "--genes", *map(str, tables), "--attribution", *map(str, attribution),
                      "--selection", str(out / "attribution" / "attribution_genes.tsv"),
                      *(["--motifs", *map(str, motifs)] if motifs else []), "--costs", *costs,
                      "--annotation", str(out / "genes" / "genes.tsv"),
                      *_opt("--finemapped", p["finemapped"]), *step_flags(p, "merge"),
                      "--out", str(_per_tissue(p, out / "assessment", t))])
    return argvs


def _report(p: dict, out: Path) -> list[list[str]]:
    """The HTML report and the study's figures per tissue, from the merged tables and the per-batch gene
    data (phase 2's after phase 1's, so a selected gene's page shows its attribution)."""
    argvs = []
    for t in _tissues(p):
        stats = [_per_tissue(p, out / d, t) for d in ("stats", "attribution/stats")]
        argvs.append(["report", "--assessment", str(_per_tissue(p, out / "assessment", t)),
                      "--stats", *[str(d) for d in stats if d.is_dir()],
                      *(["--ism", str(out / "ism")] if (out / "ism").is_dir() else []),
                      "--check", str(out / "check"), "--run-info", str(out / "pipeline_info" / "run.json"),
                      *step_flags(p, "report"),
                      "--out", str(_per_tissue(p, out / "report", t))])
    return argvs


# Phase 1 (every gene) up to stats; attribution-genes chooses the genes phase 2 (ism, attribution-stats)
# runs on; merge joins both phases.
STEPS: list[Step] = [
    Step("check-inputs", _check_inputs),
    Step("genes", _genes),
    Step("personalize", _personalize),
    Step("export-onnx", _export_onnx),
    Step("predict", _predict),
    Step("stats", _stats),
    Step("attribution-genes", _attribution_genes),
    Step("ism", _ism),
    Step("attribution-stats", _attribution_stats),
    Step("motifs", _motifs),
    Step("merge", _merge),
    Step("report", _report),
]


#: Subcommands that take ``--threads``; `seqgx run` passes each the cores free when its step starts.
THREADED_COMMANDS = frozenset({"personalize", "export-onnx", "predict", "ism", "stats", "motifs", "report"})


@dataclass
class StepReport:
    """What one step did: its tasks, wall time, threads and the JSON summaries its tasks printed."""
    step: str
    tasks: int = 0
    seconds: float = 0.0
    threads: int | None = None
    skipped: bool = False
    summaries: list[Any] = field(default_factory=list)

    def cost(self) -> dict[str, float] | None:
        """The model cost its tasks reported (model steps), summed; None for other steps."""
        costs = [s["cost"] for s in self.summaries if isinstance(s, dict) and s.get("cost")]
        if not costs:
            return None
        keys = ("model_calls", "sequences", "substitutions", "forward_equivalents")
        return {k: sum(c.get(k, 0) for c in costs) for k in keys if any(k in c for c in costs)}

    def as_json(self) -> dict[str, Any]:
        return {"step": self.step, "skipped": self.skipped, "tasks": self.tasks, "seconds": self.seconds,
                "threads": self.threads, "cost": self.cost()}


@dataclass
class RunReport:
    outdir: Path
    steps: list[StepReport] = field(default_factory=list)


def _run_task(cli_main: Callable[[list[str]], int], argv: list[str]) -> tuple[int, list[Any]]:
    """Run one subcommand in this process with its stdout captured: `seqgx run` prints one kind of
    output of its own (human lines, or one JSON object with --json), never the steps' summaries mixed
    in. JSON lines are kept for the run's report; other lines are logged."""
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        code = cli_main(argv)
    summaries = []
    for line in buffer.getvalue().splitlines():
        try:
            summaries.append(json.loads(line))
        except ValueError:
            if line.strip():
                log.info("%s: %s", argv[0], line)
    return code, summaries


def _write_steps(out: Path, report: RunReport) -> None:
    """pipeline_info/steps.json: each step of this invocation with its tasks, time, threads and model
    cost (calls, sequences, forward-equivalents), as Nextflow's trace is for its tasks."""
    from seqgx.io import atomic_output

    path = out / "pipeline_info" / "steps.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(path) as tmp:
        tmp.write_text(json.dumps([s.as_json() for s in report.steps], indent=1) + "\n")


def run_pipeline(params: dict, until: str | None = None, log_flags: list[str] | None = None,
                 overwrite: bool = False, threads: int | None = None) -> RunReport:
    """Run every step in order (or up to and including ``until``); return what ran, and where.

    The run owns ``outdir`` (seqgx.runinfo): the same run again continues where it stopped (steps done
    are skipped), another run's folder is refused unless ``overwrite`` replaces it.
    ``log_flags`` (e.g. ['-q'] or ['-v']) are passed to every step so the whole run logs alike.
    ``threads``: CPU threads of every compute step; None measures at each step's start how many cores
    other processes leave idle (``seqgx.threads.free_cpus``), so a busy machine is not oversubscribed.
    """
    from seqgx.cli import main as cli_main
    from seqgx.runinfo import claim_outdir
    from seqgx.threads import free_cpus

    names = [s.name for s in STEPS]
    if until is not None and until not in names:
        raise SeqgxError(f"--until '{until}' is not a step; choose one of {', '.join(names)}")
    out = Path(params["outdir"]).resolve()
    out.mkdir(parents=True, exist_ok=True)
    record = claim_outdir(out, params, overwrite)
    report = RunReport(out)
    redo = False  # once a step runs, every later step runs too: it reads what that step wrote
    for step in STEPS:
        if not redo and record.is_done(step.name):
            log.info("step %s: done in an earlier run, skipped", step.name)
            report.steps.append(StepReport(step.name, skipped=True))
            if step.name == until:
                break
            continue
        if not redo:
            record.forget_from(step.name)
            redo = True
        started = time.perf_counter()
        argvs = step.commands(params, out)
        done = StepReport(step.name, tasks=len(argvs))
        if any(argv[0] in THREADED_COMMANDS for argv in argvs):
            done.threads = threads or free_cpus()
        log.info("step %s: %d task(s)%s", step.name, len(argvs),
                 f", {done.threads} thread(s)" if done.threads else "")
        for argv in argvs:
            extra = ["--threads", str(done.threads)] if argv[0] in THREADED_COMMANDS else []
            code, summaries = _run_task(cli_main, [argv[0], *(log_flags or []), *argv[1:], *extra])
            done.summaries.extend(summaries)
            if code != 0:
                raise SeqgxError(f"step {step.name} failed (exit {code}); see the error above")
        record.mark_done(step.name, len(argvs))
        done.seconds = round(time.perf_counter() - started, 3)
        report.steps.append(done)
        _write_steps(out, report)
        log.info("step %s done in %.1f s", step.name, done.seconds)
        if step.name == until:
            break
    return report
