"""Pipeline parameters: one definition shared by ``seqgx run`` and ``nextflow_schema.json``.

A params file is YAML or JSON (the same file ``nextflow run -params-file`` reads). Every parameter
is declared once in :data:`PARAMS`; a test keeps ``nextflow_schema.json`` in step with it.
"""

from __future__ import annotations

import glob
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from seqgx.errors import SeqgxError


@dataclass(frozen=True)
class Param:
    name: str
    type: type
    default: Any
    help: str
    group: str
    choices: tuple = ()
    is_path: bool = False
    required: bool = False
    minimum: float | None = None
    extra: dict = field(default_factory=dict)  # further JSON-schema keywords (pattern, format, ...)
    empty_ok: bool = False  # '' is a meaningful value (otherwise '' means unset, or is an error)
    # The subcommands (steps) that take it as a flag: `seqgx run` and Nextflow's ext.args pass it as is,
    # except in `derived` steps, where the runner derives the flag (a staged file, a plan decision:
    # seqgx.plan). Files (is_path) are always staged by Nextflow, so never in ext.args.
    steps: tuple[str, ...] = ()
    derived: tuple[str, ...] = ()
    flag: str | None = None  # the flag, when not --<name with dashes>
    aliases: tuple[str, ...] = ()  # older spellings of the flag, still accepted

    @property
    def option(self) -> str:
        return self.flag or "--" + self.name.replace("_", "-")

    def passed_as_is(self, step: str) -> bool:
        """The runners pass this parameter's value to ``step`` unchanged (ext.args, step_flags)."""
        return step in self.steps and step not in self.derived and not self.is_path


# nf-core's patterns for memory and duration strings ('32.GB', '2.5 TB'; '48.h', '1d 2h').
MEMORY_PATTERN = r"^\d+(\.\d+)?\.?\s*(K|M|G|T)?B$"
DURATION_PATTERN = r"^(\d+\.?\s*(s|m|h|d|day)\s*)+$"

#: The subcommands that run a model and share its flags.
MODEL_STEPS = ("predict", "ism", "motifs")

