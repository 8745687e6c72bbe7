"""`seqgx report`: the figures as files and two kinds of self-contained HTML page.

``report/index.html`` holds the headline, every cohort figure per readout, the gene table, the run's QC and
provenance; ``report/genes/<gene_id>.html`` one page per shown gene. Every script, style and image is
inline (PNG as base64 for dense plots, SVG elements for small ones): a page opens offline and requests
nothing (its Content-Security-Policy allows no fetch at all). Each figure is also written as
``figures/<name>.{png,svg,pdf}`` with its data as ``data/<name>.tsv``. The report folder is built under a
temporary name and renamed when complete.
"""

from __future__ import annotations

import base64
import collections
import datetime as dt
import gzip
import io
import json
import math
import re
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402

from seqgx import __version__  # noqa: E402
from seqgx.io import atomic_output  # noqa: E402
from seqgx.log import get_logger  # noqa: E402
from seqgx.report import figures as F  # noqa: E402
from seqgx.report.genedata import GeneData  # noqa: E402
from seqgx.report.inputs import ReportInputs, finite_or_none, load_npz  # noqa: E402
from seqgx.tables import FALSE_SPELLINGS, TRUE_SPELLINGS  # noqa: E402

log = get_logger(__name__)

DPI = 200
#: Figure files written by default: every format for the cohort figures; for the gene figures the format
#: the page shows (PNG or SVG): every format would double the time of 50 gene pages.
COHORT_FORMATS = ("png", "svg", "pdf")
GENE_FORMATS: tuple[str, ...] = ("png", "svg", "pdf")  # every figure as a file, gene pages' too
#: Embed the full genes/drivers TSVs (gzip, base64) in index.html up to this compressed size each; larger
#: ones are linked from ``data/`` beside it.
EMBED_TSV_LIMIT = 3_000_000
TABLE_COLUMNS = ("gene_name", "gene_id", "readout_name", "r", "null_p", "fdr", "significant", "n_drivers",
                 "approx_r", "predixcan_r", "n_snvs", "status")
matplotlib.rcParams.update({"font.size": 8.5, "axes.spines.top": False, "axes.spines.right": False,
                            "svg.hashsalt": "seqgx", "svg.fonttype": "path"})


