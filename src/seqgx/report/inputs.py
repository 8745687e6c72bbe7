"""What `seqgx report` reads: the merged tables (and the motif analysis's, when the run made them), the
per-batch gene data, the shown genes' saturation and gradient files, the run's record and input checks;
found under one results folder or given one by one (as a Nextflow task stages them)."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from seqgx.errors import SeqgxError
from seqgx.log import get_logger
from seqgx.report.genedata import SUFFIX as GENEDATA_SUFFIX
from seqgx.report.genedata import GeneDataStore
from seqgx.tables import read_tsv

log = get_logger(__name__)

ASSESSMENT_FILES = ("genes.tsv", "drivers.tsv", "summary.json")
ASSESSMENT_FIX = "it is written by 'seqgx merge' (the merge step of 'seqgx run'); run that step first"
GENE_TEXT_COLUMNS = ("gene_id", "gene_name", "chrom", "strand", "readout", "readout_name", "status",
                     "predixcan_source", "model", "model_sha256", "variant_id", "ref", "alt")
MOTIF_TEXT_COLUMNS = ("seqlet_id", "seqlet_tf", "seqlet_tf_matrix_id", "tf_name", "tf_matrix_id", "sequence",
                      "analysis", "motif_id", "motif_name", "consensus", "counts", "scale_kind")
#: The motif analysis's merged files (`seqgx merge --motifs`): optional; without them the report says the
#: motif content was not computed. motif_snvs.tsv is left out: it is large and the report shows none of it.
MOTIF_FILES = ("driver_motifs.tsv", "seqlets.tsv", "motif_enrichment.tsv", "motif_summary.json",
               "motif_clusters.meme")
MOTIF_FIX = ("it is written by 'seqgx merge --motifs' (the motif step of a run with motifs: true and "
             "tss_window > 0)")
#: Columns a motif table needs for the report to use it (others are shown when present).
MOTIF_REQUIRED = {"driver_motifs.tsv": ("gene_id", "readout", "variant_id", "in_seqlet"),
                  "seqlets.tsv": ("gene_id", "readout", "seqlet_id", "start", "end"),
                  "motif_enrichment.tsv": ("readout", "analysis", "motif_id", "enriched")}


@dataclass
class ReportInputs:
    """Everything the report shows, read once."""

    genes: pd.DataFrame
    drivers: pd.DataFrame
    summary: dict[str, Any]
    genedata: GeneDataStore
    saturation: dict[str, Path] = field(default_factory=dict)  # gene id -> .saturation.npz
    gradients: dict[str, Path] = field(default_factory=dict)  # gene id -> .gradients.npz
    run: dict[str, Any] = field(default_factory=dict)  # pipeline_info/run.json, or {"params": ...}
    check: dict[str, Any] = field(default_factory=dict)  # check/check_summary.json
    finetune: pd.DataFrame | None = None  # seqgx finetune's held-out table
    sources: dict[str, str] = field(default_factory=dict)  # what was read from where
    assessment_files: dict[str, Path] = field(default_factory=dict)
    motif_files: dict[str, Path] = field(default_factory=dict)  # those of MOTIF_FILES found
    driver_motifs: pd.DataFrame | None = None  # None: not computed (or unreadable)
    seqlets: pd.DataFrame | None = None
    motif_enrichment: pd.DataFrame | None = None
    motif_summary: dict[str, dict[str, Any]] = field(default_factory=dict)  # readout -> figures
    motif_fdr_alpha: float | None = None


def _files(items: Sequence[str | os.PathLike] | None, suffixes: Sequence[str]) -> list[Path]:
    """Files named, a directory standing for its files with one of ``suffixes``; missing paths are an
    error (the user named them)."""
    out: list[Path] = []
    for item in items or []:
        p = Path(item)
        if p.is_dir():
            out.extend(sorted(f for f in p.iterdir() if f.is_file() and not f.name.startswith(".tmp-")
                              and f.name.endswith(tuple(suffixes))))
        elif p.is_file():
            out.append(p)
        else:
            raise SeqgxError(f"'{p}' does not exist; pass an existing file or folder")
    return list(dict.fromkeys(out))


def read_table(path: Path, what: str, fix: str, text: Sequence[str] = GENE_TEXT_COLUMNS) -> pd.DataFrame:
    """A seqgx TSV: NA for missing, the ``text`` columns kept as text."""
    try:
        t = read_tsv(path, dtype={c: str for c in text}, low_memory=False)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise SeqgxError(f"{what} '{path}' cannot be read as a tab-separated table "
                         f"({str(exc).splitlines()[0] if str(exc) else type(exc).__name__}); {fix}") from None
    return t


def _assessment(items: Sequence[str | os.PathLike]) -> tuple[dict[str, Path], dict[str, Path]]:
    """genes.tsv, drivers.tsv and summary.json (required), and the motif files found (optional), from a
    folder or among the files given (as a Nextflow task stages every MERGE output); others are ignored."""
    found: dict[str, Path] = {}
    motifs: dict[str, Path] = {}
    folders = []
    for item in items:
        p = Path(item)
        if p.is_dir():
            folders.append(p)
            for name in ASSESSMENT_FILES:
                if (p / name).is_file():
                    found.setdefault(name, p / name)
            for name in MOTIF_FILES:
                if (p / name).is_file():
                    motifs.setdefault(name, p / name)
        elif p.is_file() and p.name in ASSESSMENT_FILES:
            found.setdefault(p.name, p)
        elif p.is_file() and p.name in MOTIF_FILES:
            motifs.setdefault(p.name, p)
        elif p.is_file():
            log.debug("assessment file %s is not one the report reads; ignored", p)
        else:
            raise SeqgxError(f"assessment '{p}' does not exist; {ASSESSMENT_FIX}")
    for name in ASSESSMENT_FILES:
        if name not in found:
            where = folders[0] / name if folders else Path(name)
            raise SeqgxError(f"assessment file '{where}' is missing; {ASSESSMENT_FIX}")
    return found, motifs


def _motif_table(path: Path | None, name: str) -> pd.DataFrame | None:
    """One motif table, or None when absent, unreadable or short of a needed column: optional input, so a
    warning and "not computed" in the report rather than an error."""
    if path is None:
        return None
    try:
        t = read_table(path, "motif table", MOTIF_FIX, (*GENE_TEXT_COLUMNS, *MOTIF_TEXT_COLUMNS))
    except SeqgxError as exc:
        log.warning("%s; the report leaves the motif content it holds out", exc)
        return None
    missing = [c for c in MOTIF_REQUIRED.get(name, ()) if c not in t]
    if missing:
        log.warning("motif table '%s' lacks column '%s' (%s); the report leaves it out", path, missing[0],
                    MOTIF_FIX)
        return None
    return t


def read_motifs(files: dict[str, Path], summary: dict[str, Any]) -> dict[str, Any]:
    """The motif analysis's tables and figures per readout: summary.json's ``motifs``, else
    motif_summary.json's ``readouts``. Returns ReportInputs' motif fields."""
    figures = summary.get("motifs") if isinstance(summary.get("motifs"), dict) else {}
    alpha = None
    if "motif_summary.json" in files:
        try:
            ms = json.loads(files["motif_summary.json"].read_text())
        except (OSError, json.JSONDecodeError):
            log.warning("motif summary '%s' is not valid JSON; %s", files["motif_summary.json"], MOTIF_FIX)
            ms = {}
        if isinstance(ms, dict):
            alpha = finite_or_none(ms.get("fdr_alpha"))
            if not figures and isinstance(ms.get("readouts"), dict):
                figures = ms["readouts"]
    return {"driver_motifs": _motif_table(files.get("driver_motifs.tsv"), "driver_motifs.tsv"),
            "seqlets": _motif_table(files.get("seqlets.tsv"), "seqlets.tsv"),
            "motif_enrichment": _motif_table(files.get("motif_enrichment.tsv"), "motif_enrichment.tsv"),
            "motif_summary": {str(r): f for r, f in (figures or {}).items() if isinstance(f, dict)},
            "motif_fdr_alpha": alpha}


def _by_gene(paths: Sequence[Path], suffix: str) -> dict[str, Path]:
    return {p.name[: -len(suffix)]: p for p in paths if p.name.endswith(suffix)}


def read_run_info(path: Path) -> dict[str, Any]:
    """``pipeline_info/run.json`` of `seqgx run` -> {seqgx_version, params, inputs, steps_done}; or a params
    file (YAML/JSON mapping, as a Nextflow run has) -> {params}."""
    try:
        raw = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise SeqgxError(f"run information '{path}' cannot be read ({type(exc).__name__}); pass "
                         f"pipeline_info/run.json or the params file") from None
    if not isinstance(raw, dict):
        raise SeqgxError(f"run information '{path}' is not a mapping; pass pipeline_info/run.json or the "
                         f"params file")
    if isinstance(raw.get("configuration"), dict):
        conf = raw["configuration"]
        return {"seqgx_version": conf.get("seqgx_version"), "params": conf.get("params") or {},
                "inputs": conf.get("inputs") or {}, "steps_done": raw.get("steps_done") or []}
    return {"params": raw}


def read_finetune(path: Path) -> pd.DataFrame:
    """seqgx finetune's held-out table (``<name>.heldout.tsv``, or the report JSON naming it)."""
    if path.suffix == ".json":
        try:
            report = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            raise SeqgxError(f"finetune report '{path}' is not valid JSON; pass the .report.json or "
                             f".heldout.tsv 'seqgx finetune' wrote") from None
        named = Path(str(report.get("heldout_table", "")))
        path = named if named.is_file() else path.with_name(path.name.removesuffix(".report.json")
                                                            + ".heldout.tsv")
    fix = "pass the .heldout.tsv 'seqgx finetune' wrote"
    t = read_table(path, "finetune held-out table", fix)
    missing = [c for c in ("gene_id", "observed", "predicted") if c not in t]
    if missing:
        raise SeqgxError(f"finetune held-out table '{path}' lacks column '{missing[0]}'; {fix}")
    return t