PARAMS: list[Param] = [
    # Inputs
    Param("fasta", str, None, "Reference genome FASTA (indexed: .fai beside it)", "input", is_path=True,
          required=True),
    Param("vcf", str, None, "Phased cohort VCF/BCF, bgzipped and indexed (.tbi or .csi): one file, a glob, "
          "or a samplesheet (contig,vcf) of per-chromosome files with the same samples", "input",
          is_path=True, required=True, extra={"format": "file-path-pattern"}),
    Param("annotation", str, None, "Gene annotation: GTF (gene records) or TSV "
          "(gene_id, gene_name, chrom, tss, strand; 1-based TSS)", "input", is_path=True, required=True),
    Param("expression", str, None, "Expression: a matrix TSV (genes x samples, first column gene_id) or a "
          "tensorQTL phenotype BED (.bed/.bed.gz: #chr, start, end, phenotype_id, then samples); normalised; "
          "one of expression and tissues is required", "input", is_path=True),
    Param("covariates", str, None, "Covariates of expression (tensorQTL layout: one row per covariate, one "
          "column per sample; samples as rows also read): every R becomes a partial correlation", "input",
          is_path=True),
    Param("tissues", str, None, "Tissues samplesheet CSV (tissue,expression,covariates,readouts), one row "
          "per tissue: one prediction pass, statistics and report per tissue (instead of expression)",
          "input", is_path=True, extra={"format": "file-path", "schema": "src/seqgx/data/schema_tissues.json",
                                        "mimetype": "text/csv"}),
    Param("finemapped", str, None, "Fine-mapped causal variants TSV (gene_id; variant_id or chrom,pos,ref,"
          "alt; pip; credible_set): are the drivers the causal variants?", "input", is_path=True,
          steps=("stats", "merge")),
    Param("gene_types", str, "protein_coding,lncRNA", "Gene types to assess (comma list of the GTF's "
          "gene_type/gene_biotype; 'all' for every gene)", "genes",
          steps=("genes",)),
    Param("sample_map", str, None, "Optional TSV mapping expression sample ids to VCF sample ids "
          "(columns expression_sample, vcf_sample)", "input", is_path=True),
    Param("gene_list", str, None, "Optional file with one gene id (or name) per line to restrict the run",
          "input", is_path=True),
    Param("outdir", str, "results", "Output directory", "output", extra={"format": "directory-path"}),
    # Genes and windows
    Param("chromosomes", str, "autosomes", "Chromosomes to use: 'autosomes', 'all', or a comma list",
          "genes",
          steps=("genes",)),
    Param("window_length", int, 196608, "Sequence window length in bp, centred on the TSS; "
          "divisible by 128", "genes", minimum=128,
          steps=("genes", "export-onnx")),
    Param("genes_per_batch", int, 50, "Genes per batch file (the unit one Nextflow task takes)", "genes",
          minimum=1,
          steps=("genes", "attribution-genes")),
    Param("min_samples", int, 20, "Minimum samples with both genotype and expression", "input", minimum=1,
          steps=("check-inputs", "stats")),
    # Personalisation
    Param("ref_mismatch", str, "error", "A VCF REF that disagrees with the FASTA: stop ('error') or "
          "skip the record and count it ('skip')", "personalize", choices=("error", "skip"),
          steps=("personalize",)),
    Param("unphased", str, "error", "Unphased heterozygous genotypes: stop ('error') or phase them at "
          "random with phase_seed ('random')", "personalize", choices=("error", "random"),
          steps=("personalize",)),
    Param("missing", str, "reference", "Missing genotype calls: treat as reference and count "
          "('reference') or stop ('error')", "personalize", choices=("reference", "error"),
          steps=("personalize",)),
    Param("phase_seed", int, 0, "Seed for random phasing of unphased heterozygous calls", "personalize",
          steps=("personalize",)),
    Param("seed", int, 0, "Seed for every random step (null draws, cross-validation)", "general",
          steps=("export-onnx", *MODEL_STEPS, "stats")),
    # Model and prediction
    Param("model", str, "EleutherAI/enformer-official-rough",
          "Model: an .onnx file, a Hugging Face Enformer directory or hub id, a state-dict file "
          "(.pt/.pth/.safetensors), or 'oracle' (test/demo model, not biology)", "model",
          steps=("export-onnx", *MODEL_STEPS), derived=("export-onnx", *MODEL_STEPS)),
    Param("hparams", str, None, "Enformer hyper-parameters (JSON or JSON file) for state-dict files",
          "model",
          steps=("export-onnx", *MODEL_STEPS), derived=("export-onnx", *MODEL_STEPS)),
    Param("track_names", str, None, "TSV of the model's track names (column 'name'), for own ONNX models",
          "model", is_path=True,
          steps=("export-onnx", *MODEL_STEPS)),
    Param("backend", str, "auto", "Inference backend: 'onnx', 'torch', or 'auto' (onnx for .onnx files)",
          "model", choices=("auto", "onnx", "torch"),
          steps=MODEL_STEPS, derived=MODEL_STEPS),
    Param("providers", str, None, "ONNX Runtime execution providers in order (comma list of tensorrt, "
          "cuda, cpu); default all available in that order", "model",
          steps=MODEL_STEPS),
    Param("device", str, "auto", "Torch backend device: auto, cuda or cpu", "model",
          steps=MODEL_STEPS),
    Param("precision", str, "fp32", "Torch backend precision (autocast): fp32, bf16 or fp16", "model",
          choices=("fp32", "bf16", "fp16"),
          steps=("export-onnx", *MODEL_STEPS), derived=("export-onnx",)),
    Param("allow_cpu_fallback", bool, False, "Run on CPU when a requested GPU provider/device is missing "
          "(otherwise stop)", "model",
          steps=MODEL_STEPS),
    Param("tracks", str, None, "Track readouts: comma list of indices or exact names (default 4980 "
          "'CAGE:brain; adult;' for Enformer; all tracks for the oracle); 'none' for only fine-tuned",
          "model",
          steps=MODEL_STEPS, derived=MODEL_STEPS),
    Param("bins", str, "centre:3", "Output bins each readout sums: 'centre:K', 'A-B' or 'a,b,c' "
          "(default the 3 centre bins, 447-449 of 896)", "model",
          steps=MODEL_STEPS),
    Param("finetuned_weights", str, None, "Fine-tuned readout weights CSV (tracks,weights; last row "
          "offset,<intercept>)", "model", is_path=True,
          steps=MODEL_STEPS),
    Param("pseudocount", float, 1.0, "Pseudocount of the fine-tuned readout: log2(bin-sum + pseudocount)",
          "model", minimum=0.0,
          steps=MODEL_STEPS),
    Param("person_combine", str, "sum", "A person's value from their two haplotype values: sum or mean",
          "model", choices=("sum", "mean"),
          steps=("predict",)),
    Param("batch_size", int, 0, "Sequences per model call; 0 = automatic (halved on GPU out-of-memory)",
          "model", minimum=0,
          steps=MODEL_STEPS),
    Param("max_shift", int, 0, "Ensemble over shifts of -K..K bp (0 = none)", "model", minimum=0,
          steps=MODEL_STEPS),
    Param("reverse_complement", bool, False, "Also average the reverse-complement prediction", "model",
          steps=MODEL_STEPS),
    Param("reference_tracks", bool, False, "Also write the reference's values of every track in the "
          "readout bins (what fine-tuning weights are trained on)", "model",
          steps=("predict",)),
    # Statistics
    # Attribution
    Param("ism_method", str, "fast", "ISM per SNV: 'fast' (exact; recomputes only the convolutional trunk "
          "around each SNV; torch Enformer/oracle) or 'full' (whole mutated sequences, any backend)",
          "attribution", choices=("fast", "full"),
          steps=("ism", "motifs"), derived=("ism", "motifs"), flag="--method"),
    Param("allow_full_forward", bool, False, "Fall back to full-forward ISM when fast ISM is not possible "
          "(ONNX or bring-your-own models) instead of failing", "attribution",
          steps=("ism", "motifs"), derived=("ism", "motifs")),
    Param("ism_model", str, None, "Torch weights (Hugging Face folder or state-dict file) for ISM when "
          "'model' is an .onnx file: fast exact ISM needs the model's trunk (without it ISM recomputes the "
          "whole ONNX model per SNV)", "attribution", is_path=True),
    Param("gradients", bool, False, "Also input-gradient attributions per SNV and a gradient track per gene",
          "attribution",
          steps=("ism",)),
    Param("tss_window", int, 1000, "Saturation ISM of every base within this many bp each side of the TSS "
          "(0 = off)", "attribution", minimum=0,
          steps=("ism",)),
    Param("attribution_genes", str, "significant", "Genes attribution (ISM, gradients, drivers) runs on: "
          "'significant' (FDR < fdr_alpha and |R| > min_abs_r on any readout, as the study explained), "
          "'all', or a file of gene ids or names; report_genes are always included", "attribution",
          steps=("attribution-genes",), derived=("attribution-genes",)),
    Param("min_abs_r", float, 0.2, "With attribution_genes 'significant': also |R| above this",
          "attribution", minimum=0.0,
          steps=("attribution-genes",)),
    # Statistics
    Param("null_test", str, "empirical", "Gene-specific null test: 'empirical' (p from null draws) or "
          "'paper' (the published t test on the null |R| mean and SD)", "stats",
          choices=("empirical", "paper"),
          steps=("stats",)),
    Param("null_draws", int, None, "Random SNV-weight models per gene for the null (default: 50 for the "
          "'paper' test as published, 1,000 for 'empirical')", "stats", minimum=2,
          steps=("stats",)),
    Param("fdr_alpha", float, 0.05, "Benjamini-Hochberg FDR threshold for significant genes", "stats",
          minimum=0.0,
          steps=("attribution-genes", "merge")),
    Param("predictdb", str, None, "Optional PredictDB SQLite model (table 'weights') for the PrediXcan "
          "baseline", "stats", is_path=True,
          steps=("stats",)),
    Param("elastic_net_baseline", bool, False, "Also fit a per-gene elastic net on the cohort's own "
          "genotypes (nested cross-validation) as a baseline", "stats",
          steps=("stats",)),
    # Motifs (docs/motifs.md): after attribution, for the selected genes' drivers
    Param("motifs", bool, True, "Motif analysis of the drivers: neighbourhood ISM, driver-context "
          "statistics, seqlets matched to JASPAR, enrichment (needs tss_window > 0)", "motifs"),
    Param("motif_scale", str, "max", "Scale of a gene's attribution: 'max' (largest |a| within motif_window "
          "bp of the TSS) or 'sd' (its SD: z-scores, the paper's Fig 2G)", "motifs", choices=("max", "sd"),
          steps=("motifs",)),
    Param("all_drivers", bool, False, "Neighbourhood ISM for every driver, not only each gene's main driver",
          "motifs",
          steps=("motifs",)),
    Param("driver_flank", int, 20, "bp each side of a driver for its saturation ISM", "motifs", minimum=1,
          steps=("motifs",)),
    Param("motif_window", int, 1000, "bp each side of the TSS for a gene's attribution scale and seqlets "
          "(within tss_window)", "motifs", minimum=1,
          steps=("motifs",)),
    Param("seqlet_threshold", float, None, "|a / scale| of every seqlet base (default 0.4 with "
          "motif_scale max, 1.5 with sd)", "motifs", minimum=0.0,
          steps=("motifs",)),
    Param("seqlet_min_length", int, 4, "Shortest seqlet in bp", "motifs", minimum=1,
          steps=("motifs",)),
    # Report
    Param("report_genes", str, None, "Gene ids or names (comma list) that always get a report page and "
          "attribution", "report",
          steps=("attribution-genes", "report"), aliases=("--genes",)),
    Param("report_top_genes", int, 50, "Gene pages for the significant genes with the largest |R|, up to "
          "this many", "report", minimum=0,
          steps=("report",), aliases=("--top-genes",)),
    # Resources: caps on what any Nextflow task asks for (conf/base.config's resourceLimits);
    # `seqgx run` accepts and ignores them, so one params file serves both
    Param("max_cpus", int, None, "Most CPUs any task may ask for (Nextflow; default: this machine's CPUs "
          "under the local executor, 16 under a scheduler)", "resources", minimum=1),
    Param("max_memory", str, None, "Most memory any task may ask for, e.g. '32.GB' (Nextflow; default: this "
          "machine's memory under the local executor, 128.GB under a scheduler)", "resources",
          extra={"pattern": MEMORY_PATTERN}),
    Param("max_time", str, "240.h", "Longest time any task may ask for, e.g. '48.h' (Nextflow)",
          "resources", extra={"pattern": DURATION_PATTERN}),
    # Containers and clouds (Nextflow profiles docker, singularity, gpu, awsbatch)
    Param("container_registry", str, "ghcr.io/seqgx", "Registry the images are pulled from, as "
          "<registry>/seqgx:<version> and <registry>/seqgx-gpu:<version>; '' for locally built images",
          "infrastructure", empty_ok=True),
    Param("aws_region", str, None, "AWS region of the Batch queues and the S3 work directory "
          "(-profile awsbatch)", "infrastructure"),
    Param("aws_queue", str, None, "AWS Batch job queue for every task (-profile awsbatch)", "infrastructure"),
    Param("aws_gpu_queue", str, None, "AWS Batch job queue with GPU instances for predict and ism "
          "(default: aws_queue)", "infrastructure"),
    Param("aws_cli_path", str, None, "Path of the AWS CLI on the Batch compute environment's AMI, e.g. "
          "/home/ec2-user/miniconda/bin/aws (-profile awsbatch without aws_fusion)", "infrastructure"),
    Param("aws_fusion", bool, False, "Use the Fusion file system (through Wave) instead of the AWS CLI "
          "on the AMI (-profile awsbatch)", "infrastructure"),
]

