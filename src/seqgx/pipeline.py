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


def _tissues(p: dict) -> list[Any]:
    """The run's tissues (seqgx.tissues.Tissue): the samplesheet's rows, or the one tissue 'default' of
    ``expression`` and ``covariates``."""
    from seqgx.tissues import default_tissue, read_tissues

    if p["tissues"]:
        return read_tissues(p["tissues"])
    return [default_tissue(p["expression"], p["covariates"], [])]


def _per_tissue(p: dict, folder: Path, tissue: Any) -> Path:
    """A tissue's folder under ``folder``: ``folder/<tissue>`` with a samplesheet, ``folder`` itself for
    the one tissue of ``expression`` (the layout of runs without tissues)."""
    return folder / tissue.name if p["tissues"] else folder


def _is_weights(item: str) -> bool:
    return str(item).lower().endswith(".csv")


def _default_readouts(p: dict) -> list[str]:
    """The readout items of a tissue that names none: ``tracks`` (or the model's 'default') and the
    fine-tuned weights file."""
    tracks = [p["tracks"]] if p["tracks"] else ["default"]
    return tracks + ([p["finetuned_weights"]] if p["finetuned_weights"] else [])


def _tissue_readouts(p: dict, tissue: Any) -> list[str]:
    """A tissue's readout items as the model steps get them: track indices or names, 'default', weights
    files (relative ones resolved against the samplesheet's folder)."""
    from seqgx.tissues import readout_items

    if not tissue.readouts:
        return _default_readouts(p)
    sheet = Path(p["tissues"]).parent
    return [str(sheet / r) if _is_weights(r) and not Path(r).is_absolute() else r
            for r in readout_items(tissue)]


def _readout_args(p: dict) -> list[str]:
    """--tracks / --finetuned-weights of the model steps: ``tracks`` and ``finetuned_weights``, or with
    tissues the union of every tissue's readouts (one prediction pass serves them all)."""
    if not p["tissues"]:
        return [*_opt("--tracks", p["tracks"]), *_opt("--finetuned-weights", p["finetuned_weights"])]
    items = list(dict.fromkeys(i for t in _tissues(p) for i in _tissue_readouts(p, t)))
    tracks = [i for i in items if not _is_weights(i)] or ["none"]
    weights = [i for i in items if _is_weights(i)]
    return ["--tracks", *tracks, *(["--finetuned-weights", *weights] if weights else [])]


def _check_inputs(p: dict, out: Path) -> list[list[str]]:
    if p["tissues"]:
        expression = [a for t in _tissues(p) for a in
                      ["--tissue", t.name, str(t.expression), *([str(t.covariates)] if t.covariates else [])]]
    else:
        expression = ["--expression", p["expression"], *_opt("--covariates", p["covariates"])]
    return [["check-inputs", "--fasta", p["fasta"], "--vcf", *_vcf_specs(p), "--annotation", p["annotation"],
             *expression, *_opt("--sample-map", p["sample_map"]),
             *_opt("--gene-list", p["gene_list"]), "--min-samples", str(p["min_samples"]),
             "--out", str(out / "check")]]


def _genes(p: dict, out: Path) -> list[list[str]]:
    expression = [str(t.expression) for t in _tissues(p)]
    return [["genes", "--annotation", p["annotation"], "--expression", *expression,
             *_opt("--gene-list", p["gene_list"]), "--gene-types", p["gene_types"],
             "--chromosomes", p["chromosomes"],
             "--window-length", str(p["window_length"]), "--genes-per-batch", str(p["genes_per_batch"]),
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
             "--samples", str(out / "check" / "samples.tsv"), "--ref-mismatch", p["ref_mismatch"],
             "--unphased", p["unphased"], "--missing", p["missing"], "--phase-seed", str(p["phase_seed"]),
             "--out", str(out / "haplotypes")] for b in _batches(out)]


def _flag(flag: str, on: bool) -> list[str]:
    return [flag] if on else []


def _needs_export(p: dict) -> bool:
    """backend 'onnx' with torch weights: they are exported once and predict runs the ONNX file."""
    return p["backend"] == "onnx" and not str(p["model"]).endswith(".onnx")


def _export_onnx(p: dict, out: Path) -> list[list[str]]:
    if not _needs_export(p):
        return []
    # All bins and tracks, so every readout predict builds works on it.
    return [["export-onnx", "--model", p["model"], *_opt("--hparams", p["hparams"]),
             "--window-length", str(p["window_length"]),
             "--precision", "fp16" if p["precision"] == "fp16" else "fp32", "--seed", str(p["seed"]),
             "--out", str(out / "model" / "model.onnx")]]


def _model_args(p: dict, model: str, backend: str) -> list[str]:
    """Model, backend and readout flags shared by `seqgx predict` and `seqgx ism`."""
    return ["--model", model, *_opt("--hparams", p["hparams"]), *_opt("--track-names", p["track_names"]),
            "--backend", backend, *_opt("--providers", p["providers"]), "--device", p["device"],
            "--precision", p["precision"], *_flag("--allow-cpu-fallback", p["allow_cpu_fallback"]),
            *_readout_args(p), "--bins", p["bins"], "--pseudocount", str(p["pseudocount"]),
            "--batch-size", str(p["batch_size"]), "--max-shift", str(p["max_shift"]),
            *_flag("--reverse-complement", p["reverse_complement"]), "--seed", str(p["seed"])]


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
    model = str(out / "model" / "model.onnx") if _needs_export(p) else p["model"]
    return [["predict", "--haplotypes", *_haplotype_files(out, b), *_model_args(p, model, p["backend"]),
             "--person-combine", p["person_combine"], *_flag("--reference-tracks", p["reference_tracks"]),
             "--out", str(out / "predictions")] for b in _batches(out)]


