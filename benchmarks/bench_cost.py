"""Model cost of a cohort in forward-equivalents and GPU-hours: attribution for all genes vs only the
selected ('significant') genes (the two-phase run), measured on the simulated cohort and modelled for
the reference study's cohort.

A forward-equivalent (FE) is one whole window through the whole model. Personal predictions cost one FE
per distinct sequence (reference + distinct haplotypes); a fast-ISM substitution costs the FLOP share
of a full forward that fast ISM recomputes (counted with ``torch.utils.flop_counter`` on the full-size
architecture, on meta tensors: no memory, no time); attribution of a gene = 1 reference forward +
(SNVs + saturation substitutions) x that share.

    python benchmarks/bench_cost.py [--skip-measured] [--throughput 120]

Measured part: `seqgx run` of the default simulated cohort (oracle model) with attribution_genes 'all'
and 'significant'; the figures are the runs' own accounting (summary.json 'cost').
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import yaml


@dataclass
class Cohort:
    genes: int = 6825  # the study's genes with expression
    people: int = 839
    distinct_sequences: float = 1679  # per gene: reference + distinct haplotypes (at most 2 x people + 1)
    snvs: int = 2000  # SNVs per 196-kb window
    saturation: int = 6003  # +-1,000 bp x 3 substitutions (tss_window 1000)
    selected: int = 256  # significant with |R| > 0.2 (the genes the study explained)


def full_size_fast_share() -> float:
    """FLOPs of one fast-ISM substitution / one full forward, full-size Enformer (196,608 bp)."""
    sys.path.insert(0, str(Path(__file__).parent))
    from bench_ism import full_size_flops

    f = full_size_flops()
    return f["fast"] / f["full"]


def model(c: Cohort, share: float, throughput: float) -> dict[str, dict[str, float]]:
    predict = c.genes * c.distinct_sequences
    per_gene = 1 + (c.snvs + c.saturation) * share
    out = {}
    for mode, n in (("all", c.genes), ("significant", c.selected)):
        total = predict + n * per_gene
        out[mode] = {"predict_fe": predict, "attribution_fe": n * per_gene, "total_fe": total,
                     "gpu_hours": total / throughput / 3600}
    return out


def measured() -> dict[str, dict]:
    costs = {}
    with tempfile.TemporaryDirectory() as tmp:
        cohort = Path(tmp) / "cohort"
        subprocess.run([sys.executable, "-m", "seqgx", "simulate", "--out", str(cohort), "--seed", "0", "-q"],
                       check=True, stdout=subprocess.DEVNULL)
        base = yaml.safe_load((cohort / "params.yaml").read_text())
        for mode in ("all", "significant"):
            params = Path(tmp) / f"{mode}.yaml"
            params.write_text(yaml.safe_dump({**base, "attribution_genes": mode,
                                              "outdir": str(Path(tmp) / mode)}))
            subprocess.run([sys.executable, "-m", "seqgx", "run", str(params), "-q"], check=True,
                           stdout=subprocess.DEVNULL)
            summary = json.loads((Path(tmp) / mode / "assessment" / "summary.json").read_text())
            costs[mode] = summary["cost"]
    return costs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--throughput", type=float, default=120.0,
                    help="full-size sequences per second of one GPU (default 120, an H100's target)")
    ap.add_argument("--skip-measured", action="store_true", help="only the study cohort's model")
    args = ap.parse_args()
    share = full_size_fast_share()
    c = Cohort()
    print(f"full-size Enformer: one fast-ISM substitution = {share:.3f} of a full forward (FLOPs)")
    print(f"study cohort: {c.genes:,} genes x {c.people} people, {c.distinct_sequences:,.0f} sequences and "
          f"{c.snvs:,} SNVs + {c.saturation:,} saturation substitutions per gene, {c.selected} genes "
          f"selected")
    rows = model(c, share, args.throughput)
    for mode, r in rows.items():
        print(f"  {mode:12s} predictions {r['predict_fe'] / 1e6:6.2f}M FE + attribution "
              f"{r['attribution_fe'] / 1e6:6.2f}M FE = {r['total_fe'] / 1e6:6.2f}M FE = "
              f"{r['gpu_hours']:5.1f} GPU-hours at {args.throughput:.0f} sequences/s")
    ratio = rows["significant"]["total_fe"] / rows["all"]["total_fe"]
    print(f"  default / all = {ratio:.1%} (target <= 55%): {'PASS' if ratio <= 0.55 else 'FAIL'}")
    if args.skip_measured:
        return
    costs = measured()
    print("simulated cohort (seqgx simulate --seed 0, oracle model), the runs' own accounting:")
    for mode, cost in costs.items():
        print(f"  {mode:12s} predict {cost['predict']['forward_equivalents']:8.0f} FE, ism "
              f"{cost.get('ism', {}).get('forward_equivalents', 0):8.1f} FE on "
              f"{cost.get('ism', {}).get('genes', 0)} genes, total "
              f"{cost['total_forward_equivalents']:8.1f} FE")
    ratio = costs["significant"]["total_forward_equivalents"] / costs["all"]["total_forward_equivalents"]
    print(f"  significant / all = {ratio:.1%}")


if __name__ == "__main__":
    main()