def slug(text: str) -> str:
    """A file-name-safe form of a readout or gene id."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", str(text)).strip("_") or "x"


# ---------------------------------------------------------------------------------------------------
# One figure -> files and an inline element
# ---------------------------------------------------------------------------------------------------

@dataclass
class Rendered:
    """A figure ready for a page: its inline element (PNG data URI or SVG markup), hover points, the
    files written (name -> bytes, relative to the report folder)."""

    name: str
    title: str
    caption: str
    reason: str = ""
    kind: str = "none"  # png | svg | none
    src: str = ""
    svg: str = ""
    hover: str = ""  # JSON: {"w", "h", "x", "y", "g"} in the PNG's pixels
    files: dict[str, bytes] = field(default_factory=dict)
    links: list[tuple[str, str]] = field(default_factory=list)  # (label, relative path)
    size: int = 0  # bytes the inline element adds to the page


_SVG_ID = re.compile(r'\sid="([^"]+)"')
_SVG_XMLNS = re.compile(r'\sxmlns(?::\w+)?="[^"]*"')
_SVG_METADATA = re.compile(r"<metadata>.*?</metadata>\s*", re.S)
_SVG_REF = re.compile(r'(?:href="#|url\(#)([^")]+)')


def scope_svg(svg: str, prefix: str) -> str:
    """An SVG file as an inline element: no XML prolog, namespace declarations or metadata; ids something
    refers to get ``prefix`` (several figures' ids never clash in one page), the others (matplotlib names
    every artist) are dropped."""
    svg = svg[svg.index("<svg"):]
    # Inside HTML the parser knows the SVG and xlink namespaces: their declarations (URLs, though never
    # fetched) and matplotlib's RDF metadata go, so the page names no other host at all.
    svg = _SVG_XMLNS.sub("", _SVG_METADATA.sub("", svg, count=1))
    used = set(_SVG_REF.findall(svg))
    svg = _SVG_ID.sub(lambda m: f' id="{prefix}-{m.group(1)}"' if m.group(1) in used else "", svg)
    return _SVG_REF.sub(lambda m: m.group(0).replace(f"#{m.group(1)}", f"#{prefix}-{m.group(1)}"), svg)


def _hover_json(plot: F.Plot, height_px: int, width_px: int) -> dict[str, Any]:
    xs, ys, ids = [], [], []
    for layer in plot.hover:
        pts = layer.ax.transData.transform(np.column_stack([layer.x.astype(float), layer.y.astype(float)]))
        bbox = layer.ax.get_window_extent()
        ok = np.all(np.isfinite(pts), axis=1) & (pts[:, 0] >= bbox.x0 - 1) & (pts[:, 0] <= bbox.x1 + 1) \
            & (pts[:, 1] >= bbox.y0 - 1) & (pts[:, 1] <= bbox.y1 + 1)
        xs.extend(np.rint(pts[ok, 0]).astype(int).tolist())
        ys.extend(np.rint(height_px - pts[ok, 1]).astype(int).tolist())
        ids.extend(str(g) for g in layer.gene_ids[ok])
    return {"w": width_px, "h": height_px, "x": xs, "y": ys, "g": ids}


def _png(canvas: FigureCanvasAgg) -> bytes:
    """The canvas as drawn, as PNG: encoding the Agg buffer saves the second draw ``savefig`` would do."""
    from PIL import Image

    width, height = canvas.get_width_height(physical=True)
    image = Image.frombuffer("RGBA", (width, height), canvas.buffer_rgba(), "raw", "RGBA", 0, 1)
    buf = io.BytesIO()
    image.save(buf, format="png", compress_level=6, dpi=(DPI, DPI))
    return buf.getvalue()


def render(plot: F.Plot, stem: str, figure_dir: str, data_dir: str, link_prefix: str = "",
           formats: Sequence[str] = ("png", "svg", "pdf")) -> Rendered:
    """Write ``plot`` as ``<figure_dir>/<stem>.<format>`` for each of ``formats`` and
    ``<data_dir>/<stem>.tsv`` (bytes kept in the result) and make its inline element: the PNG when
    ``plot.raster``, else the SVG (whose file is then written too)."""
    out = Rendered(plot.name, plot.title, plot.caption, reason=plot.reason)
    if plot.fig is None:
        return out
    fig = plot.fig
    canvas = FigureCanvasAgg(fig)
    fig.set_dpi(DPI)
    if plot.raster or "png" in formats:
        canvas.draw()  # layout at the PNG's resolution: the hover points are the PNG's pixels
        fig.set_layout_engine("none")  # keep that layout for the other formats: it is costly
        png = _png(canvas)
        if plot.raster:
            width, height = canvas.get_width_height(physical=True)
            hover = _hover_json(plot, height, width) if plot.hover else None
            out.kind, out.src = "png", "data:image/png;base64," + base64.b64encode(png).decode()
            out.hover = json.dumps(hover, separators=(",", ":")) if hover else ""
            out.size = len(out.src) + len(out.hover)
        out.files[f"{figure_dir}/{stem}.png"] = png
    if not plot.raster or "svg" in formats:
        buf = io.BytesIO()
        fig.savefig(buf, format="svg")
        svg = buf.getvalue().decode()
        if not plot.raster:
            out.kind, out.svg = "svg", scope_svg(svg, slug(stem).replace(".", "-"))
            out.size = len(out.svg)
        out.files[f"{figure_dir}/{stem}.svg"] = svg.encode()
    if "pdf" in formats:
        buf = io.BytesIO()
        fig.savefig(buf, format="pdf", metadata={"Creator": f"seqgx {__version__}"})
        out.files[f"{figure_dir}/{stem}.pdf"] = buf.getvalue()
    if not plot.data.empty:
        out.files[f"{data_dir}/{stem}.tsv"] = plot.data.to_csv(sep="\t", index=False, na_rep="NA",
                                                               float_format="%.6g").encode()
    out.links = [(Path(p).suffix[1:].upper().replace("TSV", "data"), link_prefix + p) for p in out.files]
    return out


# ---------------------------------------------------------------------------------------------------
# Which genes get a page
# ---------------------------------------------------------------------------------------------------

def select_genes(genes: pd.DataFrame, top: int, wanted: Sequence[str] = ()) -> list[str]:
    """Significant genes (in any readout) by their largest |R| among significant rows, the first ``top``;
    then every gene of ``wanted`` (ids with or without version suffix, or names) not yet chosen.
    Unmatched names are a warning."""
    r = pd.to_numeric(genes["r"], errors="coerce").abs()
    sig = F.as_bool(genes["significant"]) if "significant" in genes else np.zeros(len(genes), bool)
    best = (genes.assign(abs_r=r)[sig].groupby("gene_id", sort=False)["abs_r"].max()
            .sort_values(ascending=False, kind="stable"))
    chosen = list(best.index[:max(int(top), 0)])
    ids = pd.unique(genes["gene_id"].astype(str))
    plain = {}
    for g in ids:
        plain.setdefault(g.split(".")[0], []).append(g)
    names: dict[str, list[str]] = {}
    for g, n in genes.drop_duplicates("gene_id")[["gene_id", "gene_name"]].itertuples(index=False):
        names.setdefault(str(n), []).append(str(g))
    unmatched = []
    known = set(ids)
    for w in (x.strip() for x in wanted):
        if not w:
            continue
        hits = [w] if w in known else names.get(w) or plain.get(w.split(".")[0], [])
        if not hits:
            unmatched.append(w)
        chosen.extend(h for h in hits if h not in chosen)
    if unmatched:
        log.warning("report genes not found in the genes table (%d): %s", len(unmatched),
                    ", ".join(unmatched[:5]))
    return chosen


# ---------------------------------------------------------------------------------------------------
# Text: headline, QC, provenance
# ---------------------------------------------------------------------------------------------------

def _n(x: Any) -> str:
    v = finite_or_none(x)
    return "NA" if v is None else f"{int(v):,}" if float(v).is_integer() else f"{v:,.3g}"


def _pct(x: Any) -> str | None:
    v = finite_or_none(x)
    return None if v is None else f"{100 * v:.0f}%"


def headline(summary: dict[str, Any], names: dict[str, str]) -> list[tuple[str, str]]:
    """One paragraph per readout, in sentences, from summary.json."""
    alpha = summary.get("fdr_alpha", 0.05)
    out = []
    for readout, s in (summary.get("readouts") or {}).items():
        tested = s.get("n_genes_tested") or 0
        if not tested:
            out.append((names.get(readout, readout),
                        "No gene could be tested (see the status counts below)."))
            continue
        parts = [f"{_n(s.get('n_significant'))} of {_n(tested)} genes are significant (FDR < {alpha:g})"]
        if s.get("n_significant"):
            neg = _pct(s.get("fraction_significant_negative"))
            parts.append(f"{_n(s.get('n_significant_negative'))} of them ({neg}) with negative R")
        neg_sup = _pct(s.get("supported_fraction_negative_genes"))
        pos_sup = _pct(s.get("supported_fraction_positive_genes"))
        if neg_sup or pos_sup:
            parts.append("drivers of genes with negative R are supported by the observed eQTL in "
                         f"{neg_sup or 'NA'} of cases, of genes with positive R in {pos_sup or 'NA'}")
        text = "; ".join(parts) + "."
        if finite_or_none(s.get("mean_r")) is not None:
            text += f" Mean R across tested genes: {s['mean_r']:.3f}."
        if s.get("n_genes_with_predixcan"):
            text += (f" On the {_n(s['n_genes_with_predixcan'])} genes with a PrediXcan baseline the model's "
                     f"mean R is {_n(s.get('mean_r_model_on_predixcan_genes'))} against "
                     f"{_n(s.get('mean_r_predixcan'))} (R of the model's |R| with PrediXcan's: "
                     f"{_n(s.get('corr_abs_r_model_vs_predixcan'))}).")
        if s.get("n_genes_with_drivers"):
            text += (f" {_n(s['n_genes_with_drivers'])} genes have driver SNVs; "
                     f"{_pct(s.get('fraction_single_driver')) or 'NA'} of them a single one, "
                     f"{_pct(s.get('fraction_at_most_5_drivers')) or 'NA'} at most five.")
        out.append((names.get(readout, readout), text))
    return out


def qc_sections(inputs: ReportInputs) -> list[tuple[str, list[tuple[str, str]]]]:
    """The run's QC as (section, [(what, value)]) from whatever of it the inputs hold."""
    sections = []
    c = inputs.check
    if c:
        rows = [("VCF samples", _n(c.get("vcf_samples"))),
                ("expression samples", _n(c.get("expression_samples"))),
                ("samples kept (genotypes and expression)", _n(c.get("matched_samples"))),
                ("dropped: expression without genotypes", _n(c.get("expression_samples_without_genotypes"))),
                ("dropped: genotypes without expression", _n(c.get("vcf_samples_without_expression"))),
                ("annotation genes", _n(c.get("annotation_genes"))),
                ("expression genes", _n(c.get("expression_genes"))),
                ("expression genes missing from the annotation",
                 _n(c.get("expression_genes_missing_in_annotation"))),
                ("VCF files", _n(c.get("vcf_files")))]
        renamed = c.get("contigs_renamed") or []
        if renamed:
            rows.append(("contigs renamed", ", ".join(map(str, renamed[:10]))))
        sections.append(("Samples and inputs (check-inputs)", [r for r in rows if r[1] != "NA"]))
    g = inputs.genes.drop_duplicates("gene_id")
    snvs = pd.to_numeric(g.get("n_snvs", pd.Series(dtype=float)), errors="coerce").dropna()
    rows = [("genes", _n(len(g)))]
    if len(snvs):
        rows += [("SNVs per gene (median; min - max)",
                  f"{_n(snvs.median())}; {_n(snvs.min())} - {_n(snvs.max())}"),
                 ("genes without SNVs", _n(int((snvs == 0).sum())))]
    samples = pd.to_numeric(inputs.genes.get("n_samples", pd.Series(dtype=float)), errors="coerce").dropna()
    if len(samples):
        rows.append(("people per gene-readout (median; min - max)",
                     f"{_n(samples.median())}; {_n(samples.min())} - {_n(samples.max())}"))
    gd = inputs.genedata.genes
    if len(gd) and "dedup_ratio" in gd:
        ratio = pd.to_numeric(gd["dedup_ratio"], errors="coerce").dropna()
        if len(ratio):
            rows.append(("deduplication ratio, sample haplotypes / distinct (median; min - max)",
                         f"{ratio.median():.2f}; {ratio.min():.2f} - {ratio.max():.2f}"))
    sections.append(("Genes and SNVs", rows))
    skip_cols = [c for c in gd.columns if c not in ("gene_id", "dedup_ratio", "n_distinct_haplotypes")
                 and not c.startswith("reference:")]
    if skip_cols:
        rows = []
        for c in skip_cols:
            v = pd.to_numeric(gd[c], errors="coerce").fillna(0)
            rows.append((c.replace("_", " "), f"{_n(v.sum())} in {_n(int((v > 0).sum()))} genes"))
        sections.append((f"Records in the windows ({_n(len(gd))} genes with gene data)", rows))
    return sections


