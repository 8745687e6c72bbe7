"""Peak memory (max RSS) of each pipeline step's command, the figures conf/base.config's labels use.

Each step runs as its own `seqgx` process, as a Nextflow task would; the peak is the child's maximum
resident set size (VmHWM). Two cohorts:

- the study's shape for the genotype steps: 839 samples at ~10 SNVs/kb (about 2,000 SNVs per 196,608-bp
  window), 4 genes, the closed-form oracle as the model (check-inputs, genes, personalize, stats, merge);
- the FULL-SIZE Enformer architecture (random weights, dim 1536, depth 11, 5,313 tracks) for predict and
  fast ISM, on one person of the same cohort so that a CPU finishes in minutes: their peak is the
  model, one batch of one-hot sequences and the activations, not the number of people.

    python benchmarks/bench_task_memory.py [--skip-model] [--batch-size 2] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SEQGX = [sys.executable, "-m", "seqgx"]


def peak_of(argv: list[str], limit_s: float | None = None) -> tuple[float, float]:
    """(peak RSS in GB, seconds) of one seqgx command run as a child process. With ``limit_s`` the
    command is stopped after that many seconds and the peak so far is returned (its VmHWM)."""
    started = time.perf_counter()
    proc = subprocess.Popen([*SEQGX, *argv], stdout=subprocess.DEVNULL)
    peak_kib = 0
    while proc.poll() is None:
        try:
            status = Path(f"/proc/{proc.pid}/status").read_text()
            peak_kib = max(peak_kib, int(status.split("VmHWM:")[1].split()[0]))
        except (OSError, IndexError):
            pass
        if limit_s is not None and time.perf_counter() - started > limit_s:
            proc.kill()
            proc.wait()
            return peak_kib / 2**20, -(time.perf_counter() - started)  # negative: stopped early
        time.sleep(0.2)
    if proc.returncode != 0:
        raise SystemExit(f"seqgx {argv[0]} failed")
    return peak_kib / 2**20, time.perf_counter() - started


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--skip-model", action="store_true", help="skip the full-size Enformer steps")
    ap.add_argument("--batch-size", type=int, default=2, help="sequences per model call (predict, ism)")
    ap.add_argument("--workdir", help="keep the files here (default: a temporary folder)")
    ap.add_argument("--ism-seconds", type=float, default=600,
                    help="stop full-size ISM after this long (its peak comes with the first batches)")
    args = ap.parse_args()
    work = Path(args.workdir or tempfile.mkdtemp(prefix="seqgx-mem-"))
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores")

    rows: list[tuple[str, float, float]] = []
    study, out = work / "study", work / "study-out"
    subprocess.run([*SEQGX, "simulate", "--out", str(study), "--seed", "0", "--n-samples", "839",
                    "--n-genes", "4", "--variant-density", "10", "--overwrite", "-q"], check=True,
                   stdout=subprocess.DEVNULL)
    fa, vcf = str(study / "reference.fa"), str(study / "cohort.vcf.gz")
    gtf, expr = str(study / "genes.gtf"), str(study / "expression.tsv")
    rows.append(("check-inputs", *peak_of(["check-inputs", "--fasta", fa, "--vcf", vcf, "--annotation", gtf,
                                           "--expression", expr, "--out", str(out / "check")])))
    rows.append(("genes", *peak_of(["genes", "--annotation", gtf, "--expression", expr, "--contigs",
                                    str(out / "check" / "contigs.tsv"), "--out", str(out / "genes")])))
    batch = sorted((out / "genes" / "batches").glob("*.tsv"))[0]
    rows.append(("personalize (batch)", *peak_of([
        "personalize", "--batch", str(batch), "--fasta", fa, "--vcf", vcf, "--samples",
        str(out / "check" / "samples.tsv"), "--threads", "1", "--out", str(out / "haplotypes")])))
    haps = sorted(str(p) for p in (out / "haplotypes").glob("*.npz"))
    oracle = ["--model", "oracle", "--threads", "1"]
    subprocess.run([*SEQGX, "predict", "--haplotypes", *haps, *oracle, "--out", str(out / "predictions"),
                    "-q"], check=True, stdout=subprocess.DEVNULL)
    subprocess.run([*SEQGX, "ism", "--haplotypes", *haps, *oracle, "--out", str(out / "ism"), "-q"],
                   check=True, stdout=subprocess.DEVNULL)
    rows.append(("stats (batch, 1,000 null draws)", *peak_of([
        "stats", "--haplotypes", *haps, "--predictions", str(out / "predictions"), "--ism", str(out / "ism"),
        "--expression", expr, "--threads", "2", "--batch-name", "b", "--out", str(out / "stats")])))
    rows.append(("merge", *peak_of(["merge", "--genes", str(out / "stats"), "--annotation",
                                    str(out / "genes" / "genes.tsv"), "--out", str(out / "assessment")])))
    n_snvs = [len(np.load(h)["variant_pos"]) for h in haps]
    print(f"study-shape cohort: 839 samples, {len(haps)} genes in the batch with {n_snvs} SNVs")

    if not args.skip_model:
        # One person (two haplotypes) of the same cohort: the model's peak does not grow with people.
        one = out / "check" / "one_sample.tsv"
        one.write_text("".join((out / "check" / "samples.tsv").read_text().splitlines(keepends=True)[:2]))
        subprocess.run([*SEQGX, "personalize", "--batch", str(batch), "--fasta", fa, "--vcf", vcf,
                        "--samples", str(one), "--out", str(work / "one-person"), "-q"],
                       check=True, stdout=subprocess.DEVNULL)
        hap = sorted(str(h) for h in (work / "one-person").glob("*.npz"))[:1]
        model = ["--model", "random", "--device", "cpu", "--batch-size", str(args.batch_size), "--threads",
                 str(os.cpu_count())]
        rows.append(("predict, full-size Enformer", *peak_of(["predict", "--haplotypes", *hap, *model,
                                                                 "--out", str(work / "predictions")])))
        rows.append(("ism (fast), full-size Enformer", *peak_of([
            "ism", "--haplotypes", *hap, *model, "--tss-window", "0", "--out", str(work / "ism")],
            limit_s=args.ism_seconds)))

    print(f"\n{'step':<34} {'peak RSS (GB)':>14} {'seconds':>9}")
    for name, gb, secs in rows:
        note = "  (stopped there; peak so far)" if secs < 0 else ""
        print(f"{name:<34} {gb:>14.2f} {abs(secs):>9.1f}{note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
