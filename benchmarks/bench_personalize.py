"""Benchmark `seqgx personalize` on one full-size window (a script, not a test; prints its figures).

Synthetic data: a 196,608 bp window with 2,000 SNVs and 839 phased samples (written as a temporary
FASTA + bgzipped, indexed VCF; also as BCF). Haplotypes copy 40 founders per LD block plus rare
variants, so nearly every haplotype is distinct (the worst case for deduplication).

Timed, on one core: read the records and parse genotypes, build the matrices and variant table,
deduplicate, and produce every distinct haplotype's token sequence. The naive baseline copies the
reference string per sample-haplotype and edits it in a Python loop, reading genotypes with pysam's
per-sample API; it runs on a subset and is extrapolated (printed as such).

Usage: python benchmarks/bench_personalize.py [--samples 839] [--snvs 2000] [--format GT|GT:AD:DP:GQ]
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # one core, as the target says
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import resource  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pysam  # noqa: E402
import pysam.bcftools  # noqa: E402

from seqgx.genome.personalize import build_gene, deduplicate  # noqa: E402
from seqgx.genome.reference import Reference, encode  # noqa: E402
from seqgx.genome.variants import VcfReader  # noqa: E402

L = 196_608
CONTIG_LEN = 250_000
TSS = 125_000


def make_data(d: Path, n_samples: int, n_snvs: int, fmt: str, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    seq = rng.choice(np.frombuffer(b"ACGT", np.uint8), CONTIG_LEN).tobytes().decode()
    fasta = d / "ref.fa"
    fasta.write_text(">chr1\n" + "\n".join(seq[i:i + 60] for i in range(0, len(seq), 60)) + "\n")
    pysam.faidx(str(fasta))
    ws = TSS - 1 - L // 2
    pos = np.sort(rng.choice(np.arange(ws + 1, ws + L + 1), n_snvs, replace=False))
    n_hap = 2 * n_samples
    n_common = int(n_snvs * 0.75)
    haps = np.zeros((n_snvs, n_hap), dtype=np.uint8)
    common = np.sort(rng.choice(n_snvs, n_common, replace=False))
    rare = np.setdiff1d(np.arange(n_snvs), common)
    for block in np.array_split(common, max(1, n_common // 100)):  # LD blocks of ~100 common SNVs
        founders = (rng.random((40, len(block))) < rng.uniform(0.05, 0.5, len(block))).astype(np.uint8)
        haps[block] = founders[rng.integers(0, 40, n_hap)].T
    for v in rare:
        haps[v, rng.choice(n_hap, rng.integers(1, 6), replace=False)] = 1
    samples = [f"S{i:04d}" for i in range(n_samples)]
    lines = ["##fileformat=VCFv4.2", f"##contig=<ID=chr1,length={CONTIG_LEN}>",
             '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
             '##FORMAT=<ID=AD,Number=R,Type=Integer,Description="Allele depths">',
             '##FORMAT=<ID=DP,Number=1,Type=Integer,Description="Depth">',
             '##FORMAT=<ID=GQ,Number=1,Type=Integer,Description="Genotype quality">',
             "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t" + "\t".join(samples)]
    tail = "" if fmt == "GT" else ":12,10:22:99"
    for v, p in enumerate(pos.tolist()):
        ref = seq[p - 1]
        alt = "ACGT"[("ACGT".index(ref) + 1 + v % 3) % 4]
        h = haps[v].reshape(n_samples, 2)
        gts = "\t".join(f"{a}|{b}{tail}" for a, b in h.tolist())
        lines.append(f"chr1\t{p}\t.\t{ref}\t{alt}\t.\tPASS\t.\t{fmt}\t{gts}")
    vcf = d / "cohort.vcf"
    vcf.write_text("\n".join(lines) + "\n")
    vcf_gz = Path(pysam.tabix_index(str(vcf), preset="vcf", force=True))
    bcf = d / "cohort.bcf"
    pysam.bcftools.view("-Ob", "-o", str(bcf), str(vcf_gz), catch_stdout=False)
    pysam.bcftools.index(str(bcf))
    gene = {"gene_id": "BENCH1", "gene_name": "BENCH", "fasta_contig": "chr1", "vcf_contig": "chr1",
            "tss": TSS, "strand": "+", "window_start": ws, "window_length": L, "tss_index": L // 2}
    return {"fasta": fasta, "vcf": vcf_gz, "bcf": bcf, "samples": samples, "gene": gene}


def fast_path(data: dict, vcf: Path, batch: int = 128) -> dict:
    """The seqgx path; returns timings in seconds."""
    t = {}
    gene = data["gene"]
    ws = gene["window_start"]
    t0 = time.perf_counter()
    with Reference(data["fasta"]) as ref, VcfReader(vcf, data["samples"]) as reader:
        window_ref = ref.fetch("chr1", ws, ws + L)
        t1 = time.perf_counter()
        window = reader.read_window("chr1", ws, ws + L, window_ref, fasta=ref)
    t2 = time.perf_counter()
    t3 = time.perf_counter()
    deduplicate(window.haplotypes)  # alone, for the record (build_gene runs it again)
    t["dedup"] = time.perf_counter() - t3
    t4 = time.perf_counter()
    g = build_gene(gene, window, window_ref, data["samples"], data["samples"])
    t5 = time.perf_counter()
    n_tok = 0
    for _, tokens in g.iter_distinct(batch):
        n_tok += tokens.shape[0]
    t6 = time.perf_counter()
    t.update(open_and_fetch_ref=t1 - t0, read_records=t2 - t1, build_matrices_and_dedup=t5 - t4,
             tokens=t6 - t5, total=(t2 - t0) + (t6 - t4), n_variants=g.n_variants, n_distinct=g.n_distinct,
             n_tokens=n_tok)
    return t, g


def naive(data: dict, n_records: int, n_haps: int) -> dict:
    """Per-sample pysam GT access + per-haplotype string copy and edit loop, on a subset."""
    gene = data["gene"]
    ws = gene["window_start"]
    fa = pysam.FastaFile(str(data["fasta"]))
    t0 = time.perf_counter()
    refseq = fa.fetch("chr1", ws, ws + L).upper()
    variants = []
    with pysam.VariantFile(str(data["vcf"])) as vf:
        for i, rec in enumerate(vf.fetch("chr1", ws, ws + L)):
            if i >= n_records:
                break
            gts = [rec.samples[s]["GT"] for s in data["samples"]]
            variants.append((rec.pos, rec.alts[0], gts))
    t_read = time.perf_counter() - t0
    n_total_records = sum(1 for _ in pysam.VariantFile(str(data["vcf"])).fetch("chr1", ws, ws + L))
    t1 = time.perf_counter()
    out = []
    for k in range(n_haps):
        s, h = divmod(k, 2)
        seq = list(refseq)
        for pos, alt, gts in variants:
            if gts[s][h] == 1:
                seq[pos - 1 - ws] = alt
        out.append(encode("".join(seq)))
    t_edit = time.perf_counter() - t1
    scale_rec = n_total_records / len(variants)
    n_all_haps = 2 * len(data["samples"])
    return {"read_subset": t_read, "edit_subset": t_edit, "records_read": len(variants),
            "haps_edited": n_haps, "read_extrapolated": t_read * scale_rec,
            # the edit loop's cost is ~linear in records x haplotypes
            "edit_extrapolated": t_edit * scale_rec * n_all_haps / n_haps}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=839)
    ap.add_argument("--snvs", type=int, default=2000)
    ap.add_argument("--format", default="GT", choices=["GT", "GT:AD:DP:GQ"])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--naive-records", type=int, default=400)
    ap.add_argument("--naive-haps", type=int, default=40)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        data = make_data(Path(tmp), args.samples, args.snvs, args.format)
        print(f"synthetic data: window {L:,} bp, {args.snvs:,} SNVs, {args.samples} phased samples, FORMAT "
              f"{args.format} (written in {time.perf_counter() - t0:.1f} s)")
        for label, vcf in (("VCF.gz (tabix lines)", data["vcf"]), ("BCF (str(record))", data["bcf"])):
            runs = [fast_path(data, vcf)[0] for _ in range(args.repeats)]
            best = {k: min(r[k] for r in runs) for k in runs[0]}
            print(f"\nseqgx, {label}, best of {args.repeats}:")
            print(f"  read records + parse GT   {best['read_records'] * 1e3:8.1f} ms")
            print(f"  dedup alone               {best['dedup'] * 1e3:8.1f} ms")
            print(f"  matrices + table + dedup  {best['build_matrices_and_dedup'] * 1e3:8.1f} ms")
            print(f"  tokens of all distinct    {best['tokens'] * 1e3:8.1f} ms  ({int(best['n_distinct'])} "
                  f"distinct haplotypes of {2 * args.samples}, {int(best['n_variants'])} variants)")
            print(f"  total                     {best['total'] * 1e3:8.1f} ms "
                  f"(+ {best['open_and_fetch_ref'] * 1e3:.1f} ms opening files, fetching the reference)")
            if label.startswith("VCF"):
                fast_total = best["total"]
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"\npeak RSS after the fast path: {rss:.0f} MB (whole process: interpreter, numpy, pysam, "
              f"pandas included)")
        tracemalloc.start()
        _, g = fast_path(data, data["vcf"])
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(f"tracemalloc peak of the fast path: {peak / 2**20:.0f} MB")
        t1 = time.perf_counter()
        out = g.save(Path(tmp) / "BENCH1.haplotypes.npz")
        print(f"writing the .npz: {time.perf_counter() - t1:.2f} s, {out.stat().st_size / 2**20:.1f} MB "
              f"(not part of the target)")
        # one-hot on demand, one batch of 32
        t1 = time.perf_counter()
        nbytes = 0
        for _, oh in g.iter_distinct(32, one_hot=True):
            nbytes = max(nbytes, oh.nbytes)
        print(f"one-hot of all distinct haplotypes in batches of 32: {time.perf_counter() - t1:.2f} s "
              f"(batch array {nbytes / 2**20:.0f} MB)")

        nv = naive(data, args.naive_records, args.naive_haps)
        base_total = nv["read_extrapolated"] + nv["edit_extrapolated"]
        print(f"\nnaive baseline (pysam per-sample GT + string copy/edit per sample-haplotype), measured on "
              f"{nv['records_read']} records and {nv['haps_edited']} sample-haplotypes, EXTRAPOLATED to "
              f"{args.snvs} records x {2 * args.samples} sample-haplotypes:")
        print(f"  read   {nv['read_subset']:.2f} s measured -> {nv['read_extrapolated']:.1f} s")
        print(f"  edit   {nv['edit_subset']:.2f} s measured -> {nv['edit_extrapolated']:.1f} s")
        print(f"  total  {base_total:.1f} s (extrapolated)")
        print(f"\nspeed-up of seqgx over the naive baseline: {base_total / fast_total:.0f}x")


if __name__ == "__main__":
    main()
