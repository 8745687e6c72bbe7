"""seqgx report: the study's figures and a self-contained HTML report of a run."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from seqgx.params import PARAMS_BY_NAME, add_param_arguments
from seqgx.threads import add_threads_argument, available_cpus

NAME = "report"
HELP = ("Draw the study's figures of a run and write a self-contained HTML report: index.html, a page per "
        "shown gene, every figure as PNG, SVG and PDF with its data")

DEFAULT_TOP_GENES = PARAMS_BY_NAME["report_top_genes"].default
DEFAULT_GENES: str | None = PARAMS_BY_NAME["report_genes"].default


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--results", help="a run's outdir: stands for DIR/assessment, DIR/stats, DIR/ism, "
                                     "DIR/pipeline_info/run.json and DIR/check (each replaced by its option)")
    p.add_argument("--assessment", nargs="+",
                   help="folder holding genes.tsv, drivers.tsv and summary.json of 'seqgx merge', or those "
                        "three files")
    p.add_argument("--stats", nargs="+", help="folders or files of <batch>.genedata.npz from 'seqgx stats' "
                                              "(the gene pages' data)")
    p.add_argument("--ism", nargs="+", help="folders or files of <gene_id>.saturation.npz and .gradients.npz "
                                            "from 'seqgx ism' (only the shown genes' are read)")
    p.add_argument("--run-info",
                   help="pipeline_info/run.json of 'seqgx run', or the params file (provenance)")
    p.add_argument("--check", help="check/ folder or check_summary.json of 'seqgx check-inputs' (QC)")
    p.add_argument("--finetune", help="'seqgx finetune' .heldout.tsv or .report.json (Fig 1B)")
    add_param_arguments(p, NAME)  # report_top_genes (--top-genes), report_genes (--genes)
    p.add_argument("--formats", default="png,svg,pdf",
                   help="files of each cohort figure, comma-separated png, svg, pdf (default png,svg,pdf)")
    p.add_argument("--gene-formats", default="png,svg,pdf",
                   help="files of each gene-page figure: png, svg, pdf (default all three, as the cohort "
                        "figures), or 'page': only the PNG or SVG the page shows (about half the time)")
    p.add_argument("--out", help="report folder, replaced as a whole (default: RESULTS/report)")
    add_threads_argument(p)


def _formats(text: str, flag: str) -> tuple[str, ...]:
    from seqgx.errors import SeqgxError

    words = (f.strip().lower() for f in text.split(","))
    formats = tuple(dict.fromkeys(f for f in words if f not in ("", "page")))
    bad = [f for f in formats if f not in ("png", "svg", "pdf")]
    if bad:
        raise SeqgxError(f"{flag}: unknown format '{bad[0]}'; give a comma-separated list of png, svg, pdf")
    return formats


def run(args: argparse.Namespace) -> int:
    from seqgx.errors import SeqgxError
    from seqgx.report.inputs import load_inputs
    from seqgx.report.render import build_report

    if args.report_top_genes < 0:
        raise SeqgxError(f"--report-top-genes must be >= 0, got {args.report_top_genes}")
    formats, gene_formats = _formats(args.formats, "--formats"), _formats(args.gene_formats, "--gene-formats")
    if not args.results and not args.out:
        raise SeqgxError("--out is required without --results; name the report folder to write")
    out = Path(args.out) if args.out else Path(args.results) / "report"
    inputs = load_inputs(args.results, args.assessment, args.stats, args.ism, args.run_info, args.check,
                         args.finetune)
    genes = [g for g in (args.report_genes or "").split(",") if g.strip()]
    processes = args.threads or min(available_cpus(), 4)
    result = build_report(inputs, out, args.report_top_genes, genes, processes=processes,
                          formats=formats, gene_formats=gene_formats)
    print(json.dumps({"report": str(result.out / "index.html"), "index_bytes": result.index_bytes,
                      "gene_pages": len(result.gene_pages), "figures": result.figures,
                      "seconds": round(result.seconds, 1)}))
    return 0
