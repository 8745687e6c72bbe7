"""Wall time of the demo pipeline (`seqgx run` on the default simulated cohort) on an idle machine and
with a competing busy process, as when Nextflow runs tasks side by side.

Cases: ``idle`` (default threads: the cores available), ``busy`` (one busy-looping Python process on
the last core, default threads) and, when `seqgx run` accepts ``--threads``, ``busy, --threads 1``.
Each case runs the pipeline (up to ``--until STEP``) in a fresh process ``--repeat`` times; the best
and all times are printed with the machine's CPU count and the load average before each run.

``--src DIR`` times another source tree (e.g. a ``git worktree`` of an older commit): DIR is put first on
PYTHONPATH of every ``seqgx`` process, so its code runs with this environment's packages. ``--cases``
picks cases by label; ``--timeout S`` stops a run after S seconds and reports it as ``> S s``.

    python benchmarks/bench_threads.py [--repeat 1] [--until predict] [--src DIR] [--cases idle,busy]
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


ENV = dict(os.environ)  # --src puts a source tree first on PYTHONPATH


def seqgx(*args: str, timeout: float | None = None) -> None:
    """Run ``python -m seqgx ARGS``; on timeout kill its whole process group and re-raise."""
    proc = subprocess.Popen([sys.executable, "-m", "seqgx", *args], stdout=subprocess.DEVNULL, env=ENV,
                            start_new_session=True)
    try:
        rc = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        raise
    if rc:
        raise subprocess.CalledProcessError(rc, ["seqgx", *args])


def run_accepts_threads() -> bool:
    help_text = subprocess.run([sys.executable, "-m", "seqgx", "run", "--help"], capture_output=True,
                               text=True, check=True, env=ENV).stdout
    return "--threads" in help_text


def time_run(params: Path, outdir: Path, extra: list[str], timeout: float | None = None) -> float:
    t0 = time.perf_counter()
    try:
        seqgx("run", str(params), "--outdir", str(outdir), "-q", *extra, timeout=timeout)
    except subprocess.TimeoutExpired:
        return float("inf")
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=1, help="runs per case (default 1)")
    ap.add_argument("--until", help="stop `seqgx run` after this step (default: the whole pipeline)")
    ap.add_argument("--src", type=Path, help="source tree (its src/ folder) to time instead of the installed "
                    "seqgx")
    ap.add_argument("--cases", help="comma list of case labels to run (default all)")
    ap.add_argument("--timeout", type=float, help="stop a run after this many seconds (reported as '> S s')")
    args = ap.parse_args()
    if args.src:
        ENV["PYTHONPATH"] = os.pathsep.join(filter(None, [str(args.src.resolve()), ENV.get("PYTHONPATH")]))
        seqgx_file = subprocess.run([sys.executable, "-c", "import seqgx; print(seqgx.__file__)"], env=ENV,
                                    capture_output=True, text=True, check=True).stdout.strip()
        print(f"seqgx from {seqgx_file}")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so `timeout` still stops the busy process
    cases: list[tuple[str, bool, list[str]]] = [("idle", False, []), ("busy", True, [])]
    if run_accepts_threads():
        cases.append(("busy, --threads 1", True, ["--threads", "1"]))
    if args.cases:
        cases = [c for c in cases if c[0] in args.cases.split(",")]
    print(f"machine: {platform.machine()} {platform.processor() or ''}, os.cpu_count() {os.cpu_count()}, "
          f"available_cpus() {available_cpus()}, load average {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory() as tmp:
        cohort = Path(tmp) / "cohort"
        seqgx("simulate", "--out", str(cohort), "--seed", "0")
        for label, busy, extra in cases:
            times = []
            for i in range(args.repeat):
                outdir = Path(tmp) / f"out-{label.replace(' ', '')}-{i}"
                load = os.getloadavg()
                with busy_core() if busy else nullcontext():
                    times.append(time_run(cohort / "params.yaml", outdir,
                                          extra + (["--until", args.until] if args.until else []),
                                          timeout=args.timeout))
                print(f"  {label} run {i + 1}: load average before {load[0]:.2f} {load[1]:.2f} "
                      f"{load[2]:.2f}, after {os.getloadavg()[0]:.2f}", flush=True)
            shown = [f"> {args.timeout:.0f}" if t == float("inf") else f"{t:.1f}" for t in times]
            best = shown[times.index(min(times))]
            print(f"{label:20s} best {best:>6s} s   all: {', '.join(shown)}", flush=True)


if __name__ == "__main__":
    main()