def status_table(summary: dict[str, Any], names: dict[str, str]) -> tuple[list[str], list[list[str]]]:
    counts = summary.get("status_counts") or {}
    statuses = sorted({s for c in counts.values() for s in c}, key=lambda s: (s != "ok", s))
    return statuses, [[names.get(r, r), *[_n(c.get(s, 0)) for s in statuses]] for r, c in counts.items()]


def provenance(inputs: ReportInputs) -> dict[str, Any]:
    run = inputs.run
    models = list(inputs.summary.get("models") or [])
    if not models and "model" in inputs.genes:
        pairs = inputs.genes[["model", "model_sha256"]].fillna("").drop_duplicates()
        models = [f"{m} (sha256 {s})" for m, s in pairs.itertuples(index=False) if m]
    params = run.get("params") or {}
    summary_file = inputs.assessment_files.get("summary.json")
    written = (dt.datetime.fromtimestamp(summary_file.stat().st_mtime, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
               if summary_file else "NA")
    return {"report_version": __version__, "run_version": run.get("seqgx_version") or "NA",
            "models": models or ["NA (the tables name no model)"],
            "params": [(k, v if isinstance(v, str) else json.dumps(v)) for k, v in sorted(params.items())],
            "inputs": [(k, "absent" if v is None else f"{v[0]:,} bytes") for k, v in
                       sorted((run.get("inputs") or {}).items())],
            "steps": run.get("steps_done") or [],
            "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"), "results_written": written,
            "sources": sorted(inputs.sources.items()),
            "references": MOTIF_REFERENCES if motifs_computed(inputs) else []}


# ---------------------------------------------------------------------------------------------------
# The motif analysis
# ---------------------------------------------------------------------------------------------------

MOTIF_REFERENCES = [
    ("JASPAR 2024", "Rauluseviciute I, et al. JASPAR 2024: 20th anniversary of the open-access database of "
                    "transcription factor binding profiles. Nucleic Acids Res 2024; 52(D1): D174-D182. "
                    "doi:10.1093/nar/gkad1059 (CORE vertebrates, non-redundant; pyjaspar's bundled "
                    "database)"),
    ("TOMTOM", "Gupta S, Stamatoyannopoulos JA, Bailey TL, Noble WS. Quantifying similarity between motifs. "
               "Genome Biol 2007; 8: R24 (seqlet to JASPAR matches; memelite's implementation)"),
    ("FIMO", "Grant CE, Bailey TL, Noble WS. FIMO: scanning for occurrences of a given motif. Bioinformatics "
             "2011; 27: 1017-1018 (JASPAR sites around drivers and controls; memelite's implementation)"),
    ("memelite", "Schreiber J. memesuite-lite (Python package memelite): numba implementations of TOMTOM and "
                 "FIMO, which seqgx calls"),
]
ENRICHMENT_COLUMNS = (("readout", "readout"), ("analysis", "analysis"), ("motif_id", "motif"),
                      ("motif_name", "name"), ("consensus", "consensus"), ("n_members", "members"),
                      ("cases_with", "cases with"), ("cases_without", "cases without"),
                      ("controls_with", "controls with"), ("controls_without", "controls without"),
                      ("odds_ratio", "odds ratio"), ("p_value", "p"), ("q_value", "q"))


