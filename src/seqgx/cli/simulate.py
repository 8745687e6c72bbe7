"""`seqgx simulate`: write a synthetic cohort with planted eQTLs (for tests, demos and benchmarks)."""

from __future__ import annotations

import argparse

from seqgx.simulate import SimulationSizes, simulate_cohort

NAME = "simulate"
HELP = ("Write a synthetic cohort (FASTA, phased VCF, GTF/TSV annotation, expression with planted "
        "causal SNVs, truth.json, params.yaml)")

_DEFAULTS = SimulationSizes()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, help="output directory (created; must be empty or absent)")
    parser.add_argument("--seed", type=int, default=0,
                        help="random seed; the same seed gives identical files (default 0)")
    parser.add_argument("--n-samples", type=int, default=_DEFAULTS.n_samples,
                        help=f"samples in the VCF (default {_DEFAULTS.n_samples})")
    parser.add_argument("--n-genes", type=int, default=_DEFAULTS.n_genes,
                        help=f"genes (default {_DEFAULTS.n_genes})")
    parser.add_argument("--n-contigs", type=int, default=_DEFAULTS.n_contigs,
                        help=f"contigs chr1..chrN (default {_DEFAULTS.n_contigs})")
    parser.add_argument("--contig-length", type=int, default=_DEFAULTS.contig_length,
                        help=f"length of each contig in bp (default {_DEFAULTS.contig_length})")
    parser.add_argument("--window-length", type=int, default=_DEFAULTS.window_length,
                        help=f"window the genes are spaced for (default {_DEFAULTS.window_length})")
    parser.add_argument("--variant-density", type=float, default=_DEFAULTS.variant_density,
                        help=f"variant sites per kb (default {_DEFAULTS.variant_density})")
    parser.add_argument("--n-expression-only", type=int, default=_DEFAULTS.n_expression_only,
                        help="expression samples absent from the VCF "
                        f"(default {_DEFAULTS.n_expression_only})")
    parser.add_argument("--n-vcf-only", type=int, default=_DEFAULTS.n_vcf_only,
                        help=f"VCF samples without expression (default {_DEFAULTS.n_vcf_only})")
    parser.add_argument("--noise-sd", type=float, default=_DEFAULTS.noise_sd,
                        help=f"SD of the non-genetic part of expression (default {_DEFAULTS.noise_sd})")
    parser.add_argument("--vcf-per-contig", action="store_true",
                        help="also write the cohort VCF split by contig (cohort.<contig>.vcf.gz + .tbi) and "
                        "a samplesheet vcfs.csv (contig,vcf) naming them")
    parser.add_argument("--overwrite", action="store_true", help="replace a non-empty --out directory")


def run(args: argparse.Namespace) -> int:
    paths = simulate_cohort(
        args.out, seed=args.seed, overwrite=args.overwrite, n_samples=args.n_samples, n_genes=args.n_genes,
        n_contigs=args.n_contigs, contig_length=args.contig_length, window_length=args.window_length,
        variant_density=args.variant_density, n_expression_only=args.n_expression_only,
        n_vcf_only=args.n_vcf_only, noise_sd=args.noise_sd, vcf_per_contig=args.vcf_per_contig)
    print(paths["params"])
    return 0
