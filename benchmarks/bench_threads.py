"""Wall time of the demo pipeline (`seqgx run` on the default simulated cohort) on an idle machine and
with a competing busy process, as when Nextflow runs tasks side by side.

Cases: ``idle`` (default threads: the cores available), ``busy`` (one busy-looping Python process on
the last core, default threads) and, when `seqgx run` accepts ``--threads``, ``busy, --threads 1``.
Each case runs the pipeline (up to ``--until STEP``) in a fresh process ``--repeat`` times; the best
and all times are printed with the machine's CPU count.

    python benchmarks/bench_threads.py [--repeat 1] [--until predict]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

from seqgx.threads import available_cpus


def _spin(parent: int) -> None:
    while os.getppid() == parent:  # stops by itself if the benchmark is killed before it can kill this
        pass


@contextmanager
def busy_core() -> Iterator[None]:
    """One process spinning on the last core (where affinity allows pinning) until the block ends."""
    proc = mp.get_context("spawn").Process(target=_spin, args=(os.getpid(),), daemon=True)
    proc.start()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(proc.pid, {max(os.sched_getaffinity(0))})
    try:
        yield
    finally:
        proc.kill()
        proc.join()


def seqgx(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "seqgx", *args], check=True, stdout=subprocess.DEVNULL)


def run_accepts_threads() -> bool:
    help_text = subprocess.run([sys.executable, "-m", "seqgx", "run", "--help"], capture_output=True,
                               text=True, check=True).stdout
    return "--threads" in help_text


def time_run(params: Path, outdir: Path, extra: list[str]) -> float:
    t0 = time.perf_counter()
    seqgx("run", str(params), "--outdir", str(outdir), "-q", *extra)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=1, help="runs per case (default 1)")
    ap.add_argument("--until", help="stop `seqgx run` after this step (default: the whole pipeline)")
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so `timeout` still stops the busy process
    cases: list[tuple[str, bool, list[str]]] = [("idle", False, []), ("busy", True, [])]
    if run_accepts_threads():
        cases.append(("busy, --threads 1", True, ["--threads", "1"]))
    print(f"machine: {platform.machine()} {platform.processor() or ''}, os.cpu_count() {os.cpu_count()}, "
          f"available_cpus() {available_cpus()}, load average {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory() as tmp:
        cohort = Path(tmp) / "cohort"
        seqgx("simulate", "--out", str(cohort), "--seed", "0")
        for label, busy, extra in cases:
            times = []
            for i in range(args.repeat):
                outdir = Path(tmp) / f"out-{label.replace(' ', '')}-{i}"
                with busy_core() if busy else nullcontext():
                    times.append(time_run(cohort / "params.yaml", outdir,
                                          extra + (["--until", args.until] if args.until else [])))
            print(f"{label:20s} best {min(times):6.1f} s   all: {', '.join(f'{t:.1f}' for t in times)}")


if __name__ == "__main__":
    main()