def motifs_computed(inputs: ReportInputs) -> bool:
    return bool(inputs.motif_summary) or any(t is not None for t in (inputs.driver_motifs, inputs.seqlets,
                                                                      inputs.motif_enrichment))


def motif_window_text(inputs: ReportInputs) -> str:
    """Where seqlets are called: +-motif_window bp of the TSS, within the saturation window (tss_window)."""
    params = inputs.run.get("params") or {}
    sizes = [v for v in (finite_or_none(params.get("motif_window")), finite_or_none(params.get("tss_window")))
             if v is not None and v > 0]
    return f"±{int(min(sizes)):,} bp" if sizes else "the motif window (±1,000 bp by default)"


def motif_sentences(motifs: dict[str, dict[str, Any]], names: dict[str, str], window: str,
                    alpha: float) -> list[tuple[str, str]]:
    """One paragraph per readout from summary.json's ``motifs``: main drivers in a seqlet, by support and by
    the sign of R, against chance; motifs enriched."""
    out = []
    for readout, f in motifs.items():
        pct = collections.defaultdict(lambda: "NA", {k: _pct(v) or "NA" for k, v in f.items()})
        n_main = int(finite_or_none(f.get("n_main_drivers")) or 0)
        n_window = finite_or_none(f.get("n_main_drivers_in_tss_window"))
        n_window = n_main if n_window is None else int(n_window)
        frac = finite_or_none(f.get("fraction_main_drivers_in_seqlet"))
        if not n_main:
            text = "No main driver in this readout."
        elif not n_window or frac is None:
            text = (f"None of the {n_main:,} main drivers lies within {window} of the TSS, where seqlets are "
                    f"called.")
        else:
            text = (f"{round(frac * n_window):,} of {n_window:,} main drivers ({_pct(frac)}) sit in a seqlet "
                    f"the model learned")
            if n_main > n_window:
                text += f" (the other {n_main - n_window:,} lie beyond {window} of the TSS)"
            n_snvs = finite_or_none(f.get("n_snvs_in_tss_window"))
            text += (f"; {pct['fraction_in_seqlet_supported']} of supported and "
                     f"{pct['fraction_in_seqlet_unsupported']} of unsupported drivers; "
                     f"{pct['fraction_in_seqlet_positive_r']} in genes with positive R, "
                     f"{pct['fraction_in_seqlet_negative_r']} with negative R; by chance "
                     f"{pct['fraction_snvs_in_seqlet']} of the {_n(n_snvs)} SNVs within {window} of the TSS "
                     f"of the same genes.")
        text += (f" Motifs enriched around the drivers at FDR {alpha:g}: {_n(f.get('n_enriched_known', 0))} "
                 f"known (JASPAR), {_n(f.get('n_enriched_de_novo', 0))} de novo.")
        out.append((names.get(readout, readout), text))
    return out


def enriched_rows(table: pd.DataFrame, names: dict[str, str]) -> tuple[list[str], list[list[str]]]:
    """motif_enrichment.tsv's enriched rows, smallest q first, as table cells."""
    e = table[F.as_bool(table["enriched"])].copy()
    e["_q"] = pd.to_numeric(e.get("q_value", pd.Series(np.nan, index=e.index)), errors="coerce")
    e = e.sort_values(["readout", "_q"], kind="stable")
    cols = [(c, label) for c, label in ENRICHMENT_COLUMNS if c in e]
    rows = []
    for rec in e.to_dict("records"):
        row = []
        for c, _ in cols:
            v = rec.get(c)
            missing = v is None or (isinstance(v, float) and math.isnan(v))
            if c == "readout":
                row.append(names.get(str(v), str(v)))
            elif c == "analysis":
                row.append({"known": "known (JASPAR)", "de_novo": "de novo"}.get(str(v), str(v)))
            elif c in ("p_value", "q_value", "odds_ratio"):
                x = finite_or_none(v)
                row.append(f"{x:.3g}" if x is not None else "NA" if missing else str(v))  # inf stays inf
            elif c in ("n_members", "cases_with", "cases_without", "controls_with", "controls_without"):
                row.append(_n(v))
            else:
                row.append("NA" if missing else str(v))
        rows.append(row)
    return [label for _, label in cols], rows


def motif_section(inputs: ReportInputs, names: dict[str, str], formats: Sequence[str]) -> dict[str, Any]:
    """index.html's Motifs section: headline sentences, the seqlet figure (also written as files), the
    enriched motifs; "not computed" and why where the run has no motif analysis."""
    alpha = inputs.motif_fdr_alpha or float(inputs.summary.get("fdr_alpha", 0.05))
    out: dict[str, Any] = {"computed": motifs_computed(inputs), "reason": MOTIF_NOT_COMPUTED, "sentences": [],
                           "figure": None, "alpha": alpha, "enriched_columns": [], "enriched": [],
                           "enrichment_note": "", "window": motif_window_text(inputs),
                           "files": [(n, f"data/{n}") for n in inputs.motif_files]}
    if not out["computed"]:
        return out
    window = out["window"]
    if inputs.motif_summary:
        out["sentences"] = motif_sentences(inputs.motif_summary, names, window, alpha)
        plot = _plot_safely(lambda: F.seqlet_fractions(inputs.motif_summary, names, window),
                            "motif_seqlet_fraction", "Main drivers in a seqlet")
    else:
        plot = F.not_computed("motif_seqlet_fraction", "Main drivers in a seqlet",
                              "summary.json has no 'motifs' and no motif_summary.json was found (written by "
                              "'seqgx merge --motifs')")
    out["figure"] = render(plot, plot.name, "figures", "data", formats=formats)
    if inputs.motif_enrichment is None:
        out["enrichment_note"] = ("Motif enrichment not computed: no motif_enrichment.tsv (written by 'seqgx "
                                  "merge --motifs').")
    else:
        out["enriched_columns"], out["enriched"] = enriched_rows(inputs.motif_enrichment, names)
        if not out["enriched"]:
            out["enrichment_note"] = f"No motif enriched at FDR {alpha:g}."
    return out


