"""The run's plan: every decision that depends on several parameters, made once, for both runners.

``seqgx run`` builds its steps from :func:`make_plan`; under Nextflow the PLAN process runs
``seqgx plan`` on the run's parameters (and the tissues samplesheet), writes ``plan.json`` and main.nf
builds its channels from it. So both refuse and accept the same parameters with the same one-line
errors, and both take the same decisions:

- the tissues: the samplesheet's rows, or the one tissue 'default' of ``expression`` and
  ``covariates``; each with its readout items (its own, or the run's ``tracks`` and
  ``finetuned_weights``) and the flags its statistics step takes;
- the model steps' readouts: the union of the tissues' (one prediction pass serves them all);
- the model: whether backend 'onnx' exports torch weights first; which weights ISM and the motif step
  use (``ism_model`` for an .onnx model) and with which backend and ISM method (an ONNX model has no
  trunk to recompute around a SNV: full ISM); whether the motif step runs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from seqgx.errors import SeqgxError

#: The parameters the plan's decisions read (tests/test_params.py checks it against make_plan).
PLAN_READS = frozenset({"tissues", "expression", "covariates", "tracks", "finetuned_weights", "model",
                        "hparams", "backend", "precision", "ism_model", "ism_method", "allow_full_forward",
                        "motifs", "tss_window"})

#: Models named by a word: no file to stage (seqgx.model.models).
NAMED_MODELS = ("oracle", "random")


def _is_weights(item: str) -> bool:
    return str(item).lower().endswith(".csv")


def default_readouts(params: dict) -> list[str]:
    """The readout items of a tissue that names none: ``tracks`` (or the model's 'default') and the
    fine-tuned weights file."""
    tracks = [params["tracks"]] if params["tracks"] else ["default"]
    return tracks + ([params["finetuned_weights"]] if params["finetuned_weights"] else [])


def tissues_of(params: dict, check_files: bool = True, staged_sheet: str | Path | None = None) -> list[Any]:
    """The run's tissues (seqgx.tissues.Tissue): the samplesheet's rows, or the one tissue 'default' of
    ``expression`` and ``covariates``. ``check_files``: the files a sheet names must exist (off where
    they are not visible, as in a Nextflow task; Nextflow then checks them when it stages them);
    ``staged_sheet``: the task's copy of the samplesheet."""
    from seqgx.tissues import default_tissue, read_tissues

    if params["tissues"]:
        return read_tissues(params["tissues"], check_files=check_files, staged=staged_sheet)
    return [default_tissue(params["expression"], params["covariates"], [])]


def tissue_readouts(params: dict, tissue: Any) -> list[str]:
    """A tissue's readout items as the model steps get them: track indices or names, 'default', weights
    files (relative ones resolved against the samplesheet's folder)."""
    from seqgx.tissues import readout_items

    if not tissue.readouts:
        return default_readouts(params)
    sheet = Path(params["tissues"]).parent
    return [str(sheet / r) if _is_weights(r) and not Path(r).is_absolute() else r
            for r in readout_items(tissue)]


def readout_flags(params: dict, tissues: list[Any]) -> list[str]:
    """--tracks / --finetuned-weights of the model steps: ``tracks`` and ``finetuned_weights``, or with
    tissues the union of every tissue's readouts."""
    if not params["tissues"]:
        weights = params["finetuned_weights"]
        return [*(["--tracks", params["tracks"]] if params["tracks"] else []),
                *(["--finetuned-weights", weights] if weights else [])]
    items = list(dict.fromkeys(i for t in tissues for i in tissue_readouts(params, t)))
    tracks = [i for i in items if not _is_weights(i)] or ["none"]
    weights = [i for i in items if _is_weights(i)]
    return ["--tracks", *tracks, *(["--finetuned-weights", *weights] if weights else [])]


def needs_export(params: dict) -> bool:
    """backend 'onnx' with torch weights: they are exported once and predict runs the ONNX file."""
    return params["backend"] == "onnx" and not str(params["model"]).endswith(".onnx")


def export_precision(params: dict) -> str:
    """The exported weights' precision: fp16 when fp16 was asked for, else fp32."""
    return "fp16" if params["precision"] == "fp16" else "fp32"


def attribution_model(params: dict) -> dict[str, Any]:
    """The weights ISM and the motif step use, and how.

    ``source``: 'ism_model' (torch weights given for an .onnx model: fast exact ISM needs the trunk) or
    'model'; ``onnx``: the weights are an ONNX file (full ISM, one whole forward per SNV);
    ``backend``; the ISM flags of `seqgx ism` and of `seqgx motifs`. Whether the model is an ONNX model
    (full ISM) is seqgx.model.build.ism_method_of's decision, on the file (backend 'auto').
    """
    from seqgx.model.build import ism_method_of

    method, why = ism_method_of(params["model"], "auto", params["ism_method"])
    is_onnx = bool(why)
    source = "ism_model" if is_onnx and params["ism_model"] else "model"
    onnx = is_onnx and source == "model"
    backend = "onnx" if onnx else ("torch" if params["backend"] == "onnx" else params["backend"])
    if onnx:
        ism = ["--method", method, "--allow-full-forward"]
        motifs = ["--method", method, "--allow-full-forward"]
    else:
        fallback = ["--allow-full-forward"] if params["allow_full_forward"] else []
        ism = ["--method", params["ism_method"], *fallback]
        motifs = ["--method", params["ism_method"]]
    return {"source": source, "onnx": onnx, "backend": backend, "ism_flags": ism, "motifs_flags": motifs}


def runs_motifs(params: dict) -> bool:
    """The motif step runs: asked for, and the gene's scale has the TSS saturation ISM it needs."""
    return bool(params["motifs"]) and params["tss_window"] > 0


def _model_flags(params: dict, model: str | None) -> list[str]:
    """--model (a named model only: a file is staged, and the runner names it) and --hparams."""
    hparams = params["hparams"]
    return [*(["--model", model] if model is not None else []), *(["--hparams", hparams] if hparams else [])]


def make_plan(params: dict, check_files: bool = True,
              staged_sheet: str | Path | None = None) -> dict[str, Any]:
    """The plan of a run with validated ``params`` (seqgx.params.validate_params), as JSON-able data.

    ``tissues``: [{name, expression, covariates, readouts, stats_flags}]; ``model_flags``: the derived
    flags of export-onnx, predict, ism and motifs (without --model when the model is a file or folder,
    which each runner stages and names); ``export_onnx``, ``ism_model`` ('model' or 'ism_model'),
    ``motifs``: the decisions.
    """
    tissues = tissues_of(params, check_files=check_files, staged_sheet=staged_sheet)
    attribution = attribution_model(params)
    named = str(params["model"]) if str(params["model"]) in NAMED_MODELS else None
    readouts = readout_flags(params, tissues)
    planned = []
    for t in tissues:
        items = tissue_readouts(params, t)
        flags = ["--tissue", t.name, "--readouts", *items] if params["tissues"] else []
        planned.append({"name": t.name, "expression": str(t.expression),
                        "covariates": str(t.covariates) if t.covariates else None,
                        "readouts": items, "stats_flags": flags})
    return {
        "tissues": planned,
        "samplesheet": bool(params["tissues"]),
        # every tissue's fine-tuned weights files (Nextflow stages them into the model steps)
        "finetuned_weights": [w for i, w in enumerate(readouts) if _is_weights(w) and
                              "--finetuned-weights" in readouts[:i]],
        "export_onnx": needs_export(params),
        "ism_model": attribution["source"],
        "ism_onnx": attribution["onnx"],
        "motifs": runs_motifs(params),
        "model_flags": {
            "export-onnx": [*_model_flags(params, named), "--precision", export_precision(params)],
            # exported once (export_onnx): predict runs the exported file, which each runner names
            "predict": [*_model_flags(params, None if needs_export(params) else named),
                        "--backend", params["backend"], *readouts],
            "ism": [*_model_flags(params, named), "--backend", attribution["backend"], *readouts,
                    *attribution["ism_flags"]],
            "motifs": [*_model_flags(params, named), "--backend", attribution["backend"], *readouts,
                       *attribution["motifs_flags"]],
        },
    }


def plan_from_nextflow(params_json: str | Path, launch_dir: str | Path,
                       staged_sheet: str | Path | None = None) -> dict[str, Any]:
    """The plan of a Nextflow run: its params (JSON, as main.nf writes them) validated as ``seqgx run``
    validates a params file, relative paths against the launch folder. Parameters that are not seqgx's
    (a profile's own, Nextflow's camelCase twins) are left out: main.nf warns about them."""
    import yaml  # JSON is YAML: a params file serves too

    from seqgx.params import PARAMS_BY_NAME, validate_params

    raw = yaml.safe_load(Path(params_json).read_text()) or {}
    known = {k: v for k, v in raw.items() if k in PARAMS_BY_NAME}
    params = validate_params(known, base_dir=Path(launch_dir), source="params of the Nextflow run",
                             check_files=False)
    plan = make_plan(params, check_files=False, staged_sheet=staged_sheet)
    _refuse_shared_file_names(plan, params)
    return plan


def _refuse_shared_file_names(plan: dict[str, Any], params: dict) -> None:
    """Nextflow stages every tissue's files into one task (CHECK_INPUTS, GENES) by file name: two
    tissues' files with one name would collide (``seqgx run`` reads them where they are)."""
    seen: dict[str, str] = {}
    for t in plan["tissues"]:
        for f in (t["expression"], t["covariates"]):
            if not f:
                continue
            name = Path(f).name
            if name in seen and seen[name] != f:
                raise SeqgxError(f"tissues samplesheet '{params['tissues']}': tissue '{t['name']}': file "
                                 f"name '{name}' is also used by another tissue's file ('{seen[name]}'); "
                                 f"give each tissue's files distinct names (Nextflow stages them together)")
            seen[name] = f


def shell_words(argv: list[str]) -> str:
    """argv as one shell command-line fragment (each word single-quoted where it needs it)."""
    import shlex

    return " ".join(shlex.quote(a) for a in argv)


def _as_staged(argv: list[str]) -> list[str]:
    """Flags as a Nextflow task takes them: fine-tuned weights files are staged inputs, so
    --finetuned-weights goes (the process names the staged files) and a weights readout is its file name."""
    out: list[str] = []
    skipping = False
    for a in argv:
        if a.startswith("--"):
            skipping = a == "--finetuned-weights"
        if not skipping:
            out.append(Path(a).name if _is_weights(a) else a)
    return out


def write_plan(plan: dict[str, Any], out: str | Path) -> Path:
    """plan.json, with each flag list also as the shell fragment a Nextflow process pastes
    (``model_args``, each tissue's ``stats_args``)."""
    from seqgx.io import atomic_output

    data = dict(plan)
    data["model_args"] = {k: shell_words(_as_staged(v)) for k, v in plan["model_flags"].items()}
    data["tissues"] = [t | {"stats_args": shell_words(_as_staged(t["stats_flags"]))} for t in plan["tissues"]]
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(path) as tmp:
        tmp.write_text(json.dumps(data, indent=1) + "\n")
    return path
