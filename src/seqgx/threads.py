"""CPU threads: how many cores this process may use, and one setting for torch, ONNX Runtime and BLAS.

Nextflow gives each task ``task.cpus`` and runs tasks side by side; every compute step passes that to
:func:`set_threads` (``--threads``) so its libraries do not each start one thread per core of the machine.
Light on purpose: torch and threadpoolctl are imported only when a step uses them.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from pathlib import Path
from typing import Any

THREADS_HELP = ("CPU threads for torch, ONNX Runtime and BLAS (default: the cores available to this "
                "process, from CPU affinity and the cgroup quota)")
# Read by OpenMP/BLAS runtimes when they load, so child processes and libraries loaded later agree.
THREAD_ENV_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")

_configured = 0  # what set_threads last applied; 0 = never called
_limiter: Any = None  # threadpoolctl's limiter: kept so the limits stay and can be restored


def _quota_cpus(quota: str, period: str) -> int | None:
    """Cores allowed by a CFS quota and period (None: no quota, i.e. 'max' or -1)."""
    if quota in ("max", "-1") or int(quota) <= 0:
        return None
    return max(1, math.ceil(int(quota) / int(period)))


def _own_cgroup(controller: str) -> Path:
    """This process's cgroup path, relative, in the v1 hierarchy of ``controller`` ('' = unified v2)."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return Path()
    for line in lines:
        _, names, path = line.split(":", 2)
        if (controller in names.split(",")) if controller else names == "":
            return Path(path.lstrip("/"))
    return Path()


def _read_quota(d: Path, v2: bool) -> int | None:
    """Cores allowed by the quota files in cgroup directory ``d`` (None: none there, or no quota)."""
    try:
        if v2:
            quota, period = (d / "cpu.max").read_text().split()[:2]
        else:
            quota = (d / "cpu.cfs_quota_us").read_text().strip()
            period = (d / "cpu.cfs_period_us").read_text().strip()
        return _quota_cpus(quota, period)
    except (OSError, ValueError):
        return None


def cgroup_cpu_limit(cgroup_root: str | os.PathLike = "/sys/fs/cgroup") -> int | None:
    """Cores allowed by the cgroup CPU quota (v2 ``cpu.max``, else v1 ``cpu.cfs_quota_us`` over
    ``cpu.cfs_period_us``), None if there is none.

    The process's own cgroup and each parent up to the root are read, as any of them may cap it; paths
    missing below the root (a container mounts only its own cgroup there) are skipped."""
    root = Path(cgroup_root)
    # (hierarchy root, v2?): unified v2 first, then v1's cpu controller where distributions mount it.
    v1_mounts = ("cpu", "cpu,cpuacct", "cpuacct,cpu", ".")
    mounts = [(root, True), *((root / m, False) for m in v1_mounts)]
    for base, v2 in mounts:
        rel = _own_cgroup("" if v2 else "cpu")
        found = [c for d in (rel, *rel.parents) if (c := _read_quota(base / d, v2)) is not None]
        if found:
            return min(found)
    return None


def available_cpus(cgroup_root: str | os.PathLike = "/sys/fs/cgroup") -> int:
    """The cores this process may use: its CPU affinity, capped by the cgroup CPU quota; at least 1."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    quota = cgroup_cpu_limit(cgroup_root)
    return max(1, min(cpus, quota) if quota else cpus)


def _cpu_times(cpus: set[int], stat: str) -> dict[int, tuple[int, int]]:
    """(idle + iowait, total) jiffies per CPU in ``cpus`` from a /proc/stat text."""
    times = {}
    for line in stat.splitlines():
        name, *fields = line.split()
        if name.startswith("cpu") and name[3:].isdigit() and int(name[3:]) in cpus:
            values = [int(v) for v in fields[:8]]  # user nice system idle iowait irq softirq steal
            times[int(name[3:])] = (values[3] + values[4], sum(values))
    return times


def idle_cpus(sample_seconds: float = 0.3, stat_path: str = "/proc/stat") -> float | None:
    """How many of this process's CPUs (its affinity) sat idle over ``sample_seconds``: the sum of their
    idle fractions from two reads of /proc/stat. None where /proc/stat cannot be read (not Linux)."""
    import time

    cpus = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else set()
    try:
        before = _cpu_times(cpus, Path(stat_path).read_text())
        time.sleep(sample_seconds)
        after = _cpu_times(cpus, Path(stat_path).read_text())
    except (OSError, ValueError):
        return None
    idle = 0.0
    for cpu, (idle1, total1) in after.items():
        idle0, total0 = before.get(cpu, (idle1, total1))
        idle += (idle1 - idle0) / (total1 - total0) if total1 > total0 else 1.0
    return idle if after else None


def free_cpus(sample_seconds: float = 0.3) -> int:
    """The cores a run can use without oversubscribing the machine: :func:`available_cpus` less the cores
    other processes keep busy (from :func:`idle_cpus`, rounded to the nearest core); at least 1.

    Why: a step's threads each expect a core; with one core taken by another job, two threads on two
    cores wait on each other at every parallel region and the demo runs minutes instead of seconds."""
    cpus = available_cpus()
    idle = idle_cpus(sample_seconds)
    if idle is None:
        return cpus
    return max(1, min(cpus, int(idle + 0.5)))


def configured_threads() -> int:
    """The thread count :func:`set_threads` last applied, 0 if it was never called (libraries' defaults)."""
    return _configured


def set_threads(n: int | None = None, *, import_torch: bool = False) -> int:
    """Use ``n`` CPU threads (None or 0: :func:`available_cpus`) in torch, BLAS/OpenMP and ONNX Runtime
    sessions opened later (they read :func:`configured_threads`); also export ``OMP_NUM_THREADS`` etc.
    for child processes. torch is set when already imported, or imported first if ``import_torch``
    (steps that run a model), so steps without torch do not pay for importing it. Returns ``n``."""
    global _configured, _limiter
    if n is not None and (not isinstance(n, int) or isinstance(n, bool) or n < 0):
        raise ValueError(f"threads must be a whole number >= 0, got {n!r}")
    n = n or available_cpus()
    for var in THREAD_ENV_VARS:
        os.environ[var] = str(n)
    # OpenMP threads that wait for work sleep instead of spinning, so they do not take the core a
    # neighbour (another task, another step) needs. Read once when the OpenMP runtime loads: it applies
    # where torch is imported after this, as every seqgx step does; a user's own setting wins.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    if import_torch:
        import torch  # noqa: F401
    torch_mod = sys.modules.get("torch")
    if torch_mod is not None:
        torch_mod.set_num_threads(n)
        try:
            torch_mod.set_num_interop_threads(n)
        except RuntimeError:  # only allowed once, before any inter-op parallel work: keep what is set
            pass
    import numpy  # noqa: F401  (loads its BLAS, so threadpoolctl finds and limits it)
    from threadpoolctl import threadpool_limits

    if _limiter is not None:
        _limiter.restore_original_limits()  # so each limiter's "original" is the process's own default
    _limiter = threadpool_limits(n)
    _configured = n
    return n


def threads_count(text: str) -> int:
    """argparse type of ``--threads``: a whole number >= 0 (0 = the cores available)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number of threads, not '{text}'") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0 (0 = the cores available), not {value}")
    return value


def add_threads_argument(parser: argparse.ArgumentParser) -> None:
    """``--threads N`` with the same help and default on every compute subcommand."""
    parser.add_argument("--threads", type=threads_count, default=None, metavar="N", help=THREADS_HELP)