# ---------------------------------------------------------------------------------------------------
# Pages
# ---------------------------------------------------------------------------------------------------

def _template_env() -> Any:
    import jinja2

    env = jinja2.Environment(loader=jinja2.PackageLoader("seqgx.report", "templates"),
                             autoescape=jinja2.select_autoescape(["html", "j2"]), trim_blocks=True,
                             lstrip_blocks=True, undefined=jinja2.StrictUndefined)
    env.filters["script_json"] = script_json
    return env


def script_json(obj: Any) -> Any:
    """JSON safe inside a <script> element (no '</' can close it)."""
    from markupsafe import Markup

    text = json.dumps(obj, separators=(",", ":"), allow_nan=False).replace("</", "<\\/")
    return Markup(text.replace("<!--", "<\\!--"))


def _clean(x: Any) -> Any:
    if isinstance(x, float | np.floating):
        v = float(x)
        return None if not math.isfinite(v) else float(f"{v:.4g}")
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, np.bool_):
        return bool(x)
    return x


def gene_table(genes: pd.DataFrame, pages: dict[str, str]) -> dict[str, Any]:
    """The index's gene table: every gene x readout row, column-wise for the page's script."""
    cols = [c for c in TABLE_COLUMNS if c in genes]
    t = genes[cols].copy()
    if "significant" in t:
        t["significant"] = F.as_bool(t["significant"])
    rows = [[_clean(v) for v in row] for row in t.itertuples(index=False, name=None)]
    return {"columns": cols, "rows": rows, "pages": pages}


def _embedded_tsv(path: Path) -> str:
    data = gzip.compress(path.read_bytes(), compresslevel=9, mtime=0)
    return base64.b64encode(data).decode() if len(data) <= EMBED_TSV_LIMIT else ""


def _plot_safely(make: Callable[[], F.Plot], name: str, title: str) -> F.Plot:
    """A figure function's Plot; an unexpected failure on odd data becomes "not computed" (logged), so
    one figure never costs the whole report."""
    try:
        return make()
    except Exception as exc:  # noqa: BLE001 - any failure of one figure: say so in its place
        log.warning("figure %s not drawn: %s: %s", name, type(exc).__name__, exc)
        return F.not_computed(name, title, f"could not be drawn ({type(exc).__name__}: {exc})")


def window_half(inputs: ReportInputs) -> int | None:
    """Half the sequence window (bp each side of the TSS): from the gene data, else the run's parameter."""
    lengths = pd.to_numeric(inputs.genedata.genes.get("window_length", pd.Series(dtype=float)),
                            errors="coerce")
    if lengths.notna().any():
        return int(lengths.max()) // 2
    value = finite_or_none((inputs.run.get("params") or {}).get("window_length"))
    return int(value) // 2 if value else None


def cohort_plots(inputs: ReportInputs, readout: str) -> list[F.Plot]:
    """Every cohort figure of one readout, in page order."""
    g = inputs.genes[inputs.genes["readout"].astype(str) == readout]
    d = inputs.drivers[inputs.drivers["readout"].astype(str) == readout]
    alpha = float(inputs.summary.get("fdr_alpha", 0.05))
    plots: list[tuple[Callable[[], F.Plot], str, str]] = [
        (lambda: F.r_vs_null_p(g, alpha), "r_vs_null_p", "Accuracy per gene"),
        (lambda: F.r_distribution(g), "r_distribution", "Distribution of R"),
        (lambda: F.predixcan_comparison(g), "predixcan", "Model |R| vs the PrediXcan baseline"),
        (lambda: F.supported_fraction(g, d), "supported_fraction", "Drivers supported by the observed eQTL"),
        (lambda: F.drivers_per_gene(g), "drivers_per_gene", "Driver SNVs per gene"),
        (lambda: F.driver_positions(d, g), "driver_positions_tss", "Driver positions near the TSS"),
        (lambda: F.driver_positions(d, g, flank=None, bin_size=F.WINDOW_BIN, extent=window_half(inputs),
                                    name="driver_positions_window"),
         "driver_positions_window", "Driver positions over the window"),
        (lambda: F.approximation_r(g), "approximation", "Linear approximation"),
        (lambda: F.gradient_vs_ism(g), "gradient_vs_ism", "Gradient vs ISM attributions"),
        (lambda: F.gradient_approximation(g), "gradient_approximation", "Approximation from gradients"),
        (lambda: F.finemapped_genes(g), "finemapped_genes", "Genes with a known causal variant"),
    ]
    ref_col = f"reference:{readout}"
    gd = inputs.genedata.genes
    if ref_col in gd:
        t = g.drop_duplicates("gene_id").merge(gd[["gene_id", ref_col]], on="gene_id", how="inner")
        plots.append((lambda: F.reference_vs_observed(
            t, ref_col, "obs_mean", "model readout of the reference sequence", "mean observed expression",
            "reference_vs_observed", "Across genes: reference prediction vs mean observed expression"),
            "reference_vs_observed", "Across genes: reference prediction vs observed mean"))
    return [_plot_safely(*p) for p in plots]


