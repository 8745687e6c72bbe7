"""Benchmark the statistics core on a synthetic cohort the size of the reference study.

Default workload: 6,825 genes x 839 people x 2,000 SNVs per gene, 1,000 empirical null draws, ISM linear
approximation, drivers (with their eQTL), eQTL of every SNV, then BH FDR and the summary. Genes are
generated one at a time inside the worker that analyses them (never all in memory). ``--genes N`` times
the first N genes and extrapolates to ``--total-genes``; the printed figures say which.

Two ways to use 2 cores are timed: ``--workers 1`` (one process, BLAS and the weight draws use both cores)
and ``--workers 2`` (two processes, single-threaded BLAS each, genes split between them - how a pipeline
with one task per core runs).

``--covariates K`` draws K random covariates (one set per cohort, as a tissue's covariate file) and passes
them: every statistic is then a partial correlation on them (residualised prediction, observation and
dosage; see docs/methods.md, "Covariates: partial correlation"), the all-SNV eQTL too.

    python benchmarks/bench_stats.py --genes 100 --workers 2
    python benchmarks/bench_stats.py --genes 300 --workers 2 --covariates 60
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import time

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from seqgx.analysis import stats


def synthetic_gene(g: int, seed: int, n_snv: int, n_samples: int) -> tuple:
    """Gene g: dosage with a realistic allele-frequency spectrum (many rare SNVs), sparse ISM, a model
    prediction that is the ISM linear model plus noise, and an observation half the genes share with it."""
    rng = np.random.default_rng([seed, g, 1])
    maf = np.clip(rng.beta(0.3, 1.5, size=n_snv), 1.0 / (2 * n_samples), 0.5)
    dosage = rng.binomial(2, maf[:, None], size=(n_snv, n_samples)).astype(np.int8)
    ism = rng.normal(scale=0.01, size=n_snv)
    big = rng.choice(n_snv, size=3, replace=False)
    ism[big] = rng.normal(scale=0.5, size=3)
    pred = ism @ dosage + rng.normal(scale=0.05, size=n_samples)
    signal = g % 2 == 0
    obs = (0.3 * (pred - pred.mean()) / (pred.std() + 1e-12) if signal else 0.0) + rng.normal(size=n_samples)
    return dosage, ism, pred, obs


def synthetic_covariates(seed: int, n_samples: int, k: int) -> np.ndarray | None:
    """K covariates for the cohort (PCs / PEER-like: continuous, unit variance); None for K = 0."""
    if k <= 0:
        return None
    return np.random.default_rng([seed, 2]).normal(size=(n_samples, k))


def analyse(job: tuple) -> tuple:
    """All statistics of a range of genes; returns rows, driver tables and (wall, CPU) seconds spent on
    statistics only (data generation excluded)."""
    genes, seed, n_snv, n_samples, draws, n_cov, blas_threads = job
    cov = synthetic_covariates(seed, n_samples, n_cov)
    rows, tables = [], []
    wall = cpu = 0.0
    with threadpool_limits(blas_threads):
        for g in genes:
            d, ism, pred, obs = synthetic_gene(g, seed, n_snv, n_samples)
            t0, c0 = time.perf_counter(), time.process_time()
            res, dr = stats.gene_statistics(pred, obs, d, ism=ism, n_draws=draws,
                                            rng=stats.gene_rng(seed, f"G{g}"), with_drivers=True,
                                            covariates=cov)
            # every SNV's eQTL (the drivers' eQTL is already in dr); with covariates on residuals
            if cov is None:
                stats.eqtl(d, obs)
            elif hasattr(stats, "partial_eqtl"):  # (absent before 2026-12-07: run side by side with it)
                stats.partial_eqtl(d, obs, cov)
            else:
                stats.eqtl(stats.residualize(d, cov), stats.residualize(obs, cov), n_covariates=n_cov)
            wall += time.perf_counter() - t0
            cpu += time.process_time() - c0
            rows.append({"gene_id": f"G{g}", "readout": "cage", **res})
            tables.append(dr.assign(gene_id=f"G{g}", readout="cage"))
    return rows, tables, wall, cpu


def kernels(args: argparse.Namespace) -> None:
    """Per-gene cost of the parts, in this process with BLAS on all cores."""
    d, ism, pred, obs = synthetic_gene(0, args.seed, args.snvs, args.samples)
    cov = synthetic_covariates(args.seed, args.samples, args.covariates)

    def timed(label: str, fn, reps: int = 3) -> None:
        fn()
        t0, c0 = time.perf_counter(), time.process_time()
        for _ in range(reps):
            fn()
        print(f"  {label}: {(time.perf_counter() - t0) / reps * 1e3:.1f} ms wall, "
              f"{(time.process_time() - c0) / reps * 1e3:.1f} ms CPU")

    print("kernels, one gene:")
    for dt in (np.float32, np.float64):
        timed(f"null, {args.draws} draws, {np.dtype(dt).name}",
              lambda dt=dt: stats.null_abs_r(d, obs, args.draws, rng=1, dtype=dt))
    timed("  of which drawing the weights, one generator",
          lambda: np.random.default_rng(1).standard_normal((args.draws, args.snvs), dtype=np.float32))
    timed("  of which drawing the weights, blocks in threads",
          lambda: stats.draw_null_weights(np.random.default_rng(1), args.draws, args.snvs))
    timed("forward drivers (all SNVs, exact)", lambda: stats.forward_drivers(ism, d, pred))
    timed(f"eQTL of all {args.snvs} SNVs", lambda: stats.eqtl(d, obs))
    if cov is not None:
        d32 = d.astype(np.float32)
        timed(f"residualise dosage on {args.covariates} covariates, float64",
              lambda: stats.residualize(d, cov))
        timed(f"residualise dosage on {args.covariates} covariates, float32",
              lambda: stats.residualize(d32, cov))
        timed("gene_statistics, no covariates", lambda: stats.gene_statistics(
            pred, obs, d, ism=ism, n_draws=args.draws, rng=1, with_drivers=True))
        timed(f"gene_statistics, {args.covariates} covariates", lambda: stats.gene_statistics(
            pred, obs, d, ism=ism, n_draws=args.draws, rng=1, with_drivers=True, covariates=cov))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--genes", type=int, default=100, help="genes to time (extrapolated to --total-genes)")
    ap.add_argument("--total-genes", type=int, default=6825)
    ap.add_argument("--samples", type=int, default=839)
    ap.add_argument("--snvs", type=int, default=2000)
    ap.add_argument("--draws", type=int, default=1000)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--covariates", type=int, default=0, metavar="K",
                    help="K random covariates: partial correlations on them (default 0: none)")
    args = ap.parse_args()

    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    print(f"cpus available: {cpus}; numpy {np.__version__}; load average {os.getloadavg()[0]:.1f}")
    print(f"workload: {args.genes} of {args.total_genes} genes x {args.samples} people x {args.snvs} SNVs, "
          f"{args.draws} null draws, {args.covariates} covariates")
    kernels(args)

    for workers in args.workers:
        parts = [list(range(w, args.genes, workers)) for w in range(workers)]
        jobs = [(p, args.seed, args.snvs, args.samples, args.draws, args.covariates, max(1, cpus // workers))
                for p in parts]
        t0 = time.perf_counter()
        if workers == 1:
            results = [analyse(jobs[0])]
        else:
            with mp.get_context("spawn").Pool(workers) as pool:
                results = pool.map(analyse, jobs)
        elapsed = time.perf_counter() - t0
        rows = [r for res in results for r in res[0]]
        tables = [t for res in results for t in res[1]]
        stat_wall = max(res[2] for res in results)  # the slowest worker's time on statistics
        stat_cpu = sum(res[3] for res in results)
        t1 = time.perf_counter()
        genes = pd.DataFrame(rows)
        genes["fdr"] = stats.bh_fdr(genes["null_p"].to_numpy())
        genes["significant"] = stats.significant(genes["fdr"].to_numpy(), 0.05)
        summary = stats.summarize(genes, pd.concat(tables, ignore_index=True))["cage"]
        t_summary = time.perf_counter() - t1
        per_gene = stat_wall / (args.genes / workers)
        total = per_gene * args.total_genes / workers + t_summary
        kind = "measured" if args.genes == args.total_genes else f"extrapolated from {args.genes} genes"
        print(f"workers={workers} (BLAS threads each {jobs[0][-1]}): statistics {stat_wall:.1f} s wall "
              f"(whole run incl. data generation {elapsed:.1f} s), CPU {stat_cpu / args.genes * 1e3:.0f} "
              f"ms/gene, BH + summary {t_summary * 1e3:.0f} ms")
        print(f"  TOTAL for {args.total_genes} genes ({kind}): {total:.0f} s = {total / 60:.1f} min "
              f"(target < 10 min on 2 cores)")
        est = stat_cpu / args.genes * args.total_genes / min(workers * jobs[0][-1], cpus) + t_summary
        print(f"  estimate for {args.total_genes} genes on {cpus} dedicated cores (CPU time / cores; the "
              f"wall figure above includes other jobs on shared cores): {est:.0f} s = {est / 60:.1f} min")
        print(f"  sanity: {summary['n_significant']} of {summary['n_genes_tested']} genes significant "
              f"(half planted), {summary['n_genes_with_drivers']} with drivers, "
              f"{genes['n_drivers'].mean():.2f} drivers/gene")


if __name__ == "__main__":
    main()