PARAMS_BY_NAME = {p.name: p for p in PARAMS}

#: Exactly one of these names the cohort's expression (checked by validate_params and in main.nf).
EXPRESSION_SOURCES = ("expression", "tissues")


def defaults() -> dict[str, Any]:
    return {p.name: p.default for p in PARAMS}


# What a required parameter names, for the message when it is given empty.
REQUIRED_WHAT = {
    "fasta": "the reference genome FASTA (indexed: .fai beside it)",
    "vcf": "the phased cohort VCF/BCF (bgzipped and indexed), a glob of them or a samplesheet (contig,vcf)",
    "annotation": "the gene annotation (GTF or TSV)",
    "expression": "the expression matrix TSV (genes x samples)",
}


def _syntax_error(path: Path, exc: Exception) -> SeqgxError:
    """One line naming the 1-based line and column of a YAML/JSON syntax error and the parser's reason."""
    kind = "JSON" if path.suffix.lower() == ".json" else "YAML"
    if isinstance(exc, json.JSONDecodeError):
        where, reason = (exc.lineno, exc.colno), exc.msg
    else:  # YAML marks count from 0; the problem mark is where the parser gave up
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        where = (mark.line + 1, mark.column + 1) if mark is not None else None
        reason = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        ctx, ctx_mark = getattr(exc, "context", None), getattr(exc, "context_mark", None)
        if ctx and ctx_mark is not None and where and ctx_mark.line + 1 != where[0]:  # e.g. an unclosed [
            reason += f", {ctx} at line {ctx_mark.line + 1}, column {ctx_mark.column + 1}"
    at = f"line {where[0]}, column {where[1]}: " if where else ""
    return SeqgxError(f"params file '{path}' is not valid {kind} ({at}{reason}); fix its syntax")