@dataclass
class GenePayload:
    """What one gene page needs; small enough to send to a worker process."""

    gene_id: str
    rows: pd.DataFrame  # the gene's genes.tsv rows (one per readout)
    drivers: pd.DataFrame
    data: GeneData | None
    saturation: dict[str, np.ndarray] | None
    gradients: dict[str, np.ndarray] | None
    formats: tuple[str, ...] = ("png", "svg", "pdf")
    driver_motifs: pd.DataFrame | None = None  # the gene's driver_motifs.tsv rows; None: not computed
    seqlets: pd.DataFrame | None = None  # the gene's seqlets.tsv rows; None: not computed


def gene_plots(p: GenePayload, readout: str) -> list[F.Plot]:
    row = p.rows[p.rows["readout"].astype(str) == readout].iloc[0]
    d = p.drivers[p.drivers["readout"].astype(str) == readout]
    gd = p.data
    if gd is None or gd.readout_index(readout) is None:
        why = "no gene data for this gene and readout (written by 'seqgx stats' as <batch>.genedata.npz)"
        return [F.not_computed(n, t, why) for n, t in (("prediction", "Predicted vs observed expression"),
                                                        ("ism_distance", "ISM vs distance to the TSS"),
                                                        ("ism_eqtl", "ISM vs observed eQTL slope"),
                                                        ("forward", "Forward selection"))]
    k = gd.readout_index(readout)
    assert k is not None
    grad = None
    if p.gradients is not None:
        names = [str(x) for x in p.gradients.get("readouts", [])]
        if readout in names:
            grad = p.gradients["grad_x_input"][names.index(readout)]
    sat_row = None
    if p.saturation is not None:
        names = [str(x) for x in p.saturation.get("readouts", [])]
        sat_row = names.index(readout) if readout in names else None
    tss_index = int(p.gradients["tss_index"]) if p.gradients is not None else gd.window_length // 2
    seqlets = None if p.seqlets is None else p.seqlets[p.seqlets["readout"].astype(str) == readout]
    makers = [
        (lambda: F.prediction_vs_observed(gd, k, row, d), "prediction", "Predicted vs observed expression"),
        (lambda: F.ism_vs_distance(gd, k, d), "ism_distance", "ISM vs distance to the TSS"),
        (lambda: F.ism_vs_eqtl(gd, k, d), "ism_eqtl", "ISM vs observed eQTL slope"),
        (lambda: F.forward_selection(gd, k, d), "forward", "Forward selection"),
        (lambda: F.gradient_track(grad, gd, tss_index, d), "gradient_track", "Gradient track"),
        (lambda: F.saturation_logo(p.saturation, sat_row, gd, d, seqlets=seqlets), "saturation",
         "Saturation ISM"),
    ]
    plots = [_plot_safely(*m) for m in makers]
    status = str(row.get("attribution_status", "computed"))
    if status not in ("computed", "nan", "None"):
        why = ("attribution (ISM) was not run on this gene: it was not selected for attribution"
               if status == "not_selected_for_attribution"
               else "attribution (ISM) was not computed in this run")
        for plot in plots:
            if plot.fig is None and plot.name in ATTRIBUTION_FIGURES:
                plot.reason = why
    return plots


#: Gene figures that need the gene's attribution (ISM, gradients).
ATTRIBUTION_FIGURES = ("ism_distance", "ism_eqtl", "forward", "gradient_track", "saturation")


DRIVER_TABLE_COLUMNS = ("variant_id", "distance_to_tss", "ism", "rank", "frac_increase", "driver_r",
                        "eqtl_slope", "eqtl_p", "carrier_fraction", "is_main", "supported")
MOTIF_TABLE_NOTE = ("Motif context (seqgx motifs): in seqlet, whether the driver lies in a seqlet (a run of "
                    "bases the model attributes) of this readout, NA beyond the motif window; seqlet TF, the "
                    "seqlet's best JASPAR 2024 match (TOMTOM), * when significant (q < 0.05 and shuffle p < "
                    "0.05); TF q, its q-value; score, the driver's attribution divided by the gene's scale "
                    "on the reference and with the alt allele; motif size, the bases of the run through the "
                    "driver whose score reaches the threshold with the driver's sign (0: the driver itself "
                    "does not). Scores and motif sizes are computed for the main driver only (motif status "
                    "not_computed for the others) unless the run used --all-drivers.")
MOTIF_NOT_COMPUTED = ("not computed: the run has no motif analysis (motifs: false or tss_window: 0); 'seqgx "
                      "motifs' and 'seqgx merge --motifs' write driver_motifs.tsv, seqlets.tsv and "
                      "motif_enrichment.tsv into assessment/")


def first_threshold(columns: Sequence[str]) -> str | None:
    """The smallest threshold of driver_motifs.tsv's ``motif_size_ref_<t>`` columns, as written."""
    found = [c.removeprefix("motif_size_ref_") for c in columns if c.startswith("motif_size_ref_")]
    numeric = [t for t in found if finite_or_none(t) is not None]
    return min(numeric, key=float) if numeric else None


def driver_motif_columns(drivers: pd.DataFrame, motifs: pd.DataFrame) -> tuple[list[str], list[list[str]]]:
    """The motif context of each driver (driver_motifs.tsv, matched on variant id) as plainly named table
    columns: in a seqlet, the seqlet's TF match and q, bp to the nearest seqlet, the driver's score on the
    reference and the alt background, the motif size at the first threshold on each; NA where the table
    has no row for the driver."""
    t = first_threshold(list(motifs.columns))
    spec: list[tuple[str, str | None]] = [
        ("in seqlet", "in_seqlet"), ("seqlet TF", None), ("TF q", "seqlet_tf_q"),
        ("bp to nearest seqlet", "seqlet_distance"), ("score ref", "score_ref"), ("score alt", "score_alt")]
    if t is not None:
        spec += [(f"motif size ref (|score| >= {t})", f"motif_size_ref_{t}"),
                 (f"motif size alt (|score| >= {t})", f"motif_size_alt_{t}")]
    spec.append(("motif status", "status"))
    by_variant = {str(v): r for v, r in zip(motifs["variant_id"].astype(str),
                                            motifs.to_dict("records"), strict=True)}
    rows = []
    for variant in drivers["variant_id"].astype(str):
        m = by_variant.get(variant)
        row = []
        for _, col in spec:
            if m is None:
                row.append("NA")
            elif col is None:  # the seqlet holding the driver: its best TF
                inside = F.as_bool(pd.Series([m.get("in_seqlet")]))[0]
                row.append(F.seqlet_label(m.get("seqlet_tf"), m.get("seqlet_tf_significant")) if inside
                           else "NA")
            elif col.startswith("motif_size") or col == "seqlet_distance":
                v = finite_or_none(m.get(col))
                row.append("NA" if v is None else f"{int(v):,}")
            else:
                row.append(_fmt_cell(col, m.get(col)))
        rows.append(row)
    return [label for label, _ in spec], rows


