"""Benchmark `seqgx report` on a synthetic run the size of the reference study.

Default workload: 10,000 genes x 2 readouts = 20,000 gene-readout rows in assessment/genes.tsv, ~3
drivers per gene with drivers, and 50 gene pages, each gene with 450 people, 1,500 SNVs, saturation ISM
over +-1,000 bp and a 196,608-bp gradient track per readout. Gene data (``<batch>.genedata.npz``) is
written for every gene in batches of 50 (the shown genes full size, the others small: the report only
reads their QC keys), as `seqgx stats` would. Prints the wall time and the sizes of index.html and a gene
page. Target: under 2 minutes on 2 cores, index.html under 15 MB.

    python benchmarks/bench_report.py --processes 2
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from seqgx.analysis.assess import MERGED_GENE_COLUMNS, _write_tsv
from seqgx.analysis.stats import bh_fdr, significant, summarize
from seqgx.report.genedata import write_genedata
from seqgx.report.inputs import load_inputs
from seqgx.report.render import build_report, select_genes

READOUTS = ("track:4980", "finetuned")
NAMES = {"track:4980": "CAGE:brain; adult;", "finetuned": "finetuned:weights.csv"}


def synthetic_tables(n_genes: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Genes x readouts with a study-like spread of R (most near 0, some strong of either sign) and
    drivers for the genes with an approximation."""
    rng = np.random.default_rng(seed)
    rows, drivers = [], []
    tss = rng.integers(1_000_000, 200_000_000, n_genes)
    strand = rng.choice(["+", "-"], n_genes)
    for readout in READOUTS:
        strong = rng.random(n_genes) < 0.1
        sign = rng.choice([-1, 1], n_genes, p=[0.35, 0.65])
        r = np.where(strong, sign * rng.uniform(0.15, 0.8, n_genes), rng.normal(0, 0.06, n_genes))
        p = np.where(strong, 1 / 1001, rng.uniform(1 / 1001, 1, n_genes))  # empirical p of 1,000 draws
        for g in range(n_genes):
            gid = f"ENSG{g:011d}.{1 + g % 9}"
            n_drv = int(rng.integers(1, 6)) if strong[g] or rng.random() < 0.3 else 0
            rows.append({
                "gene_id": gid, "gene_name": f"GENE{g}", "chrom": f"chr{1 + g % 22}", "tss": int(tss[g]),
                "strand": strand[g], "readout": readout, "readout_name": NAMES[readout], "n_samples": 450,
                "n_snvs": int(rng.integers(500, 3000)), "obs_mean": rng.normal(5, 2), "obs_sd": 0.5,
                "pred_mean": rng.lognormal(3, 1), "pred_sd": 0.1, "r": r[g], "r_pvalue": p[g] / 10,
                "spearman": r[g], "null_mean": 0.1, "null_sd": 0.05, "null_draws": 1000, "null_t": 1.0,
                "null_p": p[g], "predixcan_r": rng.uniform(0, 0.6) if g % 3 else math.nan,
                "predixcan_p": 0.01, "predixcan_n_used": 10, "predixcan_source": "predictdb" if g % 3 else "",
                "elastic_net_r": math.nan, "elastic_net_p": math.nan, "approx_r": rng.uniform(0.6, 1),
                "approx_obs_r": r[g], "grad_approx_r": rng.uniform(0.2, 1), "grad_ism_r": rng.uniform(0, 1),
                "n_drivers": n_drv, "status": "ok", "attribution_status": "computed",
                "model": "EleutherAI/enformer-official-rough", "model_sha256": "0" * 64})
            for i in range(n_drv):
                pos = int(tss[g] + rng.normal(0, 2000))
                drivers.append({
                    "gene_id": gid, "readout": readout, "readout_name": NAMES[readout],
                    "variant_id": f"chr1:{pos}:A:G", "pos": pos, "ref": "A", "alt": "G",
                    "distance_to_tss": (pos - tss[g]) * (-1 if strand[g] == "-" else 1),
                    "ism": rng.normal(0, 0.2), "rank": i + 1, "frac_increase": rng.uniform(0.05, 0.9),
                    "driver_r": 0.5, "driver_p": 1e-6, "eqtl_slope": rng.normal(0, 0.3), "eqtl_p": 0.01,
                    "eqtl_r": 0.2, "n_carriers": 100, "carrier_fraction": 0.3, "is_main": i == 0,
                    "supported": float(rng.random() < (0.9 if r[g] > 0 else 0.2)), "frac": 0.5})
    genes = pd.DataFrame(rows)
    fdr = np.full(len(genes), np.nan)
    for _, idx in genes.groupby("readout").indices.items():
        fdr[idx] = bh_fdr(genes["null_p"].to_numpy()[idx])
    genes["fdr"], genes["significant"] = fdr, significant(fdr)
    return genes.reindex(columns=list(MERGED_GENE_COLUMNS)), pd.DataFrame(drivers)