def load_params(path: str | Path, check_files: bool = False) -> dict[str, Any]:
    """Read a YAML/JSON params file, merge defaults, check names, types and choices.

    Relative paths in the file are resolved against the current folder (the launch folder), as
    ``nextflow run -params-file`` resolves them, so one params file names the same files under both.
    ``check_files``: input files must exist (as ``nextflow_schema.json``'s ``exists`` says; ``seqgx run``
    sets it); a missing relative path that exists beside the params file is named in the error.
    """
    path = Path(path)
    if not path.is_file():
        raise SeqgxError(f"params file '{path}' does not exist; pass a YAML or JSON file")
    text = path.read_text()
    try:
        raw = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise _syntax_error(path, exc) from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise SeqgxError(f"params file '{path}' must hold a mapping of parameter: value")
    return validate_params(raw, base_dir=Path.cwd(), source=str(path), check_files=check_files,
                           params_dir=path.resolve().parent)


def _beside_params_file(spec: str, raw: Any, params_dir: Path | None) -> str:
    """The fix when a relative path misses from the launch folder but exists beside the params file."""
    if params_dir is None:
        return "relative to the folder seqgx runs in"
    for item in raw if isinstance(raw, list) else str(raw).split(","):
        item = str(item).strip()
        if item and not Path(item).is_absolute() and Path(spec) == (Path.cwd() / item).resolve():
            beside = Path(os.path.normpath(params_dir / item))
            if beside.exists() or glob.glob(str(beside)):
                return (f"relative paths in a params file are relative to the folder you run from, as with "
                        f"nextflow -params-file; it exists beside the params file: run from "
                        f"'{params_dir}' or write '{beside}'")
    return "relative to the folder you run from"