def load_inputs(results: str | os.PathLike | None = None, assessment: Sequence[str] | None = None,
                stats: Sequence[str] | None = None, ism: Sequence[str] | None = None,
                run_info: str | os.PathLike | None = None, check: str | os.PathLike | None = None,
                finetune: str | os.PathLike | None = None) -> ReportInputs:
    """Read the report's inputs. ``results``: a run's output folder, standing for ``assessment/``,
    ``stats/`` and ``attribution/stats/``, ``ism/``, ``pipeline_info/run.json``, ``check/`` (and
    ``finetune/*.heldout.tsv``); each explicit argument replaces its part. Of gene data files naming the
    same gene, the last one given is used."""
    res = Path(results) if results else None
    if res is not None and not res.is_dir():
        raise SeqgxError(f"results folder '{res}' does not exist; pass the outdir of 'seqgx run'")
    if not assessment and res is None:
        raise SeqgxError("no inputs: pass --results (a run's outdir) or --assessment")
    found, motif_files = _assessment(assessment or [res / "assessment"])  # type: ignore[operator]
    sources = {k: str(v) for k, v in (found | motif_files).items()}
    genes = read_table(found["genes.tsv"], "genes table", ASSESSMENT_FIX)
    drivers = read_table(found["drivers.tsv"], "drivers table", ASSESSMENT_FIX)
    for c in ("gene_id", "readout", "r", "null_p"):
        if c not in genes:
            raise SeqgxError(f"genes table '{found['genes.tsv']}' lacks column '{c}'; {ASSESSMENT_FIX}")
    for c in ("gene_id", "readout", "variant_id", "pos"):
        if c not in drivers:
            raise SeqgxError(f"drivers table '{found['drivers.tsv']}' lacks column '{c}'; {ASSESSMENT_FIX}")
    try:
        summary = json.loads(found["summary.json"].read_text())
    except (OSError, json.JSONDecodeError):
        raise SeqgxError(f"summary '{found['summary.json']}' is not valid JSON; {ASSESSMENT_FIX}") from None
    if "readout_name" not in genes:
        genes["readout_name"] = genes["readout"]
    genes["readout_name"] = genes["readout_name"].fillna(genes["readout"])

    # Phase 2 (attribution/stats) after phase 1 (stats): a gene's later data, with its ISM, wins.
    phases = [res / "stats", res / "attribution" / "stats"] if res is not None else []
    stats_items = stats or [d for d in phases if d.is_dir()]
    gd_files = [p for p in _files(stats_items, (GENEDATA_SUFFIX,)) if p.name.endswith(GENEDATA_SUFFIX)]
    if not gd_files:
        log.warning("no '*%s' files (written by 'seqgx stats'): the gene pages show the tables only",
                    GENEDATA_SUFFIX)
    sources["gene data"] = f"{len(gd_files)} files in {', '.join(map(str, stats_items))}"
    ism_items = ism if ism else ([res / "ism"] if res is not None and (res / "ism").is_dir() else [])
    ism_files = _files(ism_items, (".saturation.npz", ".gradients.npz"))

    run: dict[str, Any] = {}
    rpath = Path(run_info) if run_info else (res / "pipeline_info" / "run.json" if res is not None else None)
    if rpath is not None and (run_info or rpath.is_file()):
        if not rpath.is_file():
            raise SeqgxError(f"run information '{rpath}' does not exist; pass pipeline_info/run.json or the "
                             f"params file")
        run = read_run_info(rpath)
        sources["run"] = str(rpath)
    cpath = Path(check) if check else (res / "check" if res is not None else None)
    check_summary: dict[str, Any] = {}
    if cpath is not None:
        cfile = cpath / "check_summary.json" if cpath.is_dir() else cpath
        if cfile.is_file():
            try:
                check_summary = json.loads(cfile.read_text())
                sources["input checks"] = str(cfile)
            except json.JSONDecodeError:
                raise SeqgxError(f"'{cfile}' is not valid JSON; re-run 'seqgx check-inputs'") from None
        elif check:
            raise SeqgxError(f"input checks '{cfile}' do not exist; pass check/check_summary.json")
    ft = None
    fpath = Path(finetune) if finetune else None
    if fpath is None and res is not None and (res / "finetune").is_dir():
        held = sorted((res / "finetune").glob("*.heldout.tsv"))
        fpath = held[0] if held else None
    if fpath is not None:
        if not fpath.is_file():
            raise SeqgxError(f"finetune output '{fpath}' does not exist; pass the .heldout.tsv or "
                             f".report.json 'seqgx finetune' wrote")
        ft = read_finetune(fpath)
        sources["finetune"] = str(fpath)
    return ReportInputs(genes=genes, drivers=drivers, summary=summary, genedata=GeneDataStore(gd_files),
                        saturation=_by_gene(ism_files, ".saturation.npz"),
                        gradients=_by_gene(ism_files, ".gradients.npz"), run=run, check=check_summary,
                        finetune=ft, sources=sources, assessment_files=found, motif_files=motif_files,
                        **read_motifs(motif_files, summary))


def load_npz(path: Path | None) -> dict[str, np.ndarray] | None:
    """An ``.npz`` read whole, or None (absent or unreadable: the figure says not computed)."""
    if path is None:
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except (OSError, ValueError) as exc:
        log.warning("%s cannot be read (%s); its figure is left out", path, exc)
        return None


def finite_or_none(x: Any) -> float | None:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None