def render_gene_page(p: GenePayload) -> tuple[str, dict[str, bytes], int]:
    """A gene page's HTML, its figure and data files, and how many figures were drawn."""
    env = _template_env()
    sections = []
    files: dict[str, bytes] = {}
    drawn = 0
    names = dict(zip(p.rows["readout"].astype(str), p.rows["readout_name"].astype(str), strict=True))
    for readout in p.rows["readout"].astype(str):
        row = p.rows[p.rows["readout"].astype(str) == readout].iloc[0]
        rendered = []
        for plot in gene_plots(p, readout):
            stem = f"{plot.name}.{slug(readout)}"
            rd = render(plot, stem, f"figures/genes/{slug(p.gene_id)}", f"data/genes/{slug(p.gene_id)}",
                        link_prefix="../", formats=p.formats)
            files.update(rd.files)
            drawn += rd.kind != "none"
            rendered.append(rd)
        d = p.drivers[p.drivers["readout"].astype(str) == readout]
        cols = [c for c in DRIVER_TABLE_COLUMNS if c in d]
        drows = [[_fmt_cell(c, v) for c, v in zip(cols, r, strict=True)]
                 for r in d[cols].itertuples(index=False)]
        motif_note = ""
        if p.driver_motifs is None:
            motif_note = f"Motif context of the drivers: {MOTIF_NOT_COMPUTED}."
        elif len(d):
            m = p.driver_motifs[p.driver_motifs["readout"].astype(str) == readout]
            labels, extra = driver_motif_columns(d, m)
            cols = [*cols, *labels]
            drows = [[*a, *b] for a, b in zip(drows, extra, strict=True)]
            motif_note = MOTIF_TABLE_NOTE
        stats = [(label, _fmt_cell(c, row.get(c))) for c, label in (
            ("r", "R"), ("null_p", "null p"), ("fdr", "FDR"), ("significant", "significant"),
            ("n_samples", "people"), ("n_snvs", "SNVs"), ("approx_r", "R(approximation, model)"),
            ("grad_approx_r", "R(gradient approximation, model)"), ("predixcan_r", "PrediXcan R"),
            ("n_drivers", "drivers"), ("status", "status")) if c in row.index]
        sections.append({"readout": readout, "name": names[readout], "figures": rendered, "stats": stats,
                         "driver_columns": cols, "drivers": drows, "id": slug(readout),
                         "motif_note": motif_note})
    first = p.rows.iloc[0]
    text = env.get_template("gene.html.j2").render(
        gene_id=p.gene_id, gene_name=str(first.get("gene_name", p.gene_id)),
        chrom=str(first.get("chrom", "")),
        tss=_fmt_cell("tss", first.get("tss")), strand=str(first.get("strand", "")), sections=sections,
        version=__version__, has_data=p.data is not None)
    return text, files, drawn


def _fmt_cell(column: str, v: Any) -> str:
    if column in ("is_main", "significant", "supported", "in_seqlet"):
        s = str(v).strip().lower()
        return "yes" if s in TRUE_SPELLINGS else "no" if s in FALSE_SPELLINGS else "NA"
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "NA"
    if isinstance(v, float | np.floating):
        if float(v).is_integer() and column in ("rank", "distance_to_tss", "n_snvs", "n_samples", "n_drivers",
                                                "tss"):
            return f"{int(v):,}"
        return f"{v:.3g}"
    if isinstance(v, int | np.integer) and column != "pos":
        return f"{int(v):,}"
    return str(v)


def _gene_page_job(p: GenePayload, folder: Path) -> tuple[str, str, int, int]:
    """Render one gene page into the report folder being built: (gene id, page path, page bytes, figures)."""
    text, files, drawn = render_gene_page(p)
    rel = f"genes/{slug(p.gene_id)}.html"
    _write(folder, {**files, rel: text.encode()})
    return p.gene_id, rel, len(text.encode()), drawn


def _write(folder: Path, files: dict[str, bytes]) -> None:
    for rel, data in files.items():
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def gene_payloads(inputs: ReportInputs, gene_ids: Sequence[str],
                  formats: tuple[str, ...]) -> list[GenePayload]:
    out = []
    wanted = set(gene_ids)
    by_gene = dict(iter(inputs.genes[inputs.genes["gene_id"].isin(wanted)].groupby("gene_id", sort=False)))
    drivers = dict(iter(inputs.drivers[inputs.drivers["gene_id"].isin(wanted)]
                        .groupby("gene_id", sort=False)))

    def per_gene(table: pd.DataFrame | None) -> Callable[[str], pd.DataFrame | None]:
        if table is None:
            return lambda gid: None
        groups = dict(iter(table[table["gene_id"].isin(wanted)].groupby("gene_id", sort=False)))
        return lambda gid: groups.get(gid, table.iloc[:0])

    motifs_of, seqlets_of = per_gene(inputs.driver_motifs), per_gene(inputs.seqlets)
    for gid in gene_ids:
        out.append(GenePayload(gene_id=gid, rows=by_gene[gid],
                               drivers=drivers.get(gid, inputs.drivers.iloc[:0]),
                               data=inputs.genedata.get(gid), saturation=load_npz(inputs.saturation.get(gid)),
                               gradients=load_npz(inputs.gradients.get(gid)), formats=formats,
                               driver_motifs=motifs_of(gid), seqlets=seqlets_of(gid)))
    return out