def _check_input_file(source: str, p: Param, value: str, raw: Any = None,
                      params_dir: Path | None = None) -> None:
    """The schema's ``exists`` for a local input file (remote URLs are left to the step that reads them);
    for ``vcf`` each comma-listed spec is a file, a samplesheet or a glob that matches a file."""
    specs = [s.strip() for s in value.split(",") if s.strip()] if p.name == "vcf" else [value]
    for spec in specs:
        if "://" in spec or Path(spec).exists():
            if Path(spec).is_dir() and p.name != "ism_model":  # ism_model may be a Hugging Face folder
                raise SeqgxError(f"{source}: parameter '{p.name}' is a folder, not a file: '{spec}'")
            continue
        where = _beside_params_file(spec, raw, params_dir)
        if p.name == "vcf" and any(ch in spec for ch in "*?["):
            if not glob.glob(spec):
                raise SeqgxError(f"{source}: parameter 'vcf': the pattern '{spec}' matches no file; fix the "
                                 f"folder or pattern ({where})")
            continue
        raise SeqgxError(f"{source}: parameter '{p.name}': file '{spec}' does not exist; give the path of "
                         f"an existing file ({where})")


def validate_params(raw: dict[str, Any], base_dir: Path | None = None, source: str = "params",
                    check_files: bool = False, params_dir: Path | None = None) -> dict:
    """Merge ``raw`` over the defaults with the rules of ``nextflow_schema.json`` (type, enum, minimum,
    pattern, required; with ``check_files`` also ``exists`` for local input files).

    ``null`` means unset (the default); an empty string is unset for an optional string parameter
    without a default, an error for a required one, a typed one, or one with choices or a default
    (except where '' has a documented meaning, as ``container_registry``).
    """
    unknown = sorted(set(raw) - set(PARAMS_BY_NAME))
    if unknown:
        raise SeqgxError(f"{source}: unknown parameter(s) {', '.join(unknown)}; "
                         f"see 'seqgx run --list-params'")
    params = defaults()
    for name, value in raw.items():
        p = PARAMS_BY_NAME[name]
        empty = value is None or (p.type is str and isinstance(value, str) and not value.strip()
                                  and not p.empty_ok) or (isinstance(value, list) and not value)
        if empty and p.required:
            what = REQUIRED_WHAT.get(name, p.help)
            raise SeqgxError(f"{source}: parameter '{name}' is required and empty: give the path of {what}")
        if value is None or (empty and p.type is str and p.default is None and not p.choices):
            continue  # unset: the default
        if empty and p.type is str:
            default = f"; leave it out for the default {p.default!r}" if p.default is not None else ""
            fix = f"one of {', '.join(p.choices)}" if p.choices else "a value"
            raise SeqgxError(f"{source}: parameter '{name}' is empty: give {fix}{default}")
        if p.type is int and (isinstance(value, bool) or not isinstance(value, int)):
            raise SeqgxError(f"{source}: parameter '{name}' must be an integer, got {value!r}")
        if p.type is float and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise SeqgxError(f"{source}: parameter '{name}' must be a number, got {value!r}")
        if p.type is bool and not isinstance(value, bool):
            raise SeqgxError(f"{source}: parameter '{name}' must be true or false, got {value!r}")
        if p.type is str:
            if isinstance(value, list):  # YAML lists for comma-list parameters
                if p.is_path and base_dir is not None:  # each file relative to the launch folder
                    value = [v if Path(str(v)).is_absolute() or "://" in str(v)
                             else (base_dir / str(v)).resolve() for v in value]
                value = ",".join(str(v) for v in value)
            elif not isinstance(value, str | int | float):
                raise SeqgxError(f"{source}: parameter '{name}' must be a string, got {value!r}")
            value = str(value)
        if p.choices and value not in p.choices:
            raise SeqgxError(f"{source}: parameter '{name}' must be one of {', '.join(p.choices)}, "
                             f"got {value!r}")
        if p.minimum is not None and value < p.minimum:
            raise SeqgxError(f"{source}: parameter '{name}' must be >= {p.minimum}, got {value!r}")
        if "pattern" in p.extra and not re.search(p.extra["pattern"], value):
            raise SeqgxError(f"{source}: parameter '{name}' must match {p.extra['pattern']}, got {value!r}")
        if p.is_path and base_dir is not None and not Path(value).is_absolute() and "://" not in value:
            value = str((base_dir / value).resolve())
        params[name] = p.type(value) if p.type is float else value
    missing = [p.name for p in PARAMS if p.required and params.get(p.name) in (None, "")]
    if missing:
        raise SeqgxError(f"{source}: required parameter(s) missing: {', '.join(missing)}")
    given = [n for n in EXPRESSION_SOURCES if params.get(n) not in (None, "")]
    if len(given) != 1:
        how = "both are given" if given else "neither is given"
        raise SeqgxError(f"{source}: give exactly one of 'expression' (one tissue) and 'tissues' (a "
                         f"samplesheet of tissues); {how}")
    if params.get("tissues") and params.get("covariates"):
        raise SeqgxError(f"{source}: 'covariates' is for a run with 'expression'; with 'tissues' give each "
                         f"tissue's covariates in the samplesheet's covariates column")
    if check_files:
        for p in PARAMS:
            if p.is_path and params[p.name] is not None:
                _check_input_file(source, p, str(params[p.name]), raw.get(p.name), params_dir)
    return params