def gene_record(gid: str, row: pd.Series, full: bool, rng: np.random.Generator) -> dict:
    """What `seqgx stats` keeps of a gene (:func:`seqgx.report.genedata.gene_record`): full size for a
    shown gene, tiny otherwise."""
    s, v, n_r = 450, (1500 if full else 10), len(READOUTS)
    pos = np.sort(rng.integers(int(row["tss"]) - 98_000, int(row["tss"]) + 98_000, v))
    ism = rng.normal(0, 0.01, (v, n_r))
    ism[rng.choice(v, 3, replace=False)] = rng.normal(0, 0.5, (3, n_r))
    return {
        "gene_id": gid, "gene_name": row["gene_name"], "chrom": row["chrom"], "strand": row["strand"],
        "tss": int(row["tss"]), "window_start": int(row["tss"]) - 98_305, "window_length": 196_608,
        "readouts": list(READOUTS), "reference": list(rng.lognormal(3, 1, n_r)), "n_distinct_haplotypes": 700,
        "dedup_ratio": 900 / 700, "counts": {"indels_skipped": 30, "snv_alleles": v},
        "samples": [f"S{i:04d}" for i in range(s)], "observed": rng.normal(5, 1, s),
        "prediction": rng.normal(0, 1, (s, n_r)), "main_dosage": rng.integers(0, 3, (s, n_r)), "pos": pos,
        "ref": np.full(v, "A"), "alt": np.full(v, "G"), "allele_frequency": rng.beta(0.3, 2, v),
        "carrier_fraction": rng.beta(0.4, 1.5, v), "eqtl_slope": rng.normal(0, 0.2, v),
        "eqtl_p": rng.uniform(0, 1, v), "ism": ism, "gradient": ism + rng.normal(0, 0.01, (v, n_r)),
        "forward_frac": np.minimum(1, np.cumsum(np.abs(rng.normal(0, 0.05, (v, n_r))), axis=0))}


def write_run(root: Path, n_genes: int, n_pages: int, seed: int) -> None:
    genes, drivers = synthetic_tables(n_genes, seed)
    (root / "assessment").mkdir(parents=True)
    _write_tsv(genes, root / "assessment" / "genes.tsv")
    _write_tsv(drivers, root / "assessment" / "drivers.tsv")
    summary = {"fdr_alpha": 0.05, "n_batches": n_genes // 50, "n_genes": n_genes,
               "status_counts": {r: {"ok": n_genes} for r in READOUTS},
               "models": ["EleutherAI/enformer-official-rough (sha256 " + "0" * 64 + ")"],
               "readouts": summarize(genes, drivers)}
    (root / "assessment" / "summary.json").write_text(json.dumps(summary, default=lambda x: None))
    shown = set(select_genes(genes, n_pages))
    rng = np.random.default_rng(seed + 1)
    first = genes.drop_duplicates("gene_id").set_index("gene_id")
    (root / "stats").mkdir()
    (root / "ism").mkdir()
    ids = list(first.index)
    for b in range(0, len(ids), 50):
        write_genedata([gene_record(g, first.loc[g], g in shown, rng) for g in ids[b:b + 50]],
                       root / "stats" / f"batch_{b // 50}.genedata.npz")
    for g in shown:
        tss_window = 1000
        tss, width = int(first.loc[g, "tss"]), 2 * tss_window + 1
        np.savez_compressed(root / "ism" / f"{g}.saturation.npz",
                            positions=np.arange(tss - tss_window, tss + tss_window + 1),
                            window_index=np.arange(98_304 - tss_window, 98_304 + tss_window + 1),
                            ref=rng.integers(0, 4, width).astype(np.uint8),
                            matrix=rng.normal(0, 0.05, (len(READOUTS), width, 4)).astype(np.float32),
                            readouts=np.array(READOUTS), bases=np.array(list("ACGT")), gene_id=np.array(g),
                            tss=np.int64(tss))
        np.savez_compressed(root / "ism" / f"{g}.gradients.npz",
                            grad_x_input=rng.normal(0, 1e-3, (len(READOUTS), 196_608)).astype(np.float32),
                            readouts=np.array(READOUTS), window_start=np.int64(0), tss_index=np.int64(98_304),
                            gene_id=np.array(g))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--genes", type=int, default=10_000, help="genes (x 2 readouts = table rows)")
    ap.add_argument("--pages", type=int, default=50, help="gene pages")
    ap.add_argument("--processes", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--keep", help="write the run and report here instead of a temporary folder")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(args.keep) if args.keep else Path(tmp)
        t0 = time.perf_counter()
        write_run(root, args.genes, args.pages, args.seed)
        print(f"synthetic run written in {time.perf_counter() - t0:.0f} s")
        t0, cpu0 = time.perf_counter(), _cpu_seconds()
        inputs = load_inputs(root)
        result = build_report(inputs, root / "report", top_genes=args.pages, processes=args.processes)
        wall, cpu = time.perf_counter() - t0, _cpu_seconds() - cpu0
        pages = sorted((root / "report" / "genes").glob("*.html"))
        sizes = [p.stat().st_size / 1e6 for p in pages]
        n_files = sum(1 for p in (root / "report").rglob("*") if p.is_file())
        js = (Path(__file__).resolve().parents[1] / "src/seqgx/report/templates/report.js").stat().st_size
        print(json.dumps({"gene_readout_rows": 2 * args.genes, "gene_pages": len(pages),
                          "processes": args.processes, "wall_seconds": round(wall, 1),
                          "cpu_seconds": round(cpu, 1), "index_html_mb": round(result.index_bytes / 1e6, 2),
                          "gene_page_mb_median": round(float(np.median(sizes)), 2) if pages else None,
                          "gene_page_mb_max": round(max(sizes), 2) if pages else None,
                          "figures": result.figures, "files": n_files, "report_js_bytes": js}, indent=1))


def _cpu_seconds() -> float:
    """CPU time of this process and its finished children (the gene-page workers)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime

if __name__ == "__main__":
    main()