@dataclass
class ReportResult:
    out: Path
    index_bytes: int
    gene_pages: list[str]
    figures: int
    seconds: float
    sizes: dict[str, int] = field(default_factory=dict)


def build_report(inputs: ReportInputs, out: str | Path, top_genes: int = 50, genes: Sequence[str] = (),
                 processes: int = 1, formats: tuple[str, ...] = COHORT_FORMATS,
                 gene_formats: tuple[str, ...] = GENE_FORMATS) -> ReportResult:
    """Write the report folder ``out`` (replaced as a whole): index.html, genes/, figures/, data/. Cohort
    figures are written in ``formats``, gene figures in ``gene_formats`` and the format their page shows.
    Gene pages render in ``processes`` worker processes while this one draws the cohort figures."""
    import time

    start = time.perf_counter()
    out = Path(out)
    env = _template_env()
    readouts = list(dict.fromkeys(inputs.genes["readout"].astype(str)))
    names = dict(zip(inputs.genes["readout"].astype(str), inputs.genes["readout_name"].astype(str),
                     strict=True))
    shown = select_genes(inputs.genes, top_genes, genes)
    row_index = {(g, r): i for i, (g, r) in enumerate(zip(inputs.genes["gene_id"].astype(str),
                                                           inputs.genes["readout"].astype(str), strict=True))}
    pages = {g: f"genes/{slug(g)}.html" for g in shown}
    sizes: dict[str, int] = {}
    n_figures = 0
    with atomic_output(out, directory=True) as tmp:
        payloads = gene_payloads(inputs, shown, gene_formats)
        pool = ProcessPoolExecutor(max_workers=processes) if processes > 1 and len(payloads) > 1 else None
        try:
            futures = [pool.submit(_gene_page_job, p, tmp) for p in payloads] if pool else []
            sections = []
            for readout in readouts:
                figs = []
                for plot in cohort_plots(inputs, readout):
                    rd = render(plot, f"{plot.name}.{slug(readout)}", "figures", "data", formats=formats)
                    rows_of_points(rd, row_index, readout)
                    n_figures += plot.fig is not None
                    _write(tmp, rd.files)
                    sizes[f"{plot.name}.{slug(readout)}"] = rd.size
                    figs.append(rd)
                sections.append({"readout": readout, "name": names[readout], "id": slug(readout),
                                 "figures": figs})
            motifs = motif_section(inputs, names, formats)
            if motifs["figure"] is not None:
                _write(tmp, motifs["figure"].files)
                n_figures += motifs["figure"].kind != "none"
            if inputs.finetune is not None:
                rd = render(finetune_plot(inputs), "finetune_heldout", "figures", "data", formats=formats)
                rows_of_points(rd, row_index, None)
                _write(tmp, rd.files)
                n_figures += rd.kind != "none"
                sections.append({"readout": "finetune", "name": "seqgx finetune (across genes)",
                                 "id": "finetune", "figures": [rd]})
            results = [f.result() for f in futures] if pool else [_gene_page_job(p, tmp) for p in payloads]
        finally:
            if pool:
                pool.shutdown(cancel_futures=True)
        for gid, _rel, size, n in results:
            sizes[f"gene:{gid}"] = size
            n_figures += n
        _write(tmp, {f"data/{name}": path.read_bytes()
                     for name, path in (inputs.assessment_files | inputs.motif_files).items()})
        downloads = [{"name": name, "gz": _embedded_tsv(inputs.assessment_files[name]),
                      "href": f"data/{name}"} for name in ("genes.tsv", "drivers.tsv")]
        statuses, status_rows = status_table(inputs.summary, names)
        index = env.get_template("index.html.j2").render(
            headline=headline(inputs.summary, names), sections=sections, motifs=motifs,
            table=gene_table(inputs.genes, pages),
            downloads=downloads, qc=qc_sections(inputs), statuses=statuses, status_rows=status_rows,
            provenance=provenance(inputs), n_pages=len(shown), top_genes=top_genes, version=__version__,
            fdr_alpha=inputs.summary.get("fdr_alpha", 0.05)).encode()
        _write(tmp, {"index.html": index})
    seconds = time.perf_counter() - start
    log.info("report %s: index.html %.1f MB, %d gene pages, %d figures, %.0f s", out, len(index) / 1e6,
             len(shown), n_figures, seconds)
    return ReportResult(out, len(index), shown, n_figures, seconds, sizes)


def rows_of_points(rd: Rendered, row_index: dict[tuple[str, str], int], readout: str | None) -> None:
    """Hover points name their gene-table row (an integer) instead of the gene id: a third of the size.
    ``readout`` None: a gene's first row."""
    if not rd.hover:
        return
    pts = json.loads(rd.hover)
    first: dict[str, int] = {}
    if readout is None:
        for (g, _), i in sorted(row_index.items(), key=lambda kv: kv[1]):
            first.setdefault(g, i)
    rows = [row_index.get((g, readout), -1) if readout is not None else first.get(g, -1) for g in pts["g"]]
    keep = [k for k, i in enumerate(rows) if i >= 0]
    pts = {"w": pts["w"], "h": pts["h"], "x": [pts["x"][k] for k in keep], "y": [pts["y"][k] for k in keep],
           "row": [rows[k] for k in keep]}
    rd.hover = json.dumps(pts, separators=(",", ":"))


def finetune_plot(inputs: ReportInputs) -> F.Plot:
    """Fig 1B from seqgx finetune: held-out prediction of the fine-tuned readout vs the observed mean."""
    assert inputs.finetune is not None
    t = inputs.finetune.merge(inputs.genes.drop_duplicates("gene_id")[["gene_id", "gene_name"]], on="gene_id",
                              how="left")
    title = "Fine-tuned readout: held-out prediction vs observed mean"
    return _plot_safely(lambda: F.reference_vs_observed(
        t, "predicted", "observed", "fine-tuned readout, held-out prediction", "mean observed expression",
        "finetune_heldout", title), "finetune_heldout", title)