def schema() -> dict[str, Any]:
    """The nf-core style JSON schema that ``nextflow_schema.json`` must equal."""
    json_type = {str: "string", int: "integer", float: "number", bool: "boolean"}
    groups: dict[str, dict] = {}
    for p in PARAMS:
        g = groups.setdefault(p.group, {"title": f"{p.group} options", "type": "object",
                                        "properties": {}, "required": []})
        prop: dict[str, Any] = {"type": json_type[p.type], "description": p.help}
        if p.default is not None:
            prop["default"] = p.default
        if p.choices:
            prop["enum"] = list(p.choices)
        if p.minimum is not None:
            prop["minimum"] = p.minimum
        if p.type is str and not p.empty_ok and (p.required or p.default is not None or p.choices):
            prop["minLength"] = 1  # '' is an error here, as in validate_params (optional ones: unset)
        if p.is_path:  # input files: nf-schema checks that they exist before the run starts
            prop["format"] = "file-path"
            prop["exists"] = True
        prop.update(p.extra)
        g["properties"][p.name] = prop
        if p.required:
            g["required"].append(p.name)
    for g in groups.values():
        if not g["required"]:
            del g["required"]
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://raw.githubusercontent.com/seqgx/seqgx/main/nextflow_schema.json",
        "title": "seqgx pipeline parameters",
        "description": "Assess sequence-to-expression models on personal genomes",
        "type": "object",
        "$defs": {f"{k}_options": v for k, v in groups.items()},
        "allOf": [{"$ref": f"#/$defs/{k}_options"} for k in groups],
    }