def _attribution_genes(p: dict, out: Path) -> list[list[str]]:
    tables = [t for tissue in _tissues(p)
              for t in _stats_tables(_per_tissue(p, out / "stats", tissue), _batches(out))]
    return [["attribution-genes", "--stats", *map(str, tables),
             "--windows", str(out / "genes" / "genes.tsv"), "--attribution-genes", p["attribution_genes"],
             "--fdr-alpha", str(p["fdr_alpha"]), "--min-abs-r", str(p["min_abs_r"]),
             *_opt("--report-genes", p["report_genes"]), "--genes-per-batch", str(p["genes_per_batch"]),
             "--out", str(out / "attribution")]]


def _ism(p: dict, out: Path) -> list[list[str]]:
    # Fast ISM needs torch weights: ism_model when model is an .onnx file; without them, full ISM of
    # the ONNX model (the Nextflow run warns about the cost).
    model = p["ism_model"] or p["model"]
    onnx = str(model).endswith(".onnx")
    backend = "onnx" if onnx else ("torch" if p["backend"] == "onnx" else p["backend"])
    if onnx:
        log.warning("ISM of the ONNX model '%s' recomputes the whole model for every SNV; give its torch "
                    "weights as ism_model for the fast exact path", model)
    method = ["--method", "full", "--allow-full-forward"] if onnx else [
        "--method", p["ism_method"], *_flag("--allow-full-forward", p["allow_full_forward"])]
    return [["ism", "--haplotypes", *_haplotype_files(out, b), *_model_args(p, model, backend), *method,
             *_flag("--gradients", p["gradients"]),
             "--tss-window", str(p["tss_window"]), "--out", str(out / "ism")]
            for b in _attribution_batches(out)]


def _stats_argv(p: dict, out: Path, batch: Path, ism: bool, dest: Path, tissue: Any) -> list[str]:
    readouts = ["--tissue", tissue.name, "--readouts", *_tissue_readouts(p, tissue)] if p["tissues"] else []
    return ["stats", "--haplotypes", *_haplotype_files(out, batch), "--predictions", str(out / "predictions"),
            *(["--ism", str(out / "ism")] if ism else []), "--expression", str(tissue.expression),
            *_opt("--covariates", tissue.covariates), *readouts, *_opt("--finemapped", p["finemapped"]),
            *_opt("--predictdb", p["predictdb"]),
            *(["--vcf", _batch_vcf(p, out, batch)] if p["predictdb"] else []), "--null-test", p["null_test"],
            *_opt("--null-draws", p["null_draws"]), "--seed", str(p["seed"]),
            "--min-samples", str(p["min_samples"]),
            *_flag("--elastic-net-baseline", p["elastic_net_baseline"]), "--batch-name", batch.stem,
            "--out", str(dest)]


def _stats(p: dict, out: Path) -> list[list[str]]:
    """Phase 1: every gene's statistics that need no attribution, per tissue."""
    return [_stats_argv(p, out, b, False, _per_tissue(p, out / "stats", t), t)
            for t in _tissues(p) for b in _batches(out)]


def _attribution_stats(p: dict, out: Path) -> list[list[str]]:
    """Phase 2: the selected genes' statistics again, with their attribution (approximation, drivers)."""
    return [_stats_argv(p, out, b, True, _per_tissue(p, out / "attribution" / "stats", t), t)
            for t in _tissues(p) for b in _attribution_batches(out)]


def _runs_motifs(p: dict) -> bool:
    return bool(p["motifs"]) and p["tss_window"] > 0  # the gene's scale needs the TSS saturation ISM


def _motifs(p: dict, out: Path) -> list[list[str]]:
    """The selected genes' drivers: neighbourhood ISM, context statistics, seqlets (per phase-2 batch)."""
    if not _runs_motifs(p):
        return []
    model = p["ism_model"] or p["model"]
    onnx = str(model).endswith(".onnx")
    backend = "onnx" if onnx else ("torch" if p["backend"] == "onnx" else p["backend"])
    method = ["--method", "full", "--allow-full-forward"] if onnx else ["--method", p["ism_method"]]
    # Every tissue's drivers of the batch at once (a driver shared by tissues is analysed once).
    stats = [_per_tissue(p, out / "attribution" / "stats", t) for t in _tissues(p)]
    return [["motifs", "--haplotypes", *_haplotype_files(out, b), *_model_args(p, model, backend), *method,
             "--ism", str(out / "ism"), "--drivers", *[str(f / f"{b.stem}.drivers.tsv") for f in stats],
             "--genes", *[str(f / f"{b.stem}.genes.tsv") for f in stats], "--motif-scale", p["motif_scale"],
             *_flag("--all-drivers", p["all_drivers"]), "--driver-flank", str(p["driver_flank"]),
             "--motif-window", str(p["motif_window"]), *_opt("--seqlet-threshold", p["seqlet_threshold"]),
             "--seqlet-min-length", str(p["seqlet_min_length"]), "--batch-name", b.stem,
             "--out", str(out / "motifs")] for b in _attribution_batches(out)]


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
    motifs = motifs if _runs_motifs(p) and motifs else []
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
                      *_opt("--finemapped", p["finemapped"]), "--fdr-alpha", str(p["fdr_alpha"]),
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
                      "--top-genes", str(p["report_top_genes"]), *_opt("--genes", p["report_genes"]),
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