#: The Nextflow processes that run each step's subcommand (conf/modules.config's ext.args per process).
STEP_PROCESSES: dict[str, tuple[str, ...]] = {
    "check-inputs": ("CHECK_INPUTS",), "genes": ("GENES",), "personalize": ("PERSONALIZE",),
    "export-onnx": ("EXPORT_ONNX",), "predict": ("PREDICT",), "stats": ("STATS", "ATTRIBUTION_STATS"),
    "attribution-genes": ("ATTRIBUTION_GENES",), "ism": ("ISM",), "motifs": ("MOTIFS",), "merge": ("MERGE",),
    "report": ("REPORT",),
}


def params_of_step(step: str) -> list[Param]:
    """The parameters ``step`` takes as flags, in declaration order."""
    return [p for p in PARAMS if step in p.steps]


def add_param_arguments(parser: Any, step: str, skip: tuple[str, ...] = ()) -> None:
    """Add ``step``'s parameter flags to an argparse parser: name, type, default, choices and help
    from :data:`PARAMS` (a flag's ``dest`` is the parameter's name). ``skip``: parameters the
    subcommand declares itself because their flag takes several values or files (e.g. ``tracks``)."""
    for p in params_of_step(step):
        if p.name in skip:
            continue
        default = "" if p.default is None else f" (default {p.default})"
        names = (p.option, *p.aliases)
        if p.type is bool:
            parser.add_argument(*names, dest=p.name, action="store_true", help=p.help)
        else:
            parser.add_argument(*names, dest=p.name, type=p.type, default=p.default,
                                choices=p.choices or None, help=p.help + default)


def step_flags(params: dict[str, Any], step: str) -> list[str]:
    """The flags of ``step`` for the parameters passed as they are (not files, not derived), as
    ``seqgx run`` passes them: what conf/modules.config's ext.args gives the step's processes."""
    argv: list[str] = []
    for p in params_of_step(step):
        if not p.passed_as_is(step):
            continue
        value = params[p.name]
        if p.type is bool:
            argv += [p.option] if value else []
        elif value is not None and value != "":
            argv += [p.option, str(value)]
    return argv


MODULES_BEGIN = "// BEGIN ext.args"
MODULES_END = "// END ext.args"


def modules_config_block() -> str:
    """conf/modules.config's ext.args per process, generated from :data:`PARAMS` (as step_flags)."""

    def item(p: Param) -> str:
        ref = f"params.{p.name}"
        if p.type is bool:
            return f"{ref} ? '{p.option}' : ''"
        # strings as one single-quoted shell word (track and gene names may hold spaces or quotes)
        value = (f"\"'\" + {ref}.toString().replace(\"'\", \"'\\\\''\") + \"'\"" if p.type is str
                 else ref)
        return f"{ref} != null && {ref} != '' ? '{p.option} ' + {value} : ''"

    lines = [MODULES_BEGIN, "    // Generated from src/seqgx/params.py (python -m seqgx.params): each step's",
             "    // parameters passed as they are; files are staged inputs, derived flags come from",
             "    // the plan."]
    for step, processes in STEP_PROCESSES.items():
        passed = [p for p in params_of_step(step) if p.passed_as_is(step)]
        if not passed:
            continue
        lines.append(f"    withName: '{'|'.join(processes)}' {{")
        lines.append("        ext.args = { [")
        lines += [f"            {item(p)}," for p in passed]
        lines.append("        ].findAll { it }.join(' ') }")
        lines.append("    }")
    lines.append(MODULES_END)
    return "\n".join(lines)


CONFIG_BEGIN = "// BEGIN params"
CONFIG_END = "// END params"


def nextflow_params_block() -> str:
    """The ``params { ... }`` block of nextflow.config, generated from :data:`PARAMS`."""

    def groovy(v: Any) -> str:
        if v is None:
            return "null"
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, int | float):
            return str(v)
        return "'" + str(v).replace("\\", "\\\\").replace("'", "\\'") + "'"

    width = max(len(p.name) for p in PARAMS)
    lines = [CONFIG_BEGIN, "params {"]
    lines += [f"    {p.name:<{width}} = {groovy(p.default)}" for p in PARAMS]
    lines += ["}", CONFIG_END]
    return "\n".join(lines)


README_BEGIN = "<!-- BEGIN params -->"
README_END = "<!-- END params -->"


def readme_params_table() -> str:
    """The parameter table of README.md, generated from :data:`PARAMS`."""
    rows = [README_BEGIN, "| parameter | default | description |", "|---|---|---|"]
    for p in PARAMS:
        default = "required" if p.required else ("" if p.default is None else f"`{p.default}`")
        choices = f" One of: {', '.join(p.choices)}." if p.choices else ""
        rows.append(f"| `{p.name}` | {default} | {p.help}.{choices} |")
    rows.append(README_END)
    return "\n".join(rows)


def _replace_between(path: Path, begin: str, end: str, block: str) -> None:
    text = path.read_text()
    if begin not in text or end not in text:
        raise SeqgxError(f"{path.name} lacks the '{begin}' / '{end}' markers")
    head, _, rest = text.partition(begin)
    _, _, tail = rest.partition(end)
    path.write_text(head + block + tail)


def write_generated_files(repo: Path) -> None:
    """Rewrite nextflow_schema.json, the params block of nextflow.config, README's table and the ext.args
    of conf/modules.config."""
    (repo / "nextflow_schema.json").write_text(json.dumps(schema(), indent=4) + "\n")
    _replace_between(repo / "nextflow.config", CONFIG_BEGIN, CONFIG_END, nextflow_params_block())
    _replace_between(repo / "README.md", README_BEGIN, README_END, readme_params_table())
    _replace_between(repo / "conf" / "modules.config", MODULES_BEGIN, MODULES_END, modules_config_block())


if __name__ == "__main__":
    write_generated_files(Path(__file__).resolve().parents[2])
